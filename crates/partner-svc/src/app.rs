//! The application: its state and the `App` that `main` and the tests both serve.

use crate::auth::Principal;
use crate::error::Shape;
use crate::routes;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{web, App};
use std::sync::Arc;
use std::time::Duration;
use user_core::cache::TtlCache;
use user_core::http::{self, Core};
use user_core::jwt::JwtKeys;

/// How long a caller's permissions and partners are trusted before they are read again (the
/// contract allows 5 s; a change made through this process also clears the entry at once).
pub const PRINCIPAL_CACHE_TTL: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    pub jwt: Arc<JwtKeys>,
    /// user id → the user's permissions and partners, or `None` when the user is gone.
    pub principals: Arc<TtlCache<i64, Option<Principal>>>,
}

impl AppState {
    pub fn new(core: Core, jwt: JwtKeys) -> Self {
        Self {
            core,
            jwt: Arc::new(jwt),
            principals: Arc::new(TtlCache::new(PRINCIPAL_CACHE_TTL, 100_000)),
        }
    }

    /// Forgets what this process knows about `user` (after a change to it).
    pub fn forget(&self, user: i64) {
        self.principals.remove(&user);
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
