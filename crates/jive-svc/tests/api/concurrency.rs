//! Conditional requests and idempotent creates (`../shared/api/concurrency.md`).

use crate::helpers::*;
use diesel_async::RunQueryDsl;
use serde_json::{json, Value};
use test_support::conditional::{
    assert_conditional_get, assert_idempotent_create, assert_if_match, assert_one_create,
    assert_one_wins, etag,
};

const FAILED: &str = "Precondition failed: the user has changed";
const REUSED: &str = "Idempotency-Key reused with a different request";

fn failed() -> Value {
    error(FAILED)
}

/// The `Vary` header of `res` (there must be one on an answer with an ETag).
fn vary(res: &reqwest::Response) -> String {
    res.headers()
        .get("vary")
        .unwrap_or_else(|| panic!("no Vary on a {} answer", res.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// A user created by `key` through the API: its path; the create's tag is the GET's, and
/// both say `Vary: Authorization`.
async fn user(app: &TestApp, key: &str, email: &str) -> String {
    let res = app
        .http
        .post(app.url("/api/users"))
        .header("authorization", key)
        .json(&json!({"first_name":"Kari","email_address":email}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let tag = etag(&res);
    assert_eq!(vary(&res), "Authorization");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let path = format!("/api/users/{}", location.rsplit('/').next().unwrap());
    let got = get(app, key, &path).await;
    assert_eq!(etag(&got), tag, "the create's tag is the GET's");
    assert_eq!(vary(&got), "Authorization");
    path
}

async fn get(app: &TestApp, key: &str, path: &str) -> reqwest::Response {
    app.http
        .get(app.url(path))
        .header("authorization", key)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn get_answers_304_and_writes_check_if_match() {
    let app = spawn_app().await;
    let app = &app;
    let path = &user(app, ADMIN_KEY, "kari@example.com").await;
    let get = || {
        app.http
            .get(app.url(path))
            .header("authorization", ADMIN_KEY)
    };
    let tag = assert_conditional_get(get).await;
    // HEAD too
    let res = app
        .http
        .head(app.url(path))
        .header("authorization", ADMIN_KEY)
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    assert_eq!(etag(&res), tag);

    // PUT: a no-op keeps the tag; a change moves it; the answer is the GET's body and tag
    let put = |body: Value| {
        move || {
            app.http
                .put(app.url(path))
                .header("authorization", ADMIN_KEY)
                .json(&body)
        }
    };
    let res = put(json!({}))()
        .header("if-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!((res.status().as_u16(), etag(&res)), (200, tag.clone()));
    let res = assert_if_match(put(json!({"last_name":"Nordmann"})), get, &tag, &failed()).await;
    let moved = etag(&res);
    assert_ne!(moved, tag);
    assert_eq!(vary(&res), "Authorization");
    let body = res.bytes().await.unwrap();
    let now = get().send().await.unwrap();
    assert_eq!(etag(&now), moved);
    assert_eq!(
        now.bytes().await.unwrap(),
        body,
        "the PUT answers what a GET does"
    );
    // the old tag no longer matches
    let res = put(json!({"last_name":"Old"}))()
        .header("if-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 412);
    assert_eq!(test_support::json(res).await, failed());

    // reset: checked the same way; the password is not in the representation, so its answer
    // carries the unchanged tag
    let reset = || {
        app.http
            .post(app.url(&format!("{path}/actions/reset")))
            .header("authorization", ADMIN_KEY)
            .json(&json!({"new_password":"correct horse"}))
    };
    let res = assert_if_match(reset, get, &moved, &failed()).await;
    assert_eq!(etag(&res), moved);
    assert_eq!(vary(&res), "Authorization");
    assert_eq!(test_support::json(res).await, ok("User password updated"));
    let res = reset().header("if-match", &moved).send().await.unwrap();
    assert_eq!((res.status().as_u16(), etag(&res)), (200, moved.clone()));

    // without the header, the writes happen as they always did
    let res = put(json!({"last_name":"Plain"}))().send().await.unwrap();
    assert_eq!(res.status(), 200);
    let current = etag(&res);
    assert_ne!(current, moved);
    assert_eq!(test_support::json(res).await["last_name"], "Plain");
    let res = reset().send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(test_support::json(res).await, ok("User password updated"));

    // 401, 403 and 404 come first
    let (_, reader) = app
        .seed(ORG, "reader@example.com", json!({"users":"read"}))
        .await;
    let unknown = "/api/users/ffffffffffffffffffffffff";
    for (key, target, status, message) in [
        (None, path.as_str(), 401, NOT_AUTHORISED),
        (Some(reader.as_str()), path.as_str(), 403, DENIED),
        (Some(ADMIN_KEY), unknown, 404, NO_USER),
    ] {
        for method in [reqwest::Method::PUT, reqwest::Method::DELETE] {
            let mut req = app
                .http
                .request(method.clone(), app.url(target))
                .header("if-match", "\"stale\"")
                .json(&json!({"first_name":"x"}));
            if let Some(key) = key {
                req = req.header("authorization", key);
            }
            let res = req.send().await.unwrap();
            assert_eq!(res.status().as_u16(), status, "{method} {target}");
            assert_eq!(test_support::json(res).await, error(message));
        }
        let mut req = app
            .http
            .post(app.url(&format!("{target}/actions/reset")))
            .header("if-match", "\"stale\"")
            .json(&json!({"new_password":"correct horse"}));
        if let Some(key) = key {
            req = req.header("authorization", key);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), status, "reset {target}");
        assert_eq!(test_support::json(res).await, error(message));
    }
    // and the 400s of the write itself
    let own = format!("/api/users/{}", app.admin_id);
    let res = app
        .http
        .delete(app.url(&own))
        .header("authorization", ADMIN_KEY)
        .header("if-match", "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    // DELETE: W/ and stale refused, the current tag deletes; no ETag on the answer
    let delete = || {
        app.http
            .delete(app.url(path))
            .header("authorization", ADMIN_KEY)
    };
    let res = delete()
        .header("if-match", format!("W/{current}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 412);
    assert_eq!(test_support::json(res).await, failed());
    let res = delete().header("if-match", &current).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("etag").is_none(), "the user is gone");
    assert_eq!(test_support::json(res).await, ok("User deleted"));
    assert_eq!(get().send().await.unwrap().status(), 404);
    // a writer holding a tag of the deleted user learns it changed; others get the 404
    for res in [
        delete().header("if-match", &current).send().await.unwrap(),
        put(json!({"first_name":"x"}))()
            .header("if-match", &current)
            .send()
            .await
            .unwrap(),
        reset().header("if-match", &current).send().await.unwrap(),
    ] {
        assert_eq!(res.status(), 412);
        assert_eq!(test_support::json(res).await, failed());
    }
    for condition in ["\"stale\"", "*"] {
        let res = delete().header("if-match", condition).send().await.unwrap();
        assert_eq!(res.status(), 404, "If-Match: {condition}");
        assert_eq!(test_support::json(res).await, error(NO_USER));
    }
}

#[tokio::test]
async fn of_twenty_writers_with_one_tag_one_wins() {
    let app = spawn_app().await;
    let path = user(&app, ADMIN_KEY, "race@example.com").await;
    let tag = etag(&get(&app, ADMIN_KEY, &path).await);
    let statuses = assert_one_wins(20, || {
        app.http
            .put(app.url(&path))
            .header("authorization", ADMIN_KEY)
            .header("if-match", &tag)
            .json(&json!({"first_name":"Winner"}))
    })
    .await;
    assert!(statuses.iter().all(|s| *s < 500), "{statuses:?}");
    let res = get(&app, ADMIN_KEY, &path).await;
    let tag = etag(&res);
    assert_eq!(test_support::json(res).await["first_name"], "Winner");

    let before = app.user_count().await;
    let statuses = assert_one_wins(20, || {
        app.http
            .delete(app.url(&path))
            .header("authorization", ADMIN_KEY)
            .header("if-match", &tag)
    })
    .await;
    assert!(statuses.iter().all(|s| *s < 500), "{statuses:?}");
    assert_eq!(app.user_count().await, before - 1);
}

#[tokio::test]
async fn tags_vary_with_who_asks() {
    let app = spawn_app().await;
    let (reader_id, reader) = app
        .seed(ORG, "reader@example.com", json!({"users":"read"}))
        .await;
    let (_, writer) = app
        .seed(ORG, "writer@example.com", json!({"users":"write"}))
        .await;
    let path = user(&app, ADMIN_KEY, "seen@example.com").await;

    // the admin sees the access key, a reader sees "": two representations, two tags
    let by_admin = get(&app, ADMIN_KEY, &path).await;
    let by_reader = get(&app, &reader, &path).await;
    assert_eq!(vary(&by_reader), "Authorization");
    let (admin_tag, reader_tag) = (etag(&by_admin), etag(&by_reader));
    assert_ne!(admin_tag, reader_tag);
    let (a, r) = (
        test_support::json(by_admin).await,
        test_support::json(by_reader).await,
    );
    assert_eq!(r["access_key"], "");
    assert_ne!(a["access_key"], "");
    // each one's tag is a 304 for it only
    let res = app
        .http
        .get(app.url(&path))
        .header("authorization", &reader)
        .header("if-none-match", &admin_tag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(etag(&res), reader_tag);
    assert_conditional_get(|| {
        app.http
            .get(app.url(&path))
            .header("authorization", &reader)
    })
    .await;

    // where both see the same (the reader's own user), the tags agree
    let own = format!("/api/users/{reader_id}");
    assert_eq!(
        etag(&get(&app, ADMIN_KEY, &own).await),
        etag(&get(&app, &reader, &own).await)
    );

    // a writer's If-Match is compared with the user as the writer sees it
    let writer_tag = etag(&get(&app, &writer, &path).await);
    assert_eq!(writer_tag, reader_tag);
    let put = |tag: &str| {
        app.http
            .put(app.url(&path))
            .header("authorization", &writer)
            .header("if-match", tag)
            .json(&json!({"first_name":"Edited"}))
    };
    let res = put(&admin_tag).send().await.unwrap();
    assert_eq!(res.status(), 412);
    let res = put(&writer_tag).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(vary(&res), "Authorization");
    let tag = etag(&res);
    assert_eq!(tag, etag(&get(&app, &writer, &path).await));
    assert_eq!(test_support::json(res).await["access_key"], "");

    // a create's tag is the creator's view of the new user
    let created = user(&app, &writer, "by-writer@example.com").await;
    assert_ne!(
        etag(&get(&app, &writer, &created).await),
        etag(&get(&app, ADMIN_KEY, &created).await)
    );
}

#[tokio::test]
async fn a_create_with_a_key_runs_once() {
    let app = spawn_app().await;
    let create = |key: &str, body: &Value| {
        app.http
            .post(app.url("/api/users"))
            .header("authorization", ADMIN_KEY)
            .header("idempotency-key", key)
            .json(body)
    };

    // the answer without a key is what it always was, plus ETag and Vary
    let res = app
        .http
        .post(app.url("/api/users"))
        .header("authorization", ADMIN_KEY)
        .json(&json!({"email_address":"plain@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    assert!(res.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with(&app.url("/api/users/")));
    assert_eq!(vary(&res), "Authorization");
    etag(&res);
    assert!(res.headers().get("idempotent-replayed").is_none());
    assert_eq!(
        res.bytes().await.unwrap(),
        r#"{"Status":"OK","Message":"User created","Meta":""}"#
    );

    let first = assert_idempotent_create(
        create,
        &json!({"first_name":"One","email_address":"one@example.com"}),
        &json!({"first_name":"Two","email_address":"two@example.com"}),
        (400, &error(REUSED)),
        || app.user_count(),
    )
    .await;
    assert_eq!(first.status, 200);
    assert_eq!(first.json(), ok("User created"));
    let location = first.location.clone().unwrap();
    let path = format!("/api/users/{}", location.rsplit('/').next().unwrap());
    assert_eq!(
        Some(etag(&get(&app, ADMIN_KEY, &path).await)),
        first.etag,
        "the create's tag is the GET's"
    );
    // a malformed key, in the envelope
    let res = create("", &json!({"email_address":"x@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        test_support::json(res).await,
        error("Invalid Idempotency-Key header")
    );

    // replayed even after the user changed, with the same headers
    let res = app
        .put(ADMIN_KEY, &path, json!({"first_name":"Changed"}))
        .await;
    assert_eq!(res.status, 200);
    let key = "replayed-after-a-change";
    let body = json!({"email_address":"three@example.com"});
    let res = create(key, &body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let (tag, location) = (etag(&res), res.headers()["location"].clone());
    let path = format!(
        "/api/users/{}",
        location.to_str().unwrap().rsplit('/').next().unwrap()
    );
    let res = app.put(ADMIN_KEY, &path, json!({"first_name":"New"})).await;
    assert_eq!(res.status, 200);
    let res = create(key, &body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["idempotent-replayed"], "true");
    assert_eq!(res.headers()["content-type"], "application/json");
    assert_eq!(vary(&res), "Authorization");
    assert_eq!((etag(&res), &res.headers()["location"]), (tag, &location));
    assert_eq!(test_support::json(res).await, ok("User created"));

    assert_one_create(
        20,
        |key| create(key, &json!({"email_address":"race@example.com"})),
        || app.user_count(),
    )
    .await;

    // a 4xx is not stored: the key can be used again
    let before = app.user_count().await;
    let key = "retry-after-a-400";
    let res = create(key, &json!({"email_address":"not-an-email"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        test_support::json(res).await,
        error("User object validation failed: email_address is not a valid email address")
    );
    let res = create(key, &json!({"email_address":"later@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("idempotent-replayed").is_none());
    assert_eq!(app.user_count().await, before + 1);
}

#[tokio::test]
async fn a_key_still_running_is_answered_409() {
    let app = spawn_app().await;
    let key = "still-running";
    let body = json!({"email_address":"slow@example.com"});
    let create = || {
        app.http
            .post(app.url("/api/users"))
            .header("authorization", ADMIN_KEY)
            .header("idempotency-key", key)
            .json(&body)
    };
    // hold back inserts into users: the first request claims its key, then waits
    let mut lock = app.state.core.db.conn().await.unwrap();
    diesel::sql_query("BEGIN").execute(&mut lock).await.unwrap();
    diesel::sql_query("LOCK TABLE users IN EXCLUSIVE MODE")
        .execute(&mut lock)
        .await
        .unwrap();
    let first = tokio::spawn(create().send());
    let mut probe = app.state.core.db.conn().await.unwrap();
    for _ in 0..500 {
        let claimed = diesel::sql_query(
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO \"users\"%'",
        )
        .execute(&mut probe)
        .await
        .unwrap();
        if claimed > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let res = create().send().await.unwrap();
    assert_eq!(res.status(), 409);
    assert_eq!(res.headers()["retry-after"], "1");
    assert_eq!(
        test_support::json(res).await,
        error("A request with this Idempotency-Key is in progress")
    );
    diesel::sql_query("COMMIT")
        .execute(&mut lock)
        .await
        .unwrap();
    let res = first.await.unwrap().unwrap();
    assert_eq!(res.status(), 200);
    let res = create().send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["idempotent-replayed"], "true");
}

#[tokio::test]
async fn keys_belong_to_their_caller() {
    let app = spawn_app().await;
    let (_, writer) = app
        .seed(ORG, "writer@example.com", json!({"users":"write"}))
        .await;
    let create = |as_key: &str, email: &str| {
        app.http
            .post(app.url("/api/users"))
            .header("authorization", as_key)
            .header("idempotency-key", "shared-key")
            .json(&json!({ "email_address": email }))
    };
    let before = app.user_count().await;
    let res = create(ADMIN_KEY, "a@example.com").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let admins = res.headers()["location"].clone();
    let res = create(&writer, "b@example.com").send().await.unwrap();
    assert_eq!(res.status(), 200, "another user's key is another key");
    assert!(res.headers().get("idempotent-replayed").is_none());
    let writers = res.headers()["location"].clone();
    assert_ne!(admins, writers);
    assert_eq!(app.user_count().await, before + 2);
    // each replays its own
    let res = create(&writer, "b@example.com").send().await.unwrap();
    assert_eq!(res.headers()["idempotent-replayed"], "true");
    assert_eq!(res.headers()["location"], writers);
    let res = create(ADMIN_KEY, "a@example.com").send().await.unwrap();
    assert_eq!(res.headers()["idempotent-replayed"], "true");
    assert_eq!(res.headers()["location"], admins);
    assert_eq!(app.user_count().await, before + 2);
}
