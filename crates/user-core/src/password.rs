//! bcrypt hashing and verification on threads of their own, one per core, at the lowest
//! scheduling priority, yielding between rounds: request handling always runs first, hashes
//! take every cycle left.

mod preemptible;

use crate::values::Password;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::oneshot;

/// What is stored for a user without a usable password where the column cannot be null (an
/// imported user whose line gave neither `password_hash` nor `password`): no password matches
/// it, and it is verified like an unknown account (a dummy hash of the same cost), so its
/// answer takes as long as any other.
pub const NO_PASSWORD: &str = "!";

/// The lowest cost allowed without `ALLOW_WEAK_BCRYPT=1`.
pub const MIN_STRONG_COST: u32 = 10;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("bcrypt failed: {0}")]
    Bcrypt(#[from] bcrypt::BcryptError),
    #[error("the hashing pool is closed")]
    Closed,
}

/// Hashes and verifies passwords on a pool of its own threads (one per core by default), so a
/// burst of logins never occupies an async worker, and never delays a request either: the pool's
/// threads run at `SCHED_IDLE` on Linux, so any request, database or proxy thread that wakes up
/// takes the core at once, and the hashes get every cycle nobody else wants
/// (docs/performance.md: GET p99 beside password work). Where the kernel does not switch at
/// once (a woken thread of another scheduling group: another process's autogroup, another
/// container's cgroup), the yields between bcrypt's rounds ([`preemptible`]) bound the wait.
/// Clones share the pool; the threads end with the last clone.
#[derive(Clone)]
pub struct PasswordHasher {
    cost: u32,
    pool: Arc<Pool>,
    dummy: Arc<OnceLock<String>>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("cost", &self.cost)
            .field("threads", &self.pool.threads)
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// A hasher with `cost` and one thread per available core.
    pub fn new(cost: u32) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_concurrency(cost, cores)
    }

    /// A hasher with `cost` and `threads` threads (at least one).
    pub fn with_concurrency(cost: u32, threads: usize) -> Self {
        Self {
            cost,
            pool: Arc::new(Pool::start(threads.max(1))),
            dummy: Arc::new(OnceLock::new()),
        }
    }

    pub fn cost(&self) -> u32 {
        self.cost
    }

    /// bcrypt jobs running or waiting for a thread right now (exported as a metric).
    pub fn in_flight(&self) -> i64 {
        self.pool.in_flight.load(Ordering::Relaxed)
    }

    /// The bcrypt hash of `password` (a `$2b$` string).
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let plain = password.expose().to_owned();
        let cost = self.cost;
        self.run(move || preemptible::hash(plain.as_bytes(), cost).map_err(HashError::from))
            .await
    }

    /// Whether `hash` (a verified one) should be replaced by a fresh hash: another cost than
    /// `BCRYPT_COST`, or a prefix other than `$2b$` (`$2a$`, `$2x$`, `$2y$`: Laravel and
    /// MongoDB-era hashes that verify but are not what this service writes).
    pub fn needs_upgrade(&self, hash: &str) -> bool {
        let cost = hash.get(4..6).and_then(|c| c.parse::<u32>().ok());
        !hash.starts_with("$2b$")
            || cost != Some(self.cost)
            || hash.as_bytes().get(6) != Some(&b'$')
    }

    /// After a successful sign-in with `password` against `old` (its stored hash): when `old`
    /// [`needs_upgrade`](Self::needs_upgrade), hashes the password again at `BCRYPT_COST` on
    /// the hasher's threads, in a task of its own (after the answer, never delaying it), and
    /// hands `(old, new)` to `store`, which must replace the hash only if it is still `old` (a
    /// compare-and-set: a password changed meanwhile is not overwritten) and says whether it did.
    pub fn upgrade_later<F, Fut>(&self, password: &str, old: &str, store: F)
    where
        F: FnOnce(String, String) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<bool, crate::db::DbError>> + Send,
    {
        if !self.needs_upgrade(old) {
            return;
        }
        let plain = zeroize::Zeroizing::new(password.to_owned());
        let old = old.to_owned();
        let hasher = self.clone();
        crate::db::spawn_background(async move {
            let cost = hasher.cost;
            let hashed = hasher
                .run(move || preemptible::hash(plain.as_bytes(), cost).map_err(HashError::from))
                .await;
            let new = match hashed {
                Ok(new) => new,
                Err(error) => {
                    tracing::warn!(%error, "password hash upgrade: hashing failed");
                    return;
                }
            };
            match store(old, new).await {
                Ok(true) => tracing::info!(cost, "password hash upgraded"),
                Ok(false) => {
                    tracing::info!("password hash upgrade skipped: the hash changed meanwhile")
                }
                Err(error) => tracing::warn!(%error, "password hash upgrade: not stored"),
            }
        });
    }

    /// Whether `password` matches `hash`. With no hash (unknown account, or an account without a
    /// password, [`NO_PASSWORD`]) a dummy hash of the same cost is verified instead and `false` returned, so the
    /// answer takes as long either way.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> bool {
        let plain = password.to_owned();
        // anything but a bcrypt hash (NO_PASSWORD) is checked like no hash at all
        let stored = hash.filter(|h| h.starts_with("$2")).map(str::to_owned);
        let dummy = Arc::clone(&self.dummy);
        let cost = self.cost;
        let outcome = self
            .run(move || {
                Ok(match stored {
                    Some(h) => preemptible::verify(plain.as_bytes(), &h).unwrap_or(false),
                    None => {
                        let d = dummy.get_or_init(|| {
                            preemptible::hash(b"dummy password for timing", cost)
                                .unwrap_or_default()
                        });
                        let _ = preemptible::verify(plain.as_bytes(), d);
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

    /// Runs `job` on the pool and waits for its result. A caller whose future is dropped while
    /// its job is still queued (a timeout around it) costs nothing: the job is skipped. A client
    /// that disconnects does not drop it: actix-web finishes the handler (docs/performance.md).
    async fn run<T, F>(&self, job: F) -> Result<T, HashError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, HashError> + Send + 'static,
    {
        self.pool.in_flight.fetch_add(1, Ordering::Relaxed);
        let _guard = InFlight(Arc::clone(&self.pool));
        let (tx, rx) = oneshot::channel();
        let span = tracing::Span::current();
        let work: Job = Box::new(move || {
            if !tx.is_closed() {
                let _ = tx.send(span.in_scope(job));
            }
        });
        self.pool.jobs.send(work).map_err(|_| HashError::Closed)?;
        rx.await.map_err(|_| HashError::Closed)?
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// The threads and their queue. Dropping it closes the queue, and the threads end.
struct Pool {
    jobs: mpsc::Sender<Job>,
    threads: usize,
    in_flight: AtomicI64,
}

impl Pool {
    fn start(threads: usize) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let mut started = 0;
        for n in 0..threads {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("bcrypt-{n}"))
                .spawn(move || work(&queue));
            match spawned {
                Ok(_) => started += 1,
                Err(error) => tracing::error!(%error, "could not start a bcrypt thread"),
            }
        }
        Self {
            jobs,
            threads: started,
            in_flight: AtomicI64::new(0),
        }
    }
}

/// A pool thread: lowest priority, then jobs until the queue closes. A job that panics loses its
/// answer (its caller gets `Closed`), not the thread.
fn work(queue: &Mutex<mpsc::Receiver<Job>>) {
    lowest_priority();
    loop {
        let next = match queue.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        match next {
            Ok(job) => {
                let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
            }
            Err(mpsc::RecvError) => return,
        }
    }
}

/// Puts the calling thread at `SCHED_IDLE`: it runs only when no other thread of the machine (or
/// container) wants the core, and a thread that wakes up preempts it at once. Lowering one's own
/// priority needs no privilege; where a sandbox refuses it, hashing still works, at normal
/// priority, and a warning says so.
fn lowest_priority() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::{
            set_thread_priority_and_policy, thread_native_id, thread_schedule_policy,
            NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        // The policy is set first; the nice value the crate sets afterwards does not matter
        // under SCHED_IDLE (and may be refused when the process already runs niced).
        let _ = set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle);
        if thread_schedule_policy().ok() != Some(idle) {
            tracing::warn!("bcrypt threads run at normal priority: SCHED_IDLE was refused");
        }
    }
}

struct InFlight(Arc<Pool>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
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
        assert!(
            !hasher.needs_upgrade(&hash),
            "a hash this service wrote at its cost"
        );
        for old in [
            hash.replacen("$2b$", "$2y$", 1),
            hash.replacen("$2b$", "$2a$", 1),
            hash.replacen("$2b$04$", "$2b$10$", 1),
            "garbage".to_owned(),
        ] {
            assert!(hasher.needs_upgrade(&old), "{old}");
        }
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
    async fn no_password_matches_nothing_and_is_checked_like_an_unknown_account() {
        let hasher = PasswordHasher::new(4);
        for typed in ["", "!", NO_PASSWORD, "anything"] {
            assert!(!hasher.verify(typed, Some(NO_PASSWORD)).await, "{typed:?}");
        }
        assert!(hasher.dummy.get().is_some(), "the dummy hash did the work");
    }

    #[tokio::test]
    async fn jobs_run_one_per_thread() {
        use std::sync::atomic::AtomicUsize;
        use std::time::Duration;
        let hasher = PasswordHasher::with_concurrency(4, 2);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let job = || {
            let (running, most) = (Arc::clone(&running), Arc::clone(&most));
            move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(30));
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            }
        };
        let (a, b, c, d) = tokio::join!(
            hasher.run(job()),
            hasher.run(job()),
            hasher.run(job()),
            hasher.run(job())
        );
        assert!(a.is_ok() && b.is_ok() && c.is_ok() && d.is_ok());
        assert_eq!(most.load(Ordering::SeqCst), 2, "two threads, never more");
        assert_eq!(hasher.in_flight(), 0);
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn pool_threads_run_at_sched_idle() {
        use thread_priority::ThreadSchedulePolicy;
        use thread_priority::{thread_schedule_policy, NormalThreadSchedulePolicy};
        let hasher = PasswordHasher::with_concurrency(4, 1);
        let (name, policy) = hasher
            .run(|| {
                Ok((
                    std::thread::current().name().map(str::to_owned),
                    thread_schedule_policy().ok(),
                ))
            })
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("bcrypt-0"));
        assert_eq!(
            policy,
            Some(ThreadSchedulePolicy::Normal(
                NormalThreadSchedulePolicy::Idle
            ))
        );
        // The caller's own thread is untouched.
        assert_ne!(
            thread_schedule_policy().ok(),
            Some(ThreadSchedulePolicy::Normal(
                NormalThreadSchedulePolicy::Idle
            ))
        );
    }

    #[tokio::test]
    async fn a_queued_job_whose_caller_left_is_skipped() {
        use std::sync::atomic::AtomicBool;
        use std::time::Duration;
        let hasher = PasswordHasher::with_concurrency(4, 1);
        let ran = Arc::new(AtomicBool::new(false));
        let busy = hasher.run(|| {
            std::thread::sleep(Duration::from_millis(100));
            Ok(())
        });
        let flag = Arc::clone(&ran);
        let left = hasher.run(move || {
            flag.store(true, Ordering::SeqCst);
            Ok(())
        });
        // Both are queued; the second caller gives up while the first job runs.
        let (first, second) =
            tokio::join!(busy, tokio::time::timeout(Duration::from_millis(20), left));
        assert!(first.is_ok());
        assert!(second.is_err(), "the second caller timed out");
        // A later job runs after the skipped one would have.
        hasher.run(|| Ok(())).await.unwrap();
        assert!(!ran.load(Ordering::SeqCst), "the abandoned job was skipped");
        assert_eq!(hasher.in_flight(), 0);
    }

    #[tokio::test]
    async fn a_panicking_job_fails_its_caller_not_the_pool() {
        let hasher = PasswordHasher::with_concurrency(4, 1);
        let failed = hasher.run::<(), _>(|| panic!("bcrypt blew up")).await;
        assert!(matches!(failed, Err(HashError::Closed)), "{failed:?}");
        let pw = Password::new("correct horse", 8).unwrap();
        assert!(hasher.hash(&pw).await.is_ok(), "the thread lives on");
    }
}
