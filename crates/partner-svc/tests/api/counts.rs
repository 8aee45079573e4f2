//! The partners' exact totals kept by `user_counts` (migration 2026-12-03-000005): under any
//! mix of concurrent writes, in every snapshot, a partner's kept total is its count(*).

use crate::helpers::*;
use diesel::sql_types::{BigInt, Bool};
use diesel_async::{AsyncPgConnection, SimpleAsyncConnection};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use test_support::json;

/// For every partner, the kept total against count(*), in ONE statement: one snapshot, so the
/// two must agree at every instant, not only once the writers are done.
const AGREE_SQL: &str = "SELECT coalesce(bool_and(kept = counted), true) AS agree, \
     count(*) AS partners FROM ( \
         SELECT (SELECT coalesce(sum(c.n), 0) FROM user_counts c WHERE c.partner_id = p.id) \
                    AS kept, \
                (SELECT count(*) FROM memberships m WHERE m.partner_id = p.id) AS counted \
         FROM partners p) x";

#[derive(diesel::QueryableByName)]
struct Agree {
    #[diesel(sql_type = Bool)]
    agree: bool,
    #[diesel(sql_type = BigInt)]
    partners: i64,
}

async fn agree(conn: &mut AsyncPgConnection) -> bool {
    use diesel_async::RunQueryDsl;
    let row: Agree = diesel::sql_query(AGREE_SQL).get_result(conn).await.unwrap();
    assert!(row.partners >= 2);
    row.agree
}

#[derive(diesel::QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn scalar(conn: &mut AsyncPgConnection, sql: &str) -> i64 {
    use diesel_async::RunQueryDsl;
    diesel::sql_query(sql)
        .get_result::<N>(conn)
        .await
        .unwrap()
        .n
}

async fn members(app: &TestApp, partner: i64) -> i64 {
    let mut conn = app.db.conn("partner").await;
    scalar(
        &mut conn,
        &format!("SELECT count(*) AS n FROM memberships WHERE partner_id = {partner}"),
    )
    .await
}

async fn api_total(app: &TestApp, token: &str, partner: i64) -> i64 {
    let body = json(app.get(token, &users_path(partner)).await).await;
    body["meta"]["total"].as_i64().unwrap()
}

/// Creates, attaches, detaches (and deletes, when the last partner goes) through the API on
/// eight connections, while SQL deletes users and moves memberships in multi-partner
/// statements on two more; a checker compares kept totals with count(*) all along.
#[tokio::test]
async fn totals_stay_exact_under_concurrent_create_attach_detach_and_delete() {
    let app = Arc::new(spawn_app().await);
    let token = Arc::new(app.admin_token().await);
    let (alpha, beta) = (app.alpha, app.beta);
    let mut pool = Vec::new();
    for i in 0..60 {
        let partners: &[i64] = if i % 2 == 0 { &[alpha, beta] } else { &[alpha] };
        let email = format!("pool{i}@example.com");
        pool.push((app.seed_user(&email, &[], partners).await, email));
    }
    let pool = Arc::new(pool);
    let before = (members(&app, alpha).await, members(&app, beta).await);
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for w in 0..8_usize {
        let (app, token, pool, stop, writes) = (
            app.clone(),
            token.clone(),
            pool.clone(),
            stop.clone(),
            writes.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                i += 8;
                let partner = if i % 3 == 0 { beta } else { alpha };
                let (id, email) = &pool[(i * 7) % pool.len()];
                let res = match w % 4 {
                    // a new user
                    0 => {
                        let body = json!({"first_name": "New", "last_name": "User",
                            "email": format!("new{i}@example.com"), "password": "secret-pw-1"});
                        app.post(&token, &users_path(partner), &body).await
                    }
                    // an existing user attached (or created again, if deleted meanwhile)
                    1 | 2 if i % 2 == 0 => {
                        let body = json!({"first_name": "Pool", "last_name": "User",
                            "email": email, "password": "secret-pw-1"});
                        app.post(&token, &users_path(partner), &body).await
                    }
                    // detached, and deleted when it was its last partner
                    _ => app.delete(&token, &user_path(partner, *id)).await,
                };
                // 422: two writers re-created the same deleted pool user, one of them first
                let status = res.status().as_u16();
                assert!(
                    [200, 201, 204, 404, 422].contains(&status),
                    "unexpected {status}: {}",
                    res.text().await.unwrap()
                );
                if status < 300 {
                    writes.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for w in 0..2_usize {
        let (app, pool, stop, writes) = (app.clone(), pool.clone(), stop.clone(), writes.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = app.db.conn("partner").await;
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                i += 2;
                let (a, b) = (pool[(i * 11) % pool.len()].0, pool[(i * 13) % pool.len()].0);
                let statement = match i % 3 {
                    // a user deleted with all its memberships (the foreign key's cascade)
                    0 => format!("DELETE FROM users WHERE id = {a}"),
                    // memberships of two users in both partners, in one statement
                    1 => format!(
                        "INSERT INTO memberships (partner_id, user_id) \
                         SELECT p, u FROM unnest(ARRAY[{alpha}, {beta}]) p, \
                              unnest(ARRAY[{a}, {b}]) u \
                         WHERE EXISTS (SELECT 1 FROM users WHERE id = u) \
                         ON CONFLICT DO NOTHING"
                    ),
                    _ => format!(
                        "DELETE FROM memberships WHERE user_id IN ({a}, {b}) \
                         AND partner_id IN ({alpha}, {beta})"
                    ),
                };
                // A user deleted by another writer between the EXISTS and the insert's
                // foreign-key check fails the insert: expected, nothing is written then.
                match conn.batch_execute(&statement).await {
                    Ok(()) => {
                        writes.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => assert!(e.to_string().contains("foreign key"), "{e}"),
                }
            }
        }));
    }
    let checker = {
        let (app, stop) = (app.clone(), stop.clone());
        tokio::spawn(async move {
            let mut conn = app.db.conn("partner").await;
            let mut checks = 0_usize;
            while !stop.load(Ordering::Relaxed) {
                assert!(agree(&mut conn).await, "a kept total differs from count(*)");
                checks += 1;
            }
            checks
        })
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    let checks = checker.await.unwrap();
    assert!(checks > 20, "the checker ran only {checks} times");
    assert!(writes.load(Ordering::Relaxed) > 100, "too few writes");
    let mut conn = app.db.conn("partner").await;
    assert!(agree(&mut conn).await);
    let after = (members(&app, alpha).await, members(&app, beta).await);
    assert_ne!(after, before, "the writes moved no total");
    assert_eq!(api_total(&app, &token, alpha).await, after.0);
    assert_eq!(api_total(&app, &token, beta).await, after.1);
    // Folded as they were written: about one row per concurrent writer, not one per write.
    let rows = scalar(&mut conn, "SELECT count(*) AS n FROM user_counts").await;
    assert!(rows <= 24, "{rows} rows in user_counts");
}

/// A transaction that changed a partner's memberships and has not committed holds its count
/// rows; other writers of that partner go on (the fold skips what is locked) instead of
/// queueing behind it, and the totals are right once it commits.
#[tokio::test]
async fn an_open_writer_does_not_hold_up_the_partners_other_writers() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let user = app.seed_user("held@example.com", &[], &[app.beta]).await;
    let mut held = app.db.conn("partner").await;
    held.batch_execute(&format!(
        "BEGIN; INSERT INTO memberships (partner_id, user_id) VALUES ({}, {user})",
        app.alpha
    ))
    .await
    .unwrap();
    let (path, body) = (
        users_path(app.alpha),
        json!({"first_name": "A", "last_name": "B", "email": "free@example.com",
               "password": "secret-pw-1"}),
    );
    let create = app.post(&token, &path, &body);
    let res = tokio::time::timeout(Duration::from_secs(10), create)
        .await
        .expect("the create waited for the open transaction");
    assert_eq!(res.status(), 201);
    assert_eq!(api_total(&app, &token, app.alpha).await, 1);
    held.batch_execute("COMMIT").await.unwrap();
    assert_eq!(api_total(&app, &token, app.alpha).await, 2);
    let mut conn = app.db.conn("partner").await;
    assert!(agree(&mut conn).await);
}

/// Writes in REPEATABLE READ add their row without folding (a fold there could fail with a
/// serialization error); the next write in READ COMMITTED folds them.
#[tokio::test]
async fn repeatable_read_writes_add_rows_that_the_next_write_folds() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            app.seed_user(&format!("u{i}@example.com"), &[], &[app.beta])
                .await,
        );
    }
    let alpha = app.alpha;
    let mut conn = app.db.conn("partner").await;
    let rows = format!("SELECT count(*) AS n FROM user_counts WHERE partner_id = {alpha}");
    for id in &ids {
        conn.batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ; \
             INSERT INTO memberships (partner_id, user_id) VALUES ({alpha}, {id}); COMMIT"
        ))
        .await
        .unwrap();
    }
    assert_eq!(scalar(&mut conn, &rows).await, 3);
    assert_eq!(api_total(&app, &token, alpha).await, 3);
    conn.batch_execute(&format!(
        "DELETE FROM memberships WHERE partner_id = {alpha} AND user_id = {}",
        ids[0]
    ))
    .await
    .unwrap();
    assert_eq!(scalar(&mut conn, &rows).await, 1);
    assert_eq!(api_total(&app, &token, alpha).await, 2);
    assert!(agree(&mut conn).await);
}
