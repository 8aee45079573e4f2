//! `user_core::audit` against a real Postgres, on the table every service's migrations make
//! (agency's migration, read as it is; the four are the same file): the feed rule under
//! concurrent writers with delayed commits, a follower on another "replica" woken by NOTIFY,
//! retention, and the metrics.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: failing loudly is the point

use diesel_async::{AsyncConnection, RunQueryDsl, SimpleAsyncConnection};
use std::sync::Arc;
use std::time::{Duration, Instant};
use test_support::TestDb;
use user_core::audit::{self, Audit, Changes, Context, FeedQuery, Target};
use user_core::config::ServiceInfo;
use user_core::db::{Db, DbError};
use user_core::http::Metrics;

const INFO: ServiceInfo = ServiceInfo {
    name: "audit-test",
    schema: "audit_test",
    port: 0,
};
const TABLE: &str =
    include_str!("../../agency-svc/migrations/2026-12-03-000002_audit_events/up.sql");

async fn setup() -> (TestDb, Db) {
    let test_db = TestDb::new().await;
    let mut conn = test_db.conn("public").await;
    conn.batch_execute(&format!(
        "CREATE SCHEMA audit_test; SET search_path TO audit_test; {TABLE}"
    ))
    .await
    .unwrap();
    let settings = test_support::settings(INFO, &test_db, &[]);
    (test_db, Db::new(&settings).unwrap())
}

async fn write(db: &Db, target: &str) {
    let mut conn = db.conn().await.unwrap();
    conn.transaction::<_, DbError, _>(async |conn| {
        audit::record(
            conn,
            &Context::operator().in_tenant("t1"),
            "user.updated",
            &Target::user(target),
            Changes::new().password_changed(),
        )
        .await
    })
    .await
    .unwrap();
}

#[test]
fn every_service_makes_the_same_table() {
    for service in ["jive", "partner", "virtool"] {
        let path = format!(
            "{}/../{service}-svc/migrations/2026-12-03-000002_audit_events/up.sql",
            env!("CARGO_MANIFEST_DIR")
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), TABLE, "{path}");
    }
}

#[tokio::test]
async fn eight_writers_with_delayed_commits_a_follower_sees_each_event_once_in_order() {
    let (_test_db, db) = setup().await;
    test_support::audit::assert_feed_rule(&db, 8).await;
}

#[tokio::test]
async fn an_event_is_numbered_only_once_committed_and_after_those_read_before() {
    let (_test_db, db) = setup().await;
    let audit = Audit::new(db.clone(), Arc::new(Metrics::new()), 0);
    // a transaction writes its event and stays open
    let (opened_tx, opened_rx) = tokio::sync::oneshot::channel();
    let (commit_tx, commit_rx) = tokio::sync::oneshot::channel::<()>();
    let held = {
        let db = db.clone();
        tokio::spawn(async move {
            let mut conn = db.conn().await.unwrap();
            conn.transaction::<_, DbError, _>(async |conn| {
                audit::record(
                    conn,
                    &Context::operator(),
                    "user.created",
                    &Target::user("held"),
                    Changes::new(),
                )
                .await?;
                opened_tx.send(()).unwrap();
                commit_rx.await.unwrap();
                Ok(())
            })
            .await
            .unwrap();
        })
    };
    opened_rx.await.unwrap();
    write(&db, "later").await;
    let page = audit.feed(None, &FeedQuery::default()).await.unwrap();
    let targets: Vec<_> = page.events.iter().map(|e| e.target.id.as_str()).collect();
    assert_eq!(
        targets,
        ["later"],
        "the open transaction's event is not numbered yet"
    );
    let first = page.next_after;
    commit_tx.send(()).unwrap();
    held.await.unwrap();
    let page = audit
        .feed(
            None,
            &FeedQuery {
                after: first,
                ..FeedQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].target.id, "held");
    assert!(page.events[0].id > first, "numbered after what was read");
    // the event as the feed shows it
    let e = &page.events[0];
    assert_eq!(e.action, "user.created");
    assert_eq!(e.actor.kind, "operator");
    assert_eq!(e.actor.id, None);
    assert!(e.time.ends_with('Z') && e.time.len() == 27, "{}", e.time);
}

#[tokio::test]
async fn a_waiting_follower_on_another_replica_wakes_on_the_notification() {
    let (_test_db, db) = setup().await;
    let writer = Audit::new(db.clone(), Arc::new(Metrics::new()), 0);
    let follower = Audit::new(db.clone(), Arc::new(Metrics::new()), 0);
    follower.start();
    // the follower's listener connects
    tokio::time::sleep(Duration::from_millis(300)).await;
    let waiting = {
        let follower = follower.clone();
        tokio::spawn(async move {
            follower
                .feed(
                    Some("t1"),
                    &FeedQuery {
                        wait: Duration::from_secs(10),
                        ..FeedQuery::default()
                    },
                )
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    write(&db, "7").await;
    let written = Instant::now();
    // the writer's replica numbers it (its hub's work after a kick) and notifies
    writer.sequence().await.unwrap();
    let page = waiting.await.unwrap();
    let latency = written.elapsed();
    assert_eq!(page.events.len(), 1);
    assert!(
        latency < Duration::from_millis(100),
        "woken {latency:?} after the commit"
    );
}

#[tokio::test]
async fn a_wait_with_nothing_new_ends_empty_after_its_time() {
    let (_test_db, db) = setup().await;
    write(&db, "1").await;
    let audit = Audit::new(db.clone(), Arc::new(Metrics::new()), 0);
    let last = audit
        .feed(None, &FeedQuery::default())
        .await
        .unwrap()
        .next_after;
    let began = Instant::now();
    let page = audit
        .feed(
            Some("another tenant"),
            &FeedQuery {
                after: 0,
                wait: Duration::from_millis(700),
                ..FeedQuery::default()
            },
        )
        .await
        .unwrap();
    assert!(
        page.events.is_empty(),
        "another tenant's events are not returned"
    );
    assert_eq!(page.next_after, 0);
    assert!(began.elapsed() >= Duration::from_millis(690));
    assert!(last > 0);
}

#[tokio::test]
async fn old_events_are_pruned_in_batches_and_recent_ones_kept() {
    let (test_db, db) = setup().await;
    for n in 0..2500 {
        write(&db, &n.to_string()).await;
    }
    let mut conn = test_db.conn("audit_test").await;
    conn.batch_execute(
        "UPDATE audit_events SET time = now() - interval '40 days' WHERE seq <= 2300",
    )
    .await
    .unwrap();
    assert_eq!(audit::prune(&db, 0).await.unwrap(), 0, "0 keeps everything");
    assert_eq!(audit::prune(&db, 30).await.unwrap(), 2300);
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let left: Count = diesel::sql_query("SELECT count(*) AS n FROM audit_events")
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(left.n, 200);
    // one replica at a time: while another session holds the prune lock, nothing is pruned
    conn.batch_execute(
        "UPDATE audit_events SET time = now() - interval '40 days'; \
         SELECT pg_advisory_lock(hashtext(current_schema()), x'61756402'::int)",
    )
    .await
    .unwrap();
    assert_eq!(audit::prune(&db, 30).await.unwrap(), 0);
}

#[tokio::test]
async fn the_metrics_count_committed_events_by_action() {
    let (_test_db, db) = setup().await;
    let metrics = Arc::new(Metrics::new());
    let audit = Audit::new(db.clone(), Arc::clone(&metrics), 0);
    write(&db, "1").await;
    write(&db, "2").await;
    let mut conn = db.conn().await.unwrap();
    let _ = conn
        .transaction::<(), DbError, _>(async |conn| {
            audit::record(
                conn,
                &Context::operator(),
                "user.deleted",
                &Target::user("3"),
                Changes::new(),
            )
            .await?;
            Err(DbError::NotFound)
        })
        .await;
    drop(conn);
    audit.sequence().await.unwrap();
    let text = metrics.render(db.status(), 0);
    assert!(
        text.contains(r#"audit_events_total{action="user.updated"} 2"#),
        "{text}"
    );
    assert!(
        !text.contains("user.deleted"),
        "a rolled-back event is not counted"
    );
}

#[tokio::test]
async fn login_throttled_is_recorded_once_per_account_and_address_per_window_on_any_replica() {
    let (_test_db, db) = setup().await;
    let replicas: Vec<Audit> = (0..2)
        .map(|_| {
            Audit::new(db.clone(), Arc::new(Metrics::new()), 0)
                .with_login_window(Duration::from_secs(900))
        })
        .collect();
    let from = |address: &str| Context {
        address: Some(address.to_owned()),
        ..Context::operator()
    };
    let mut tasks = Vec::new();
    for n in 0..20 {
        let audit = replicas[n % 2].clone();
        let ctx = from("203.0.113.9");
        tasks.push(tokio::spawn(async move {
            audit
                .login_throttled(&ctx, &Target::user("Alice"))
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // another address, and the account typed in another case (the same account)
    replicas[0]
        .login_throttled(&from("198.51.100.1"), &Target::user("alice"))
        .await
        .unwrap();
    replicas[1]
        .login_throttled(&from("203.0.113.9"), &Target::user("ALICE"))
        .await
        .unwrap();
    let page = replicas[0]
        .feed(
            None,
            &FeedQuery {
                action: Some("login.throttled".into()),
                ..FeedQuery::default()
            },
        )
        .await
        .unwrap();
    let addresses: Vec<_> = page
        .events
        .iter()
        .map(|e| e.address.clone().unwrap())
        .collect();
    assert_eq!(
        addresses,
        ["203.0.113.9", "198.51.100.1"],
        "{:?}",
        page.events
    );
}
