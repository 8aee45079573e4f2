use crate::helpers::{spawn_app, spawn_app_with, CLIENT_ID, CLIENT_SECRET};
use serde_json::json;
use std::time::{Duration, Instant};
use test_support::json;

fn invalid_client() -> serde_json::Value {
    json!({"error":"invalid_client","error_description":"Client authentication failed","message":"Client authentication failed"})
}

#[tokio::test]
async fn client_credentials_as_json_give_a_bearer_token() {
    let app = spawn_app().await;
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .json(&json!({"grant_type":"client_credentials","client_id":CLIENT_ID,"client_secret":CLIENT_SECRET}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = json(res).await;
    let obj = body.as_object().unwrap();
    assert_eq!(obj.len(), 3, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3);
    assert!(!token.contains(CLIENT_SECRET));
    assert_eq!(app.get(token, "/agencies").await.status(), 200);
}

#[tokio::test]
async fn client_credentials_as_a_form_and_without_content_type() {
    let app = spawn_app().await;
    let form = format!(
        "grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}"
    );
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let raw = json!({"grant_type":"client_credentials","client_id":CLIENT_ID,"client_secret":CLIENT_SECRET}).to_string();
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "a body without Content-Type is read as JSON"
    );
}

#[tokio::test]
async fn bad_secret_unknown_client_and_missing_fields_are_401() {
    let app = spawn_app().await;
    for body in [
        json!({"grant_type":"client_credentials","client_id":CLIENT_ID,"client_secret":"wrong-secret"}),
        json!({"grant_type":"client_credentials","client_id":"nobody","client_secret":CLIENT_SECRET}),
        json!({"grant_type":"client_credentials","client_id":CLIENT_ID}),
        json!({"grant_type":"client_credentials"}),
    ] {
        let res = app
            .http
            .post(app.url("/oauth/token"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{body}");
        assert_eq!(json(res).await, invalid_client());
    }
}

#[tokio::test]
async fn other_grant_types_are_400_unsupported_grant_type() {
    let app = spawn_app().await;
    for body in [
        json!({"grant_type":"password","client_id":CLIENT_ID,"client_secret":CLIENT_SECRET}),
        json!({"client_id":CLIENT_ID,"client_secret":CLIENT_SECRET}),
    ] {
        let res = app
            .http
            .post(app.url("/oauth/token"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400);
        assert_eq!(
            json(res).await,
            json!({"error":"unsupported_grant_type",
                   "error_description":"The authorization grant type is not supported by the authorization server.",
                   "message":"The authorization grant type is not supported by the authorization server."})
        );
    }
}

#[tokio::test]
async fn malformed_and_unsupported_bodies() {
    let app = spawn_app().await;
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .header("content-type", "application/json")
        .body("{\"grant_type\":")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(json(res).await, json!({"message":"Malformed JSON."}));
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .header("content-type", "text/plain")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    assert_eq!(
        json(res).await,
        json!({"message":"Unsupported media type."})
    );
}

#[tokio::test]
async fn a_revoked_client_gets_no_token_and_its_tokens_stop_within_5_seconds() {
    let app = spawn_app().await;
    let token = app.token().await;
    assert_eq!(app.get(&token, "/agencies").await.status(), 200);
    {
        let mut conn = app.state.core.db.conn().await.unwrap();
        assert!(matches!(
            agency_svc::db::revoke_client(&mut conn, CLIENT_ID)
                .await
                .unwrap(),
            agency_svc::db::Revoked::Now { .. }
        ));
    }
    let revoked_at = Instant::now();
    loop {
        let res = app.get(&token, "/agencies").await;
        if res.status() == 401 {
            assert_eq!(json(res).await, json!({"message":"Unauthenticated."}));
            break;
        }
        assert!(
            revoked_at.elapsed() < Duration::from_secs(5),
            "still accepted after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .json(&json!({"grant_type":"client_credentials","client_id":CLIENT_ID,"client_secret":CLIENT_SECRET}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(json(res).await, invalid_client());
}

#[tokio::test]
async fn the_eleventh_bad_secret_in_a_burst_is_429_and_a_good_one_works_after_the_window() {
    let app = spawn_app_with(&[("LOGIN_WINDOW_SECONDS", "2")]).await;
    let bad = json!({"grant_type":"client_credentials","client_id":CLIENT_ID,"client_secret":"wrong-secret"});
    for _ in 0..10 {
        let res = app
            .http
            .post(app.url("/oauth/token"))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
    }
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(json(res).await, json!({"message":"Too Many Attempts."}));
    // Even the right secret waits for the window.
    let good = json!({"grant_type":"client_credentials","client_id":CLIENT_ID,"client_secret":CLIENT_SECRET});
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn bearer_tokens_are_checked() {
    let app = spawn_app().await;
    let unauthenticated = json!({"message":"Unauthenticated."});
    let res = app.http.get(app.url("/agencies")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(json(res).await, unauthenticated);
    for bad in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."] {
        let res = app.get(bad, "/agencies").await;
        assert_eq!(res.status(), 401, "{bad}");
        assert_eq!(json(res).await, unauthenticated);
    }
    // A token signed with another key.
    let other =
        user_core::jwt::JwtKeys::new("agency-svc", b"another-key-another-key-another-key", 60)
            .issue(CLIENT_ID, agency_svc::auth::TokenClaims { grp: 1 })
            .unwrap()
            .token;
    assert_eq!(app.get(&other, "/agencies").await.status(), 401);
    // A token for another service (audience).
    let partner =
        user_core::jwt::JwtKeys::new("partner-svc", test_support::TEST_JWT_SECRET.as_bytes(), 60)
            .issue(CLIENT_ID, agency_svc::auth::TokenClaims { grp: 1 })
            .unwrap()
            .token;
    assert_eq!(app.get(&partner, "/agencies").await.status(), 401);
}
