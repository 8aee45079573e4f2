//! Client secret hashes from elsewhere (`$2y$`, `$2a$`, another cost) are replaced by a `$2b$`
//! hash at `BCRYPT_COST` after a token was issued, by a compare-and-set; bootstrap leaves an
//! upgraded hash alone.

use crate::helpers::{spawn_app, TestApp, CLIENT_ID, CLIENT_SECRET};
use agency_svc::db::schema::api_clients;
use agency_svc::{db, Config, INFO};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use std::time::{Duration, Instant};
use user_core::db::Db;
use user_core::password::PasswordHasher;
use user_core::values::Password;
use user_core::Secret;

impl TestApp {
    async fn client_hash(&self) -> String {
        let mut conn = self.db.conn("agency").await;
        api_clients::table
            .find(CLIENT_ID)
            .select(api_clients::secret_hash)
            .first(&mut conn)
            .await
            .unwrap()
    }

    async fn set_client_hash(&self, hash: &str) {
        let mut conn = self.db.conn("agency").await;
        let n = diesel::update(api_clients::table.find(CLIENT_ID))
            .set(api_clients::secret_hash.eq(hash))
            .execute(&mut conn)
            .await
            .unwrap();
        assert_eq!(n, 1);
    }

    /// Polls the stored hash (up to 5 s) until it is a `$2b$` hash at the test cost (4).
    async fn upgraded_hash(&self) -> String {
        let start = Instant::now();
        loop {
            let hash = self.client_hash().await;
            if hash.starts_with("$2b$04$") {
                return hash;
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "not upgraded: {hash}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

fn secret() -> Password {
    Password::new(CLIENT_SECRET, 8).unwrap()
}

/// A `$2b$` hash of the client secret at the test cost, with `prefix` instead of `$2b$`.
async fn with_prefix(app: &TestApp, prefix: &str) -> String {
    let hash = app.state.core.hasher.hash(&secret()).await.unwrap();
    assert!(hash.starts_with("$2b$04$"), "{hash}");
    hash.replacen("$2b$", prefix, 1)
}

#[tokio::test]
async fn old_hashes_are_upgraded_after_a_token_is_issued() {
    let app = spawn_app().await;
    let cost_10 = PasswordHasher::new(10).hash(&secret()).await.unwrap();
    assert!(cost_10.starts_with("$2b$10$"), "{cost_10}");
    for old in [
        with_prefix(&app, "$2y$").await,
        with_prefix(&app, "$2a$").await,
        cost_10,
    ] {
        app.set_client_hash(&old).await;
        app.token().await; // 200 with the old hash
        let new = app.upgraded_hash().await;
        assert_ne!(new, old);
        assert!(
            app.state
                .core
                .hasher
                .verify(CLIENT_SECRET, Some(&new))
                .await,
            "the upgraded hash verifies the same secret"
        );
        app.token().await; // and still 200 with the new one
        assert_eq!(
            app.client_hash().await,
            new,
            "upgraded once, then left alone"
        );
    }
}

#[tokio::test]
async fn a_current_hash_is_not_rewritten() {
    let app = spawn_app().await;
    let before = app.client_hash().await;
    assert!(before.starts_with("$2b$04$"), "{before}");
    app.token().await;
    app.token().await;
    // Nothing to wait for: give a wrongly started upgrade time to land.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.client_hash().await, before, "byte-identical");
}

#[tokio::test]
async fn the_compare_and_set_leaves_a_changed_hash_alone() {
    let app = spawn_app().await;
    let stale = with_prefix(&app, "$2y$").await;
    let changed = app.client_hash().await; // the secret as changed meanwhile
    let fresh = app.state.core.hasher.hash(&secret()).await.unwrap();
    let mut conn = app.state.core.db.conn().await.unwrap();
    let stored = db::upgrade_client_secret_hash(&mut conn, CLIENT_ID, &stale, &fresh)
        .await
        .unwrap();
    assert!(!stored, "the stored hash is not the one that was verified");
    assert_eq!(app.client_hash().await, changed, "nothing changed");
    // With the hash that is stored, it replaces it.
    let stored = db::upgrade_client_secret_hash(&mut conn, CLIENT_ID, &changed, &fresh)
        .await
        .unwrap();
    assert!(stored);
    assert_eq!(app.client_hash().await, fresh);
    // An unknown client: nothing to replace.
    let stored = db::upgrade_client_secret_hash(&mut conn, "nobody", &fresh, &changed)
        .await
        .unwrap();
    assert!(!stored);
}

#[tokio::test]
async fn a_restart_after_an_upgrade_keeps_the_upgraded_hash() {
    let app = spawn_app().await;
    let old = with_prefix(&app, "$2y$").await;
    app.set_client_hash(&old).await;
    // A restart before any sign-in leaves the old hash too: it verifies the bootstrap secret.
    let restart = || async {
        let settings = test_support::settings(INFO, &app.db, &[]);
        let database = Db::new(&settings).unwrap();
        let state = agency_svc::state(settings, database).await.unwrap();
        let config = Config {
            bootstrap_agency_group: Some("Group One".into()),
            bootstrap_agencies: Some("Oslo,Bergen".into()),
            bootstrap_client_id: Some(CLIENT_ID.into()),
            bootstrap_client_secret: Some(Secret::new(CLIENT_SECRET)),
        };
        agency_svc::bootstrap::apply(&state, &config).await.unwrap();
    };
    restart().await;
    assert_eq!(app.client_hash().await, old, "bootstrap does not re-hash");
    app.token().await;
    let upgraded = app.upgraded_hash().await;
    restart().await;
    assert_eq!(
        app.client_hash().await,
        upgraded,
        "bootstrap keeps the upgraded hash"
    );
    app.token().await;
}
