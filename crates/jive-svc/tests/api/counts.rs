//! The orgs' exact totals (`pages`) kept by `user_counts` (migration 2026-12-03-000003): in
//! every snapshot, under any mix of concurrent writes, an org's kept total is its count(*);
//! and a page is read from the nearer end of the org's list on `users_org_id_idx`.

use crate::helpers::*;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncPgConnection, SimpleAsyncConnection};
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn conn(app: &TestApp) -> AsyncPgConnection {
    app._db.conn(jive_svc::INFO.schema).await
}

/// Every org's kept total against its count(*), in ONE statement (one snapshot: they must
/// agree at every instant), with `$1`'s count(*).
const CHECK_SQL: &str = "SELECT count(*) FILTER (WHERE kept <> counted) AS wrong, \
            count(*) AS orgs, coalesce(sum(counted) FILTER (WHERE id = $1), 0)::bigint AS n \
     FROM (SELECT o.id, \
                  (SELECT coalesce(sum(c.n), 0) FROM user_counts c WHERE c.org_id = o.id) \
                      AS kept, \
                  (SELECT count(*) FROM users u WHERE u.org_id = o.id) AS counted \
           FROM orgs o) x";

#[derive(diesel::QueryableByName)]
struct Check {
    #[diesel(sql_type = BigInt)]
    wrong: i64,
    #[diesel(sql_type = BigInt)]
    orgs: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Asserts that every org's kept total is its count(*); returns `org`'s.
async fn check(conn: &mut AsyncPgConnection, org: &str) -> i64 {
    use diesel_async::RunQueryDsl; // not at the top: its `load` would shadow the atomics'
    let row: Check = diesel::sql_query(CHECK_SQL)
        .bind::<Text, _>(org)
        .get_result(conn)
        .await
        .unwrap();
    assert!(row.orgs >= 2);
    assert_eq!(row.wrong, 0, "a kept total differs from count(*)");
    row.n
}

#[derive(diesel::QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// `sql` (one bigint column `n`, `$1` bound to `org`).
async fn number(conn: &mut AsyncPgConnection, sql: &str, org: &str) -> i64 {
    use diesel_async::RunQueryDsl; // not at the top: its `load` would shadow the atomics'
    diesel::sql_query(sql)
        .bind::<Text, _>(org)
        .get_result::<N>(conn)
        .await
        .unwrap()
        .n
}

const ROWS: &str = "SELECT count(*) AS n FROM user_counts WHERE org_id = $1";
const KEPT: &str = "SELECT coalesce(sum(n), 0)::bigint AS n FROM user_counts WHERE org_id = $1";
const COUNTED: &str = "SELECT count(*) AS n FROM users WHERE org_id = $1";

/// `pages` of `GET /api/users?p=1` as `key`.
async fn pages(app: &TestApp, key: &str) -> i64 {
    let res = app.get(key, "/api/users?p=1").await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    res.body["pages"].as_i64().unwrap()
}

/// `n` users of `org` by SQL (one statement, through the triggers), ids `<prefix><g>`.
fn insert_users(org: &str, prefix: &str, from: u32, n: u32) -> String {
    format!(
        "INSERT INTO users (id, org_id, email_address, password_hash, access_key) \
         SELECT '{prefix}' || lpad(g::text, {width}, '0'), '{org}', \
                '{prefix}' || g || '@example.com', 'x', md5('{prefix}' || g) \
         FROM generate_series({from}, {last}) g",
        width = 24 - prefix.len(),
        last = from + n - 1,
    )
}

/// Eight API writers (create, rename, delete), an SQL writer (multi-org deletes, REPEATABLE
/// READ inserts, moves between orgs, an org created and deleted with its users) and a checker
/// comparing every org's kept total with count(*) in one statement, all on connections of
/// their own, for 2.5 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totals_stay_exact_under_concurrent_creates_deletes_and_moves() {
    let app = Arc::new(spawn_app().await);
    let (other, _, other_key) = app.other_org().await;
    let mut setup = conn(&app).await;
    setup
        .batch_execute(&format!(
            "{}; {}",
            insert_users(ORG, "00aa", 1, 400),
            insert_users(&other, "00bb", 1, 400)
        ))
        .await
        .unwrap();
    let before = check(&mut setup, ORG).await;
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for w in 0..8 {
        let (app, stop, writes) = (app.clone(), stop.clone(), writes.clone());
        tasks.push(tokio::spawn(async move {
            let mut mine: Vec<String> = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let res = match (i % 4, mine.last()) {
                    (3, Some(id)) => {
                        let body = json!({"first_name": format!("Renamed{i}")});
                        app.put(ADMIN_KEY, &format!("/api/users/{id}"), body).await
                    }
                    (2, Some(_)) => {
                        let id = mine.remove(0);
                        app.delete(ADMIN_KEY, &format!("/api/users/{id}")).await
                    }
                    _ => {
                        let body = json!({"email_address": format!("w{w}-{i}@example.com")});
                        let res = app.post(ADMIN_KEY, "/api/users", body).await;
                        let location = res.location.as_deref().unwrap_or_default();
                        mine.push(location.rsplit('/').next().unwrap().to_owned());
                        res
                    }
                };
                assert_eq!(res.status, 200, "{:?}", res.body);
                writes.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    {
        let (app, stop, writes, other) = (app.clone(), stop.clone(), writes.clone(), other.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = conn(&app).await;
            let seeds = "SELECT id FROM users WHERE id LIKE '00aa%' OR id LIKE '00bb%' \
                         ORDER BY random() LIMIT";
            let mut i: u32 = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let statement = match i % 4 {
                    0 => format!("DELETE FROM users WHERE id IN ({seeds} 3)"),
                    1 => format!(
                        "BEGIN ISOLATION LEVEL REPEATABLE READ; {}; {}; COMMIT",
                        insert_users(ORG, "00cc", i * 10, 2),
                        insert_users(&other, "00dd", i * 10, 3)
                    ),
                    2 => format!(
                        "UPDATE users SET org_id = CASE org_id WHEN '{ORG}' THEN '{other}' \
                         ELSE '{ORG}' END WHERE id IN ({seeds} 2)"
                    ),
                    _ => {
                        let temp = format!("{:024x}", 0xeeee_0000_u64 + u64::from(i));
                        format!(
                            "DELETE FROM orgs WHERE name = 'Temp'; \
                             INSERT INTO orgs (id, name) VALUES ('{temp}', 'Temp'); {}",
                            insert_users(&temp, "00ee", i * 10, 4)
                        )
                    }
                };
                conn.batch_execute(&statement).await.unwrap();
                writes.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let checker = {
        let (app, stop) = (app.clone(), stop.clone());
        tokio::spawn(async move {
            let mut conn = conn(&app).await;
            let mut seen = BTreeSet::new();
            let mut checks = 0_usize;
            while !stop.load(Ordering::Relaxed) {
                seen.insert(check(&mut conn, ORG).await);
                checks += 1;
            }
            (checks, seen)
        })
    };
    tokio::time::sleep(Duration::from_millis(2500)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    let (checks, seen) = checker.await.unwrap();
    let writes = writes.load(Ordering::Relaxed);
    let rows = number(&mut setup, "SELECT count(*) AS n FROM user_counts", ORG).await;
    println!("{checks} checks, {writes} writes, {rows} rows in user_counts");
    assert!(checks > 20, "the checker ran only {checks} times");
    assert!(writes > 100, "only {writes} writes");
    assert!(
        seen.len() > 2,
        "the checker saw the total move only among {seen:?}"
    );
    let after = check(&mut setup, ORG).await;
    assert_ne!(after, before, "the writes moved no total");
    assert_eq!(pages(&app, ADMIN_KEY).await, (after + 9) / 10);
    let other_n = number(&mut setup, COUNTED, &other).await;
    assert_eq!(pages(&app, &other_key).await, (other_n + 9) / 10);
    // Folded as they were written; and with no writer left, one write folds an org to one row.
    assert!(rows <= 30, "{rows} rows in user_counts");
    app.create(ADMIN_KEY, json!({"email_address": "last@example.com"}))
        .await;
    assert_eq!(number(&mut setup, ROWS, ORG).await, 1);
    assert_eq!(number(&mut setup, KEPT, ORG).await, after + 1);
}

/// Writes in REPEATABLE READ add their row without folding (a fold there could fail with a
/// serialization error); the next write in READ COMMITTED folds the org's rows into one.
#[tokio::test]
async fn repeatable_read_writes_add_rows_that_the_next_write_folds() {
    let app = spawn_app().await;
    let (other, _, _) = app.other_org().await;
    let mut conn = conn(&app).await;
    assert_eq!(number(&mut conn, ROWS, ORG).await, 1, "the admin's");
    for (i, statement) in [
        insert_users(ORG, "00aa", 1, 3),
        insert_users(ORG, "00aa", 4, 1),
        format!("DELETE FROM users WHERE id = '00aa{:020}'", 1),
    ]
    .iter()
    .enumerate()
    {
        conn.batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ; {statement}; COMMIT"
        ))
        .await
        .unwrap();
        assert_eq!(number(&mut conn, ROWS, ORG).await, 2 + i as i64);
    }
    assert_eq!(number(&mut conn, KEPT, ORG).await, 4);
    assert_eq!(pages(&app, ADMIN_KEY).await, 1);
    // READ COMMITTED (the service's writes, and SQL's default): folded.
    app.create(ADMIN_KEY, json!({"email_address": "rc@example.com"}))
        .await;
    assert_eq!(number(&mut conn, ROWS, ORG).await, 1);
    assert_eq!(number(&mut conn, KEPT, ORG).await, 5);
    assert_eq!(check(&mut conn, ORG).await, 5);
    let (other_rows, other_kept) = (
        number(&mut conn, ROWS, &other).await,
        number(&mut conn, KEPT, &other).await,
    );
    assert_eq!(
        (other_rows, other_kept),
        (1, 1),
        "another org's rows untouched"
    );
}

/// An update that keeps the org adds no row; one that moves users counts them over; deleting
/// an org takes its users and its rows with it (no count down of a gone org).
#[tokio::test]
async fn moves_and_deleted_orgs_keep_the_totals() {
    let app = spawn_app().await;
    let (other, _, _) = app.other_org().await;
    let mut conn = conn(&app).await;
    conn.batch_execute(&insert_users(ORG, "00aa", 1, 5))
        .await
        .unwrap();
    conn.batch_execute("UPDATE users SET first_name = 'Same org'")
        .await
        .unwrap();
    assert_eq!(number(&mut conn, ROWS, ORG).await, 1);
    conn.batch_execute(&format!(
        "UPDATE users SET org_id = '{other}' WHERE id LIKE '00aa%' AND id <= '00aa{:020}'",
        2
    ))
    .await
    .unwrap();
    assert_eq!(check(&mut conn, ORG).await, 4);
    assert_eq!(number(&mut conn, KEPT, &other).await, 3);
    conn.batch_execute(&format!("DELETE FROM orgs WHERE id = '{other}'"))
        .await
        .unwrap();
    assert_eq!(number(&mut conn, COUNTED, &other).await, 0);
    assert_eq!(number(&mut conn, ROWS, &other).await, 0);
    assert_eq!(number(&mut conn, KEPT, ORG).await, 4);
}

#[derive(diesel::QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

/// `EXPLAIN (ANALYZE, BUFFERS)` of the service's page statement for `org` at `offset`.
async fn page_plan(conn: &mut AsyncPgConnection, org: &str, offset: i64) -> Vec<String> {
    use diesel_async::RunQueryDsl; // not at the top: its `load` would shadow the atomics'
    let lines: Vec<PlanLine> = diesel::sql_query(format!(
        "EXPLAIN (ANALYZE, BUFFERS) {}",
        jive_svc::db::PAGE_SQL
    ))
    .bind::<Text, _>(org)
    .bind::<BigInt, _>(10_i64)
    .bind::<BigInt, _>(offset)
    .load(conn)
    .await
    .unwrap();
    lines.into_iter().map(|l| l.line).collect()
}

/// 100 000 users in one org (the admin and 99 999 loaded by SQL, through the triggers): the
/// first and the last page are index-only scans of `users_org_id_idx` from their own end,
/// with no aggregate over the users, and the API answers them right. Prints the plans and
/// timings (`cargo test -p jive-svc --test api pages_at_100k -- --nocapture`).
#[tokio::test]
async fn pages_at_100k_users_read_the_org_index_from_the_nearer_end() {
    let app = spawn_app().await;
    let mut conn = conn(&app).await;
    let started = Instant::now();
    // Ids below the admin's (a real ObjectId): the admin ends the list.
    conn.batch_execute(&insert_users(ORG, "00", 1, 99_999))
        .await
        .unwrap();
    conn.batch_execute("VACUUM (ANALYZE) users").await.unwrap();
    println!("loaded 99 999 users in {:?}", started.elapsed());
    let t = Instant::now();
    let counted = number(&mut conn, COUNTED, ORG).await;
    println!(
        "count(*) of the org (what a page used to run): {:?}",
        t.elapsed()
    );
    assert_eq!(counted, 100_000);
    let mut costs = Vec::new();
    for (name, offset, scan) in [
        ("p=1", 0, "Index Only Scan using users_org_id_idx"),
        (
            "p=10000",
            99_990,
            "Index Only Scan Backward using users_org_id_idx",
        ),
    ] {
        let plan = page_plan(&mut conn, ORG, offset).await;
        let text = plan.join("\n");
        println!("-- {name} --\n{text}");
        assert!(plan.iter().any(|l| l.contains(scan)), "{name}: no {scan}");
        assert!(
            !text.contains("Seq Scan on users"),
            "{name} scans the users"
        );
        // The only aggregate is the sum over the org's user_counts rows (the node under it).
        assert_eq!(text.matches("Aggregate").count(), 1, "{name}");
        // Only the page's users are read (not all before or after it, as a merge join did).
        for line in plan.iter().filter(|l| l.contains(" on users ")) {
            let read = line.rsplit("rows=").next().unwrap();
            let read: u64 = read.split(' ').next().unwrap().parse().unwrap();
            assert!(
                read <= 10 || line.contains("never executed"),
                "{name}: {line}"
            );
        }
        let under = plan
            .iter()
            .skip_while(|l| !l.contains("Aggregate"))
            .skip(1)
            .find(|l| l.contains("->"))
            .unwrap();
        assert!(under.contains("on user_counts"), "{name}: {under}");
        costs.push(
            plan[0]
                .split("..")
                .nth(1)
                .unwrap()
                .split(' ')
                .next()
                .unwrap()
                .to_owned(),
        );
    }
    // Costed alike whatever the page (the last one is not costed as skipping the whole org,
    // which at 10 M users crossed jit_above_cost: see user_core::page_ids_sql!).
    assert_eq!(costs[0], costs[1]);
    // One plan for every page: planned without its values, the page costs what it costs with
    // them, so Postgres keeps that plan from the sixth call instead of planning every page.
    let calls = [
        format!("'{ORG}', 10, 0"),
        format!("'{ORG}', 10, 10"),
        format!("'{ORG}', 10, 99990"),
        format!("'{ORG}', 100, 50000"),
        "'000000000000000000000000', 10, 0".to_owned(),
    ];
    for sql in [jive_svc::db::PAGE_SQL, jive_svc::db::PAGE_FROM_START_SQL] {
        test_support::plans::assert_generic_plan_costs_no_more(
            &mut conn,
            sql,
            "text, bigint, bigint",
            &calls,
        )
        .await;
    }
    let mut pooled = app.state.core.db.conn().await.unwrap();
    for page in 1..=8 {
        let (users, total) = jive_svc::db::users_page(&mut pooled, ORG, page, 10)
            .await
            .unwrap();
        assert_eq!((users.len(), total), (10, 100_000));
    }
    let (generic, custom) =
        test_support::plans::generic_and_custom_plans(&mut pooled, "OFFSET t.off) p ON true").await;
    assert!(
        generic >= 2 && custom <= 6,
        "{generic} generic, {custom} custom plans"
    );
    let expected = |from: u32| -> Vec<String> {
        (from..from + 10)
            .map(|g| format!("00{g:022}"))
            .collect::<Vec<_>>()
    };
    for (p, want) in [
        (1, expected(1)),
        (10_000, {
            let mut last = expected(99_991);
            last.pop();
            last.push(app.admin_id.clone());
            last
        }),
    ] {
        let path = format!("/api/users?p={p}");
        let res = app.get(ADMIN_KEY, &path).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.body["pages"], 10_000, "p={p}");
        assert_eq!(ids(&res.body), want, "p={p}");
        let mut times = Vec::new();
        for _ in 0..21 {
            let t = Instant::now();
            app.get(ADMIN_KEY, &path).await;
            times.push(t.elapsed());
        }
        times.sort();
        println!("GET {path}: p50 {:?}, max {:?}", times[10], times[20]);
    }
    let t = Instant::now();
    app.get(ADMIN_KEY, "/api/users?p=5000").await;
    println!(
        "GET /api/users?p=5000 (the middle: the worst) in {:?}",
        t.elapsed()
    );
    let res = app.get(ADMIN_KEY, "/api/users?p=10001").await;
    assert_eq!(res.body, json!({"users": [], "pages": 10_000}));
}
