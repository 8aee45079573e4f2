//! The state every handler shares: the common core and the cached access keys.

use crate::db::Principal;
use std::sync::Arc;
use std::time::Duration;
use user_core::cache::PrincipalCache;
use user_core::http::Core;

/// How long a key's owner is trusted before it is read again. The contract allows 5 s for a
/// deactivated or deleted user's key to stop working on every replica; a write in this
/// process also drops the entry at once.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(2);

/// Most keys kept at once (expired entries are swept when it fills).
pub const KEY_CACHE_CAPACITY: usize = 100_000;

#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    /// access key → its active owner ([`crate::db::principal_by_key`]).
    pub keys: Arc<PrincipalCache<String, Principal>>,
}

impl AppState {
    pub fn new(core: Core) -> Self {
        Self {
            core,
            keys: Arc::new(
                PrincipalCache::new(KEY_CACHE_TTL, KEY_CACHE_CAPACITY).forgetting_unknown(),
            ),
        }
    }

    /// Drops a key's cached owner (after its user changed or went away).
    pub fn forget_key(&self, key: &str) {
        self.keys.forget(&key.to_owned());
    }
}
