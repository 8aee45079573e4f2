//! Issue 8, item 8 (input limits): oversized fields, NUL bytes, invalid UTF-8, deeply nested
//! JSON, numbers where strings are expected, huge integers and `%2F` in ids are each answered
//! with Virtool's documented 4xx (422 `invalid_input` naming the field, 400 `invalid_json`,
//! 400 `bad_request` for a login, 404 `not_found` for an id or a group that does not exist),
//! never 5xx, and nothing is stored: every stored user (flags, primary group, password change
//! time, hash), every membership and the list answers are the same before and after. An id
//! with an encoded slash never reaches the user or group whose id is its prefix.
//! See docs/security.md.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: failing loudly is the point

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use helpers::{spawn_app, StoredUser, TestApp};
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

type Snapshot = (Vec<(String, Option<StoredUser>, Vec<String>)>, Value, Value);

async fn snapshot(app: &TestApp, token: &str) -> Snapshot {
    let mut users = Vec::new();
    for id in app.stored_user_ids().await {
        let stored = app.stored_user(&id).await;
        let groups = app.stored_groups_of(&id).await;
        users.push((id, stored, groups));
    }
    let list = app.get(token, "/api/users").await;
    assert_eq!(list.status(), 200);
    let groups = app.get(token, "/api/groups").await;
    assert_eq!(groups.status(), 200);
    (
        users,
        test_support::json(list).await,
        test_support::json(groups).await,
    )
}

/// A target: method, path, a valid body, and the answer expected when `field` gets a string
/// (`true`) or another type (`false`): (status, error id).
type Expect = fn(&str, bool) -> (u16, &'static str);

fn invalid(_: &str, _: bool) -> (u16, &'static str) {
    (422, "invalid_input")
}

/// A group id that is a string but names no group is a 404; anything else a 422.
fn group_lookup(field: &str, string: bool) -> (u16, &'static str) {
    if string && (field == "primary_group" || field == "group_id") {
        (404, "not_found")
    } else {
        (422, "invalid_input")
    }
}

/// Login: any string is just a wrong credential (400 `bad_request`); other types are 422.
fn login(_: &str, string: bool) -> (u16, &'static str) {
    if string {
        (400, "bad_request")
    } else {
        (422, "invalid_input")
    }
}

#[tokio::test]
async fn hostile_bodies_are_4xx_and_store_nothing() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.add_group("tech", &["cancel_job"]).await;
    app.add_user("fred", &["tech"]).await;
    let before = snapshot(&app, &token).await;
    let targets: [(Method, &str, Value, Expect); 6] = [
        (
            Method::POST,
            "/api/users",
            json!({"user_id":"bob","password":"secret-pw-1","force_reset":false}),
            invalid,
        ),
        (
            Method::PATCH,
            "/api/users/fred",
            json!({"password":"secret-pw-2","force_reset":true,"primary_group":"tech"}),
            group_lookup,
        ),
        (
            Method::POST,
            "/api/users/fred/groups",
            json!({"group_id":"tech"}),
            group_lookup,
        ),
        (
            Method::POST,
            "/api/groups",
            json!({"group_id":"ops"}),
            invalid,
        ),
        (
            Method::PATCH,
            "/api/groups/tech",
            json!({"permissions":{"modify_hmm":true}}),
            invalid,
        ),
        (
            Method::POST,
            "/api/account/login",
            json!({"username":"fred","password":"hello_world"}),
            login,
        ),
    ];
    let mut tried = 0;
    for (method, path, good, expect) in &targets {
        for (what, field, body) in field_cases(good) {
            let context = format!("{method} {path} with {what}");
            let (status, answer) = raw(&app, method.clone(), &token, path, body).await;
            let string = what.contains("characters") || what.contains("NUL");
            let (want_status, want_id) = expect(&field, string);
            assert_eq!(status, want_status, "{context}: {answer}");
            assert_eq!(answer["id"], want_id, "{context}: {answer}");
            if want_status == 422 {
                assert!(answer["errors"][&field].is_array(), "{context}: {answer}");
            }
            tried += 1;
        }
        for (what, body) in body_cases(good) {
            let context = format!("{method} {path} with {what}");
            let (status, answer) = raw(&app, method.clone(), &token, path, body).await;
            assert_eq!(status, 400, "{context}: {answer}");
            assert_eq!(
                answer,
                json!({"id":"invalid_json","message":"Invalid JSON"}),
                "{context}"
            );
            tried += 1;
        }
    }
    assert_eq!(tried, 15 + 15 + 5 + 5 + 5 + 10 + 6 * 4, "cases tried");
    assert_eq!(snapshot(&app, &token).await, before, "something was stored");
}

#[tokio::test]
async fn hostile_and_encoded_slash_ids_are_404() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.add_group("tech", &["cancel_job"]).await;
    app.add_user("fred", &["tech"]).await;
    let before = snapshot(&app, &token).await;
    let ids = [
        "fred%2F".to_owned(),
        "fred%2Fx".to_owned(),
        "x%2Ffred".to_owned(),
        "tech%2F".to_owned(),
        "x%2F..%2Ffred".to_owned(),
        "%2F".to_owned(),
        "%00".to_owned(),
        "fred%00".to_owned(),
        "99999999999999999999999999999999".to_owned(),
        "x".repeat(LONG),
    ];
    let mut paths = Vec::new();
    for id in &ids {
        for method in [Method::GET, Method::PATCH, Method::DELETE] {
            paths.push((method.clone(), format!("/api/users/{id}")));
            paths.push((method, format!("/api/groups/{id}")));
        }
        paths.push((Method::POST, format!("/api/users/{id}/groups")));
        paths.push((Method::DELETE, format!("/api/users/{id}/groups/tech")));
        paths.push((Method::DELETE, format!("/api/users/fred/groups/{id}")));
    }
    for (method, path) in &paths {
        // A valid body for every PATCH/POST here, so only the id can be the problem.
        let body = if path.starts_with("/api/groups") {
            json!({"permissions":{"modify_hmm":true}})
        } else if path.ends_with("/groups") {
            json!({"group_id":"tech"})
        } else {
            json!({"force_reset":true})
        };
        let body = serde_json::to_vec(&body).unwrap();
        let (status, answer) = raw(&app, method.clone(), &token, path, body).await;
        let context = format!("{method} {}", &path[..path.len().min(90)]);
        assert_eq!(status, 404, "{context}: {answer}");
        assert_eq!(answer["id"], "not_found", "{context}: {answer}");
    }
    assert_eq!(snapshot(&app, &token).await, before, "something was stored");
}
