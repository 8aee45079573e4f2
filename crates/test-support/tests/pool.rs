//! The shared pool (`user_core::db::Db`) against a real Postgres: what a checkout costs and
//! what it hands out after the server dropped a connection.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: failing loudly is the point

use diesel::sql_types::{Integer, Text};
use diesel::QueryableByName;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use std::time::Duration;
use test_support::TestDb;
use user_core::config::ServiceInfo;
use user_core::db::Db;

const INFO: ServiceInfo = ServiceInfo {
    name: "pool-test",
    schema: "pool_test",
    port: 0,
};

#[derive(QueryableByName)]
struct Pid {
    #[diesel(sql_type = Integer)]
    pid: i32,
}

#[derive(QueryableByName)]
struct LastQuery {
    #[diesel(sql_type = Text)]
    query: String,
}

async fn backend_pid(conn: &mut AsyncPgConnection) -> i32 {
    diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result::<Pid>(conn)
        .await
        .unwrap()
        .pid
}

/// A pool of one connection, so that every checkout hands out the same one while it lives.
fn one_connection_pool(test_db: &TestDb) -> Db {
    let settings = test_support::settings(INFO, test_db, &[("DB_POOL_SIZE", "1")]);
    Db::new(&settings).unwrap()
}

/// A checkout costs no round trip: the pool does not run a test query (diesel-async's default,
/// `RecyclingMethod::Verified`, sends `SELECT 1` before every hand-out, one more message pair
/// per request than the request's own query; docs/performance.md).
#[tokio::test]
async fn a_checkout_sends_nothing_to_the_server() {
    let test_db = TestDb::new().await;
    let db = one_connection_pool(&test_db);
    let mut observer = test_db.conn("public").await;

    let mut conn = db.conn().await.unwrap();
    let pid = backend_pid(&mut conn).await;
    diesel::sql_query("SELECT 'the last query of the request' AS query")
        .get_result::<LastQuery>(&mut conn)
        .await
        .unwrap();
    drop(conn);

    let mut again = db.conn().await.unwrap();
    let last = diesel::sql_query("SELECT query FROM pg_stat_activity WHERE pid = $1")
        .bind::<Integer, _>(pid)
        .get_result::<LastQuery>(&mut observer)
        .await
        .unwrap();
    assert_eq!(
        last.query, "SELECT 'the last query of the request' AS query",
        "the checkout sent a query of its own"
    );
    assert_eq!(
        backend_pid(&mut again).await,
        pid,
        "the same pooled connection"
    );
}

/// Without the test query, a connection the server has closed must still not be handed out:
/// its driver sees the close, and the pool replaces it at the next checkout.
#[tokio::test]
async fn a_connection_the_server_closed_is_replaced() {
    let test_db = TestDb::new().await;
    let db = one_connection_pool(&test_db);
    let mut observer = test_db.conn("public").await;

    let mut conn = db.conn().await.unwrap();
    let pid = backend_pid(&mut conn).await;
    drop(conn);
    diesel::sql_query("SELECT pg_terminate_backend($1)::text AS query")
        .bind::<Integer, _>(pid)
        .get_result::<LastQuery>(&mut observer)
        .await
        .unwrap();
    // The driver task reads the server's goodbye and the end of the stream.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut fresh = db.conn().await.expect("a new connection, not an error");
    let new_pid = backend_pid(&mut fresh).await;
    assert_ne!(new_pid, pid, "the closed connection was handed out again");
}

/// On the HTTP workers' threads (`serve_on_this_thread`), each thread has a pool of its own
/// with its share of `DB_POOL_SIZE`; start-up's idle connections are closed once the workers
/// serve; `status` (for `/metrics`) counts every pool, and a worker's pool leaves it with the
/// thread.
#[test]
fn each_worker_thread_has_a_pool_of_its_own() {
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    };
    let main = runtime();
    let test_db = main.block_on(TestDb::new());
    let settings = test_support::settings(
        INFO,
        &test_db,
        &[("DB_POOL_SIZE", "4"), ("DB_TIMEOUT_MS", "300")],
    );
    let db = Db::new(&settings).unwrap();
    let startup_pid = main.block_on(async { backend_pid(&mut db.conn().await.unwrap()).await });
    assert_eq!(db.status().size, 1);

    let serving = std::sync::Arc::new(std::sync::Barrier::new(3));
    let checked = std::sync::Arc::new(std::sync::Barrier::new(3));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (db, serving, checked) = (db.clone(), serving.clone(), checked.clone());
            std::thread::spawn(move || {
                user_core::db::serve_on_this_thread(2);
                runtime().block_on(async {
                    let mut first = db.conn().await.unwrap();
                    let mut second = db.conn().await.unwrap();
                    let pids = (
                        backend_pid(&mut first).await,
                        backend_pid(&mut second).await,
                    );
                    let third = db.conn().await;
                    assert!(third.is_err(), "a third connection beyond 4 ÷ 2 workers");
                    drop((first, second));
                    let again = backend_pid(&mut db.conn().await.unwrap()).await;
                    assert!(
                        again == pids.0 || again == pids.1,
                        "not from this thread's pool"
                    );
                    serving.wait();
                    checked.wait();
                    pids
                })
            })
        })
        .collect();
    serving.wait();
    let status = db.status();
    assert_eq!(status.max_size, 4);
    assert_eq!(
        status.size, 4,
        "two workers' pools of two; start-up's connection closed"
    );
    assert_eq!(status.available, 4);
    checked.wait();
    let mut pids: Vec<i32> = Vec::new();
    for worker in workers {
        let (a, b) = worker.join().unwrap();
        pids.extend([a, b]);
    }
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), 4, "the workers shared a connection");
    assert!(!pids.contains(&startup_pid));
    assert_eq!(
        db.status().size,
        0,
        "a finished worker's pool is still counted"
    );
    drop(db);
    drop(test_db);
}
