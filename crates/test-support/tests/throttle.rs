//! `user_core::throttle` against a real Postgres, on the table the services' migrations make
//! (agency's migration, read as it is; partner's and virtool's are the same file): the limits,
//! the window, a success giving its attempt back, two "replicas" sharing the counts, 30
//! attempts at once letting no more than the limit through, a restart keeping the counts.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: failing loudly is the point

use diesel_async::SimpleAsyncConnection;
use std::net::IpAddr;
use std::time::Duration;
use test_support::TestDb;
use user_core::config::ServiceInfo;
use user_core::db::Db;
use user_core::throttle::{LoginThrottle, RetryAfter, ThrottleConfig, Throttled};

const INFO: ServiceInfo = ServiceInfo {
    name: "throttle-test",
    schema: "throttle_test",
    port: 0,
};
const TABLE: &str =
    include_str!("../../agency-svc/migrations/2026-12-03-000003_login_attempts/up.sql");
const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

async fn setup() -> (TestDb, Db) {
    let test_db = TestDb::new().await;
    let mut conn = test_db.conn("public").await;
    conn.batch_execute(&format!(
        "CREATE SCHEMA throttle_test; SET search_path TO throttle_test; {TABLE}"
    ))
    .await
    .unwrap();
    let settings = test_support::settings(INFO, &test_db, &[]);
    (test_db, Db::new(&settings).unwrap())
}

fn throttle(
    db: &Db,
    max: u32,
    per_address: u32,
    per_account: u32,
    window: Duration,
) -> LoginThrottle {
    LoginThrottle::new(
        ThrottleConfig {
            max_failures: max,
            max_failures_per_address: per_address,
            max_failures_per_account: per_account,
            window,
        },
        db.clone(),
    )
}

const MINUTE: Duration = Duration::from_secs(60);

async fn refused(t: &LoginThrottle, account: &str, address: IpAddr) -> Option<u64> {
    match t.attempt(account, address).await {
        Ok(_) => None,
        Err(Throttled::Refused(RetryAfter(s))) => Some(s),
        Err(Throttled::Db(e)) => panic!("{e}"),
    }
}

#[test]
fn every_service_with_a_sign_in_makes_the_same_table() {
    for service in ["partner", "virtool"] {
        let path = format!(
            "{}/../{service}-svc/migrations/2026-12-03-000003_login_attempts/up.sql",
            env!("CARGO_MANIFEST_DIR")
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), TABLE, "{path}");
    }
}

#[tokio::test]
async fn after_ten_failed_attempts_the_eleventh_is_refused_for_that_account_and_address_only() {
    let (_t, db) = setup().await;
    let t = throttle(&db, 10, 100, 0, MINUTE);
    for _ in 0..10 {
        assert_eq!(refused(&t, "kari@example.no", A).await, None);
    }
    let wait = refused(&t, "KARI@example.no", A).await.expect("refused");
    assert!((59..=60).contains(&wait), "{wait}");
    assert_eq!(
        refused(&t, "kari@example.no", B).await,
        None,
        "another address"
    );
    assert_eq!(
        refused(&t, "ola@example.no", A).await,
        None,
        "another account"
    );
}

#[tokio::test]
async fn the_window_passes() {
    let (_t, db) = setup().await;
    let t = throttle(&db, 2, 100, 0, Duration::from_secs(1));
    for _ in 0..2 {
        assert_eq!(refused(&t, "x", A).await, None);
    }
    assert_eq!(refused(&t, "x", A).await, Some(1));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(refused(&t, "x", A).await, None);
}

#[tokio::test]
async fn a_success_resets_the_account_at_that_address_and_gives_back_its_attempt() {
    let (_t, db) = setup().await;
    let t = throttle(&db, 2, 3, 0, MINUTE);
    assert_eq!(refused(&t, "x", A).await, None); // a failure
    t.attempt("x", A).await.unwrap().give_back().await.unwrap(); // a success
    assert_eq!(refused(&t, "x", A).await, None);
    assert_eq!(refused(&t, "x", A).await, None, "the count started again");
    // the address's total: 3 failures (the success was given back)
    assert!(
        refused(&t, "y", A).await.is_some(),
        "the address's fourth failure"
    );
}

#[tokio::test]
async fn the_address_limit_spans_accounts_and_the_account_limit_spans_addresses() {
    let (_t, db) = setup().await;
    let t = throttle(&db, 10, 3, 0, MINUTE);
    for account in ["a", "b", "c"] {
        assert_eq!(refused(&t, account, A).await, None);
    }
    assert!(refused(&t, "d", A).await.is_some());
    assert_eq!(refused(&t, "d", B).await, None);
    // per account, over all addresses: off by default, on when configured
    let t = throttle(&db, 10, 100, 0, MINUTE);
    for n in 0..12u8 {
        let address = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, n));
        assert_eq!(refused(&t, "spread", address).await, None, "off by default");
    }
    let t = throttle(&db, 10, 100, 5, MINUTE);
    let mut first_refusal = None;
    for n in 0..8u8 {
        let address = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, n));
        if refused(&t, "guessed", address).await.is_some() && first_refusal.is_none() {
            first_refusal = Some(n);
        }
    }
    assert_eq!(first_refusal, Some(5), "the sixth address is refused");
}

#[tokio::test]
async fn thirty_attempts_at_once_on_two_replicas_let_no_more_than_the_limit_through() {
    let (_t, db) = setup().await;
    let replicas = [
        std::sync::Arc::new(throttle(&db, 10, 100, 0, MINUTE)),
        std::sync::Arc::new(throttle(&db, 10, 100, 0, MINUTE)),
    ];
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(30));
    let mut tasks = Vec::new();
    for n in 0..30 {
        let t = std::sync::Arc::clone(&replicas[n % 2]);
        let barrier = std::sync::Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            t.attempt("victim@example.no", A).await.is_ok()
        }));
    }
    let mut through = 0;
    for task in tasks {
        through += usize::from(task.await.unwrap());
    }
    assert_eq!(through, 10, "exactly the limit reached the password check");
}

#[tokio::test]
async fn a_restart_keeps_the_counts_and_expired_windows_are_pruned() {
    let (test_db, db) = setup().await;
    let before = throttle(&db, 3, 100, 0, MINUTE);
    for _ in 0..3 {
        assert_eq!(refused(&before, "x", A).await, None);
    }
    drop(before);
    let after = throttle(&db, 3, 100, 0, MINUTE);
    assert!(
        refused(&after, "x", A).await.is_some(),
        "the new process sees the counts"
    );
    // old windows of others are pruned by later attempts
    let mut conn = test_db.conn("throttle_test").await;
    conn.batch_execute(
        "INSERT INTO login_attempts SELECT 2, 'old-' || g, now() - interval '2 hours', 1 \
         FROM generate_series(1, 30) g",
    )
    .await
    .unwrap();
    assert_eq!(refused(&after, "y", B).await, None);
    assert_eq!(refused(&after, "z", B).await, None);
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let left: Count = diesel_async::RunQueryDsl::get_result(
        diesel::sql_query("SELECT count(*) AS n FROM login_attempts WHERE key LIKE 'old-%'"),
        &mut conn,
    )
    .await
    .unwrap();
    assert!(left.n <= 10, "40 pruned of 30 expired? {} left", left.n);
}

#[tokio::test]
async fn accounts_with_a_nul_or_of_any_length_are_counted_not_refused_with_an_error() {
    let (_t, db) = setup().await;
    let t = throttle(&db, 1, 100, 0, MINUTE);
    for account in ["a\0b".to_owned(), "x".repeat(10_000)] {
        assert_eq!(refused(&t, &account, A).await, None);
        assert!(
            refused(&t, &account, A).await.is_some(),
            "counted like any other"
        );
    }
}
