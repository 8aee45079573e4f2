//! `agency-svc admin import` and `admin export` (`../shared/api/migration.md`), run as the real
//! binary: the round trip into a fresh instance, all-or-nothing with every bad line named,
//! `--dry-run`, `--on-conflict skip|update`, kept ids, upstream hashes stored byte for byte
//! (agency users never sign in: only API clients do), users without a password, and no secret
//! printed.

use crate::helpers::{spawn_app, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use test_support::import::{admin, import_lines, upstream_hashes, Ran};

const BIN: &str = env!("CARGO_BIN_EXE_agency-svc");
const PASSWORD: &str = "imported-password-1";

async fn import(app: &TestApp, args: &[&str], lines: &[Value]) -> Ran {
    import_lines(BIN, &app.db.url, args, lines).await
}

async fn export(app: &TestApp, args: &[&str]) -> Ran {
    test_support::import::export(BIN, &app.db.url, args).await
}

async fn imported_events(app: &TestApp) -> usize {
    let mut conn = app.db.conn("agency").await;
    test_support::audit::count(&mut conn, "user.imported").await
}

fn line(id: i64, email: &str, agency: i64) -> Value {
    json!({"id": id, "agency_id": agency, "firstname": "Imported", "lastname": format!("No{id}"),
           "email": email, "password": PASSWORD})
}

/// The stored users, by id: (id, email, password hash).
async fn stored(app: &TestApp) -> Vec<(i64, String, Option<String>)> {
    use agency_svc::db::schema::users;
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let mut conn = app.db.conn("agency").await;
    users::table
        .order(users::id)
        .select((users::id, users::email, users::password_hash))
        .load(&mut conn)
        .await
        .unwrap()
}

async fn stored_hash(app: &TestApp, id: i64) -> Option<String> {
    stored(app).await.into_iter().find(|u| u.0 == id).unwrap().2
}

/// The users of an agency as its list answers them.
async fn listed(app: &TestApp, token: &str, agency: i64) -> Value {
    let res = app.get(token, &format!("/agency/{agency}/users")).await;
    assert_eq!(res.status(), 200);
    test_support::json(res).await
}

async fn user(app: &TestApp, token: &str, agency: i64, id: i64) -> reqwest::Response {
    app.get(token, &format!("/agency/{agency}/user/{id}")).await
}

async fn created_id(app: &TestApp, token: &str, agency: i64, body: &Value) -> i64 {
    let res = app.create_user(token, agency, body).await;
    assert_eq!(res.status(), 201);
    test_support::json(res).await["id"].as_i64().unwrap()
}

/// The agency group of the bootstrap client.
async fn group_of(app: &TestApp, token: &str) -> i64 {
    let body = test_support::json(app.get(token, "/agencies").await).await;
    body[0]["agency_group_id"].as_i64().unwrap()
}

#[tokio::test]
async fn export_then_import_into_a_fresh_instance_gives_the_same_users() {
    let a = spawn_app().await;
    let token = a.token().await;
    let (oslo, bergen) = (a.agencies[0], a.agencies[1]);
    let kari = created_id(
        &a,
        &token,
        oslo,
        &json!({"firstname": "Kari", "lastname": "Nordmann", "email": "kari@example.no",
                "phone": "+47 12345678", "new_password": "kari-password-1",
                "new_password_confirmation": "kari-password-1"}),
    )
    .await;
    // no last name, no phone, no password
    created_id(
        &a,
        &token,
        oslo,
        &json!({"firstname": "Ola", "email": "Ola@Example.no"}),
    )
    .await;
    created_id(
        &a,
        &token,
        bergen,
        &json!({"firstname": "Per", "lastname": "Hansen", "email": "per@example.no",
                "new_password": "per-password-1", "new_password_confirmation": "per-password-1"}),
    )
    .await;
    // an update: updated_at moves past created_at
    let res = a
        .send(
            Method::PATCH,
            &token,
            &format!("/agency/{oslo}/user/{kari}"),
            &json!({"phone": "+47 87654321"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    // a user of another group
    let (trondheim, other_id, other_secret) = a.other_group().await;
    let other_token = a.token_for(&other_id, &other_secret).await;
    created_id(
        &a,
        &other_token,
        trondheim,
        &json!({"firstname": "Siri", "email": "siri@example.no", "new_password": "siri-password-1",
                "new_password_confirmation": "siri-password-1"}),
    )
    .await;

    let exported = export(&a, &[]).await;
    let lines = Ran::lines(&exported);
    assert_eq!(lines.len(), 4);
    let with_hash: Vec<bool> = lines
        .iter()
        .map(|l| {
            l.get("password_hash")
                .and_then(Value::as_str)
                .is_some_and(|h| h.starts_with("$2b$04$"))
        })
        .collect();
    assert_eq!(with_hash, [true, false, true, true], "Ola has no password");
    assert_eq!(
        lines[1],
        json!({"id": lines[1]["id"], "agency_id": oslo, "firstname": "Ola", "lastname": null,
               "email": "Ola@Example.no", "phone": null, "created_at": lines[1]["created_at"],
               "updated_at": lines[1]["updated_at"]}),
        "the user JSON's fields but name"
    );
    assert_ne!(lines[0]["created_at"], lines[0]["updated_at"]);

    // a fresh instance with the same agencies (its own bootstrap, the same other group)
    let b = spawn_app().await;
    assert_eq!(b.agencies, a.agencies);
    let (b_trondheim, b_other_id, b_other_secret) = b.other_group().await;
    assert_eq!(b_trondheim, trondheim);
    let ran = import(&b, &[], &lines).await;
    assert!(ran.success, "{ran:?}");
    assert_eq!(ran.stdout.trim(), "imported 4, skipped 0");
    ran.assert_prints_no_secret(&["kari-password-1", "per-password-1", "siri-password-1"]);

    // the same API answers
    let b_token = b.token().await;
    let b_other_token = b.token_for(&b_other_id, &b_other_secret).await;
    for agency in [oslo, bergen] {
        assert_eq!(
            listed(&a, &token, agency).await,
            listed(&b, &b_token, agency).await
        );
    }
    assert_eq!(
        listed(&a, &other_token, trondheim).await,
        listed(&b, &b_other_token, trondheim).await
    );
    let got_a = test_support::json(user(&a, &token, oslo, kari).await).await;
    let got_b = test_support::json(user(&b, &b_token, oslo, kari).await).await;
    assert_eq!(got_a, got_b);
    // the same stored hashes (agency users never sign in: the hash is all there is to keep)
    assert_eq!(stored(&a).await, stored(&b).await);
    // and out again: the same lines, byte for byte (ids, timestamps, hashes kept)
    assert_eq!(export(&b, &[]).await.stdout, exported.stdout);

    // one agency group's users only
    let group = group_of(&b, &b_token).await;
    let one = Ran::lines(&export(&b, &["--tenant", &group.to_string()]).await);
    assert_eq!(one.len(), 3);
    assert!(one.iter().all(|l| l["agency_id"] != json!(trondheim)));
    let other_group = group_of(&b, &b_other_token).await;
    let two = Ran::lines(&export(&b, &["--tenant", &other_group.to_string()]).await);
    assert_eq!(two.len(), 1);
    assert_eq!(two[0]["email"], "siri@example.no");
    let missing = admin(BIN, &b.db.url, &["export", "--tenant", "999"], b"").await;
    assert!(
        !missing.success && missing.stderr.contains("no agency group 999"),
        "{missing:?}"
    );
    let bad = admin(BIN, &b.db.url, &["export", "--tenant", "Oslo"], b"").await;
    assert!(
        !bad.success && bad.stderr.contains("--tenant takes an agency group id"),
        "{bad:?}"
    );
}

#[tokio::test]
async fn three_bad_lines_are_all_named_and_nothing_is_written() {
    let app = spawn_app().await;
    let oslo = app.agencies[0];
    let before = stored(&app).await;
    let lines = [
        line(100, "good1@example.com", oslo),
        line(101, "not an email", oslo),
        line(102, "good2@example.com", oslo),
        line(103, "unknown-agency@example.com", 424_242),
        line(104, "GOOD1@example.com", app.agencies[1]),
    ];
    let ran = import(&app, &[], &lines).await;
    assert!(!ran.success);
    assert_eq!(
        ran.problems(),
        [
            "line 2: email: The email must be a valid email address.",
            "line 4: agency_id: agency 424242 does not exist",
            "line 5: email: duplicates line 1",
        ]
    );
    assert!(ran
        .stderr
        .contains("nothing imported: 3 problems in 5 lines"));
    ran.assert_prints_no_secret(&[PASSWORD]);
    assert_eq!(stored(&app).await, before, "nothing written");
    assert_eq!(imported_events(&app).await, 0);
}

#[tokio::test]
async fn every_problem_of_a_line_is_named_with_the_apis_messages() {
    let app = spawn_app().await;
    let oslo = app.agencies[0];
    let hash = &upstream_hashes(PASSWORD)[0];
    let too_long = "x".repeat(73);
    let lines = [
        json!({"id": "seven", "agency_id": "Oslo", "firstname": "", "lastname": 5,
               "email": "x@example.com", "phone": "1".repeat(33), "password": "short",
               "name": "x", "new_password": "ignored-password"}),
        json!({"agency_id": oslo, "firstname": "A", "email": "ab@example.com",
               "password_hash": hash, "password": PASSWORD}),
        json!({"agency_id": oslo, "firstname": "A", "email": "ac@example.com",
               "password_hash": "$2x$04$abc"}),
        json!({"firstname": "A", "created_at": "yesterday", "password": ""}),
        json!({"agency_id": oslo, "firstname": "A", "email": "ad@example.com",
               "password": too_long}),
        json!({"id": 0, "agency_id": -3, "firstname": "A", "email": "ae@example.com",
               "updated_at": 17}),
    ];
    let mut text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    text.push_str("{not json\n[1, 2]\n");
    let ran = admin(BIN, &app.db.url, &["import", "-"], text.as_bytes()).await;
    assert!(!ran.success);
    assert_eq!(
        ran.problems(),
        [
            "line 1: name: is not a field of an imported user",
            "line 1: new_password: is not a field of an imported user",
            "line 1: id: must be a positive integer",
            "line 1: agency_id: must be a positive integer",
            "line 1: firstname: The firstname field is required.",
            "line 1: lastname: The lastname must be a string.",
            "line 1: phone: The phone must not be greater than 32 characters.",
            "line 1: password: The password must be at least 8 characters.",
            "line 2: password_hash: give password_hash or password, not both",
            "line 3: password_hash: must be a bcrypt hash of exactly 60 characters",
            "line 4: created_at: must be an RFC 3339 date-time",
            "line 4: agency_id: is required (the id of an existing agency)",
            "line 4: email: The email field is required.",
            "line 4: password: The password must be at least 8 characters.",
            "line 5: password: The password must not be greater than 72 bytes.",
            "line 6: id: must be a positive integer",
            "line 6: updated_at: must be an RFC 3339 date-time",
            "line 6: agency_id: must be a positive integer",
            "line 7: line: is not JSON (key must be a string at line 1 column 2)",
            "line 8: line: must be a JSON object",
        ]
    );
    ran.assert_prints_no_secret(&[PASSWORD, "$2x$04$abc", "ignored-password", &too_long]);
    assert!(stored(&app).await.is_empty());
}

#[tokio::test]
async fn a_dry_run_checks_everything_and_writes_nothing() {
    let app = spawn_app().await;
    let lines = [
        line(500, "dry1@example.com", app.agencies[0]),
        line(501, "dry2@example.com", app.agencies[1]),
    ];
    let ran = import(&app, &["--dry-run"], &lines).await;
    assert!(ran.success, "{ran:?}");
    assert_eq!(
        ran.stdout.trim(),
        "would import 2, skip 0; nothing written (dry run)"
    );
    ran.assert_prints_no_secret(&[PASSWORD]);
    assert!(stored(&app).await.is_empty());
    assert_eq!(imported_events(&app).await, 0);
    // the id sequence did not move either: the first create takes id 1
    let token = app.token().await;
    let id = created_id(
        &app,
        &token,
        app.agencies[0],
        &json!({"firstname": "N", "email": "n@example.com"}),
    )
    .await;
    assert_eq!(id, 1);
    // a dry run with a problem fails as the import would
    let ran = import(
        &app,
        &["--dry-run"],
        &[line(7, "N@example.com", app.agencies[1])],
    )
    .await;
    assert!(!ran.success);
    assert_eq!(
        ran.problems(),
        ["line 1: email: The email has already been taken."]
    );
    ran.assert_prints_no_secret(&[PASSWORD]);
}

#[tokio::test]
async fn existing_users_fail_the_import_or_are_skipped_or_updated() {
    let app = spawn_app().await;
    let token = app.token().await;
    let (oslo, bergen) = (app.agencies[0], app.agencies[1]);
    let existing = created_id(
        &app,
        &token,
        oslo,
        &json!({"firstname": "Old", "lastname": "Person", "email": "old@example.com",
                "new_password": "old-password-1", "new_password_confirmation": "old-password-1"}),
    )
    .await;
    let new_password = "brand-new-password";
    let lines = [
        json!({"id": existing, "agency_id": bergen, "firstname": "Renamed", "lastname": "Person",
               "email": "renamed@example.com", "phone": "+47 1", "password": new_password,
               "created_at": "2020-01-02T03:04:05.123456Z"}),
        line(900, "fresh@example.com", oslo),
        // the same user by its email, in another case (email is unique over all agencies)
        json!({"agency_id": bergen, "firstname": "Same", "email": "OLD@example.com"}),
    ];
    let ran = import(&app, &[], &lines).await;
    assert!(!ran.success);
    assert_eq!(
        ran.problems(),
        [
            format!("line 1: id: a user with id {existing} exists already"),
            "line 3: email: The email has already been taken.".to_owned(),
        ]
    );
    ran.assert_prints_no_secret(&[new_password, PASSWORD]);

    let ran = import(&app, &["--on-conflict", "skip"], &lines).await;
    assert!(ran.success, "{ran:?}");
    assert_eq!(ran.stdout.trim(), "imported 1, skipped 2");
    ran.assert_prints_no_secret(&[new_password, PASSWORD]);
    let old = test_support::json(user(&app, &token, oslo, existing).await).await;
    assert_eq!(old["email"], "old@example.com", "left as it was");
    assert!(user(&app, &token, oslo, 900).await.status().is_success());

    // two lines that meet the same user cannot both update it
    let ran = import(&app, &["--on-conflict", "update"], &lines).await;
    assert!(!ran.success);
    assert_eq!(
        ran.problems(),
        [format!(
            "line 3: email: meets user {existing}, as line 1 does"
        )]
    );

    let hash_before = stored_hash(&app, existing).await.unwrap();
    let ran = import(&app, &["--on-conflict", "update"], &lines[..1]).await;
    assert!(ran.success, "{ran:?}");
    assert_eq!(ran.stdout.trim(), "imported 1, skipped 0");
    ran.assert_prints_no_secret(&[new_password]);
    assert_eq!(
        user(&app, &token, oslo, existing).await.status(),
        404,
        "moved to the line's agency"
    );
    let now = test_support::json(user(&app, &token, bergen, existing).await).await;
    assert_eq!(
        (
            &now["firstname"],
            &now["email"],
            &now["phone"],
            &now["created_at"]
        ),
        (
            &json!("Renamed"),
            &json!("renamed@example.com"),
            &json!("+47 1"),
            &json!("2020-01-02T03:04:05.123456Z")
        )
    );
    let hash = stored_hash(&app, existing).await.unwrap();
    assert_ne!(hash, hash_before);
    assert!(bcrypt::verify(new_password, &hash).unwrap());

    // a line without a password keeps the password; matched by email (no id given); the
    // fields it leaves out are null, as in a create
    let ran = import(
        &app,
        &["--on-conflict", "update"],
        &[json!({"agency_id": bergen, "firstname": "Again", "email": "RENAMED@example.com"})],
    )
    .await;
    assert!(ran.success, "{ran:?}");
    let again = test_support::json(user(&app, &token, bergen, existing).await).await;
    assert_eq!(again["name"], "Again");
    assert_eq!(again["email"], "RENAMED@example.com");
    assert_eq!(again["lastname"], Value::Null);
    assert_eq!(stored_hash(&app, existing).await.unwrap(), hash);

    // an id that is one user (or none) and an email that is another: no choice makes sense
    for id in [existing, 7_777] {
        let ran = import(
            &app,
            &["--on-conflict", "update"],
            &[line(id, "fresh@example.com", bergen)],
        )
        .await;
        assert!(!ran.success, "{id}");
        assert_eq!(
            ran.problems(),
            ["line 1: email: The email has already been taken."]
        );
    }
    assert_eq!(
        imported_events(&app).await,
        3,
        "one event per import that wrote"
    );
}

#[tokio::test]
async fn imported_hashes_are_stored_byte_identical_and_round_trip_through_export() {
    let app = spawn_app().await;
    let oslo = app.agencies[0];
    let hashes = upstream_hashes(PASSWORD);
    let mut lines: Vec<Value> = hashes
        .iter()
        .enumerate()
        .map(|(i, hash)| {
            json!({"id": 700 + i, "agency_id": oslo, "firstname": "Up", "lastname": "Stream",
                   "email": format!("up{i}@example.com"), "password_hash": hash})
        })
        .collect();
    lines.push(json!({"id": 710, "agency_id": oslo, "firstname": "Plain",
                      "email": "plain@example.com", "password": PASSWORD}));
    let ran = import(&app, &[], &lines).await;
    assert!(ran.success, "{ran:?}");
    ran.assert_prints_no_secret(&[PASSWORD]);
    for (i, old) in hashes.iter().enumerate() {
        let id = 700 + i as i64;
        assert_eq!(
            stored_hash(&app, id).await.as_ref(),
            Some(old),
            "kept as given"
        );
    }
    let plain = stored_hash(&app, 710).await.unwrap();
    assert!(plain.starts_with("$2b$04$"), "hashed at BCRYPT_COST");
    assert!(bcrypt::verify(PASSWORD, &plain).unwrap());

    // agency users do not sign in: the token endpoint knows API clients only, so nothing
    // ever verifies (or re-hashes) these hashes
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .json(
            &json!({"grant_type": "client_credentials", "client_id": "up0@example.com",
                      "client_secret": PASSWORD}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(stored_hash(&app, 700).await.as_ref(), Some(&hashes[0]));

    // export gives them back byte for byte, and a fresh instance stores them so
    let exported = export(&app, &[]).await;
    let out = Ran::lines(&exported);
    for (i, old) in hashes.iter().enumerate() {
        assert_eq!(out[i]["password_hash"], json!(old));
    }
    assert_eq!(out[3]["password_hash"], json!(plain));
    let fresh = spawn_app().await;
    let ran = import(&fresh, &[], &out).await;
    assert!(ran.success, "{ran:?}");
    ran.assert_prints_no_secret(&[PASSWORD]);
    assert_eq!(stored(&fresh).await, stored(&app).await);
    assert_eq!(export(&fresh, &[]).await.stdout, exported.stdout);
}

#[tokio::test]
async fn ids_are_kept_and_users_created_later_get_fresh_ones() {
    let app = spawn_app().await;
    let token = app.token().await;
    let oslo = app.agencies[0];
    let no_id = |email: &str| json!({"agency_id": oslo, "firstname": "No", "email": email});
    // id 1 into a database whose sequence was never used
    let ran = import(
        &app,
        &[],
        &[line(1, "one@example.com", oslo), no_id("a@example.com")],
    )
    .await;
    assert!(ran.success, "{ran:?}");
    ran.assert_prints_no_secret(&[PASSWORD]);
    let ids: Vec<(i64, String)> = stored(&app).await.into_iter().map(|u| (u.0, u.1)).collect();
    assert_eq!(
        ids,
        [(1, "one@example.com".into()), (2, "a@example.com".into())]
    );
    let id = created_id(
        &app,
        &token,
        oslo,
        &json!({"firstname": "N", "email": "n@example.com"}),
    )
    .await;
    assert_eq!(id, 3, "the sequence moved past the kept id");

    // lines without an id get ids past the largest kept one, in line order
    let ran = import(
        &app,
        &[],
        &[
            no_id("c@example.com"),
            line(5_000, "kept@example.com", oslo),
            no_id("d@example.com"),
        ],
    )
    .await;
    assert!(ran.success, "{ran:?}");
    let ids: Vec<(i64, String)> = stored(&app)
        .await
        .into_iter()
        .skip(3)
        .map(|u| (u.0, u.1))
        .collect();
    assert_eq!(
        ids,
        [
            (5_000, "kept@example.com".into()),
            (5_001, "c@example.com".into()),
            (5_002, "d@example.com".into())
        ]
    );
    let id = created_id(
        &app,
        &token,
        oslo,
        &json!({"firstname": "After", "email": "after@example.com"}),
    )
    .await;
    assert_eq!(id, 5_003, "collides with no imported id");
}

#[tokio::test]
async fn a_line_with_no_password_stores_none() {
    let app = spawn_app().await;
    let token = app.token().await;
    let oslo = app.agencies[0];
    let started = chrono::Utc::now();
    let lines = [
        json!({"id": 1, "agency_id": oslo, "firstname": "Neither", "email": "n1@example.com"}),
        json!({"id": 2, "agency_id": oslo, "firstname": "Null", "email": "n2@example.com",
               "password_hash": null}),
        json!({"id": 3, "agency_id": oslo, "firstname": "Null", "email": "n3@example.com",
               "password": null}),
    ];
    let ran = import(&app, &[], &lines).await;
    assert!(ran.success, "{ran:?}");
    assert_eq!(ran.stdout.trim(), "imported 3, skipped 0");
    ran.assert_prints_no_secret(&[]);
    assert!(stored(&app).await.iter().all(|u| u.2.is_none()), "NULL");
    // as a user created through the API without new_password; timestamps absent are now
    let got = test_support::json(user(&app, &token, oslo, 1).await).await;
    let created: chrono::DateTime<chrono::Utc> =
        got["created_at"].as_str().unwrap().parse().unwrap();
    assert!(created >= started - chrono::Duration::seconds(1));
    assert_eq!(got["created_at"], got["updated_at"]);
    // the exported line has no password_hash
    let out = Ran::lines(&export(&app, &[]).await);
    assert_eq!(out.len(), 3);
    assert!(
        out.iter().all(|l| l.get("password_hash").is_none()),
        "{out:?}"
    );
}
