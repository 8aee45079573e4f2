//! Issue 8, item 8 (input limits): oversized fields, NUL bytes, invalid UTF-8, deeply nested
//! JSON, numbers where strings are expected and huge or odd path ids are each answered with
//! the API's documented 4xx (422 in Laravel's validation shape naming the field, 400
//! `Malformed JSON.` for a body that is not JSON, 404 `Not found.` for an id), never 5xx, and
//! nothing is stored: every stored user (email, password hash, permissions), the memberships
//! and the list answers are the same before and after. See docs/security.md.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: failing loudly is the point

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use helpers::{spawn_app, user_path, users_path, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

use test_support::hostile::{body_cases, field_cases, LONG};

async fn raw(
    app: &TestApp,
    method: Method,
    token: &str,
    path: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let request = app.http.request(method, app.url(path)).bearer_auth(token);
    test_support::hostile::send(request, body).await
}

type Snapshot = (
    Vec<(i64, String, String, Vec<String>)>,
    Vec<Vec<i64>>,
    Vec<Value>,
);

async fn snapshot(app: &TestApp, token: &str) -> Snapshot {
    let users = app.stored_users().await;
    let mut memberships = Vec::new();
    for user in &users {
        memberships.push(app.memberships(user.0).await);
    }
    let mut lists = Vec::new();
    for partner in [app.alpha, app.beta] {
        let res = app.get(token, &users_path(partner)).await;
        assert_eq!(res.status(), 200);
        lists.push(test_support::json(res).await);
    }
    (users, memberships, lists)
}

#[tokio::test]
async fn hostile_bodies_are_4xx_and_store_nothing() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let target = app
        .seed_user("kari@example.com", &["users.read"], &[app.alpha])
        .await;
    let before = snapshot(&app, &token).await;
    let create = json!({"first_name":"Ola","last_name":"Nordmann","email":"ola@example.com",
                        "password":"secret-pw-1","permissions":["users.read"]});
    let update = json!({"first_name":"Ola","last_name":"Nordmann","email":"ola@example.com",
                        "new_password":"secret-pw-2","new_password_confirmation":"secret-pw-2",
                        "permissions":["users.read"]});
    let targets = [
        (Method::POST, users_path(app.alpha), create),
        (Method::PUT, user_path(app.alpha, target), update),
    ];
    let mut tried = 0;
    for (method, path, good) in &targets {
        for (what, field, body) in field_cases(good) {
            let context = format!("{method} {path} with {what}");
            let (status, answer) = raw(&app, method.clone(), &token, path, body).await;
            assert_eq!(status, 422, "{context}: {answer}");
            assert_eq!(
                answer["message"], "The given data was invalid.",
                "{context}"
            );
            // The confirmation is checked as part of `new_password`.
            let named = if field == "new_password_confirmation" {
                "new_password"
            } else {
                field.as_str()
            };
            let errors = answer["errors"].as_object().unwrap();
            assert!(
                errors
                    .keys()
                    .any(|k| k == named || k.starts_with(&format!("{named}."))),
                "{context}: {answer}"
            );
            tried += 1;
        }
        for (what, body) in body_cases(good) {
            let context = format!("{method} {path} with {what}");
            let (status, answer) = raw(&app, method.clone(), &token, path, body).await;
            assert_eq!(status, 400, "{context}: {answer}");
            assert_eq!(answer, json!({"message": "Malformed JSON."}), "{context}");
            tried += 1;
        }
    }
    for (what, body) in body_cases(&json!({"email":"kari@example.com","password":"x"})) {
        let (status, answer) =
            raw(&app, Method::POST, "", "/api/internal/v1/auth/login", body).await;
        assert_eq!(status, 400, "login with {what}: {answer}");
        assert_eq!(
            answer,
            json!({"message": "Malformed JSON."}),
            "login with {what}"
        );
        tried += 1;
    }
    assert_eq!(tried, 25 + 4 + 30 + 4 + 4, "cases tried");
    assert_eq!(snapshot(&app, &token).await, before, "something was stored");
}

#[tokio::test]
async fn hostile_path_ids_are_404() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let target = app
        .seed_user("kari@example.com", &["users.read"], &[app.alpha])
        .await;
    let before = snapshot(&app, &token).await;
    let alpha = app.alpha;
    let ids = [
        "99999999999999999999999999999999".to_owned(),
        "9223372036854775808".to_owned(),
        "-1".to_owned(),
        "0".to_owned(),
        "1e3".to_owned(),
        "0x10".to_owned(),
        "%00".to_owned(),
        format!("{target}%2F"),
        "x".repeat(LONG),
    ];
    let base = "/api/internal/v1/partners";
    let mut paths = Vec::new();
    for id in &ids {
        paths.push((Method::GET, format!("{base}/{id}/users")));
        paths.push((Method::POST, format!("{base}/{id}/users")));
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            paths.push((method.clone(), format!("{base}/{id}/users/{target}")));
            paths.push((method, format!("{base}/{alpha}/users/{id}")));
        }
        paths.push((Method::GET, format!("{base}/{alpha}/users/{id}/partners")));
    }
    for (method, path) in &paths {
        let body = serde_json::to_vec(&json!({"first_name":"X","last_name":"Y",
            "email":"new@example.com","password":"secret-pw-1"}))
        .unwrap();
        let (status, answer) = raw(&app, method.clone(), &token, path, body).await;
        let context = format!("{method} {}", &path[..path.len().min(90)]);
        assert_eq!(status, 404, "{context}: {answer}");
        assert_eq!(answer, json!({"message": "Not found."}), "{context}");
    }
    assert_eq!(snapshot(&app, &token).await, before, "something was stored");
}
