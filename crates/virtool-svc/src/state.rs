//! The state every handler shares: the common core, the token keys, the cached principals and
//! the password rule.

use crate::db::Principal;
use std::sync::Arc;
use std::time::Duration;
use user_core::cache::PrincipalCache;
use user_core::http::Core;
use user_core::jwt::JwtKeys;

/// How long a user's effective permissions are trusted before they are read again (the
/// contract allows 5 s; changes made by this process also drop the entries at once).
pub const PRINCIPAL_CACHE_TTL: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    pub jwt: Arc<JwtKeys>,
    /// user id → what it may do ([`crate::db::principal`]), or `None` when it is gone.
    pub principals: Arc<PrincipalCache<String, Principal>>,
    /// `MINIMUM_PASSWORD_LENGTH`.
    pub min_password: usize,
}

impl AppState {
    pub fn new(core: Core, jwt: JwtKeys, min_password: usize) -> Self {
        Self {
            core,
            jwt: Arc::new(jwt),
            principals: Arc::new(PrincipalCache::new(PRINCIPAL_CACHE_TTL, 100_000)),
            min_password,
        }
    }
}
