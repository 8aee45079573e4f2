//! The state every handler shares: the common core, the token keys and the cached clients.

use std::sync::Arc;
use std::time::Duration;
use user_core::cache::PrincipalCache;
use user_core::http::Core;
use user_core::jwt::JwtKeys;

/// How long a client's revocation state is trusted before it is read again (the contract
/// allows 5 s; revocation in this process also clears the entry at once).
pub const CLIENT_CACHE_TTL: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    pub jwt: Arc<JwtKeys>,
    /// client id → the agency group it acts for ([`crate::db::client_group`]), `None` once
    /// it is revoked or unknown.
    pub clients: Arc<PrincipalCache<String, i64>>,
}

impl AppState {
    pub fn new(core: Core, jwt: JwtKeys) -> Self {
        Self {
            core,
            jwt: Arc::new(jwt),
            clients: Arc::new(PrincipalCache::new(CLIENT_CACHE_TTL, 100_000)),
        }
    }
}
