//! `virtool-svc admin import` and `admin export` (`../shared/api/migration.md`), run as the real
//! binary: the round trip into a fresh instance, all-or-nothing with every bad line named,
//! `--dry-run`, `--on-conflict skip|update`, kept ids and timestamps, upstream hashes that sign
//! in and are then re-hashed, a line without a password, and no secret printed.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use test_support::import::{admin, admin_with, import_lines, upstream_hashes, Ran};
use test_support::json;
use user_core::password::NO_PASSWORD;

const BIN: &str = env!("CARGO_BIN_EXE_virtool-svc");

async fn import(app: &TestApp, args: &[&str], lines: &[Value]) -> Ran {
    import_lines(BIN, &app.db.url, args, lines).await
}

async fn export(app: &TestApp, args: &[&str]) -> Ran {
    test_support::import::export(BIN, &app.db.url, args).await
}

async fn imported_events(app: &TestApp) -> usize {
    let mut conn = app.db.conn("virtool").await;
    test_support::audit::count(&mut conn, "user.imported").await
}

fn line(id: &str) -> Value {
    json!({"id": id, "password": PASSWORD})
}

/// Every user as `GET /api/users` shows them.
async fn listed(app: &TestApp) -> Value {
    let token = app.admin_token().await;
    let res = app.get(&token, "/api/users").await;
    assert_eq!(res.status(), 200);
    json(res).await
}

async fn user(app: &TestApp, id: &str) -> Value {
    let token = app.admin_token().await;
    let res = app.get(&token, &format!("/api/users/{id}")).await;
    assert_eq!(res.status(), 200, "{id}");
    json(res).await
}

/// Groups `tech` (create_sample, upload_file) and `lab` (modify_hmm), made through the API.
async fn make_groups(app: &TestApp) {
    let token = app.admin_token().await;
    for (group, on) in [
        ("tech", json!({"create_sample": true, "upload_file": true})),
        ("lab", json!({"modify_hmm": true})),
    ] {
        let res = app
            .send(
                Method::POST,
                &token,
                "/api/groups",
                &json!({"group_id": group}),
            )
            .await;
        assert_eq!(res.status(), 201);
        let res = app
            .send(
                Method::PATCH,
                &token,
                &format!("/api/groups/{group}"),
                &json!({"permissions": on}),
            )
            .await;
        assert_eq!(res.status(), 200);
    }
}

#[tokio::test]
async fn export_then_import_into_a_fresh_instance_gives_the_same_users_and_logins() {
    let a = spawn_app().await;
    make_groups(&a).await;
    let token = a.admin_token().await;
    let users = [
        ("bill", false, &["tech", "lab"][..], "tech"),
        ("Fred.ø", true, &[][..], ""),
        ("kari", false, &["tech"][..], ""),
    ];
    for (i, (id, force_reset, groups, primary)) in users.iter().enumerate() {
        let res = a
            .send(
                Method::POST,
                &token,
                "/api/users",
                &json!({"user_id": id, "password": format!("{PASSWORD}{i}"),
                        "force_reset": force_reset}),
            )
            .await;
        assert_eq!(res.status(), 201);
        for group in *groups {
            let res = a
                .send(
                    Method::POST,
                    &token,
                    &format!("/api/users/{id}/groups"),
                    &json!({"group_id": group}),
                )
                .await;
            assert_eq!(res.status(), 200);
        }
        if !primary.is_empty() {
            let res = a
                .send(
                    Method::PATCH,
                    &token,
                    &format!("/api/users/{id}"),
                    &json!({"primary_group": primary}),
                )
                .await;
            assert_eq!(res.status(), 200);
        }
    }
    let exported = export(&a, &[]).await;
    let lines = Ran::lines(&exported);
    assert_eq!(lines.len(), 4, "the bootstrap administrator and the three");
    assert!(lines.iter().all(|l| l["password_hash"]
        .as_str()
        .is_some_and(|h| h.starts_with("$2b$04$"))));
    let bill = lines.iter().find(|l| l["id"] == "bill").unwrap();
    assert_eq!(bill["groups"], json!(["lab", "tech"]));
    assert_eq!(bill["primary_group"], "tech");
    assert_eq!(bill["force_reset"], false);

    // a fresh instance: its own bootstrap administrator, the same groups made through its API
    let b = spawn_app().await;
    make_groups(&b).await;
    let ran = import(&b, &[], &lines).await;
    assert!(!ran.success);
    assert_eq!(
        ran.problems(),
        [format!(
            "line {}: id: User already exists",
            1 + lines.iter().position(|l| l["id"] == ADMIN).unwrap()
        )],
        "its administrator exists"
    );
    // `update` takes the file's administrator as well
    let ran = import(&b, &["--on-conflict", "update"], &lines).await;
    assert!(ran.success, "{ran:?}");
    assert_eq!(ran.stdout.trim(), "imported 4, skipped 0");
    ran.assert_prints_no_secret(&[PASSWORD, ADMIN_PASSWORD]);
    assert_eq!(listed(&a).await, listed(&b).await);
    for (i, (id, force_reset, _, _)) in users.iter().enumerate() {
        let res = b.login(id, &format!("{PASSWORD}{i}")).await;
        assert_eq!(res.status(), 200, "{id}");
        let body = json(res).await;
        assert_eq!(
            body.get("reset_code").is_some(),
            *force_reset,
            "{id}: {body}"
        );
        assert_eq!(b.login(id, PASSWORD).await.status(), 400, "{id}");
    }
    b.admin_token().await;
    // and out again: the same lines, byte for byte (ids, groups, timestamps, hashes kept)
    assert_eq!(export(&b, &[]).await.stdout, exported.stdout);

    // one group's members only, each with all of its groups
    let tech = Ran::lines(&export(&b, &["--tenant", "tech"]).await);
    let ids: Vec<&Value> = tech.iter().map(|l| &l["id"]).collect();
    assert_eq!(ids, [&json!("bill"), &json!("kari")]);
    assert_eq!(tech[0]["groups"], json!(["lab", "tech"]));
    let admins = Ran::lines(&export(&b, &["--tenant", "administrator"]).await);
    assert_eq!(admins.len(), 1);
    for missing in ["nope", "Tech", "a b"] {
        let ran = admin(BIN, &b.db.url, &["export", "--tenant", missing], b"").await;
        assert!(
            !ran.success && ran.stderr.contains("there is no group"),
            "{missing}: {ran:?}"
        );
    }
}

#[tokio::test]
async fn three_bad_lines_are_all_named_and_nothing_is_written() {
    let app = spawn_app().await;
    let before = app.stored_user_ids().await;
    let lines = [
        line("good1"),
        line("not ok"),
        line("good2"),
        json!({"id": "grouped", "groups": ["nowhere"], "password": PASSWORD}),
        line("good1"),
    ];
    let ran = import(&app, &[], &lines).await;
    assert!(!ran.success);
    assert_eq!(
        ran.problems(),
        [
            "line 2: id: must not contain whitespace, control characters or '/'",
            "line 4: groups.0: Group not found",
            "line 5: id: duplicates line 1",
        ]
    );
    assert!(ran
        .stderr
        .contains("nothing imported: 3 problems in 5 lines"));
    ran.assert_prints_no_secret(&[PASSWORD]);
    assert_eq!(app.stored_user_ids().await, before, "nothing written");
    assert_eq!(imported_events(&app).await, 0);
}

#[tokio::test]
async fn every_problem_of_a_line_is_named_with_the_apis_messages() {
    let app = spawn_app().await;
    make_groups(&app).await;
    let hash = &upstream_hashes(PASSWORD)[0];
    let lines = [
        json!({"id": 5, "groups": ["tech", 7, null, "a/b"], "primary_group": 3,
               "force_reset": "yes", "password": "short", "last_password_change": "yesterday",
               "created_at": 12, "nickname": "x"}),
        json!({"password_hash": hash, "password": PASSWORD}),
        json!({"id": "", "password_hash": "$2x$04$abc"}),
        json!({"id": "x".repeat(65), "password": "ø".repeat(37)}),
        json!({"id": null, "groups": "tech", "primary_group": "a b"}),
    ];
    let mut text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    text.push_str("{not json\n[1, 2]\n");
    // lines the database refuses: a group that does not exist, a primary group the line is not
    // in (one that exists, one that does not)
    for l in [
        json!({"id": "p1", "groups": ["tech", "missing", "lab"], "primary_group": "tech"}),
        json!({"id": "p2", "groups": ["tech"], "primary_group": "lab"}),
        json!({"id": "p3", "primary_group": "ghost"}),
    ] {
        text.push_str(&format!("{l}\n"));
    }
    let ran = admin(BIN, &app.db.url, &["import", "-"], text.as_bytes()).await;
    assert!(!ran.success);
    assert_eq!(
        ran.problems(),
        [
            "line 1: nickname: is not a field of an imported user",
            "line 1: force_reset: must be of boolean type",
            "line 1: id: must be of string type",
            "line 1: password: min length is 8",
            "line 1: primary_group: must be of string type",
            "line 1: groups.1: must be of string type",
            "line 1: groups.2: null value not allowed",
            "line 1: groups.3: Group not found",
            "line 1: last_password_change: must be an RFC 3339 date-time",
            "line 1: created_at: must be an RFC 3339 date-time",
            "line 2: password_hash: give password_hash or password, not both",
            "line 2: id: required field",
            "line 3: password_hash: must be a bcrypt hash of exactly 60 characters",
            "line 3: id: empty values not allowed",
            "line 4: id: max length is 64",
            "line 4: password: max length is 72 bytes",
            "line 5: id: null value not allowed",
            "line 5: primary_group: Group not found",
            "line 5: groups: must be of list type",
            "line 6: line: is not JSON (key must be a string at line 1 column 2)",
            "line 7: line: must be a JSON object",
            "line 8: groups.1: Group not found",
            "line 9: primary_group: User is not member of group: lab",
            "line 10: primary_group: Group not found",
        ]
    );
    ran.assert_prints_no_secret(&[PASSWORD, "$2x$04$abc", "short"]);
    assert_eq!(imported_events(&app).await, 0);

    // the API's password rule, with the instance's MINIMUM_PASSWORD_LENGTH
    let ran = admin_with(
        BIN,
        &app.db.url,
        &["import", "-"],
        b"{\"id\":\"min\",\"password\":\"elevenchars\"}\n",
        &[("MINIMUM_PASSWORD_LENGTH", "12")],
    )
    .await;
    assert!(!ran.success);
    assert_eq!(ran.problems(), ["line 1: password: min length is 12"]);
    ran.assert_prints_no_secret(&["elevenchars"]);
}

#[tokio::test]
async fn a_dry_run_checks_everything_and_writes_nothing() {
    let app = spawn_app().await;
    let before = app.stored_user_ids().await;
    let lines = [line("dry1"), line("dry2")];
    let ran = import(&app, &["--dry-run"], &lines).await;
    assert!(ran.success, "{ran:?}");
    assert_eq!(
        ran.stdout.trim(),
        "would import 2, skip 0; nothing written (dry run)"
    );
    ran.assert_prints_no_secret(&[PASSWORD]);
    assert_eq!(app.stored_user_ids().await, before);
    assert_eq!(imported_events(&app).await, 0);
    // a dry run with a problem fails as the import would
    let ran = import(&app, &["--dry-run"], &[line(ADMIN)]).await;
    assert!(!ran.success);
    assert_eq!(ran.problems(), ["line 1: id: User already exists"]);
    ran.assert_prints_no_secret(&[PASSWORD]);
    // and with skip, it counts what it would leave
    let ran = import(
        &app,
        &["--dry-run", "--on-conflict", "skip"],
        &[line(ADMIN), line("dry1")],
    )
    .await;
    assert!(ran.success, "{ran:?}");
    assert_eq!(
        ran.stdout.trim(),
        "would import 1, skip 1; nothing written (dry run)"
    );
    assert_eq!(app.stored_user_ids().await, before);
}

#[tokio::test]
async fn existing_users_fail_the_import_or_are_skipped_or_updated() {
    let app = spawn_app().await;
    make_groups(&app).await;
    app.add_user("fred", &["tech"]).await;
    let before = app.stored_user("fred").await.unwrap();
    // a pending reset code, which a new password ends
    app.execute("UPDATE users SET force_reset = true WHERE id = 'fred'")
        .await;
    let res = app.login("fred", PASSWORD).await;
    let code = json(res).await["reset_code"].as_str().unwrap().to_owned();
    let new_password = "brand-new-password";
    let lines = [
        json!({"id": "fred", "groups": ["lab"], "primary_group": "lab",
               "password": new_password}),
        line("fresh"),
    ];
    let ran = import(&app, &[], &lines).await;
    assert!(!ran.success);
    assert_eq!(ran.problems(), ["line 1: id: User already exists"]);
    ran.assert_prints_no_secret(&[PASSWORD, new_password]);

    let ran = import(&app, &["--on-conflict", "skip"], &lines).await;
    assert!(ran.success, "{ran:?}");
    assert_eq!(ran.stdout.trim(), "imported 1, skipped 1");
    ran.assert_prints_no_secret(&[PASSWORD, new_password]);
    assert_eq!(
        app.stored_groups_of("fred").await,
        ["tech"],
        "left as it was"
    );
    assert_eq!(app.stored_user("fred").await.unwrap().3, before.3);
    app.token_for("fresh", PASSWORD).await;

    let ran = import(&app, &["--on-conflict", "update"], &lines[..1]).await;
    assert!(ran.success, "{ran:?}");
    assert_eq!(ran.stdout.trim(), "imported 1, skipped 0");
    ran.assert_prints_no_secret(&[new_password]);
    let after = app.stored_user("fred").await.unwrap();
    assert_eq!(
        user(&app, "fred").await,
        user_json(
            "fred",
            &["lab"],
            perms(&["modify_hmm"]),
            "lab",
            false,
            &timestamp(after.2)
        ),
        "the line's groups, primary group, and force_reset false with a new password"
    );
    assert!(
        after.2 > before.2,
        "a new password moves last_password_change"
    );
    assert_eq!(app.login("fred", PASSWORD).await.status(), 400);
    app.token_for("fred", new_password).await;
    let res = app
        .send(
            Method::POST,
            "",
            "/api/account/reset",
            &json!({"password": "yet-another-password", "reset_code": code}),
        )
        .await;
    assert_eq!(res.status(), 400, "the pending reset code ended");

    // a line without a password keeps the password, and force_reset unless it says
    let ran = import(
        &app,
        &["--on-conflict", "update"],
        &[json!({"id": "fred", "groups": ["tech", "lab"]})],
    )
    .await;
    assert!(ran.success, "{ran:?}");
    ran.assert_prints_no_secret(&[new_password]);
    let now = user(&app, "fred").await;
    assert_eq!(now["groups"], json!(["lab", "tech"]));
    assert_eq!(now["primary_group"], "");
    assert_eq!(now["force_reset"], false);
    assert_eq!(now["last_password_change"], timestamp(after.2));
    app.token_for("fred", new_password).await;
    let ran = import(
        &app,
        &["--on-conflict", "update"],
        &[json!({"id": "fred", "force_reset": true})],
    )
    .await;
    assert!(ran.success, "{ran:?}");
    ran.assert_prints_no_secret(&[new_password]);
    assert_eq!(user(&app, "fred").await["force_reset"], true);
    assert_eq!(app.stored_groups_of("fred").await, Vec::<String>::new());
    assert_eq!(
        imported_events(&app).await,
        4,
        "one event per import that wrote"
    );
}

async fn stored_hash(app: &TestApp, id: &str) -> String {
    app.stored_user(id).await.unwrap().3
}

#[tokio::test]
async fn upstream_hashes_sign_in_and_are_then_rehashed_at_the_configured_cost() {
    let app = spawn_app().await;
    let hashes = upstream_hashes(PASSWORD);
    let lines: Vec<Value> = hashes
        .iter()
        .enumerate()
        .map(|(i, hash)| json!({"id": format!("up{i}"), "password_hash": hash}))
        .collect();
    let ran = import(&app, &[], &lines).await;
    assert!(ran.success, "{ran:?}");
    ran.assert_prints_no_secret(&[PASSWORD]);
    for (i, old) in hashes.iter().enumerate() {
        let id = format!("up{i}");
        assert_eq!(&stored_hash(&app, &id).await, old, "kept as given");
        let token = app.token_for(&id, PASSWORD).await;
        let start = Instant::now();
        let new = loop {
            let now = stored_hash(&app, &id).await;
            if now.starts_with("$2b$04$") {
                break now;
            }
            assert!(start.elapsed() < Duration::from_secs(5), "not re-hashed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(app.state.core.hasher.verify(PASSWORD, Some(&new)).await);
        assert_eq!(app.get(&token, "/api/account").await.status(), 200);
        app.token_for(&id, PASSWORD).await;
    }
    // (a password changed between the sign-in and the re-hash is not overwritten:
    // tests/api/rehash.rs)
}

#[tokio::test]
async fn ids_and_timestamps_are_kept_and_users_created_later_do_not_collide() {
    let app = spawn_app().await;
    let long = "x".repeat(64);
    let ids = ["Fred", "fred", "Ünïcode.ø", "a?b#c", long.as_str()];
    let mut lines: Vec<Value> = ids.iter().map(|id| line(id)).collect();
    lines.push(
        json!({"id": "dated", "password": PASSWORD, "force_reset": false,
                      "last_password_change": "2018-02-07T17:56:35.98Z",
                      "created_at": "2017-01-02T03:04:05.123456+02:00"}),
    );
    let ran = import(&app, &[], &lines).await;
    assert!(ran.success, "{ran:?}");
    assert_eq!(ran.stdout.trim(), "imported 6, skipped 0");
    ran.assert_prints_no_secret(&[PASSWORD]);
    let stored = app.stored_user_ids().await;
    for id in ids {
        assert!(stored.iter().any(|s| s == id), "{id} kept exactly");
        let body = user(&app, &id.replace('?', "%3F").replace('#', "%23")).await;
        assert_eq!(body["id"], id);
        assert_eq!(
            body["force_reset"], false,
            "a password: no reset unless asked"
        );
    }
    let dated = user(&app, "dated").await;
    assert_eq!(dated["last_password_change"], "2018-02-07T17:56:35.980000Z");
    let out = Ran::lines(&export(&app, &[]).await);
    let dated = out.iter().find(|l| l["id"] == "dated").unwrap();
    assert_eq!(dated["created_at"], "2017-01-02T01:04:05.123456Z");
    let token = app.token_for("dated", PASSWORD).await;
    assert_eq!(app.get(&token, "/api/account").await.status(), 200);

    // the API after the import: taken ids are taken, others are free
    let admin_token = app.admin_token().await;
    for (id, status) in [("Fred", 409), ("fred", 409), ("FRED", 201)] {
        let res = app
            .send(
                Method::POST,
                &admin_token,
                "/api/users",
                &json!({"user_id": id, "password": PASSWORD}),
            )
            .await;
        assert_eq!(res.status(), status, "{id}");
    }
}

#[tokio::test]
async fn a_line_without_a_password_makes_a_user_who_must_be_given_one() {
    let app = spawn_app().await;
    let lines = [
        json!({"id": "nopass"}),
        json!({"id": "nopass2", "force_reset": false}),
    ];
    let ran = import(&app, &[], &lines).await;
    assert!(ran.success, "{ran:?}");
    assert_eq!(ran.stdout.trim(), "imported 2, skipped 0");
    ran.assert_prints_no_secret(&[PASSWORD]);
    for id in ["nopass", "nopass2"] {
        let stored = app.stored_user(id).await.unwrap();
        assert!(stored.0, "{id}: force_reset, whatever the line says");
        assert_eq!(stored.3, NO_PASSWORD);
        for typed in ["", NO_PASSWORD, PASSWORD] {
            assert_eq!(app.login(id, typed).await.status(), 400, "{id} {typed:?}");
        }
    }
    // the exported line has no password_hash
    let out = Ran::lines(&export(&app, &[]).await);
    let nopass = out.iter().find(|l| l["id"] == "nopass").unwrap();
    assert!(nopass.get("password_hash").is_none(), "{nopass}");
    assert_eq!(nopass["force_reset"], true);
    // an administrator gives it one; the user then chooses their own
    let token = app.admin_token().await;
    let res = app
        .send(
            Method::PATCH,
            &token,
            "/api/users/nopass",
            &json!({"password": "temporary-password"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app.login("nopass", "temporary-password").await;
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await["reset"], true);
}
