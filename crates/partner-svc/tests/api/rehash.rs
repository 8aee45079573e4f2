//! Imported password hashes ($2y$, $2a$, another cost) are re-hashed at BCRYPT_COST (4 here)
//! after a successful login, by a compare-and-set that never overwrites a changed password.

use crate::helpers::*;
use partner_svc::db;
use std::time::{Duration, Instant};
use user_core::password::PasswordHasher;
use user_core::values::Password;

async fn stored_hash(app: &TestApp, id: i64) -> String {
    app.stored_users()
        .await
        .into_iter()
        .find(|u| u.0 == id)
        .map(|u| u.2)
        .expect("the user exists")
}

async fn set_hash(app: &TestApp, id: i64, hash: &str) {
    app.sql(&format!(
        "UPDATE users SET password_hash = '{hash}' WHERE id = {id}"
    ))
    .await;
}

async fn hash_at(cost: u32) -> String {
    PasswordHasher::new(cost)
        .hash(&Password::new(PASSWORD, 8).unwrap())
        .await
        .unwrap()
}

/// The stored hash, once it starts with `$2b$04$` (waiting up to 5 s).
async fn upgraded(app: &TestApp, id: i64) -> String {
    let start = Instant::now();
    loop {
        let hash = stored_hash(app, id).await;
        if hash.starts_with("$2b$04$") {
            return hash;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "not upgraded within 5 s: {hash}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn old_prefixes_and_costs_are_rehashed_after_login() {
    let app = spawn_app().await;
    let id = app.seed_user("old@example.com", &[], &[app.alpha]).await;
    let current = hash_at(4).await;
    assert!(current.starts_with("$2b$04$"), "{current}");
    for old in [
        current.replacen("$2b$", "$2y$", 1),
        current.replacen("$2b$", "$2a$", 1),
        hash_at(10).await,
    ] {
        set_hash(&app, id, &old).await;
        assert_eq!(app.login("old@example.com", PASSWORD).await.status(), 200);
        let new = upgraded(&app, id).await;
        assert_ne!(new, old);
        assert!(bcrypt::verify(PASSWORD, &new).unwrap());
        assert_eq!(
            app.login("old@example.com", PASSWORD).await.status(),
            200,
            "the upgraded hash ({old} → {new}) still signs in"
        );
    }
}

#[tokio::test]
async fn a_current_hash_is_left_byte_identical() {
    let app = spawn_app().await;
    let id = app
        .seed_user("current@example.com", &[], &[app.alpha])
        .await;
    let before = stored_hash(&app, id).await;
    assert!(before.starts_with("$2b$04$"), "{before}");
    assert_eq!(
        app.login("current@example.com", PASSWORD).await.status(),
        200
    );
    // An upgrade, were one started, would land well within this.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stored_hash(&app, id).await, before);
}

#[tokio::test]
async fn the_compare_and_set_never_overwrites_a_changed_hash() {
    let app = spawn_app().await;
    let id = app.seed_user("cas@example.com", &[], &[app.alpha]).await;
    let changed = stored_hash(&app, id).await;
    let stale = changed.replacen("$2b$", "$2y$", 1);
    let fresh = hash_at(4).await;
    let mut conn = app.state.core.db.conn().await.unwrap();
    // A stale `old` (the password changed since it was verified): nothing is written.
    assert!(!db::upgrade_password_hash(&mut conn, id, &stale, &fresh)
        .await
        .unwrap());
    assert_eq!(stored_hash(&app, id).await, changed);
    // An unknown user: nothing either.
    assert!(
        !db::upgrade_password_hash(&mut conn, id + 1000, &changed, &fresh)
            .await
            .unwrap()
    );
    // The right `old`: replaced.
    assert!(db::upgrade_password_hash(&mut conn, id, &changed, &fresh)
        .await
        .unwrap());
    assert_eq!(stored_hash(&app, id).await, fresh);
}

#[tokio::test]
async fn a_password_changed_right_after_login_is_kept() {
    let app = spawn_app().await;
    let id = app.seed_user("race@example.com", &[], &[app.alpha]).await;
    set_hash(&app, id, &hash_at(10).await).await;
    assert_eq!(app.login("race@example.com", PASSWORD).await.status(), 200);
    // Changed by SQL once the answer is in; whether the upgrade landed before this (then it is
    // overwritten here) or comes after (then its compare-and-set fails), this hash stays.
    let other = bcrypt::hash("another-password-1", 4).unwrap();
    set_hash(&app, id, &other).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(stored_hash(&app, id).await, other);
    assert_eq!(
        app.login("race@example.com", "another-password-1")
            .await
            .status(),
        200
    );
}
