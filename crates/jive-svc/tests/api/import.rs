//! `jive-svc admin import` and `admin export` (`../shared/api/migration.md`), run as the real
//! binary: the round trip into a fresh instance (same answers, same access keys working,
//! the same export byte for byte), all-or-nothing with every bad line named, `--dry-run`,
//! `--on-conflict skip|update`, kept ids and keys, password hashes kept byte-identical (jive
//! has no password sign-in), and no secret printed.

use crate::helpers::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use test_support::import::{admin, import_lines, upstream_hashes, Ran};
use test_support::TestDb;
use user_core::password::{PasswordHasher, NO_PASSWORD};

const BIN: &str = env!("CARGO_BIN_EXE_jive-svc");
const PASSWORD: &str = "imported-password-1";

async fn import_into(url: &str, args: &[&str], lines: &[Value]) -> Ran {
    import_lines(BIN, url, args, lines).await
}

async fn import(app: &TestApp, args: &[&str], lines: &[Value]) -> Ran {
    import_into(&app._db.url, args, lines).await
}

async fn export(app: &TestApp, args: &[&str]) -> Ran {
    test_support::import::export(BIN, &app._db.url, args).await
}

async fn imported_events(app: &TestApp) -> usize {
    let mut conn = app._db.conn(jive_svc::INFO.schema).await;
    test_support::audit::count(&mut conn, "user.imported").await
}

/// An id kept from elsewhere: 24 lowercase hex.
fn oid(n: u64) -> String {
    format!("5f00000000000000{n:08x}")
}

fn line(id: &str, email: &str) -> Value {
    json!({"id": id, "org_id": ORG, "first_name": "Imported", "last_name": "User",
           "email_address": email, "user_permissions": {"users": "read"}, "password": PASSWORD})
}

/// The access key of user `id`, as the org admin reads it.
async fn key_of(app: &TestApp, id: &str) -> String {
    let res = app.get(ADMIN_KEY, &format!("/api/users/{id}")).await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    res.body["access_key"].as_str().unwrap().to_owned()
}

/// Waits (up to 5 s: the contract's bound; the cache keeps a key 2 s) until `key` gets `status`.
async fn until_status(app: &TestApp, key: &str, status: u16) {
    let start = Instant::now();
    loop {
        if app.get(key, "/api/users").await.status == status {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "not {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn export_then_import_into_a_fresh_instance_gives_the_same_users_and_keys() {
    let a = spawn_app().await;
    // users made through the API: read, write, none, inactive; one changed since
    let reader = a
        .create(
            ADMIN_KEY,
            json!({"first_name": "Rea", "last_name": "Der", "email_address": "reader@example.com",
                   "user_permissions": {"users": "read"}, "password": PASSWORD}),
        )
        .await;
    let writer = a
        .create(
            ADMIN_KEY,
            json!({"first_name": "Wri", "email_address": "Writer@Example.com",
                   "user_permissions": {"users": "write"}}),
        )
        .await;
    a.create(ADMIN_KEY, json!({"email_address": "nobody@example.com"}))
        .await;
    let gone = a
        .create(
            ADMIN_KEY,
            json!({"email_address": "inactive@example.com", "active": false,
                   "user_permissions": {"users": "read", "portal": "deny"}}),
        )
        .await;
    let res = a
        .put(
            ADMIN_KEY,
            &format!("/api/users/{writer}"),
            json!({"last_name": "Ter"}),
        )
        .await;
    assert_eq!(res.status, 200);
    // another org, made by the operator, with its admin
    let other = admin(BIN, &a._db.url, &["org-create", "Other"], b"").await;
    assert!(other.success, "{other:?}");
    let other = other.stdout.trim().to_owned();
    let boss = admin(
        BIN,
        &a._db.url,
        &["user-create", &other, "boss@other.example", "--admin"],
        b"",
    )
    .await;
    assert!(boss.success, "{boss:?}");
    let boss_key = boss.stdout.split_whitespace().nth(1).unwrap().to_owned();

    let exported = export(&a, &[]).await;
    let lines = Ran::lines(&exported);
    assert_eq!(lines.len(), 6, "every user of every org");
    assert!(lines.iter().all(|l| l["password_hash"]
        .as_str()
        .is_some_and(|h| h.starts_with("$2b$04$"))));
    let ids: Vec<&str> = lines.iter().map(|l| l["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "ordered by id");
    let reader_key = key_of(&a, &reader).await;
    let line_of = |id: &str| lines.iter().find(|l| l["id"] == id).unwrap().clone();
    assert_eq!(line_of(&reader)["access_key"], reader_key.as_str());
    assert_eq!(line_of(&gone)["active"], false);

    // a fresh instance: its orgs made with the same ids, the users imported, then started
    // (bootstrap finds its admin's key taken: it creates nobody)
    let fresh = TestDb::new().await;
    for (name, id) in [("Bootstrap", ORG), ("Other", other.as_str())] {
        let made = admin(BIN, &fresh.url, &["org-create", name, "--id", id], b"").await;
        assert!(made.success, "{made:?}");
        assert_eq!(made.stdout.trim(), id);
    }
    let again = admin(BIN, &fresh.url, &["org-create", "Again", "--id", ORG], b"").await;
    assert!(!again.success && again.stderr.contains(&format!("org {ORG} exists already")));
    let bad = admin(BIN, &fresh.url, &["org-create", "Bad", "--id", "ABC"], b"").await;
    assert!(
        !bad.success
            && bad
                .stderr
                .contains("--id takes 24 lowercase hex characters")
    );
    let ran = import_into(&fresh.url, &[], &lines).await;
    assert!(ran.success, "{ran:?}");
    assert_eq!(ran.stdout.trim(), "imported 6, skipped 0");
    let keys: Vec<String> = lines
        .iter()
        .map(|l| l["access_key"].as_str().unwrap().to_owned())
        .collect();
    let mut secrets: Vec<&str> = keys.iter().map(String::as_str).collect();
    secrets.push(PASSWORD);
    ran.assert_prints_no_secret(&secrets);
    // its one event, numbered by the command (no service runs yet to do it)
    let events = admin(BIN, &fresh.url, &["events"], b"").await;
    let imported: Vec<Value> = events
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["action"] == "user.imported")
        .collect();
    assert_eq!(imported.len(), 1, "{events:?}");
    assert_eq!(imported[0]["changes"]["imported"], json!({"to": 6}));
    let b = start(fresh).await;
    assert_eq!(b.admin_id, a.admin_id, "the imported admin, its key kept");
    assert_eq!(b.user_count().await, 6);
    assert_eq!(imported_events(&b).await, 1);

    // the same answers, each key calling as before
    for key in [ADMIN_KEY, boss_key.as_str(), reader_key.as_str()] {
        for path in ["/api/users", "/api/users?p=1"] {
            let (before, after) = (a.get(key, path).await, b.get(key, path).await);
            assert_eq!(
                (after.status, &after.body),
                (before.status, &before.body),
                "{path}"
            );
            assert_eq!(after.status, 200);
        }
    }
    for id in &ids {
        let path = format!("/api/users/{id}");
        let key = if line_of(id)["org_id"] == ORG {
            ADMIN_KEY
        } else {
            boss_key.as_str()
        };
        assert_eq!(a.get(key, &path).await.body, b.get(key, &path).await.body);
    }
    // an inactive user's key stays refused
    let gone_key = line_of(&gone)["access_key"].as_str().unwrap().to_owned();
    assert_eq!(b.get(&gone_key, "/api/users").await.status, 401);
    // the hashes are the same bytes (the reset action is jive's only use of them)
    assert_eq!(
        a.password_hash(&reader).await,
        b.password_hash(&reader).await
    );

    // and out again: the same lines, byte for byte (ids, keys, timestamps, hashes kept)
    assert_eq!(export(&b, &[]).await.stdout, exported.stdout);
    // one org's users only
    let others = Ran::lines(&export(&b, &["--tenant", &other]).await);
    assert_eq!(others.len(), 1);
    assert_eq!(others[0]["email_address"], "boss@other.example");
    let missing = admin(
        BIN,
        &b._db.url,
        &["export", "--tenant", "ffffffffffffffffffffffff"],
        b"",
    )
    .await;
    assert!(!missing.success && missing.stderr.contains("no org ffffffffffffffffffffffff"));
    let malformed = admin(BIN, &b._db.url, &["export", "--tenant", "7"], b"").await;
    assert!(!malformed.success && malformed.stderr.contains("takes an org id"));
}

#[tokio::test]
async fn three_bad_lines_are_all_named_and_nothing_is_written() {
    let app = spawn_app().await;
    let before = app.user_count().await;
    let mut unknown_org = line(&oid(103), "unknown-org@example.com");
    unknown_org["org_id"] = json!("ffffffffffffffffffffffff");
    let lines = [
        line(&oid(100), "good1@example.com"),
        line(&oid(101), "not an email"),
        line(&oid(102), "good2@example.com"),
        unknown_org,
        line(&oid(104), "GOOD1@example.com"),
    ];
    let ran = import(&app, &[], &lines).await;
    assert!(!ran.success);
    assert_eq!(
        ran.problems(),
        [
            "line 2: email_address: User object validation failed: email_address is not a valid email address",
            "line 4: org_id: org ffffffffffffffffffffffff does not exist",
            "line 5: email_address: duplicates line 1",
        ]
    );
    assert!(ran
        .stderr
        .contains("nothing imported: 3 problems in 5 lines"));
    ran.assert_prints_no_secret(&[PASSWORD]);
    assert_eq!(app.user_count().await, before, "nothing written");
    assert_eq!(imported_events(&app).await, 0);
}

#[tokio::test]
async fn every_problem_of_a_line_is_named_with_the_apis_messages() {
    let app = spawn_app().await;
    let hash = &upstream_hashes(PASSWORD)[0];
    let key = "0123456789abcdef0123456789abcdef";
    let lines = [
        json!({"id": "SEVEN", "org_id": "nope", "first_name": 3, "email_address": "x",
               "active": "yes", "user_permissions": {"users": "all"}, "access_key": "tooshortkey",
               "created_at": "yesterday", "password": "short", "nickname": "x"}),
        json!({"org_id": ORG, "first_name": "A", "last_name": "B", "email_address": "ab@example.com",
               "password_hash": hash, "password": PASSWORD}),
        json!({"org_id": ORG, "first_name": "A", "last_name": "B", "email_address": "ac@example.com",
               "password_hash": "$2x$04$abc"}),
        json!({"first_name": "A", "last_name": "B", "user_permissions": [],
               "access_key": format!("{key} space"), "password": "p".repeat(73)}),
        // the same id, email and key as lines before it
        json!({"id": oid(1), "org_id": ORG, "first_name": "A", "last_name": "B",
               "email_address": "dup@example.com", "access_key": key}),
        json!({"id": oid(1), "org_id": ORG, "first_name": "C", "last_name": "D",
               "email_address": "DUP@example.com", "access_key": key}),
    ];
    let mut text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    text.push_str("{not json\n[1, 2]\n");
    let ran = admin(BIN, &app._db.url, &["import", "-"], text.as_bytes()).await;
    assert!(!ran.success);
    let invalid = "User object validation failed:";
    assert_eq!(
        ran.problems(),
        [
            "line 1: nickname: is not a field of an imported user".to_owned(),
            "line 1: id: must be 24 lowercase hex characters".to_owned(),
            "line 1: org_id: must be 24 lowercase hex characters".to_owned(),
            "line 1: access_key: must be 32 to 256 printable characters without spaces".to_owned(),
            "line 1: created_at: must be an RFC 3339 date-time".to_owned(),
            format!("line 1: email_address: {invalid} email_address is not a valid email address"),
            format!("line 1: active: {invalid} active must be true or false"),
            format!("line 1: user_permissions: {invalid} user_permissions.users must be one of read, write, deny, admin"),
            format!("line 1: first_name: {invalid} first_name must be a string"),
            format!("line 1: last_name: {invalid} last_name is required"),
            "line 1: password: Password must be at least 8 characters".to_owned(),
            "line 2: password_hash: give password_hash or password, not both".to_owned(),
            "line 3: password_hash: must be a bcrypt hash of exactly 60 characters".to_owned(),
            "line 4: org_id: is required".to_owned(),
            "line 4: access_key: must be 32 to 256 printable characters without spaces".to_owned(),
            format!("line 4: email_address: {invalid} email_address is required"),
            format!("line 4: user_permissions: {invalid} user_permissions must be an object"),
            "line 4: password: Password must be at most 72 bytes".to_owned(),
            "line 7: line: is not JSON (key must be a string at line 1 column 2)".to_owned(),
            "line 8: line: must be a JSON object".to_owned(),
            "line 6: access_key: duplicates line 5".to_owned(),
            "line 6: email_address: duplicates line 5".to_owned(),
            "line 6: id: duplicates line 5".to_owned(),
        ]
    );
    ran.assert_prints_no_secret(&[PASSWORD, "$2x$04$abc", "tooshortkey", key]);
    assert_eq!(imported_events(&app).await, 0);
}

#[tokio::test]
async fn a_dry_run_checks_everything_and_writes_nothing() {
    let app = spawn_app().await;
    let before = app.user_count().await;
    let lines = [
        line(&oid(500), "dry1@example.com"),
        line(&oid(501), "dry2@example.com"),
    ];
    let ran = import(&app, &["--dry-run"], &lines).await;
    assert!(ran.success, "{ran:?}");
    assert_eq!(
        ran.stdout.trim(),
        "would import 2, skip 0; nothing written (dry run)"
    );
    ran.assert_prints_no_secret(&[PASSWORD]);
    assert_eq!(app.user_count().await, before);
    assert_eq!(imported_events(&app).await, 0);
    let res = app
        .get(ADMIN_KEY, &format!("/api/users/{}", oid(500)))
        .await;
    assert_eq!(res.status, 404);
    // a dry run with a problem fails as the import would
    let ran = import(&app, &["--dry-run"], &[line(&oid(7), ADMIN_EMAIL)]).await;
    assert!(!ran.success);
    assert_eq!(
        ran.problems(),
        ["line 1: email_address: User email already exists for this org."]
    );
}

#[tokio::test]
async fn existing_users_fail_the_import_or_are_skipped_or_updated() {
    let app = spawn_app().await;
    let existing = app
        .create(
            ADMIN_KEY,
            json!({"first_name": "Old", "last_name": "Person", "email_address": "old@example.com",
                   "user_permissions": {"users": "read"}, "password": "old-password"}),
        )
        .await;
    let old_key = key_of(&app, &existing).await;
    let old_hash = app.password_hash(&existing).await;
    let new_password = "brand-new-password";
    let lines = [
        json!({"id": existing, "org_id": ORG, "first_name": "Renamed", "last_name": "Person",
               "email_address": "renamed@example.com", "user_permissions": {"users": "write"},
               "password": new_password}),
        line(&oid(900), "fresh@example.com"),
    ];
    let ran = import(&app, &[], &lines).await;
    assert!(!ran.success);
    assert_eq!(
        ran.problems(),
        [format!(
            "line 1: id: a user with id {existing} exists already"
        )]
    );
    // met by its key alone
    let ran = import(
        &app,
        &[],
        &[json!({"org_id": ORG, "first_name": "K", "last_name": "K",
                 "email_address": "k@example.com", "access_key": old_key})],
    )
    .await;
    assert_eq!(
        ran.problems(),
        ["line 1: access_key: is the access key of an existing user"]
    );
    ran.assert_prints_no_secret(&[&old_key]);

    let ran = import(&app, &["--on-conflict", "skip"], &lines).await;
    assert!(ran.success, "{ran:?}");
    assert_eq!(ran.stdout.trim(), "imported 1, skipped 1");
    let path = format!("/api/users/{existing}");
    assert_eq!(
        app.get(ADMIN_KEY, &path).await.body["email_address"],
        "old@example.com",
        "left as it was"
    );
    assert_eq!(
        app.get(ADMIN_KEY, &format!("/api/users/{}", oid(900)))
            .await
            .status,
        200
    );

    let ran = import(&app, &["--on-conflict", "update"], &lines[..1]).await;
    assert!(ran.success, "{ran:?}");
    assert_eq!(ran.stdout.trim(), "imported 1, skipped 0");
    ran.assert_prints_no_secret(&[new_password]);
    assert_eq!(
        app.get(ADMIN_KEY, &path).await.body,
        json!({"api_model": {}, "first_name": "Renamed", "last_name": "Person",
               "email_address": "renamed@example.com", "password": "", "org_id": ORG,
               "active": true, "id": existing, "access_key": old_key,
               "user_permissions": {"users": "write"}}),
        "fields overwritten; the key, not in the line, kept"
    );
    let new_hash = app.password_hash(&existing).await;
    assert_ne!(new_hash, old_hash);
    assert!(
        PasswordHasher::new(4)
            .verify(new_password, Some(&new_hash))
            .await
    );
    // the user's key still calls, with its new permissions (after the cache's 2 s)
    let start = Instant::now();
    while app
        .post(
            &old_key,
            "/api/users",
            json!({"email_address": "by-old-key@example.com"}),
        )
        .await
        .status
        != 200
    {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "users: write not in effect"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // met by email (no id, any case): a new key given replaces the old one; a line without a
    // password keeps the password; `active: false` locks the key out
    let new_key = "ffeeddccbbaa99887766554433221100";
    let ran = import(
        &app,
        &["--on-conflict", "update"],
        &[
            json!({"org_id": ORG, "first_name": "Again", "last_name": "Person",
                 "email_address": "RENAMED@example.com", "access_key": new_key}),
        ],
    )
    .await;
    assert!(ran.success, "{ran:?}");
    ran.assert_prints_no_secret(&[new_key, &old_key]);
    assert_eq!(app.password_hash(&existing).await, new_hash);
    assert_eq!(app.get(new_key, "/api/users").await.status, 200);
    until_status(&app, &old_key, 401).await;
    let ran = import(
        &app,
        &["--on-conflict", "update"],
        &[
            json!({"id": existing, "org_id": ORG, "first_name": "Again", "last_name": "Person",
                 "email_address": "renamed@example.com", "active": false}),
        ],
    )
    .await;
    assert!(ran.success, "{ran:?}");
    until_status(&app, new_key, 401).await;
    assert_eq!(
        app.get(ADMIN_KEY, &path).await.body["access_key"],
        new_key,
        "the key, not in the line, kept"
    );

    // a line about one user whose email, key or org is another's: no choice makes sense
    let (other_org, _, _) = app.other_org().await;
    let mut other = line(&existing, "renamed@example.com");
    other["org_id"] = json!(other_org);
    let mut admins_key = line(&existing, "renamed@example.com");
    admins_key["access_key"] = json!(ADMIN_KEY);
    // met by its email, while the line before is about it by id
    let twice = json!({"org_id": ORG, "first_name": "T", "last_name": "T",
                       "email_address": "renamed@example.com"});
    for (bad, problem) in [
        (
            line(&existing, "fresh@example.com"),
            "line 1: email_address: User email already exists for this org.".to_owned(),
        ),
        (
            admins_key,
            "line 1: access_key: is the access key of another user".to_owned(),
        ),
        (
            other,
            format!("line 1: org_id: user {existing} belongs to another org"),
        ),
    ] {
        let ran = import(&app, &["--on-conflict", "update"], &[bad]).await;
        assert!(!ran.success);
        assert_eq!(ran.problems(), [problem]);
        ran.assert_prints_no_secret(&[ADMIN_KEY, PASSWORD]);
    }
    let ran = import(
        &app,
        &["--on-conflict", "update"],
        &[line(&existing, "other-name@example.com"), twice],
    )
    .await;
    assert_eq!(
        ran.problems(),
        ["line 2: id: meets the same user as line 1"]
    );
    assert_eq!(
        imported_events(&app).await,
        4,
        "one event per import that wrote"
    );
}

#[tokio::test]
async fn password_hashes_are_kept_byte_identical_and_no_password_stores_none() {
    let app = spawn_app().await;
    let hashes = upstream_hashes(PASSWORD);
    let mut lines: Vec<Value> = hashes
        .iter()
        .enumerate()
        .map(|(i, hash)| {
            json!({"id": oid(700 + i as u64), "org_id": ORG, "first_name": "Up",
                   "last_name": "Stream", "email_address": format!("up{i}@example.com"),
                   "password_hash": hash})
        })
        .collect();
    lines.push(line(&oid(710), "plain@example.com"));
    lines.push(
        json!({"id": oid(711), "org_id": ORG, "first_name": "No", "last_name": "Password",
                      "email_address": "nopassword@example.com"}),
    );
    // `""`, as the API's create reads it: no password
    lines.push(
        json!({"id": oid(712), "org_id": ORG, "first_name": "Empty", "last_name": "Password",
                      "email_address": "empty@example.com", "password": ""}),
    );
    let ran = import(&app, &[], &lines).await;
    assert!(ran.success, "{ran:?}");
    ran.assert_prints_no_secret(&[PASSWORD]);
    for (i, hash) in hashes.iter().enumerate() {
        assert_eq!(
            &app.password_hash(&oid(700 + i as u64)).await,
            hash,
            "kept as given"
        );
    }
    let plain = app.password_hash(&oid(710)).await;
    assert!(plain.starts_with("$2b$04$"), "hashed at BCRYPT_COST");
    assert!(PasswordHasher::new(4).verify(PASSWORD, Some(&plain)).await);
    assert_eq!(app.password_hash(&oid(711)).await, NO_PASSWORD);
    assert_eq!(app.password_hash(&oid(712)).await, NO_PASSWORD);
    // exported as stored (no re-hash: jive has no password sign-in); none when there is none
    let out = Ran::lines(&export(&app, &[]).await);
    let of = |id: String| out.iter().find(|l| l["id"] == id.as_str()).unwrap().clone();
    for (i, hash) in hashes.iter().enumerate() {
        assert_eq!(of(oid(700 + i as u64))["password_hash"], hash.as_str());
    }
    assert!(of(oid(711)).get("password_hash").is_none());
    assert!(of(oid(712)).get("password_hash").is_none());
    // the reset action still sets a password on them
    let res = app
        .post(
            ADMIN_KEY,
            &format!("/api/users/{}/actions/reset", oid(711)),
            json!({"new_password": "now-one-is-set"}),
        )
        .await;
    assert_eq!(res.status, 200);
    assert!(app.password_hash(&oid(711)).await.starts_with("$2b$04$"));
}

#[tokio::test]
async fn ids_and_keys_are_kept_and_users_created_later_get_fresh_ones() {
    let app = spawn_app().await;
    let kept_key = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
    // an id of the far future: ids made later still do not meet it
    let future = "fffffffe0000000000000001";
    let lines = [
        json!({"id": future, "org_id": ORG, "first_name": "Kept", "last_name": "Admin",
               "email_address": "kept@example.com", "user_permissions": {"IsAdmin": "admin"},
               "access_key": kept_key, "created_at": "2015-01-19T13:12:25Z",
               "updated_at": "2016-02-01T00:00:00.5Z"}),
        json!({"org_id": ORG, "first_name": "No", "last_name": "Id",
               "email_address": "noid@example.com", "user_permissions": {"users": "read"}}),
    ];
    let ran = import(&app, &[], &lines).await;
    assert!(ran.success, "{ran:?}");
    assert_eq!(ran.stdout.trim(), "imported 2, skipped 0");
    ran.assert_prints_no_secret(&[kept_key]);
    // the kept key authenticates API calls, as its kept user
    let res = app.get(kept_key, "/api/users").await;
    assert_eq!(res.status, 200);
    let users = res.body["users"].as_array().unwrap().clone();
    let kept = users.iter().find(|u| u["id"] == future).unwrap();
    assert_eq!(kept["access_key"], kept_key);
    let no_id = users
        .iter()
        .find(|u| u["email_address"] == "noid@example.com")
        .unwrap();
    let no_id_id = no_id["id"].as_str().unwrap().to_owned();
    assert!(jive_svc::ids::is_object_id(&no_id_id));
    let now = chrono::Utc::now().timestamp();
    let made = i64::from_str_radix(&no_id_id[..8], 16).unwrap();
    assert!((now - made).abs() < 60, "made now, like the API's ids");
    // a line without a key gets a new one: 32 lowercase hex, and it works
    let new_key = no_id["access_key"].as_str().unwrap().to_owned();
    assert!(
        new_key.len() == 32
            && new_key
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert_eq!(app.get(&new_key, "/api/users").await.status, 200);
    // timestamps kept
    let out = Ran::lines(&export(&app, &[]).await);
    let kept_line = out.iter().find(|l| l["id"] == future).unwrap();
    assert_eq!(kept_line["created_at"], "2015-01-19T13:12:25Z");
    assert_eq!(kept_line["updated_at"], "2016-02-01T00:00:00.500Z");

    let created = app
        .create(kept_key, json!({"email_address": "after@example.com"}))
        .await;
    assert!(jive_svc::ids::is_object_id(&created));
    assert!(created != future && created != no_id_id);
    assert_eq!(app.user_count().await, 4, "admin, 2 imported, 1 created");
}
