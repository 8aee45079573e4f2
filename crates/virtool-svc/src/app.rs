//! The application: its state and the `App` that `main` and the tests both serve.

use crate::db::Principal;
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

/// How long a user's effective permissions are trusted before they are read again (the
/// contract allows 5 s; changes made by this process also drop the entries at once).
pub const PRINCIPAL_CACHE_TTL: Duration = Duration::from_secs(2);

/// What the cache keeps of a user: what it may do, while it exists.
pub type PrincipalState = Option<Principal>;

#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    pub jwt: Arc<JwtKeys>,
    pub principals: Arc<TtlCache<String, PrincipalState>>,
    /// `MINIMUM_PASSWORD_LENGTH`.
    pub min_password: usize,
}

impl AppState {
    pub fn new(core: Core, jwt: JwtKeys, min_password: usize) -> Self {
        Self {
            core,
            jwt: Arc::new(jwt),
            principals: Arc::new(TtlCache::new(PRINCIPAL_CACHE_TTL, 100_000)),
            min_password,
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
