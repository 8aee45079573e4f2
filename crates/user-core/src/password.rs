//! bcrypt hashing and verification, off the async workers and bounded to one job per core.

use crate::values::Password;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;
use tracing::Instrument;

/// The lowest cost allowed without `ALLOW_WEAK_BCRYPT=1`.
pub const MIN_STRONG_COST: u32 = 10;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("bcrypt failed: {0}")]
    Bcrypt(#[from] bcrypt::BcryptError),
    #[error("the blocking hash job was cancelled")]
    Join(#[from] tokio::task::JoinError),
    #[error("the hashing pool is closed")]
    Closed,
}

/// Hashes and verifies passwords on tokio's blocking pool, at most `permits` at a time
/// (one per core by default), so a burst of logins never starves request handling.
#[derive(Clone)]
pub struct PasswordHasher {
    cost: u32,
    permits: Arc<Semaphore>,
    in_flight: Arc<AtomicI64>,
    dummy: Arc<OnceLock<String>>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("cost", &self.cost)
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// A hasher with `cost` and one concurrent job per available core.
    pub fn new(cost: u32) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_concurrency(cost, cores)
    }

    pub fn with_concurrency(cost: u32, jobs: usize) -> Self {
        Self {
            cost,
            permits: Arc::new(Semaphore::new(jobs.max(1))),
            in_flight: Arc::new(AtomicI64::new(0)),
            dummy: Arc::new(OnceLock::new()),
        }
    }

    pub fn cost(&self) -> u32 {
        self.cost
    }

    /// bcrypt jobs running or waiting for a core right now (exported as a metric).
    pub fn in_flight(&self) -> i64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// The bcrypt hash of `password` (a `$2b$` string).
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let plain = password.expose().to_owned();
        let cost = self.cost;
        self.run(move || bcrypt::hash(plain, cost).map_err(HashError::from))
            .await
    }

    /// Whether `password` matches `hash`. With no hash (unknown account, or an account without a
    /// password) a dummy hash of the same cost is verified instead and `false` returned, so the
    /// answer takes as long either way.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> bool {
        let plain = password.to_owned();
        let stored = hash.map(str::to_owned);
        let dummy = Arc::clone(&self.dummy);
        let cost = self.cost;
        let outcome = self
            .run(move || {
                Ok(match stored {
                    Some(h) => bcrypt::verify(&plain, &h).unwrap_or(false),
                    None => {
                        let d = dummy.get_or_init(|| {
                            bcrypt::hash("dummy password for timing", cost).unwrap_or_default()
                        });
                        let _ = bcrypt::verify(&plain, d);
                        false
                    }
                })
            })
            .await;
        match outcome {
            Ok(matched) => matched,
            Err(error) => {
                tracing::error!(%error, "password verification failed to run");
                false
            }
        }
    }

    async fn run<T, F>(&self, job: F) -> Result<T, HashError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, HashError> + Send + 'static,
    {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let _guard = InFlight(Arc::clone(&self.in_flight));
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HashError::Closed)?;
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(job))
            .instrument(tracing::Span::current())
            .await?
    }
}

struct InFlight(Arc<AtomicI64>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() {
        let hasher = PasswordHasher::new(4);
        let pw = Password::new("correct horse", 8).unwrap();
        let hash = hasher.hash(&pw).await.unwrap();
        assert!(hash.starts_with("$2b$04$"), "{hash}");
        assert!(!hash.contains("correct horse"));
        assert!(hasher.verify("correct horse", Some(&hash)).await);
        assert!(!hasher.verify("wrong horse", Some(&hash)).await);
        assert!(!hasher.verify("correct horse", Some("not a hash")).await);
    }

    #[tokio::test]
    async fn unknown_account_runs_a_dummy_verify_and_fails() {
        let hasher = PasswordHasher::new(4);
        assert!(!hasher.verify("anything", None).await);
        assert!(
            hasher.dummy.get().is_some(),
            "the dummy hash was computed and used"
        );
    }

    #[tokio::test]
    async fn jobs_are_bounded_by_the_permits() {
        let hasher = PasswordHasher::with_concurrency(4, 1);
        let pw = Password::new("correct horse", 8).unwrap();
        let (a, b) = tokio::join!(hasher.hash(&pw), hasher.hash(&pw));
        assert!(a.is_ok() && b.is_ok());
        assert_eq!(hasher.in_flight(), 0);
        assert_eq!(hasher.permits.available_permits(), 1);
    }
}
