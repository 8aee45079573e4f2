//! Issue 8, item 8 (input limits): oversized fields, NUL bytes, invalid UTF-8, deeply nested
//! JSON, numbers where strings are expected and huge or odd path ids are each answered with
//! Tyk's documented 4xx (400 `{"Status":"Error","Message":…}` naming the field or the
//! malformed body, 404 `Could not retrieve user detail.` for an id), never 5xx, and nothing is
//! stored: the list, the user count and the target's password hash are the same before and
//! after. See docs/security.md.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: failing loudly is the point

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use helpers::{spawn_app, TestApp, ADMIN_KEY, NO_USER};
use reqwest::Method;
use serde_json::{json, Value};

use test_support::hostile::{body_cases, field_cases, LONG};

async fn raw(app: &TestApp, method: Method, path: &str, body: Vec<u8>) -> (u16, Value) {
    let request = app
        .http
        .request(method, app.url(path))
        .header("authorization", ADMIN_KEY);
    test_support::hostile::send(request, body).await
}

async fn snapshot(app: &TestApp, target: &str) -> (Value, i64, String, Value) {
    let list = app.get(ADMIN_KEY, "/api/users").await;
    assert_eq!(list.status, 200);
    let user = app.get(ADMIN_KEY, &format!("/api/users/{target}")).await;
    assert_eq!(user.status, 200);
    (
        list.body,
        app.user_count().await,
        app.password_hash(target).await,
        user.body,
    )
}

fn assert_error(answer: &Value, context: &str) -> String {
    assert_eq!(answer["Status"], "Error", "{context}: {answer}");
    answer["Message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn hostile_bodies_are_400_and_store_nothing() {
    let app = spawn_app().await;
    let target = app
        .create(
            ADMIN_KEY,
            json!({"first_name":"Kari","last_name":"Nordmann","email_address":"kari@example.com","password":"secret-pw-1"}),
        )
        .await;
    let before = snapshot(&app, &target).await;
    let create = json!({"first_name":"Ola","last_name":"Nordmann","email_address":"ola@example.com","password":"secret-pw-1"});
    // PUT ignores `password` (it changes only through the reset action).
    let update =
        json!({"first_name":"Ola","last_name":"Nordmann","email_address":"ola@example.com"});
    let reset = json!({"new_password":"secret-pw-2"});
    let targets = [
        (Method::POST, "/api/users".to_owned(), create),
        (Method::PUT, format!("/api/users/{target}"), update),
        (
            Method::POST,
            format!("/api/users/{target}/actions/reset"),
            reset,
        ),
    ];
    let mut tried = 0;
    for (method, path, good) in &targets {
        for (what, field, body) in field_cases(good) {
            let context = format!("{method} {path} with {what}");
            let (status, answer) = raw(&app, method.clone(), path, body).await;
            assert_eq!(status, 400, "{context}: {answer}");
            let message = assert_error(&answer, &context).to_lowercase();
            let named = if field == "new_password" {
                "password"
            } else {
                field.as_str()
            };
            assert!(message.contains(named), "{context}: {message}");
            tried += 1;
        }
        for (what, body) in body_cases(good) {
            let context = format!("{method} {path} with {what}");
            let (status, answer) = raw(&app, method.clone(), path, body).await;
            assert_eq!(status, 400, "{context}: {answer}");
            assert_eq!(
                assert_error(&answer, &context),
                "Malformed request body: not valid JSON",
                "{context}"
            );
            tried += 1;
        }
    }
    assert_eq!(tried, 20 + 4 + 15 + 4 + 5 + 4, "cases tried");
    assert_eq!(
        snapshot(&app, &target).await,
        before,
        "something was stored"
    );
}

#[tokio::test]
async fn hostile_path_ids_are_404() {
    let app = spawn_app().await;
    let target = app
        .create(
            ADMIN_KEY,
            json!({"first_name":"Kari","last_name":"Nordmann","email_address":"kari@example.com","password":"secret-pw-1"}),
        )
        .await;
    let before = snapshot(&app, &target).await;
    let ids = [
        "99999999999999999999999999999999".to_owned(),
        "-1".to_owned(),
        "1e3".to_owned(),
        "%00".to_owned(),
        format!("{target}%2F"),
        format!("{target}%2Fx"),
        format!("x%2F{target}"),
        "..%2F..%2Fapi%2Fusers".to_owned(),
        "x".repeat(LONG),
    ];
    for id in &ids {
        for (method, path) in [
            (Method::GET, format!("/api/users/{id}")),
            (Method::PUT, format!("/api/users/{id}")),
            (Method::DELETE, format!("/api/users/{id}")),
            (Method::POST, format!("/api/users/{id}/actions/reset")),
        ] {
            let body = serde_json::to_vec(&json!({"first_name":"X","new_password":"secret-pw-3"}))
                .unwrap();
            let (status, answer) = raw(&app, method.clone(), &path, body).await;
            let context = format!("{method} {}", &path[..path.len().min(80)]);
            assert_eq!(status, 404, "{context}: {answer}");
            assert_eq!(assert_error(&answer, &context), NO_USER, "{context}");
        }
    }
    assert_eq!(
        snapshot(&app, &target).await,
        before,
        "something was stored"
    );
}
