//! A small time-bounded cache for principal state (API clients, access keys, permissions).
//!
//! Entries live at most `ttl`; a write that changes a principal also removes its entry in this
//! process, and other replicas see the change when their entry expires. That is how "a revoked
//! principal loses access within 5 seconds" holds without a database hit per request.

use crate::db::{Conn, Db, DbError};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct TtlCache<K, V> {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The cached value, if it was stored less than `ttl` ago.
    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, v)| v.clone())
    }

    pub fn insert(&self, key: K, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= self.capacity {
            let ttl = self.ttl;
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), value));
    }

    pub fn remove(&self, key: &K) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }

    /// Forget everything (after a change that touches many principals, e.g. a group's permissions).
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

/// Who a credential belongs to, read from the cache while fresh, else from the database (and
/// then cached): the step every service's authentication takes on every request.
///
/// `None` means "no such principal" (unknown, revoked, deleted or inactive). It is cached too,
/// unless the keys can be guessed by anyone ([`PrincipalCache::forgetting_unknown`]): then
/// guessing cannot crowd out the real entries.
pub struct PrincipalCache<K, P> {
    entries: TtlCache<K, Option<P>>,
    remember_unknown: bool,
}

impl<K: Eq + Hash + Clone, P: Clone> PrincipalCache<K, P> {
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            entries: TtlCache::new(ttl, capacity),
            remember_unknown: true,
        }
    }

    /// Caches only the principals found, never a `None`.
    pub fn forgetting_unknown(mut self) -> Self {
        self.remember_unknown = false;
        self
    }

    /// The principal behind `key`: cached, else `query` on a connection of `db`.
    pub async fn get_or_load(
        &self,
        db: &Db,
        key: &K,
        query: impl AsyncFnOnce(&mut Conn) -> Result<Option<P>, DbError>,
    ) -> Result<Option<P>, DbError> {
        if let Some(cached) = self.entries.get(key) {
            return Ok(cached);
        }
        let mut conn = db.conn().await?;
        let found = query(&mut conn).await?;
        if found.is_some() || self.remember_unknown {
            self.entries.insert(key.clone(), found.clone());
        }
        Ok(found)
    }

    /// Forgets `key` in this process (after a change to its principal).
    pub fn forget(&self, key: &K) {
        self.entries.remove(key);
    }

    /// Forgets every principal (after a change that touches many of them).
    pub fn clear(&self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_after_the_ttl() {
        let cache = TtlCache::new(Duration::from_millis(30), 10);
        cache.insert("k", 1);
        assert_eq!(cache.get(&"k"), Some(1));
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.get(&"k"), None);
    }

    #[test]
    fn remove_clear_and_capacity() {
        let cache = TtlCache::new(Duration::from_secs(60), 2);
        cache.insert(1, "a");
        cache.insert(2, "b");
        cache.remove(&1);
        assert_eq!(cache.get(&1), None);
        cache.insert(3, "c");
        cache.insert(4, "d");
        assert!(cache.entries.lock().unwrap().len() <= 2);
        cache.clear();
        assert_eq!(cache.get(&4), None);
    }
}
