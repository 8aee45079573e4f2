//! Authentication by access key, its cache, and the 5-second cut-off.

use crate::helpers::*;
use jive_svc::auth;
use reqwest::Method;
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn missing_unknown_and_inactive_keys_get_401() {
    let app = spawn_app().await;
    let (_, inactive) = app
        .seed(ORG, "off@example.com", json!({"IsAdmin":"admin"}))
        .await;
    {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use jive_svc::db::schema::users;
        let mut conn = app.state.core.db.conn().await.unwrap();
        diesel::update(users::table.filter(users::access_key.eq(&inactive)))
            .set(users::active.eq(false))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let id = format!("/api/users/{}", app.admin_id);
    for key in [
        None,
        Some(""),
        Some("   "),
        Some("0cf5e6c37add465a406f19807c081765"),
        Some(inactive.as_str()),
        Some("Bearer "),
        Some(&format!("Basic {ADMIN_KEY}")),
    ] {
        for (method, path) in [
            (Method::GET, "/api/users"),
            (Method::POST, "/api/users"),
            (Method::GET, id.as_str()),
            (Method::PUT, id.as_str()),
            (Method::DELETE, id.as_str()),
        ] {
            let body = (method != Method::GET).then(|| json!({"email_address":"a@b.co"}));
            let res = app.call(method.clone(), key, path, body).await;
            assert_eq!(res.status, 401, "{key:?} {method} {path}");
            assert_eq!(res.body, error(NOT_AUTHORISED));
        }
    }
}

#[tokio::test]
async fn the_key_is_accepted_raw_or_as_bearer() {
    let app = spawn_app().await;
    for key in [
        ADMIN_KEY.to_owned(),
        format!("Bearer {ADMIN_KEY}"),
        format!("bearer {ADMIN_KEY}"),
    ] {
        let res = app.get(&key, "/api/users").await;
        assert_eq!(res.status, 200, "{key}");
    }
}

#[tokio::test]
async fn users_without_permissions_are_refused_everything() {
    let app = spawn_app().await;
    let (id, key) = app.seed(ORG, "none@example.com", json!({})).await;
    let (_, deny) = app
        .seed(ORG, "deny@example.com", json!({"users":"deny"}))
        .await;
    for key in [&key, &deny] {
        for res in [
            app.get(key, "/api/users").await,
            app.get(key, "/api/users?p=1").await,
            app.get(key, &format!("/api/users/{id}")).await,
            app.put(key, &format!("/api/users/{id}"), json!({})).await,
        ] {
            assert_eq!(res.status, 403);
            assert_eq!(res.body, error(DENIED));
        }
    }
}

/// Polls `url` with `key` until it answers 401; returns how long that took.
async fn time_until_refused(http: &reqwest::Client, url: &str, key: &str) -> Duration {
    let started = Instant::now();
    loop {
        let res = send(http, Method::GET, Some(key), url, None).await;
        if res.status == 401 {
            return started.elapsed();
        }
        assert_eq!(res.status, 200);
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "key still works after 6 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn deactivation_cuts_the_key_off_here_at_once_and_on_other_replicas_within_5_s() {
    let app = spawn_app().await;
    let (replica, _state) = spawn_replica(&app).await;
    let (id, key) = app
        .seed(ORG, "soon-off@example.com", json!({"users":"read"}))
        .await;
    // Both replicas have the key cached.
    assert_eq!(app.get(&key, "/api/users").await.status, 200);
    let other = replica.url("/api/users");
    assert_eq!(
        send(&app.http, Method::GET, Some(&key), &other, None)
            .await
            .status,
        200
    );

    let res = app
        .put(
            ADMIN_KEY,
            &format!("/api/users/{id}"),
            json!({"active":false}),
        )
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["active"], false);
    let here = app.get(&key, "/api/users").await;
    assert_eq!(
        here.status, 401,
        "the writing replica forgets the key at once"
    );
    let elapsed = time_until_refused(&app.http, &other, &key).await;
    assert!(elapsed <= Duration::from_secs(5), "{elapsed:?}");

    // Reactivated, it works again (within the same bound).
    app.put(
        ADMIN_KEY,
        &format!("/api/users/{id}"),
        json!({"active":true}),
    )
    .await;
    assert_eq!(app.get(&key, "/api/users").await.status, 200);
}

#[tokio::test]
async fn deletion_cuts_the_key_off_within_5_s() {
    let app = spawn_app().await;
    let (replica, _state) = spawn_replica(&app).await;
    let (id, key) = app
        .seed(ORG, "soon-gone@example.com", json!({"users":"write"}))
        .await;
    let other = replica.url("/api/users");
    assert_eq!(app.get(&key, "/api/users").await.status, 200);
    assert_eq!(
        send(&app.http, Method::GET, Some(&key), &other, None)
            .await
            .status,
        200
    );
    assert_eq!(
        app.delete(ADMIN_KEY, &format!("/api/users/{id}"))
            .await
            .status,
        200
    );
    assert_eq!(app.get(&key, "/api/users").await.status, 401);
    let elapsed = time_until_refused(&app.http, &other, &key).await;
    assert!(elapsed <= Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test]
async fn permission_changes_apply_at_once_on_the_writing_replica() {
    let app = spawn_app().await;
    let (id, key) = app
        .seed(ORG, "promote@example.com", json!({"users":"read"}))
        .await;
    let new = json!({"email_address":"n@example.com"});
    assert_eq!(app.post(&key, "/api/users", new.clone()).await.status, 403);
    app.put(
        ADMIN_KEY,
        &format!("/api/users/{id}"),
        json!({"user_permissions":{"users":"write"}}),
    )
    .await;
    assert_eq!(app.post(&key, "/api/users", new).await.status, 200);
}

/// The cost of authenticating a request: a cached key vs a database look-up. Prints the
/// figures (`cargo test -p jive-svc -- --nocapture auth_cost`) and checks the cache is the
/// cheaper path by a wide margin.
#[tokio::test]
async fn auth_cost_cached_vs_database() {
    let app = spawn_app().await;
    let state = &app.state;
    assert!(auth::lookup(state, ADMIN_KEY).await.unwrap().is_some());

    const DB_ROUNDS: u32 = 500;
    let started = Instant::now();
    for _ in 0..DB_ROUNDS {
        state.forget_key(ADMIN_KEY);
        assert!(auth::lookup(state, ADMIN_KEY).await.unwrap().is_some());
    }
    let per_db = started.elapsed() / DB_ROUNDS;

    const CACHED_ROUNDS: u32 = 50_000;
    let started = Instant::now();
    for _ in 0..CACHED_ROUNDS {
        assert!(auth::lookup(state, ADMIN_KEY).await.unwrap().is_some());
    }
    let per_cached = started.elapsed() / CACHED_ROUNDS;

    // Whole requests: a GET of one user, with the key cached vs forgotten before each request.
    const HTTP_ROUNDS: u32 = 300;
    let path = format!("/api/users/{}", app.admin_id);
    let started = Instant::now();
    for _ in 0..HTTP_ROUNDS {
        assert_eq!(app.get(ADMIN_KEY, &path).await.status, 200);
    }
    let per_request_cached = started.elapsed() / HTTP_ROUNDS;
    let started = Instant::now();
    for _ in 0..HTTP_ROUNDS {
        state.forget_key(ADMIN_KEY);
        assert_eq!(app.get(ADMIN_KEY, &path).await.status, 200);
    }
    let per_request_uncached = started.elapsed() / HTTP_ROUNDS;

    println!(
        "jive auth cost: cached look-up {per_cached:?}, database look-up {per_db:?} \
         ({:.0}x); GET /api/users/{{id}}: {per_request_cached:?} with a cached key, \
         {per_request_uncached:?} with a database look-up",
        per_db.as_secs_f64() / per_cached.as_secs_f64().max(1e-9)
    );
    assert!(
        per_cached * 10 < per_db,
        "cached {per_cached:?} vs db {per_db:?}"
    );
}
