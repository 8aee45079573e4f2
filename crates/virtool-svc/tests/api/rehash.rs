//! Password hashes from elsewhere: a sign-in that verifies an old hash (`$2a$`, `$2y$`, another
//! cost) replaces it, after the answer, by a `$2b$` hash at `BCRYPT_COST` (4 in tests), unless
//! the stored hash changed meanwhile.

use crate::helpers::*;
use serde_json::json;
use std::time::Duration;
use user_core::password::PasswordHasher;
use user_core::values::Password;
use virtool_svc::db;

/// `PASSWORD` hashed by the app's hasher (`$2b$04$`).
async fn current_hash(app: &TestApp) -> String {
    let hash = app
        .state
        .core
        .hasher
        .hash(&Password::new(PASSWORD, 8).unwrap())
        .await
        .unwrap();
    assert!(hash.starts_with("$2b$04$"), "{hash}");
    hash
}

/// Stores `hash` as `id`'s password hash by SQL (as an import from elsewhere would).
async fn set_hash(app: &TestApp, id: &str, hash: &str) {
    app.execute(&format!(
        "UPDATE users SET password_hash = '{hash}' WHERE id = '{id}'"
    ))
    .await;
}

async fn stored_hash(app: &TestApp, id: &str) -> String {
    app.stored_user(id).await.unwrap().3
}

/// Polls (up to 5 s) until `id`'s stored hash is a `$2b$04$` one; that hash.
async fn upgraded_hash(app: &TestApp, id: &str) -> String {
    for _ in 0..100 {
        let hash = stored_hash(app, id).await;
        if hash.starts_with("$2b$04$") {
            return hash;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{id}'s hash was not upgraded: {}",
        stored_hash(app, id).await
    );
}

/// The old hashes `PASSWORD` may arrive with: Laravel's `$2y$`, the older `$2a$` (the same
/// bytes as a `$2b$` hash: only the prefix differs) and a `$2b$` hash at cost 10.
async fn old_hashes(app: &TestApp) -> Vec<String> {
    let current = current_hash(app).await;
    let costly = PasswordHasher::new(10)
        .hash(&Password::new(PASSWORD, 8).unwrap())
        .await
        .unwrap();
    assert!(costly.starts_with("$2b$10$"), "{costly}");
    vec![
        current.replacen("$2b$", "$2y$", 1),
        current.replacen("$2b$", "$2a$", 1),
        costly,
    ]
}

#[tokio::test]
async fn old_hashes_are_replaced_after_a_sign_in() {
    let app = spawn_app().await;
    for (n, old) in old_hashes(&app).await.into_iter().enumerate() {
        let id = format!("imported{n}");
        app.add_user(&id, &[]).await;
        set_hash(&app, &id, &old).await;
        let before = app.stored_user(&id).await.unwrap();
        let token = app.token_for(&id, PASSWORD).await;

        let new = upgraded_hash(&app, &id).await;
        assert_ne!(new, old);
        let after = app.stored_user(&id).await.unwrap();
        assert_eq!(
            after.2, before.2,
            "{old}: last_password_change untouched (same password)"
        );
        assert_eq!(
            app.get(&token, "/api/account").await.status(),
            200,
            "{old}: the token of the sign-in stays valid"
        );
        // The new hash verifies the same password, and is not replaced again.
        app.token_for(&id, PASSWORD).await;
        assert_eq!(app.login(&id, "wrong-password").await.status(), 400);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(stored_hash(&app, &id).await, new, "{old}");
    }
}

#[tokio::test]
async fn a_sign_in_answered_with_a_reset_code_upgrades_too() {
    let app = spawn_app().await;
    app.add_user("legacy", &[]).await;
    let old = old_hashes(&app).await.remove(0);
    set_hash(&app, "legacy", &old).await;
    app.execute("UPDATE users SET force_reset = true WHERE id = 'legacy'")
        .await;

    let res = app.login("legacy", PASSWORD).await;
    assert_eq!(res.status(), 200);
    let body = test_support::json(res).await;
    let code = body["reset_code"].as_str().unwrap().to_owned();
    upgraded_hash(&app, "legacy").await;
    assert!(app.stored_user("legacy").await.unwrap().0, "still due");

    // The reset still works and sets the new password.
    let res = app
        .send(
            reqwest::Method::POST,
            "",
            "/api/account/reset",
            &json!({"password": "brand-new-password", "reset_code": code}),
        )
        .await;
    assert_eq!(res.status(), 200);
    app.token_for("legacy", "brand-new-password").await;
    assert_eq!(app.login("legacy", PASSWORD).await.status(), 400);
}

#[tokio::test]
async fn a_current_hash_is_left_byte_for_byte() {
    let app = spawn_app().await;
    app.add_user("fred", &[]).await;
    app.add_user("sentinel", &[]).await;
    let current = stored_hash(&app, "fred").await;
    assert!(current.starts_with("$2b$04$"), "{current}");
    let old = old_hashes(&app).await.remove(0);
    set_hash(&app, "sentinel", &old).await;

    app.token_for("fred", PASSWORD).await;
    app.token_for("sentinel", PASSWORD).await;
    // The upgrade signed in after fred's has landed; fred's hash was never touched.
    upgraded_hash(&app, "sentinel").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(stored_hash(&app, "fred").await, current);
}

#[tokio::test]
async fn the_upgrade_is_a_compare_and_set() {
    let app = spawn_app().await;
    app.add_user("fred", &[]).await;
    let old = old_hashes(&app).await.remove(2);
    let changed = current_hash(&app).await;
    let upgrade = current_hash(&app).await;
    // The password changed (PATCH, reset, another replica) after the sign-in read `old`.
    set_hash(&app, "fred", &changed).await;
    let mut conn = app.state.core.db.conn().await.unwrap();
    assert!(
        !db::upgrade_password_hash(&mut conn, "fred", &old, &upgrade)
            .await
            .unwrap(),
        "a stale old hash replaces nothing"
    );
    assert_eq!(stored_hash(&app, "fred").await, changed);
    assert!(
        !db::upgrade_password_hash(&mut conn, "nobody", &old, &upgrade)
            .await
            .unwrap()
    );
    // With the hash as it is, it replaces.
    assert!(
        db::upgrade_password_hash(&mut conn, "fred", &changed, &upgrade)
            .await
            .unwrap()
    );
    assert_eq!(stored_hash(&app, "fred").await, upgrade);
}

#[tokio::test]
async fn a_password_changed_right_after_the_sign_in_stays() {
    let app = spawn_app().await;
    app.add_user("fred", &[]).await;
    let old = old_hashes(&app).await.remove(2);
    set_hash(&app, "fred", &old).await;
    assert_eq!(app.login("fred", PASSWORD).await.status(), 200);
    // Another replica or an operator sets a new password before or after the upgrade lands:
    // either way the new one stays.
    let changed = PasswordHasher::new(4)
        .hash(&Password::new("changed-password", 8).unwrap())
        .await
        .unwrap();
    set_hash(&app, "fred", &changed).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stored_hash(&app, "fred").await, changed);
    app.token_for("fred", "changed-password").await;
}
