//! The application: its state and the `App` that `main` and the tests both serve.

use crate::auth::KeyState;
use crate::error::Shape;
use crate::routes;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{web, App};
use std::sync::Arc;
use std::time::Duration;
use user_core::cache::TtlCache;
use user_core::http::{self, Core};

/// How long a key's owner is trusted before it is read again. The contract allows 5 s for a
/// deactivated or deleted user's key to stop working on every replica; a write in this
/// process also drops the entry at once.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(2);

/// Most keys kept at once (expired entries are swept when it fills).
pub const KEY_CACHE_CAPACITY: usize = 100_000;

#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    pub keys: Arc<TtlCache<String, KeyState>>,
}

impl AppState {
    pub fn new(core: Core) -> Self {
        Self {
            core,
            keys: Arc::new(TtlCache::new(KEY_CACHE_TTL, KEY_CACHE_CAPACITY)),
        }
    }

    /// Drops a key's cached owner (after its user changed or went away).
    pub fn forget_key(&self, key: &str) {
        self.keys.remove(&key.to_owned());
    }
}

pub fn build(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let core = state.core.clone();
    http::app::<Shape>(&core, move |cfg| {
        cfg.app_data(web::Data::new(state));
        routes::configure(cfg);
    })
}
