//! The checks every service's audit trail must pass (`../shared/api/audit.md`): the feed rule
//! under concurrent writers whose commits are deliberately delayed, and the long-poll `wait`.
//! The service's tests supply its database and its own requests.

use diesel_async::AsyncConnection;
use reqwest::RequestBuilder;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use user_core::audit::{self, Audit, Changes, Context, FeedQuery, Target};
use user_core::db::{Db, DbError};
use user_core::http::Metrics;

/// The feed rule: `writers` concurrent writers each commit a few events after a random delay
/// (one holds its first transaction open for 400 ms while the others commit, and one round per
/// writer rolls back), while a follower reads the feed from 0, always passing back
/// `next_after`. The follower must see every committed event exactly once, ids increasing,
/// and none of the rolled-back ones. `db` is the service's, its migrations applied.
pub async fn assert_feed_rule(db: &Db, writers: usize) {
    let rounds = 6;
    let follower = Audit::new(db.clone(), Arc::new(Metrics::new()), 0);
    // Start after whatever the database holds already.
    let start = follower
        .feed(None, &FeedQuery::default())
        .await
        .expect("feed")
        .next_after;
    let start = {
        let mut after = start;
        loop {
            let page = follower
                .feed(
                    None,
                    &FeedQuery {
                        after,
                        limit: 1000,
                        ..FeedQuery::default()
                    },
                )
                .await
                .expect("feed");
            if page.events.is_empty() {
                break after;
            }
            after = page.next_after;
        }
    };
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let done = Arc::clone(&done);
        let follower = follower.clone();
        tokio::spawn(async move {
            let mut after = start;
            let mut seen: Vec<(i64, String)> = Vec::new();
            let mut reads = 0;
            loop {
                let finished = done.load(Ordering::Acquire);
                let page = follower
                    .feed(
                        None,
                        &FeedQuery {
                            after,
                            limit: 7,
                            ..FeedQuery::default()
                        },
                    )
                    .await
                    .expect("feed");
                reads += 1;
                let empty = page.events.is_empty();
                for e in page.events {
                    seen.push((e.id, e.target.id));
                }
                after = page.next_after;
                if finished && empty {
                    return (seen, reads);
                }
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        })
    };
    let mut tasks = Vec::new();
    for w in 0..writers {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let mut committed = Vec::new();
            let mut rolled_back = Vec::new();
            for round in 0..rounds {
                let target = format!("w{w}-r{round}");
                let hold = if w == 0 && round == 0 {
                    Duration::from_millis(400)
                } else {
                    Duration::from_millis(rand_ms(w, round) % 40)
                };
                let roll_back = round == (w % rounds);
                let mut conn = db.conn().await.expect("conn");
                let outcome = conn
                    .transaction::<_, DbError, _>(async |conn| {
                        audit::record(
                            conn,
                            &Context::operator(),
                            "test.written",
                            &Target::new("test", &target),
                            Changes::new().with("n", None, Some(Value::from(round))),
                        )
                        .await?;
                        tokio::time::sleep(hold).await;
                        if roll_back {
                            Err(DbError::NotFound)
                        } else {
                            Ok(())
                        }
                    })
                    .await;
                match outcome {
                    Ok(()) => committed.push(target),
                    Err(DbError::NotFound) => rolled_back.push(target),
                    Err(e) => panic!("{e}"),
                }
            }
            (committed, rolled_back)
        }));
    }
    let mut committed = BTreeSet::new();
    let mut rolled_back = BTreeSet::new();
    for task in tasks {
        let (c, r) = task.await.expect("writer");
        committed.extend(c);
        rolled_back.extend(r);
    }
    done.store(true, Ordering::Release);
    let (seen, reads) = reader.await.expect("follower");
    for pair in seen.windows(2) {
        assert!(pair[0].0 < pair[1].0, "ids in increasing order: {:?}", pair);
    }
    let targets: Vec<&String> = seen.iter().map(|(_, t)| t).collect();
    let unique: BTreeSet<&String> = targets.iter().copied().collect();
    assert_eq!(targets.len(), unique.len(), "every event exactly once");
    let seen: BTreeSet<String> = unique.into_iter().cloned().collect();
    assert_eq!(
        seen, committed,
        "the follower saw exactly the committed events ({reads} reads)"
    );
    assert!(seen.is_disjoint(&rolled_back), "no rolled-back event");
    assert!(
        reads > 10,
        "the follower read while the writers wrote: {reads}"
    );
}

/// A cheap spread of delays without a random source (repeatable).
fn rand_ms(w: usize, round: usize) -> u64 {
    let x = (w as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (round as u64 + 7) << 17;
    x.wrapping_mul(0xbf58_476d_1ce4_e5b9) >> 33
}

/// `wait`: a feed request (`feed(after, wait_seconds)`) held for a change answers within
/// 100 ms of the change (`write`, sent 300 ms after the feed request) with an event, and one
/// with nothing new answers an empty page after its `wait` has passed (1 s) and not much later.
/// `after` is the feed's current `next_after`.
pub async fn assert_wait<F, W, Fut>(feed: F, after: i64, write: W)
where
    F: Fn(i64, u32) -> RequestBuilder,
    W: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    // Nothing happens: an empty page after the wait.
    let began = Instant::now();
    let res = feed(after, 1).send().await.expect("feed");
    let took = began.elapsed();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["events"], serde_json::json!([]), "{body}");
    assert_eq!(body["next_after"], after, "{body}");
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_millis(1800),
        "an empty wait of 1 s took {took:?}"
    );
    // A change while the request waits.
    let held = tokio::spawn(feed(after, 10).send());
    tokio::time::sleep(Duration::from_millis(300)).await;
    write().await;
    let written = Instant::now();
    let res = held.await.expect("task").expect("feed");
    let latency = written.elapsed();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    let events = body["events"].as_array().expect("events");
    assert!(!events.is_empty(), "{body}");
    assert!(
        latency <= Duration::from_millis(100),
        "the held feed answered {latency:?} after the change"
    );
}

/// SQL (run in the service's schema) that makes every transaction writing an audit event fail
/// at its commit: a deferred constraint trigger on `audit_events`. For the rollback tests: after
/// a write answered with an error, neither the change nor its event may be there.
pub const FAIL_AT_COMMIT: &str = "\
    CREATE FUNCTION audit_refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$ \
    BEGIN RAISE EXCEPTION 'commit refused by the test'; END $$; \
    CREATE CONSTRAINT TRIGGER audit_refuse_commit AFTER INSERT ON audit_events \
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_refuse_commit();";

/// Undoes [`FAIL_AT_COMMIT`].
pub const ALLOW_COMMITS: &str = "\
    DROP TRIGGER audit_refuse_commit ON audit_events; DROP FUNCTION audit_refuse_commit();";

/// The texts that must never appear in an event or a feed answer, found in `body`: bcrypt
/// hashes (`$2a$`, `$2b$`, `$2y$`) and any of `secrets` (the passwords, access keys and
/// client secrets the test used).
pub fn leaked<'a>(body: &str, secrets: &[&'a str]) -> Vec<&'a str> {
    let mut found: Vec<&str> = secrets
        .iter()
        .copied()
        .filter(|s| !s.is_empty() && body.contains(s))
        .collect();
    for prefix in ["$2a$", "$2b$", "$2y$"] {
        if body.contains(prefix) {
            found.push(prefix);
        }
    }
    found
}

/// How many events with `action` the trail holds (numbered or not yet), on `conn` (in the
/// service's schema).
pub async fn count(conn: &mut diesel_async::AsyncPgConnection, action: &str) -> usize {
    use diesel::sql_types::{BigInt, Text};
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let n: N = diesel::sql_query("SELECT count(*) AS n FROM audit_events WHERE action = $1")
        .bind::<Text, _>(action)
        .get_result(conn)
        .await
        .unwrap();
    n.n as usize
}
