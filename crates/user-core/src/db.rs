//! The database layer: an async diesel pool whose connections live in the service's schema
//! (through `search_path`), migrations under an advisory lock, and the error classes the API
//! cares about (unavailable → 503, unique violation → the API's duplicate answer).

use crate::config::{ConfigError, Settings};
use crate::Secret;
pub use diesel;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::ConnectionError;
use diesel::ConnectionResult;
use diesel_async::pooled_connection::deadpool::{BuildError, Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use diesel_migrations::EmbeddedMigrations;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// A pooled connection.
pub type Conn = Object<AsyncPgConnection>;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection within `DB_TIMEOUT_MS`, or the database went away: 503.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A unique index refused the write (a racing or repeated insert).
    #[error("unique violation on {}", constraint.as_deref().unwrap_or("?"))]
    UniqueViolation { constraint: Option<String> },
    #[error("row not found")]
    NotFound,
    #[error("query failed: {0}")]
    Query(DieselError),
}

impl DbError {
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, Self::UniqueViolation { .. })
    }
}

impl From<DieselError> for DbError {
    fn from(error: DieselError) -> Self {
        match error {
            DieselError::NotFound => Self::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                Self::UniqueViolation {
                    constraint: info.constraint_name().map(str::to_owned),
                }
            }
            DieselError::DatabaseError(
                DatabaseErrorKind::UnableToSendCommand | DatabaseErrorKind::ClosedConnection,
                info,
            ) => Self::Unavailable(info.message().to_owned()),
            DieselError::DatabaseError(DatabaseErrorKind::Unknown, ref info)
                if is_shutdown_message(info.message()) =>
            {
                Self::Unavailable(info.message().to_owned())
            }
            DieselError::BrokenTransactionManager => {
                Self::Unavailable("connection left in a broken transaction state".to_owned())
            }
            other => Self::Query(other),
        }
    }
}

fn is_shutdown_message(message: &str) -> bool {
    message.contains("terminating connection")
        || message.contains("the database system is shutting down")
        || message.contains("the database system is starting up")
        || message.contains("connection closed")
}

/// The runtime that drives the sockets of the pool's connections, for the life of the process.
///
/// A connection's background task runs on the runtime that established it. actix-web gives
/// each worker a runtime of its own, so a connection established inside a request lived only as
/// long as that worker: in a graceful shutdown the idle workers stop first, and requests still
/// running on the others lost the connections those workers had made ("connection closed",
/// 503 — found by scripts/soak's SIGTERM phase). `None` if no runtime could be built (then the
/// caller's runtime drives them, as before).
fn driver() -> Option<&'static tokio::runtime::Runtime> {
    static DRIVER: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    DRIVER
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("db-driver")
                .enable_all()
                .build()
                .ok()
        })
        .as_ref()
}

/// The pool's connection setup: `establish` on the [`driver`] runtime.
fn establish_on_driver(url: &str) -> BoxFuture<'_, ConnectionResult<AsyncPgConnection>> {
    let url = url.to_owned();
    async move {
        match driver() {
            Some(runtime) => runtime
                .spawn(async move { AsyncPgConnection::establish(&url).await })
                .await
                .unwrap_or_else(|e| Err(ConnectionError::BadConnection(e.to_string()))),
            None => AsyncPgConnection::establish(&url).await,
        }
    }
    .boxed()
}

/// Runs `task` for the life of the process, on the runtime that drives the pool's
/// connections ([`driver`]), or on the caller's runtime if there is none.
pub fn spawn_background<F>(task: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    match driver() {
        Some(runtime) => {
            runtime.spawn(task);
        }
        None => {
            tokio::spawn(task);
        }
    }
}

thread_local! {
    /// On an HTTP worker thread ([`serve_on_this_thread`]): how many workers share the pool.
    static WORKERS: Cell<usize> = const { Cell::new(0) };
    /// The pools of this worker thread, one for each [`Db`] used on it.
    static WORKER_POOLS: RefCell<Vec<WorkerPool>> = const { RefCell::new(Vec::new()) };
}

/// Marks the calling thread as one of `workers` HTTP worker threads, each with a runtime of its
/// own for the life of the thread: [`Db::conn`] then hands out connections from a pool of this
/// thread's own, whose connections this thread's runtime drives.
///
/// Why: with one pool for the process, a query went from the request's thread to the thread
/// that drives the connection's socket and its answer back, two thread wakeups per query; the
/// threads driving the sockets took a third of the service's CPU under load. With a pool per
/// worker, the request, its connection and its socket stay on one thread (GET one user:
/// about 20 % more requests a second; docs/performance.md). A worker's connections serve only
/// its own requests, so a worker that stops first in a graceful shutdown takes no connection
/// from a request still running on another.
pub fn serve_on_this_thread(workers: usize) {
    WORKERS.set(workers.max(1));
}

/// A pool of one worker thread, registered with its [`Db`] for [`Db::status`] while the thread
/// lives.
struct WorkerPool {
    db: usize,
    pool: Pool<AsyncPgConnection>,
    registry: Arc<Mutex<Vec<Pool<AsyncPgConnection>>>>,
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        let mut registry = self
            .registry
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(at) = registry
            .iter()
            .position(|pool| std::ptr::eq(pool.manager(), self.pool.manager()))
        {
            registry.swap_remove(at);
        }
    }
}

/// The pool and what the service needs to know about its database.
#[derive(Clone)]
pub struct Db {
    /// The process's pool: used off the HTTP worker threads (start-up, bootstrap, admin
    /// commands, tests), its connections driven by the [`driver`] runtime.
    pool: Pool<AsyncPgConnection>,
    /// The pools of the HTTP worker threads ([`serve_on_this_thread`]).
    worker_pools: Arc<Mutex<Vec<Pool<AsyncPgConnection>>>>,
    pool_size: usize,
    url: Secret,
    schema: String,
    timeout: Duration,
    migrated: Arc<AtomicBool>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("schema", &self.schema)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Pool figures for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct PoolStatus {
    pub max_size: usize,
    pub size: usize,
    pub available: usize,
    pub waiting: usize,
}

impl Db {
    /// Builds the pool (connections are opened lazily) with every connection's
    /// `search_path` set to the service's schema.
    pub fn new(settings: &Settings) -> Result<Self, ConfigError> {
        let url = with_search_path(settings.database_url.expose(), &settings.schema)?;
        let pool = build_pool(&url, settings.pool_size, true)
            .map_err(|e| ConfigError(format!("DATABASE_URL: cannot build the pool: {e}")))?;
        Ok(Self {
            pool,
            worker_pools: Arc::new(Mutex::new(Vec::new())),
            pool_size: settings.pool_size,
            url,
            schema: settings.schema.clone(),
            timeout: settings.db_timeout,
            migrated: Arc::new(AtomicBool::new(false)),
        })
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// A connection, waiting at most `DB_TIMEOUT_MS` (then [`DbError::Unavailable`]). On an HTTP
    /// worker thread, from that thread's own pool ([`serve_on_this_thread`]).
    pub async fn conn(&self) -> Result<Conn, DbError> {
        let pool = self.pool_of_this_thread();
        match tokio::time::timeout(self.timeout, pool.get()).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(DbError::Unavailable(e.to_string())),
            Err(_) => Err(DbError::Unavailable(format!(
                "no connection within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }

    /// The pool of the calling thread: its own on an HTTP worker thread (made at its first
    /// request, with `DB_POOL_SIZE` ÷ workers connections, rounded up), else the process's.
    fn pool_of_this_thread(&self) -> Pool<AsyncPgConnection> {
        let workers = WORKERS.get();
        if workers == 0 {
            return self.pool.clone();
        }
        let id = Arc::as_ptr(&self.worker_pools) as usize;
        WORKER_POOLS.with_borrow_mut(|pools| {
            if let Some(mine) = pools.iter().find(|p| p.db == id) {
                return mine.pool.clone();
            }
            let Ok(pool) = build_pool(&self.url, self.pool_size.div_ceil(workers), false) else {
                return self.pool.clone();
            };
            self.worker_pools
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(pool.clone());
            // The workers serve from now on: close the idle connections that start-up left in
            // the process's pool (it opens new ones if an admin task needs them again).
            self.pool.retain(|_, _| false);
            pools.push(WorkerPool {
                db: id,
                pool: pool.clone(),
                registry: Arc::clone(&self.worker_pools),
            });
            pool
        })
    }

    /// A connection of its own, outside the pools (for `LISTEN`: it stays open, waiting), its
    /// socket driven by the runtime it is made on.
    pub async fn dedicated(&self) -> Result<AsyncPgConnection, DbError> {
        AsyncPgConnection::establish(self.url.expose())
            .await
            .map_err(|e| DbError::Unavailable(e.to_string()))
    }

    /// The process's pool and the workers' pools together.
    pub fn status(&self) -> PoolStatus {
        let mut total = PoolStatus::of(&self.pool);
        total.max_size = self.pool_size;
        let workers = self
            .worker_pools
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for pool in workers.iter() {
            let s = PoolStatus::of(pool);
            total.size += s.size;
            total.available += s.available;
            total.waiting += s.waiting;
        }
        total
    }

    /// Whether migrations ran in this process and the database answers now.
    pub async fn ready(&self) -> bool {
        if !self.migrated.load(Ordering::Acquire) {
            return false;
        }
        let Ok(mut conn) = self.conn().await else {
            return false;
        };
        let ping = diesel_async::RunQueryDsl::execute(diesel::sql_query("SELECT 1"), &mut conn);
        matches!(tokio::time::timeout(self.timeout, ping).await, Ok(Ok(_)))
    }

    /// Creates the schema if missing and applies pending migrations, holding a Postgres advisory
    /// lock (keyed by the schema name) so that replicas starting together take turns.
    /// Returns the versions applied.
    pub async fn migrate(&self, migrations: EmbeddedMigrations) -> Result<Vec<String>, DbError> {
        let url = self.url.clone();
        let schema = self.schema.clone();
        let applied =
            tokio::task::spawn_blocking(move || migrate_blocking(&url, &schema, migrations))
                .await
                .map_err(|e| DbError::Unavailable(format!("migration task failed: {e}")))??;
        self.migrated.store(true, Ordering::Release);
        Ok(applied)
    }
}

impl PoolStatus {
    fn of(pool: &Pool<AsyncPgConnection>) -> Self {
        let s = pool.status();
        Self {
            max_size: s.max_size,
            size: s.size,
            available: s.available,
            waiting: s.waiting,
        }
    }
}

/// A pool of at most `size` connections. `on_driver`: connections are established (and their
/// sockets driven) on the [`driver`] runtime; otherwise on the runtime that first needs them.
fn build_pool(
    url: &Secret,
    size: usize,
    on_driver: bool,
) -> Result<Pool<AsyncPgConnection>, BuildError> {
    let mut config = ManagerConfig::default();
    if on_driver {
        config.custom_setup = Box::new(establish_on_driver);
    }
    // No test query before each hand-out (diesel-async's default, `Verified`, sends
    // `SELECT 1`: a second round trip in every request). A connection whose server went
    // away is still never handed out: its driver task sees the close and the pool drops
    // it (`is_broken`). One the server drops while it is checked out fails that request
    // with 503, as the test query itself would have.
    config.recycling_method = RecyclingMethod::Fast;
    let manager =
        AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url.expose(), config);
    Pool::builder(manager).max_size(size).build()
}

fn migrate_blocking(
    url: &Secret,
    schema: &str,
    migrations: EmbeddedMigrations,
) -> Result<Vec<String>, DbError> {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
    use diesel_migrations::MigrationHarness;

    let mut conn: AsyncConnectionWrapper<AsyncPgConnection> =
        Connection::establish(url.expose()).map_err(|e| DbError::Unavailable(e.to_string()))?;
    let key = advisory_key(schema);
    conn.batch_execute(&format!("SELECT pg_advisory_lock({key})"))?;
    let outcome = conn
        .batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
        .map_err(DbError::from)
        .and_then(|()| {
            conn.run_pending_migrations(migrations)
                .map(|versions| versions.iter().map(ToString::to_string).collect())
                .map_err(|e| DbError::Unavailable(format!("migration failed: {e}")))
        });
    let unlock = conn.batch_execute(&format!("SELECT pg_advisory_unlock({key})"));
    let applied = outcome?;
    unlock?;
    Ok(applied)
}

/// A stable 63-bit key for the advisory lock of `schema` (FNV-1a).
fn advisory_key(schema: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in b"user-svc-migrations:".iter().chain(schema.as_bytes()) {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash >> 1) as i64
}

/// `url` with `options=-csearch_path=<schema>` added (no space: `url` would encode it as `+`,
/// which tokio-postgres does not decode), so every connection works in the schema.
pub fn with_search_path(url: &str, schema: &str) -> Result<Secret, ConfigError> {
    let mut parsed = url::Url::parse(url)
        .map_err(|e| ConfigError(format!("DATABASE_URL is not a valid URL: {e}")))?;
    let kept: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| k != "options")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    parsed
        .query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("options", &format!("-csearch_path={schema}"));
    Ok(Secret::new(parsed.to_string()))
}

/// A constant SQL statement that each connection prepares once and then reuses, plan and all
/// (diesel's statement cache, keyed by the text), unlike `diesel::sql_query`, which is parsed
/// and planned again on every call (diesel marks it never to be cached). Values are bound as
/// with `sql_query`, in the order of their `$n`: `prepared(SQL).bind::<BigInt, _>(id)`, and
/// rows are read by name (`QueryableByName`).
///
/// For statements whose best plan does not depend on the values. Postgres plans a prepared
/// statement's first five calls with their values, then keeps one generic plan, made without
/// them, only if its estimated cost is no higher; otherwise it plans every call again. So the
/// values should not change the estimate either: a paged list's statement (one index range, a
/// branch chosen by a one-time filter) takes them through a derived row, where the planner
/// does not see them (`test_support::plans` checks it). A search, whose best plan depends on
/// the term, stays a `sql_query`.
///
/// diesel's public bind call writes a placeholder where it is made, so the statement starts
/// with the placeholders in a comment (`/* $1 $2 */ SELECT … $1 …`): Postgres takes the
/// values' types from the bind message and the comment is ignored.
pub fn prepared(sql: &'static str) -> Prepared<()> {
    Prepared { sql, binds: () }
}

/// See [`prepared`].
#[derive(Debug, Clone, Copy)]
pub struct Prepared<B> {
    sql: &'static str,
    binds: B,
}

/// A bound value of a [`Prepared`] statement, after the ones before it.
#[derive(Debug, Clone, Copy)]
pub struct Bound<Before, V, ST> {
    before: Before,
    value: V,
    sql_type: std::marker::PhantomData<ST>,
}

/// The values of a [`Prepared`] statement, written as placeholders.
pub trait Binds {
    fn push<'b>(
        &'b self,
        out: &mut diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()>;
}

impl Binds for () {
    fn push<'b>(
        &'b self,
        _: &mut diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        Ok(())
    }
}

impl<Before, V, ST> Binds for Bound<Before, V, ST>
where
    Before: Binds,
    V: diesel::serialize::ToSql<ST, diesel::pg::Pg>,
    diesel::pg::Pg: diesel::sql_types::HasSqlType<ST>,
{
    fn push<'b>(
        &'b self,
        out: &mut diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        self.before.push(out)?;
        out.push_sql(" ");
        out.push_bind_param::<ST, V>(&self.value)
    }
}

impl<B> Prepared<B> {
    pub fn bind<ST, V>(self, value: V) -> Prepared<Bound<B, V, ST>> {
        Prepared {
            sql: self.sql,
            binds: Bound {
                before: self.binds,
                value,
                sql_type: std::marker::PhantomData,
            },
        }
    }
}

impl<B> diesel::query_builder::QueryId for Prepared<B> {
    type QueryId = ();
    // No type-level id: the cache keys the statement by its SQL text instead.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<B> diesel::query_builder::Query for Prepared<B> {
    type SqlType = diesel::sql_types::Untyped;
}

impl<B: Binds> diesel::query_builder::QueryFragment<diesel::pg::Pg> for Prepared<B> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::pg::Pg>,
    ) -> diesel::QueryResult<()> {
        out.push_sql("/*");
        self.binds.push(&mut out)?;
        out.push_sql(" */ ");
        out.push_sql(self.sql);
        Ok(())
    }
}

/// A paged list whose page starts within this many entries of the start reads them forward
/// whatever the list's total ([`page_ids_sql!`]`(from_start, …)`), with one branch where
/// reading from the nearer end takes two. Skipping entries forward costs about 0.06 µs each
/// (an index-only scan), so where the end would have been nearer this costs at most 0.06 ms
/// more; the first pages, the ones most read, are spared the second branch's plan nodes on
/// every call.
pub const FROM_START_BELOW: i64 = 1_000;

/// The part of a paged list's statement (partner's and jive's `PAGE_SQL`,
/// `PAGE_FROM_START_SQL`) that finds a page's ids: a tenant's entries of `$table`, in the order
/// of its index on `($tenant, $id)`, read by an index-only scan; only the ids it gives are
/// joined to their rows. It reads `t.tenant`, `t.lim` (the page size), `t.off` (the offset)
/// and `t.total` (the tenant's entries) from the statement's derived row `t`, not from
/// parameters, so the plan Postgres makes with the values costs what the one made without
/// them does and it keeps that generic plan (see [`prepared`]; a constant OFFSET also costed
/// the last page of ten million entries as skipping them all, past `jit_above_cost`).
///
/// - The tenant is a range (`>= t.tenant AND <= t.tenant`) ordered `($tenant, $id)`: only that
///   index gives the order, so no plan walks another index in id order filtering on the
///   tenant (for a small tenant of a table a large one fills, the whole index).
/// - `from_start`: forward from the start, skipping `t.off` entries (pages that start below
///   [`FROM_START_BELOW`]).
/// - `either_end`: from the nearer end. A page past the middle skips
///   `t.total - t.off - t.lim` entries backward from the end, so the last page of ten million
///   entries skips none. Of the two branches, the one whose condition the total fails is not
///   run (a one-time filter); the backward branch's arithmetic cannot overflow, even at an
///   offset of `i64::MAX`. The outer `LIMIT t.lim` changes no answer (a branch gives at most
///   `t.lim` ids): without it the planner guessed a tenth of the tenant for the backward
///   branch's computed LIMIT and joined that many rows by merging with a scan of the whole
///   primary key.
///
/// The ids come in no guaranteed order (the backward branch gives them descending): the
/// statement has no `ORDER BY`, which spares Postgres a sort node to build and run on every
/// page, and the caller sorts the page.
#[macro_export]
macro_rules! page_ids_sql {
    (from_start, $table:literal, $tenant:literal, $id:literal) => {
        $crate::page_ids_sql!(@forward, $table, $tenant, $id, "")
    };
    (either_end, $table:literal, $tenant:literal, $id:literal) => {
        concat!(
            "SELECT b.", $id, " FROM ((",
            $crate::page_ids_sql!(@forward, $table, $tenant, $id, " AND t.off <= t.total / 2"),
            ") UNION ALL (",
            $crate::page_ids_sql!(@range, $table, $tenant, $id),
            " AND t.off > t.total / 2 \
              ORDER BY x.", $tenant, " DESC, x.", $id, " DESC \
              LIMIT greatest(least(t.lim, t.total - t.off), 0) \
              OFFSET greatest(t.total - least(t.off, t.total) - t.lim, 0)\
             )) b LIMIT t.lim"
        )
    };
    (@forward, $table:literal, $tenant:literal, $id:literal, $condition:literal) => {
        concat!(
            $crate::page_ids_sql!(@range, $table, $tenant, $id),
            $condition,
            " ORDER BY x.", $tenant, ", x.", $id, " LIMIT t.lim OFFSET t.off"
        )
    };
    (@range, $table:literal, $tenant:literal, $id:literal) => {
        concat!(
            "SELECT x.", $id, " FROM ", $table, " x \
             WHERE x.", $tenant, " >= t.tenant AND x.", $tenant, " <= t.tenant"
        )
    };
}

/// The total a paged list has, when its page tells: a page shorter than `limit` that holds rows,
/// or the first page, ends the list, so the total is `offset` plus its rows and no `count(*)`
/// is needed. `None` (count them) for a full page, or an empty one past the first.
pub fn total_from_page(offset: i64, limit: i64, rows: usize) -> Option<i64> {
    let rows = i64::try_from(rows).ok()?;
    (rows < limit && (rows > 0 || offset == 0)).then(|| offset.saturating_add(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_page_tells_the_total() {
        assert_eq!(total_from_page(0, 20, 0), Some(0)); // nothing at all
        assert_eq!(total_from_page(0, 20, 7), Some(7));
        assert_eq!(total_from_page(40, 20, 5), Some(45)); // the last page, partly filled
        assert_eq!(total_from_page(40, 20, 20), None); // full: there may be more
        assert_eq!(total_from_page(0, 1, 1), None);
        assert_eq!(total_from_page(60, 20, 0), None); // past the end: how far is not known
    }

    #[test]
    fn search_path_is_added_to_the_url() {
        let u = with_search_path("postgres://u:p@h:5432/db?sslmode=disable", "agency").unwrap();
        assert_eq!(
            u.expose(),
            "postgres://u:p@h:5432/db?sslmode=disable&options=-csearch_path%3Dagency"
        );
        let u = with_search_path("postgres://h/db?options=-c%20x%3D1", "jive").unwrap();
        assert_eq!(u.expose(), "postgres://h/db?options=-csearch_path%3Djive");
    }

    #[test]
    fn advisory_keys_differ_by_schema_and_are_stable() {
        assert_eq!(advisory_key("agency"), advisory_key("agency"));
        assert_ne!(advisory_key("agency"), advisory_key("jive"));
        assert!(advisory_key("agency") >= 0);
    }

    #[test]
    fn unique_violations_are_classified() {
        struct Info;
        impl diesel::result::DatabaseErrorInformation for Info {
            fn message(&self) -> &str {
                "duplicate key"
            }
            fn details(&self) -> Option<&str> {
                None
            }
            fn hint(&self) -> Option<&str> {
                None
            }
            fn table_name(&self) -> Option<&str> {
                None
            }
            fn column_name(&self) -> Option<&str> {
                None
            }
            fn constraint_name(&self) -> Option<&str> {
                Some("users_email_key")
            }
            fn statement_position(&self) -> Option<i32> {
                None
            }
        }
        let e = DbError::from(DieselError::DatabaseError(
            DatabaseErrorKind::UniqueViolation,
            Box::new(Info),
        ));
        assert!(e.is_unique_violation());
        assert!(matches!(
            DbError::from(DieselError::NotFound),
            DbError::NotFound
        ));
        let e = DbError::from(DieselError::DatabaseError(
            DatabaseErrorKind::UnableToSendCommand,
            Box::new("connection refused".to_owned()),
        ));
        assert!(matches!(e, DbError::Unavailable(_)));
    }
}
