//! The application: its state and the `App` that `main` and the tests both serve.

use crate::auth::ClientState;
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

/// How long a client's revocation state is trusted before it is read again (the contract
/// allows 5 s; revocation in this process also clears the entry at once).
pub const CLIENT_CACHE_TTL: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    pub jwt: Arc<JwtKeys>,
    pub clients: Arc<TtlCache<String, ClientState>>,
}

impl AppState {
    pub fn new(core: Core, jwt: JwtKeys) -> Self {
        Self {
            core,
            jwt: Arc::new(jwt),
            clients: Arc::new(TtlCache::new(CLIENT_CACHE_TTL, 100_000)),
        }
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
