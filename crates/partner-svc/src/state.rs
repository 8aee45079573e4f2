//! The state every handler shares: the common core, the token keys and the cached principals.

use crate::db::Principal;
use std::sync::Arc;
use std::time::Duration;
use user_core::cache::PrincipalCache;
use user_core::http::Core;
use user_core::jwt::JwtKeys;
use user_core::search::Sampled;

/// How long a caller's permissions and partners are trusted before they are read again (the
/// contract allows 5 s; a change made through this process also clears the entry at once).
pub const PRINCIPAL_CACHE_TTL: Duration = Duration::from_secs(2);

/// How old the search's trigram sample may get before a search renews it (in the background).
pub const SEARCH_SAMPLE_MAX_AGE: Duration = Duration::from_secs(600);

#[derive(Clone)]
pub struct AppState {
    pub core: Core,
    pub jwt: Arc<JwtKeys>,
    /// user id → the user's permissions and partners ([`crate::db::principal`]), or `None`
    /// when the user is gone.
    pub principals: Arc<PrincipalCache<i64, Principal>>,
    /// Which trigrams of the search texts are common ([`crate::db::Search`]).
    pub search_sample: Arc<Sampled>,
}

impl AppState {
    pub fn new(core: Core, jwt: JwtKeys) -> Self {
        Self {
            core,
            jwt: Arc::new(jwt),
            principals: Arc::new(PrincipalCache::new(PRINCIPAL_CACHE_TTL, 100_000)),
            search_sample: Arc::new(Sampled::new(SEARCH_SAMPLE_MAX_AGE)),
        }
    }

    /// Forgets what this process knows about `user` (after a change to it).
    pub fn forget(&self, user: i64) {
        self.principals.forget(&user);
    }

    /// `term` as the search queries take it, with the trigram sample this process has (and a
    /// renewal started when it is missing or stale).
    pub fn search(&self, term: &str) -> crate::db::Search {
        let db = self.core.db.clone();
        let stats = self.search_sample.get(move || async move {
            let mut conn = db.conn().await?;
            crate::db::search_sample(&mut conn).await
        });
        crate::db::Search::new(term, &stats)
    }
}
