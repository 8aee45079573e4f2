//! Moving over from Venuzle (docs/migration.md): the sample export of its Laravel `users` and
//! `partner_user` tables (tests/fixtures/venuzle-users.ndjson), mapped by
//! deploy/migration/venuzle.jq and imported by the real binary, gives users that sign in with
//! their Venuzle passwords and keep their ids.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: failing loudly is the point

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use helpers::*;
use serde_json::json;
use test_support::import::{admin, map_fixture};

#[tokio::test]
async fn a_venuzle_export_imports_and_its_users_sign_in() {
    let app = spawn_app().await;
    // the fixture's partners are 1 and 2: the bootstrap's Alpha and Beta
    assert_eq!((app.alpha, app.beta), (1, 2));
    let lines = map_fixture("venuzle", "venuzle-users.ndjson");
    let ran = admin(
        env!("CARGO_BIN_EXE_partner-svc"),
        &app.db.url,
        &["import", "-"],
        lines.as_bytes(),
    )
    .await;
    assert!(ran.success, "{ran:?}");
    assert_eq!(ran.stdout.trim(), "imported 2, skipped 0");
    ran.assert_prints_no_secret(&["venuzle-secret"]);
    let token = app.admin_token().await;
    let jane = test_support::json(app.get(&token, &user_path(app.beta, 9)).await).await;
    assert_eq!(
        jane["data"],
        json!({"id": 9, "first_name": "Jane", "last_name": "Roe", "email": "jane@example.com"})
    );
    for (email, password) in [
        ("john@example.com", "venuzle-secret-john"),
        ("jane@example.com", "venuzle-secret-jane"),
    ] {
        assert_eq!(app.login(email, password).await.status(), 200, "{email}");
    }
    // John's Venuzle permissions came along: he manages Alpha's users
    let john = app.token("john@example.com", "venuzle-secret-john").await;
    assert_eq!(app.get(&john, &users_path(app.alpha)).await.status(), 200);
    assert_eq!(app.get(&john, &users_path(app.beta)).await.status(), 403);
}
