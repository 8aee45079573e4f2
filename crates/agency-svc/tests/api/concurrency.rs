//! Conditional requests and idempotent creates (`../shared/api/concurrency.md`).

use crate::helpers::{spawn_app, TestApp};
use serde_json::{json, Value};
use test_support::conditional::{
    assert_conditional_get, assert_idempotent_create, assert_if_match, assert_one_create,
    assert_one_wins, etag,
};

fn kari(email: &str) -> Value {
    json!({"firstname":"Kari","lastname":"Nordmann","email":email})
}

async fn user(app: &TestApp, token: &str, agency: i64) -> String {
    let res = app
        .create_user(token, agency, &kari("kari@example.no"))
        .await;
    assert_eq!(res.status(), 201);
    let tag = etag(&res);
    let body: Value = res.json().await.unwrap();
    let path = format!("/agency/{agency}/user/{}", body["id"]);
    let got = app.get(token, &path).await;
    assert_eq!(etag(&got), tag, "the create's tag is the GET's");
    path
}

async fn count(app: &TestApp, token: &str, agency: i64) -> i64 {
    let res = app.get(token, &format!("/agency/{agency}/users")).await;
    let users: Vec<Value> = res.json().await.unwrap();
    i64::try_from(users.len()).unwrap()
}

#[tokio::test]
async fn get_answers_304_and_writes_check_if_match() {
    let app = spawn_app().await;
    let token = app.token().await;
    let path = user(&app, &token, app.agencies[0]).await;
    let get = || app.http.get(app.url(&path)).bearer_auth(&token);
    let tag = assert_conditional_get(get).await;

    // a no-op update keeps the tag; a change moves it
    let app = &app;
    let (path, token) = (&path, &token);
    let patch = |body: Value| move || app.http.patch(app.url(path)).bearer_auth(token).json(&body);
    let res = patch(json!({}))()
        .header("if-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!((res.status().as_u16(), etag(&res)), (200, tag.clone()));
    let failed = json!({"message": "Precondition Failed."});
    let res = assert_if_match(patch(json!({"phone": "1"})), get, &tag, &failed).await;
    let moved = etag(&res);
    assert_ne!(moved, tag);
    // POST (upstream's other verb for the update) checks it too
    let res = app
        .http
        .post(app.url(path))
        .bearer_auth(token)
        .header("if-match", &tag)
        .json(&json!({"phone": "2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 412);
    // without the header, the update happens as it always did
    let res = patch(json!({"phone": "3"}))().send().await.unwrap();
    assert_eq!(res.status(), 200);
    let current = etag(&res);
    assert_ne!(current, moved);

    // 404 and 401 come first
    let res = app
        .http
        .delete(app.url(&format!("/agency/{}/user/999999", app.agencies[0])))
        .bearer_auth(token)
        .header("if-match", "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = app
        .http
        .delete(app.url(path))
        .header("if-match", "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);

    let delete = || app.http.delete(app.url(path)).bearer_auth(token);
    let res = delete()
        .header("if-match", &format!("W/{current}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 412);
    let res = delete().header("if-match", &current).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(app.get(token, path).await.status(), 404);
}

#[tokio::test]
async fn of_twenty_writers_with_one_tag_one_wins() {
    let app = spawn_app().await;
    let token = app.token().await;
    let path = user(&app, &token, app.agencies[0]).await;
    let tag = etag(&app.get(&token, &path).await);
    assert_one_wins(20, || {
        app.http
            .patch(app.url(&path))
            .bearer_auth(&token)
            .header("if-match", &tag)
            .json(&json!({"phone": "+47 1"}))
    })
    .await;
    let tag = etag(&app.get(&token, &path).await);
    assert_one_wins(20, || {
        app.http
            .delete(app.url(&path))
            .bearer_auth(&token)
            .header("if-match", &tag)
    })
    .await;
}

#[tokio::test]
async fn a_create_with_a_key_runs_once() {
    let app = spawn_app().await;
    let token = app.token().await;
    let agency = app.agencies[0];
    let create = |key: &str, body: &Value| {
        app.http
            .post(app.url(&format!("/agency/{agency}/user")))
            .bearer_auth(&token)
            .header("idempotency-key", key)
            .json(body)
    };
    let reused = json!({"message": "Idempotency-Key reused with a different request"});
    let first = assert_idempotent_create(
        create,
        &kari("one@example.no"),
        &kari("two@example.no"),
        (422, &reused),
        || count(&app, &token, agency),
    )
    .await;
    assert_eq!(first.status, 201);
    // replayed even after the user changed
    let path = format!("/agency/{agency}/user/{}", first.json()["id"]);
    let res = app
        .send(
            reqwest::Method::PATCH,
            &token,
            &path,
            &json!({"phone": "9"}),
        )
        .await;
    assert_eq!(res.status(), 200);

    assert_one_create(
        20,
        |key| create(key, &kari("race@example.no")),
        || count(&app, &token, agency),
    )
    .await;

    // a 4xx is not stored: the key can be used again
    let key = "retry-after-a-422";
    let res = create(key, &json!({"firstname": "No email"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let res = create(key, &kari("later@example.no")).send().await.unwrap();
    assert_eq!(res.status(), 201);
    assert!(res.headers().get("idempotent-replayed").is_none());
}

#[tokio::test]
async fn keys_belong_to_their_caller() {
    let app = spawn_app().await;
    let token = app.token().await;
    let (other_agency, id, secret) = app.other_group().await;
    let other = app.token_for(&id, &secret).await;
    let key = "shared-key";
    let res = app
        .http
        .post(app.url(&format!("/agency/{}/user", app.agencies[0])))
        .bearer_auth(&token)
        .header("idempotency-key", key)
        .json(&kari("a@example.no"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let res = app
        .http
        .post(app.url(&format!("/agency/{other_agency}/user")))
        .bearer_auth(&other)
        .header("idempotency-key", key)
        .json(&kari("b@example.no"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "another client's key is another key");
    assert!(res.headers().get("idempotent-replayed").is_none());
}
