//! Issue 8, item 8 (input limits): oversized fields, NUL bytes, invalid UTF-8, deeply nested
//! JSON, numbers where strings are expected and huge integers in path ids are each answered
//! with the API's documented 4xx (422 in Laravel's validation shape for a field, 400
//! `Malformed JSON.` for a body that is not JSON, 404 `Not found.` for an id), never 5xx, and
//! nothing is stored: the stored users (with their password hashes) and the list answers are
//! the same before and after. See docs/security.md.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: failing loudly is the point

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use helpers::{spawn_app, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

use test_support::hostile::{body_cases, field_cases};

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

/// What the client can see and what is stored.
async fn snapshot(app: &TestApp, token: &str) -> (Vec<(String, Option<String>)>, Vec<Value>) {
    let mut lists = Vec::new();
    for agency in &app.agencies {
        let res = app.get(token, &format!("/agency/{agency}/users")).await;
        assert_eq!(res.status(), 200);
        lists.push(test_support::json(res).await);
    }
    (app.stored_users().await, lists)
}

fn kari() -> Value {
    json!({"firstname":"Kari","lastname":"Nordmann","email":"kari@example.no","phone":"+47 12345678",
           "new_password":"secret-pw-1","new_password_confirmation":"secret-pw-1"})
}

#[tokio::test]
async fn hostile_bodies_are_4xx_and_store_nothing() {
    let app = spawn_app().await;
    let token = app.token().await;
    let agency = app.agencies[0];
    let res = app.create_user(&token, agency, &kari()).await;
    assert_eq!(res.status(), 201);
    let id = test_support::json(res).await["id"].as_i64().unwrap();
    let before = snapshot(&app, &token).await;
    let mut good = kari();
    good["email"] = json!("someone@example.no");
    let targets = [
        (Method::POST, format!("/agency/{agency}/user")),
        (Method::PATCH, format!("/agency/{agency}/user/{id}")),
    ];
    let mut tried = 0;
    for (method, path) in &targets {
        for (what, field, body) in field_cases(&good) {
            let (status, answer) = raw(&app, method.clone(), &token, path, body).await;
            // A NUL byte or a long value in a nullable field may be refused by another rule
            // of the same field (length, format); what matters is a 422 naming that field.
            assert_eq!(status, 422, "{method} {path} with {what}: {answer}");
            assert_eq!(answer["message"], "The given data was invalid.", "{what}");
            // `new_password_confirmation` is checked as part of `new_password`.
            let named = if field == "new_password_confirmation" {
                "new_password"
            } else {
                &field
            };
            assert!(
                answer["errors"][named].is_array(),
                "{method} {path} with {what}: {answer}"
            );
            tried += 1;
        }
        for (what, body) in body_cases(&good) {
            let (status, answer) = raw(&app, method.clone(), &token, path, body).await;
            assert_eq!(status, 400, "{method} {path} with {what}: {answer}");
            assert_eq!(answer, json!({"message": "Malformed JSON."}), "{what}");
            tried += 1;
        }
    }
    assert_eq!(tried, 68, "cases tried");
    assert_eq!(snapshot(&app, &token).await, before, "something was stored");
}

#[tokio::test]
async fn hostile_path_ids_are_404() {
    let app = spawn_app().await;
    let token = app.token().await;
    let agency = app.agencies[0];
    let before = snapshot(&app, &token).await;
    let huge = "99999999999999999999999999999999";
    let ids = [
        huge,
        "-1",
        "0",
        "1e3",
        "1.5",
        "0x10",
        "%00",
        "1%2F2",
        "9223372036854775808",
    ];
    let mut paths = Vec::new();
    for bad in ids {
        paths.push(format!("/agency/{bad}/users"));
        paths.push(format!("/agency/{bad}/user/1"));
        paths.push(format!("/agency/{agency}/user/{bad}"));
    }
    for path in &paths {
        for method in [Method::GET, Method::PATCH, Method::DELETE] {
            if method != Method::GET && path.ends_with("/users") {
                continue;
            }
            let body = serde_json::to_vec(&json!({"firstname": "X"})).unwrap();
            let (status, answer) = raw(&app, method.clone(), &token, path, body).await;
            assert_eq!(status, 404, "{method} {path}: {answer}");
            assert_eq!(answer, json!({"message": "Not found."}), "{method} {path}");
        }
    }
    assert_eq!(snapshot(&app, &token).await, before, "something was stored");
}
