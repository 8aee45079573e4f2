//! Moving over from Virtool (docs/migration.md): the sample `mongoexport` of its `users`
//! collection (tests/fixtures/virtool-users.json; Python's bcrypt hashes as BSON binary),
//! mapped by deploy/migration/virtool.jq and imported by the real binary: the users sign in with
//! their Virtool passwords, keep their groups and primary group, and a forced reset stays forced.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: failing loudly is the point

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use helpers::*;
use test_support::import::{admin, map_fixture};

#[tokio::test]
async fn a_virtool_export_imports_and_its_users_sign_in() {
    let app = spawn_app().await;
    app.add_group("technicians", &["create_sample", "upload_file"])
        .await;
    let lines = map_fixture("virtool", "virtool-users.json");
    let ran = admin(
        env!("CARGO_BIN_EXE_virtool-svc"),
        &app.db.url,
        &["import", "-"],
        lines.as_bytes(),
    )
    .await;
    assert!(ran.success, "{ran:?}");
    assert_eq!(ran.stdout.trim(), "imported 2, skipped 0");
    ran.assert_prints_no_secret(&["virtool-secret"]);
    let token = app.admin_token().await;
    let fred = test_support::json(app.get(&token, "/api/users/fred").await).await;
    assert_eq!(fred["groups"], serde_json::json!(["technicians"]));
    assert_eq!(fred["primary_group"], "technicians");
    assert_eq!(fred["permissions"]["upload_file"], true);
    assert_eq!(fred["force_reset"], false);
    assert_eq!(fred["last_password_change"], "2018-02-07T17:56:35.980000Z");
    let login = app.login("fred", "virtool-secret-fred").await;
    assert_eq!(login.status(), 200);
    assert!(test_support::json(login).await["token"].is_string());
    // Ian's forced reset came along: the right password gets a reset code, not a token
    let login = app.login("igboyes", "virtool-secret-ian").await;
    assert_eq!(login.status(), 200);
    let body = test_support::json(login).await;
    assert_eq!(body["reset"], true, "{body}");
    assert_eq!(app.login("igboyes", "wrong").await.status(), 400);
}
