use crate::helpers::*;
use serde_json::json;
use std::time::{Duration, Instant};
use test_support::json;

#[tokio::test]
async fn login_returns_a_bearer_token_in_data() {
    let app = spawn_app().await;
    let res = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 200);
    let body = json(res).await;
    let token = body["data"]["access_token"].as_str().unwrap().to_owned();
    assert_eq!(token.split('.').count(), 3);
    assert_eq!(
        body,
        json!({"data":{"access_token": token, "token_type":"Bearer","expires_in":3600}})
    );
    // The email matches case-insensitively.
    let res = app.login("ADMIN@Example.com", ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 200);
    let res = app.get(&token, &users_path(app.alpha)).await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn wrong_credentials_are_401_and_missing_fields_422() {
    let app = spawn_app().await;
    for (email, password) in [
        (ADMIN_EMAIL, "wrong-password"),
        ("nobody@example.com", ADMIN_PASSWORD),
    ] {
        let res = app.login(email, password).await;
        assert_eq!(res.status(), 401);
        assert_eq!(json(res).await, message("Invalid credentials."));
    }
    let res = app
        .http
        .post(app.url("/api/internal/v1/auth/login"))
        .json(&json!({"email": " "}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(
        json(res).await,
        json!({"message":"The given data was invalid.","errors":{
            "email":["The email field is required."],
            "password":["The password field is required."]}})
    );
}

#[tokio::test]
async fn failed_logins_are_throttled_per_account_and_address() {
    let app = spawn_app_with(&[("LOGIN_MAX_FAILURES", "3")]).await;
    for _ in 0..3 {
        assert_eq!(app.login(ADMIN_EMAIL, "wrong-password").await.status(), 401);
    }
    let res = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 429, "even the right password waits");
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(json(res).await, message("Too Many Attempts."));
    // Another account from the same address is not affected.
    app.seed_user("other@example.com", &[], &[app.alpha]).await;
    assert_eq!(app.login("other@example.com", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn missing_or_bad_tokens_are_401() {
    let app = spawn_app().await;
    let path = users_path(app.alpha);
    let res = app.http.get(app.url(&path)).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(json(res).await, message("Unauthenticated."));
    let token = app.admin_token().await;
    let mut tampered = token.clone();
    tampered.pop();
    tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
    // A token of another service signed with the same secret is refused by its audience.
    let other =
        user_core::jwt::JwtKeys::new("agency-svc", test_support::TEST_JWT_SECRET.as_bytes(), 60)
            .issue("1", json!({}))
            .unwrap()
            .token;
    for bad in ["garbage", tampered.as_str(), other.as_str()] {
        let res = app.get(bad, &path).await;
        assert_eq!(res.status(), 401, "{bad}");
        assert_eq!(json(res).await, message("Unauthenticated."));
    }
}

/// Polls `path` with `token` until it answers `status`, for at most 5 seconds.
async fn answers_within_5s(app: &TestApp, token: &str, path: &str, status: u16) -> Duration {
    let started = Instant::now();
    loop {
        let got = app.get(token, path).await.status().as_u16();
        if got == status {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still {got} after 5 s, expected {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_deleted_users_token_is_refused_within_5_seconds() {
    let app = spawn_app().await;
    let (id, token) = app.caller("gone@example.com", MANAGER, &[app.alpha]).await;
    let path = users_path(app.alpha);
    assert_eq!(app.get(&token, &path).await.status(), 200);
    // Deleted behind the service's back (as another replica would): the cache expires.
    app.sql(&format!("DELETE FROM users WHERE id = {id}")).await;
    answers_within_5s(&app, &token, &path, 401).await;
    assert_eq!(
        json(app.get(&token, &path).await).await,
        message("Unauthenticated.")
    );
}

#[tokio::test]
async fn a_user_deleted_through_the_api_loses_access_at_once() {
    let app = spawn_app().await;
    let (id, token) = app.caller("gone@example.com", MANAGER, &[app.alpha]).await;
    let path = users_path(app.alpha);
    assert_eq!(app.get(&token, &path).await.status(), 200);
    let admin = app.admin_token().await;
    assert_eq!(
        app.delete(&admin, &user_path(app.alpha, id)).await.status(),
        200
    );
    assert_eq!(app.get(&token, &path).await.status(), 401);
}

#[tokio::test]
async fn changed_permissions_apply_within_5_seconds() {
    let app = spawn_app().await;
    let (id, token) = app
        .caller("reader@example.com", &["users.read"], &[app.alpha])
        .await;
    let path = users_path(app.alpha);
    assert_eq!(app.get(&token, &path).await.status(), 200);
    app.sql(&format!(
        "UPDATE users SET permissions = '{{}}' WHERE id = {id}"
    ))
    .await;
    answers_within_5s(&app, &token, &path, 403).await;
    // A membership removed elsewhere also applies.
    app.sql(&format!(
        "UPDATE users SET permissions = '{{users.read}}' WHERE id = {id}; \
         INSERT INTO memberships (partner_id, user_id) VALUES ({}, {id})",
        app.beta
    ))
    .await;
    answers_within_5s(&app, &token, &users_path(app.beta), 200).await;
    app.sql(&format!(
        "DELETE FROM memberships WHERE user_id = {id} AND partner_id = {}",
        app.beta
    ))
    .await;
    answers_within_5s(&app, &token, &users_path(app.beta), 403).await;
}

#[tokio::test]
async fn bootstrap_is_idempotent_and_the_admin_holds_everything() {
    let app = spawn_app().await;
    let config = partner_svc::Config {
        bootstrap_partners: Some("Alpha,Beta,Gamma".into()),
        bootstrap_admin_email: Some(ADMIN_EMAIL.into()),
        bootstrap_admin_password: Some(user_core::Secret::new("another-password")),
    };
    partner_svc::bootstrap::apply(&app.state, &config)
        .await
        .unwrap();
    let users = app.stored_users().await;
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].1, ADMIN_EMAIL);
    assert_eq!(
        users[0].3,
        ALL.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()
    );
    assert!(
        bcrypt::verify(ADMIN_PASSWORD, &users[0].2).unwrap(),
        "kept its password"
    );
    let id = partner_svc::admin::create_partner(&app.state.core.db, " Delta ")
        .await
        .unwrap();
    assert!(id > app.beta + 1, "Gamma came first");
    assert!(
        partner_svc::admin::create_partner(&app.state.core.db, "Delta")
            .await
            .is_err()
    );
    let token = app.admin_token().await;
    assert_eq!(app.get(&token, &users_path(id)).await.status(), 200);
}
