//! `partner-svc admin import` and `admin export` (`../shared/api/migration.md`), run as the real
//! binary: the round trip into a fresh instance, all-or-nothing with every bad line named,
//! `--dry-run`, `--on-conflict skip|update`, kept ids, upstream hashes that sign in and are then
//! re-hashed, and no secret printed.

use crate::helpers::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use test_support::import::{admin, import_lines, upstream_hashes, Ran};

const BIN: &str = env!("CARGO_BIN_EXE_partner-svc");

async fn import(app: &TestApp, args: &[&str], lines: &[Value]) -> Ran {
    import_lines(BIN, &app.db.url, args, lines).await
}

async fn export(app: &TestApp, args: &[&str]) -> Ran {
    test_support::import::export(BIN, &app.db.url, args).await
}

async fn imported_events(app: &TestApp) -> usize {
    let mut conn = app.db.conn("partner").await;
    test_support::audit::count(&mut conn, "user.imported").await
}

fn line(id: i64, email: &str, partners: &[i64]) -> Value {
    json!({"id": id, "first_name": "Imported", "last_name": format!("No{id}"),
           "email": email, "partners": partners, "password": PASSWORD})
}

/// The users of a partner as its list shows them (`data` and `meta.total`).
async fn listed(app: &TestApp, partner: i64) -> (Value, Value) {
    let token = app.admin_token().await;
    let res = app
        .get(&token, &format!("{}?per_page=100", users_path(partner)))
        .await;
    assert_eq!(res.status(), 200);
    let page = test_support::json(res).await;
    (page["data"].clone(), page["meta"]["total"].clone())
}

async fn searched(app: &TestApp, partner: i64, term: &str) -> Value {
    let token = app.admin_token().await;
    let res = app
        .get(&token, &format!("{}?search={term}", users_path(partner)))
        .await;
    assert_eq!(res.status(), 200);
    test_support::json(res).await
}

#[tokio::test]
async fn export_then_import_into_a_fresh_instance_gives_the_same_users_and_logins() {
    let a = spawn_app().await;
    let token = a.admin_token().await;
    for (i, partners) in [vec![a.alpha], vec![a.beta], vec![a.alpha, a.beta]]
        .into_iter()
        .enumerate()
    {
        let res = a
            .post(
                &token,
                &users_path(partners[0]),
                &json!({"first_name": "Round", "last_name": format!("Trip{i}"),
                        "email": format!("rt{i}@example.com"), "password": format!("{PASSWORD}{i}"),
                        "permissions": ["users.read"]}),
            )
            .await;
        assert_eq!(res.status(), 201);
        let id = test_support::json(res).await["data"]["id"]
            .as_i64()
            .unwrap();
        for p in &partners[1..] {
            let res = a
                .post(
                    &token,
                    &users_path(*p),
                    &json!({"first_name": "Round", "last_name": format!("Trip{i}"),
                            "email": format!("rt{i}@example.com"), "password": "ignored-pass"}),
                )
                .await;
            assert!(res.status().is_success(), "attach {id} to {p}");
        }
    }
    let exported = export(&a, &[]).await;
    let lines: Vec<Value> = exported
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        3,
        "every user of a partner, the super admin left out"
    );
    assert!(lines.iter().all(|l| l["password_hash"]
        .as_str()
        .is_some_and(|h| h.starts_with("$2b$04$"))));
    assert_eq!(lines[2]["partners"], json!([a.alpha, a.beta]));

    // a fresh instance (its own bootstrap: the same partners, its own super admin)
    let b = spawn_app().await;
    let ran = import(&b, &[], &lines).await;
    assert!(ran.success, "{ran:?}");
    assert_eq!(ran.stdout.trim(), "imported 3, skipped 0");
    ran.assert_prints_no_secret(&[PASSWORD]);
    for partner in [a.alpha, a.beta] {
        assert_eq!(listed(&a, partner).await, listed(&b, partner).await);
    }
    // b had no memberships, so its search index was dropped and built after the rows: it is
    // there again, and the searches answer as a's
    {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = b.db.conn("partner").await;
        let index: N = diesel_async::RunQueryDsl::get_result(
            diesel::sql_query(
                "SELECT count(*) AS n FROM pg_indexes
                 WHERE schemaname = current_schema() AND indexname = 'memberships_search_idx'",
            ),
            &mut conn,
        )
        .await
        .unwrap();
        assert_eq!(index.n, 1);
    }
    for term in ["trip2", "round", "rt0%40"] {
        let (x, y) = (
            searched(&a, a.alpha, term).await,
            searched(&b, b.alpha, term).await,
        );
        assert_eq!(x["data"], y["data"], "{term}");
        assert!(x["meta"]["total"].as_i64().unwrap() >= 1, "{term}");
    }
    for i in 0..3 {
        let email = format!("rt{i}@example.com");
        assert_eq!(
            b.login(&email, &format!("{PASSWORD}{i}")).await.status(),
            200
        );
    }
    // and out again: the same lines, byte for byte (ids, timestamps, hashes kept)
    assert_eq!(export(&b, &[]).await.stdout, exported.stdout);
    // one partner's users only
    let beta_only = export(&b, &["--tenant", &b.beta.to_string()]).await;
    let beta: Vec<Value> = beta_only
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(beta.len(), 2);
    assert!(beta.iter().all(|l| l["partners"] == json!([b.beta])));
    let missing = admin(BIN, &b.db.url, &["export", "--tenant", "999"], b"").await;
    assert!(!missing.success && missing.stderr.contains("no partner 999"));
}

#[tokio::test]
async fn three_bad_lines_are_all_named_and_nothing_is_written() {
    let app = spawn_app().await;
    let before = app.stored_users().await;
    let lines = [
        line(100, "good1@example.com", &[app.alpha]),
        line(101, "not an email", &[app.alpha]),
        line(102, "good2@example.com", &[app.alpha]),
        line(103, "unknown-partner@example.com", &[424_242]),
        line(104, "GOOD1@example.com", &[app.beta]),
    ];
    let ran = import(&app, &[], &lines).await;
    assert!(!ran.success);
    assert_eq!(
        ran.problems(),
        [
            "line 2: email: The email must be a valid email address.",
            "line 4: partners: partner 424242 does not exist",
            "line 5: email: duplicates line 1",
        ]
    );
    assert!(ran
        .stderr
        .contains("nothing imported: 3 problems in 5 lines"));
    ran.assert_prints_no_secret(&[PASSWORD]);
    assert_eq!(app.stored_users().await, before, "nothing written");
    assert_eq!(imported_events(&app).await, 0);
}

#[tokio::test]
async fn every_problem_of_a_line_is_named_with_the_apis_messages() {
    let app = spawn_app().await;
    let hash = &upstream_hashes(PASSWORD)[0];
    let lines = [
        json!({"id": "seven", "first_name": "", "email": "x@example.com", "partners": [],
               "permissions": ["users.read", "root"], "password": "short", "nickname": "x"}),
        json!({"first_name": "A", "last_name": "B", "email": "ab@example.com",
               "partners": [app.alpha], "password_hash": hash, "password": PASSWORD}),
        json!({"first_name": "A", "last_name": "B", "email": "ac@example.com",
               "partners": [app.alpha], "password_hash": "$2x$04$abc"}),
    ];
    let mut text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    text.push_str("{not json\n[1, 2]\n");
    let ran = admin(BIN, &app.db.url, &["import", "-"], text.as_bytes()).await;
    assert!(!ran.success);
    assert_eq!(
        ran.problems(),
        [
            "line 1: nickname: is not a field of an imported user",
            "line 1: id: must be a positive integer",
            "line 1: partners: must list at least one partner id",
            "line 1: first_name: The first name field is required.",
            "line 1: last_name: The last name field is required.",
            "line 1: permissions.1: The selected permissions.1 is invalid.",
            "line 1: password: The password must be at least 8 characters.",
            "line 2: password_hash: give password_hash or password, not both",
            "line 3: password_hash: must be a bcrypt hash of exactly 60 characters",
            "line 4: line: is not JSON (key must be a string at line 1 column 2)",
            "line 5: line: must be a JSON object",
        ]
    );
    ran.assert_prints_no_secret(&[PASSWORD, "$2x$04$abc"]);
}

#[tokio::test]
async fn a_dry_run_checks_everything_and_writes_nothing() {
    let app = spawn_app().await;
    let before = app.stored_users().await;
    let lines = [
        line(500, "dry1@example.com", &[app.alpha]),
        line(501, "dry2@example.com", &[app.beta]),
    ];
    let ran = import(&app, &["--dry-run"], &lines).await;
    assert!(ran.success, "{ran:?}");
    assert_eq!(
        ran.stdout.trim(),
        "would import 2, skip 0; nothing written (dry run)"
    );
    assert_eq!(app.stored_users().await, before);
    assert_eq!(imported_events(&app).await, 0);
    // the id sequence did not move either: the next create takes the next id of before
    let token = app.admin_token().await;
    let res = app
        .post(
            &token,
            &users_path(app.alpha),
            &json!({"first_name": "N", "last_name": "N", "email": "n@example.com",
                    "password": PASSWORD}),
        )
        .await;
    let id = test_support::json(res).await["data"]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(id, before.last().unwrap().0 + 1);
    // a dry run with a problem fails as the import would
    let ran = import(
        &app,
        &["--dry-run"],
        &[line(7, "n@example.com", &[app.alpha])],
    )
    .await;
    assert!(!ran.success);
    assert_eq!(
        ran.problems(),
        ["line 1: email: The email has already been taken."]
    );
}

#[tokio::test]
async fn existing_users_fail_the_import_or_are_skipped_or_updated() {
    let app = spawn_app().await;
    let existing = app.seed_user("old@example.com", &[], &[app.alpha]).await;
    let new_password = "brand-new-password";
    let lines = [
        json!({"id": existing, "first_name": "Renamed", "last_name": "Person",
               "email": "renamed@example.com", "partners": [app.beta],
               "permissions": ["users.read"], "password": new_password}),
        line(900, "fresh@example.com", &[app.alpha]),
    ];
    let ran = import(&app, &[], &lines).await;
    assert!(!ran.success);
    assert_eq!(
        ran.problems(),
        [format!(
            "line 1: id: a user with id {existing} exists already"
        )]
    );

    let ran = import(&app, &["--on-conflict", "skip"], &lines).await;
    assert!(ran.success, "{ran:?}");
    assert_eq!(ran.stdout.trim(), "imported 1, skipped 1");
    let token = app.admin_token().await;
    let old = test_support::json(app.get(&token, &user_path(app.alpha, existing)).await).await;
    assert_eq!(old["data"]["email"], "old@example.com", "left as it was");
    assert_eq!(app.login("fresh@example.com", PASSWORD).await.status(), 200);

    let ran = import(&app, &["--on-conflict", "update"], &lines[..1]).await;
    assert!(ran.success, "{ran:?}");
    assert_eq!(ran.stdout.trim(), "imported 1, skipped 0");
    ran.assert_prints_no_secret(&[new_password]);
    assert_eq!(
        app.get(&token, &user_path(app.alpha, existing))
            .await
            .status(),
        404,
        "its partners are the line's: no longer Alpha's"
    );
    let now = test_support::json(app.get(&token, &user_path(app.beta, existing)).await).await;
    assert_eq!(
        now["data"],
        json!({"id": existing, "first_name": "Renamed", "last_name": "Person",
               "email": "renamed@example.com"})
    );
    assert_eq!(
        app.login("renamed@example.com", PASSWORD).await.status(),
        401
    );
    assert_eq!(
        app.login("renamed@example.com", new_password)
            .await
            .status(),
        200
    );
    // a line without a password keeps the password; matched by email (no id given)
    let ran = import(
        &app,
        &["--on-conflict", "update"],
        &[json!({"first_name": "Again", "last_name": "Person",
                 "email": "RENAMED@example.com", "partners": [app.beta]})],
    )
    .await;
    assert!(ran.success, "{ran:?}");
    assert_eq!(
        app.login("RENAMED@example.com", new_password)
            .await
            .status(),
        200
    );
    // an id that is one user and an email that is another: no choice makes sense
    let ran = import(
        &app,
        &["--on-conflict", "update"],
        &[line(existing, "fresh@example.com", &[app.beta])],
    )
    .await;
    assert!(!ran.success);
    assert_eq!(
        ran.problems(),
        ["line 1: email: The email has already been taken."]
    );
    // an id no user has, with another user's email: the id would be lost
    let ran = import(
        &app,
        &["--on-conflict", "update"],
        &[line(77_777, "fresh@example.com", &[app.beta])],
    )
    .await;
    assert_eq!(
        ran.problems(),
        ["line 1: email: The email has already been taken."]
    );
    // two lines that meet one user (by id, by email)
    let ran = import(
        &app,
        &["--on-conflict", "update"],
        &[
            line(existing, "renamed@example.com", &[app.beta]),
            json!({"first_name": "B", "last_name": "B", "email": "RENAMED@example.com",
                   "partners": [app.alpha]}),
        ],
    )
    .await;
    assert_eq!(
        ran.problems(),
        [
            "line 2: email: duplicates line 1",
            "line 2: id: meets the same user as line 1"
        ]
    );
    assert_eq!(
        imported_events(&app).await,
        3,
        "one event per import that wrote"
    );
}

async fn stored_hash(app: &TestApp, id: i64) -> String {
    let users = app.stored_users().await;
    users.into_iter().find(|u| u.0 == id).unwrap().2
}

#[tokio::test]
async fn upstream_hashes_sign_in_and_are_then_rehashed_at_the_configured_cost() {
    let app = spawn_app().await;
    let hashes = upstream_hashes(PASSWORD);
    let lines: Vec<Value> = hashes
        .iter()
        .enumerate()
        .map(|(i, hash)| {
            json!({"id": 700 + i, "first_name": "Up", "last_name": "Stream",
                   "email": format!("up{i}@example.com"), "partners": [app.alpha],
                   "password_hash": hash})
        })
        .collect();
    let ran = import(&app, &[], &lines).await;
    assert!(ran.success, "{ran:?}");
    ran.assert_prints_no_secret(&[PASSWORD]);
    for (i, old) in hashes.iter().enumerate() {
        let id = 700 + i as i64;
        assert_eq!(&stored_hash(&app, id).await, old, "kept as given");
        assert_eq!(
            app.login(&format!("up{i}@example.com"), PASSWORD)
                .await
                .status(),
            200,
            "{old}"
        );
        let start = Instant::now();
        let new = loop {
            let now = stored_hash(&app, id).await;
            if now.starts_with("$2b$04$") {
                break now;
            }
            assert!(start.elapsed() < Duration::from_secs(5), "not re-hashed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(bcrypt::verify(PASSWORD, &new).unwrap());
    }
    // (a password changed between the sign-in and the re-hash is not overwritten:
    // tests/api/rehash.rs)
}

#[tokio::test]
async fn ids_are_kept_and_users_created_later_get_fresh_ones() {
    let app = spawn_app().await;
    let lines = [
        line(5_000, "kept@example.com", &[app.alpha]),
        json!({"first_name": "No", "last_name": "Id", "email": "noid@example.com",
               "partners": [app.alpha]}),
    ];
    let ran = import(&app, &[], &lines).await;
    assert!(ran.success, "{ran:?}");
    let stored = app.stored_users().await;
    let kept = stored.iter().find(|u| u.1 == "kept@example.com").unwrap();
    assert_eq!(kept.0, 5_000);
    let no_id = stored.iter().find(|u| u.1 == "noid@example.com").unwrap();
    assert!(
        no_id.0 > 5_000,
        "a line without an id gets one past the kept ones"
    );
    assert_eq!(
        app.login("noid@example.com", "").await.status(),
        422,
        "(an empty password is refused before any check)"
    );
    assert_eq!(
        app.login("noid@example.com", PASSWORD).await.status(),
        401,
        "a line with no password: no usable password"
    );
    let token = app.admin_token().await;
    let res = app
        .post(
            &token,
            &users_path(app.alpha),
            &json!({"first_name": "After", "last_name": "Import",
                    "email": "after@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let id = test_support::json(res).await["data"]["id"]
        .as_i64()
        .unwrap();
    assert!(id > no_id.0, "{id} collides with no imported id");
    // the exported line of a user without a password has no password_hash
    let out = export(&app, &[]).await;
    let noid: Value = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["email"] == "noid@example.com")
        .unwrap();
    assert!(noid.get("password_hash").is_none(), "{noid}");
}

#[tokio::test]
async fn a_user_created_while_the_import_runs_stops_it_whole() {
    use diesel_async::SimpleAsyncConnection;
    let app = spawn_app().await;
    let before = app.stored_users().await;
    // a writer of the API holds an uncommitted user with the email of the file's second line:
    // the import's checks cannot see it, its insert waits for it
    let mut racer = app.db.conn("partner").await;
    racer
        .batch_execute(
            "BEGIN; INSERT INTO users (first_name, last_name, email, password_hash)
             VALUES ('Ra', 'Cer', 'race@example.com', '!')",
        )
        .await
        .unwrap();
    let lines = vec![
        line(800, "first@example.com", &[app.alpha]),
        line(801, "RACE@example.com", &[app.alpha]),
    ];
    let url = app.db.url.clone();
    let run = tokio::spawn(async move { import_lines(BIN, &url, &[], &lines).await });
    let mut watch = app.db.conn("partner").await;
    let start = Instant::now();
    loop {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let waiting: N = diesel_async::RunQueryDsl::get_result(
            diesel::sql_query(
                "SELECT count(*) AS n FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'
                   AND query LIKE 'INSERT INTO users%'",
            ),
            &mut watch,
        )
        .await
        .unwrap();
        if waiting.n > 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the import never waited"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    racer.batch_execute("COMMIT").await.unwrap();
    let ran = run.await.unwrap();
    assert!(!ran.success, "{ran:?}");
    assert!(
        ran.stderr.contains("was created while the import ran"),
        "{}",
        ran.stderr
    );
    let after = app.stored_users().await;
    assert_eq!(after.len(), before.len() + 1, "the racer's user only");
    assert!(after.iter().all(|u| u.1 != "first@example.com"));
    assert_eq!(imported_events(&app).await, 0);
}
