//! Login, password reset, the caller's own user, authentication and throttling.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;
use test_support::json;
use virtool_svc::Config;

#[tokio::test]
async fn login_gives_a_bearer_token_and_account_shows_the_caller() {
    let app = spawn_app().await;
    let res = app.login(ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body = json(res).await;
    let token = body["token"].as_str().unwrap().to_owned();
    assert_eq!(
        body,
        json!({"token": token, "token_type": "Bearer", "expires_in": 3600})
    );
    let stored = app.stored_user(ADMIN).await.unwrap();
    let res = app.get(&token, "/api/account").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        json(res).await,
        user_json(
            ADMIN,
            &["administrator"],
            all_perms(),
            "administrator",
            false,
            &timestamp(stored.2)
        )
    );
}

#[tokio::test]
async fn account_needs_no_permission() {
    let app = spawn_app().await;
    app.add_user("fred", &[]).await;
    let token = app.token_for("fred", PASSWORD).await;
    let res = app.get(&token, "/api/account").await;
    assert_eq!(res.status(), 200);
    let body = json(res).await;
    assert_eq!(body["id"], "fred");
    assert_eq!(body["permissions"], perms(&[]));
    assert_eq!(body["groups"], json!([]));
}

#[tokio::test]
async fn bad_credentials_are_one_answer_for_unknown_users_and_wrong_passwords() {
    let app = spawn_app().await;
    for (user, password) in [
        (ADMIN, "wrong-password"),
        ("nobody", ADMIN_PASSWORD),
        ("no/body", ADMIN_PASSWORD),
        ("", "x"),
    ] {
        let res = app.login(user, password).await;
        assert_eq!(res.status(), 400, "{user}");
        assert_eq!(
            json(res).await,
            error("bad_request", "Invalid username or password")
        );
    }
}

#[tokio::test]
async fn login_input_is_checked_field_by_field() {
    let app = spawn_app().await;
    let res = app
        .send(
            Method::POST,
            "",
            "/api/account/login",
            &json!({"username": 1, "extra": true}),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        json(res).await,
        invalid(json!({
            "username": ["must be of string type"],
            "password": ["required field"],
            "extra": ["unknown field"],
        }))
    );
    let res = app
        .send(
            Method::POST,
            "",
            "/api/account/login",
            &json!({"username": ADMIN, "password": ADMIN_PASSWORD, "remember": true}),
        )
        .await;
    assert_eq!(res.status(), 200, "remember is accepted");
}

async fn reset_code(app: &TestApp, user: &str, password: &str) -> String {
    let res = app.login(user, password).await;
    assert_eq!(res.status(), 200);
    let body = json(res).await;
    let code = body["reset_code"].as_str().unwrap().to_owned();
    assert_eq!(body, json!({"reset": true, "reset_code": code}));
    assert!(code.len() >= 32, "{code}");
    code
}

async fn reset(app: &TestApp, password: &str, code: &str) -> reqwest::Response {
    app.send(
        Method::POST,
        "",
        "/api/account/reset",
        &json!({"password": password, "reset_code": code}),
    )
    .await
}

#[tokio::test]
async fn force_reset_login_reset_login_with_a_single_use_code() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let res = app
        .send(
            Method::POST,
            &admin,
            "/api/users",
            &json!({"user_id": "bill", "password": "foobar12"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let before = app.stored_user("bill").await.unwrap();
    assert!(before.0, "force_reset defaults to true");

    let code = reset_code(&app, "bill", "foobar12").await;
    // The old password alone never gives a token while a reset is due.
    let again = reset_code(&app, "bill", "foobar12").await;
    assert_ne!(code, again);
    // A new login replaced the first code.
    let res = reset(&app, "new-password-1", &code).await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        json(res).await,
        error("bad_request", "Invalid or expired reset code")
    );

    let res = reset(&app, "new-password-1", &again).await;
    assert_eq!(res.status(), 200);
    let body = json(res).await;
    let token = body["token"].as_str().unwrap().to_owned();
    assert_eq!(
        body,
        json!({"token": token, "token_type": "Bearer", "expires_in": 3600})
    );
    let after = app.stored_user("bill").await.unwrap();
    assert!(!after.0, "force_reset cleared");
    assert!(after.2 > before.2, "last_password_change moved");
    let res = app.get(&token, "/api/account").await;
    assert_eq!(json(res).await["force_reset"], false);

    // Single use.
    let res = reset(&app, "another-password", &again).await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        json(res).await,
        error("bad_request", "Invalid or expired reset code")
    );
    // The old password is gone, the new one logs in with a token.
    assert_eq!(app.login("bill", "foobar12").await.status(), 400);
    app.token_for("bill", "new-password-1").await;
}

#[tokio::test]
async fn reset_codes_expire_after_ten_minutes() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.send(
        Method::POST,
        &admin,
        "/api/users",
        &json!({"user_id": "bill", "password": "foobar12"}),
    )
    .await;
    let code = reset_code(&app, "bill", "foobar12").await;
    let expiry: Vec<f64> = {
        use diesel_async::RunQueryDsl;
        let mut conn = app.db.conn("virtool").await;
        diesel::sql_query(
            "SELECT extract(epoch FROM expires_at - now())::float8 AS secs FROM reset_codes",
        )
        .load::<Secs>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.secs)
        .collect()
    };
    assert_eq!(expiry.len(), 1);
    assert!((590.0..=600.5).contains(&expiry[0]), "{expiry:?}");
    app.execute("UPDATE reset_codes SET expires_at = now() - interval '1 second'")
        .await;
    let res = reset(&app, "new-password-1", &code).await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        json(res).await,
        error("bad_request", "Invalid or expired reset code")
    );
    assert!(app.stored_user("bill").await.unwrap().0, "still due");
}

#[derive(diesel::QueryableByName)]
struct Secs {
    #[diesel(sql_type = diesel::sql_types::Double)]
    secs: f64,
}

#[tokio::test]
async fn reset_input_is_checked_before_the_code_is_used() {
    let app = spawn_app_with(
        &[],
        Config {
            minimum_password_length: 12,
            ..Config::default()
        },
    )
    .await;
    let admin = app.admin_token().await;
    app.send(
        Method::POST,
        &admin,
        "/api/users",
        &json!({"user_id": "bill", "password": "foobar123456"}),
    )
    .await;
    let code = reset_code(&app, "bill", "foobar123456").await;
    let res = reset(&app, "short-pass", &code).await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        json(res).await,
        invalid(json!({"password": ["min length is 12"]}))
    );
    let res = app
        .send(
            Method::POST,
            "",
            "/api/account/reset",
            &json!({"password": "x".repeat(73), "code": 1}),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        json(res).await,
        invalid(json!({
            "password": ["max length is 72 bytes"],
            "reset_code": ["required field"],
            "code": ["unknown field"],
        }))
    );
    // The code survived the refused attempts.
    assert_eq!(
        reset(&app, "long-enough-password", &code).await.status(),
        200
    );
}

#[tokio::test]
async fn calls_without_a_valid_token_are_refused() {
    let app = spawn_app().await;
    let expected = error("requires_authorization", "Requires authorization");
    let res = app.http.get(app.url("/api/account")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(json(res).await, expected);
    let pwc = app.stored_user(ADMIN).await.unwrap().2.timestamp_micros();
    let made = |service: &str, key: &[u8], pwc: i64| {
        user_core::jwt::JwtKeys::new(service, key, 3600)
            .issue(ADMIN, virtool_svc::auth::TokenClaims { pwc })
            .unwrap()
            .token
    };
    let secret = test_support::TEST_JWT_SECRET.as_bytes();
    // A token made the same way for this service is accepted: each one below fails for its one
    // difference.
    let good = made("virtool-svc", secret, pwc);
    assert_eq!(app.get(&good, "/api/users").await.status(), 200);
    let other_service = made("agency-svc", secret, pwc);
    let wrong_key = made("virtool-svc", &[7u8; 32], pwc);
    let stale = made("virtool-svc", secret, pwc - 1);
    for token in ["garbage", "a.b.c", &other_service, &wrong_key, &stale] {
        for path in ["/api/account", "/api/users", "/api/groups"] {
            let res = app.get(token, path).await;
            assert_eq!(res.status(), 401, "{path}");
            assert_eq!(json(res).await, expected);
        }
    }
    let res = app
        .http
        .get(app.url("/api/users"))
        .header("authorization", "Basic YWRtaW46eA==")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn failed_logins_are_throttled_per_account_and_address() {
    let app = spawn_app_with(&[("LOGIN_MAX_FAILURES", "3")], Config::default()).await;
    for _ in 0..3 {
        assert_eq!(app.login(ADMIN, "wrong-password").await.status(), 400);
    }
    let res = app.login(ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 429);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 0 && wait <= 900, "{wait}");
    assert_eq!(
        json(res).await,
        error("too_many_requests", "Too many requests")
    );
    // Another account from the same address is not affected.
    app.add_user("fred", &[]).await;
    app.token_for("fred", PASSWORD).await;
}

#[tokio::test]
async fn a_new_password_ends_the_tokens_issued_before_it() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.add_user("fred", &[]).await;
    let before = app.token_for("fred", PASSWORD).await;
    assert_eq!(app.get(&before, "/api/account").await.status(), 200);
    let res = app
        .send(
            Method::PATCH,
            &admin,
            "/api/users/fred",
            &json!({"password": "new-password-1"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app.get(&before, "/api/account").await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        json(res).await,
        error("requires_authorization", "Requires authorization")
    );
    let after = app.token_for("fred", "new-password-1").await;
    assert_eq!(app.get(&after, "/api/account").await.status(), 200);
    // Other changes leave tokens alone.
    let res = app
        .send(
            Method::PATCH,
            &admin,
            "/api/users/fred",
            &json!({"force_reset": false}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get(&after, "/api/account").await.status(), 200);
    // A change made elsewhere reaches this process within 5 s.
    app.execute("UPDATE users SET last_password_change = now() WHERE id = 'fred'")
        .await;
    let started = std::time::Instant::now();
    while app.get(&after, "/api/account").await.status() != 401 {
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // The admin's own token was never affected.
    assert_eq!(app.get(&admin, "/api/users/fred").await.status(), 200);
}

#[tokio::test]
async fn a_reset_ends_older_tokens_and_its_own_token_works() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.add_user("fred", &[]).await;
    let old = app.token_for("fred", PASSWORD).await;
    app.send(
        Method::PATCH,
        &admin,
        "/api/users/fred",
        &json!({"force_reset": true}),
    )
    .await;
    assert_eq!(app.get(&old, "/api/account").await.status(), 200);
    let code = reset_code(&app, "fred", PASSWORD).await;
    let res = reset(&app, "new-password-1", &code).await;
    let new = json(res).await["token"].as_str().unwrap().to_owned();
    assert_eq!(app.get(&old, "/api/account").await.status(), 401);
    assert_eq!(app.get(&new, "/api/account").await.status(), 200);
}
