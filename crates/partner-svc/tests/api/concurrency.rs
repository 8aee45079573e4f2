//! Conditional requests and idempotent creates (`../shared/api/concurrency.md`).

use crate::helpers::*;
use serde_json::{json, Value};
use test_support::conditional::{
    assert_conditional_get, assert_idempotent_create, assert_if_match, assert_one_create,
    assert_one_wins, etag, Answer,
};

fn failed() -> Value {
    message("Precondition Failed.")
}

fn jane(email: &str) -> Value {
    json!({"first_name":"Jane","last_name":"Roe","email":email,"password":"secret-pw-1"})
}

async fn count(app: &TestApp) -> i64 {
    i64::try_from(app.stored_users().await.len()).unwrap()
}

#[tokio::test]
async fn a_users_tag_is_its_get_the_same_in_every_partner() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let res = app
        .post(&token, &users_path(app.alpha), &jane("jane@example.com"))
        .await;
    assert_eq!(res.status(), 201);
    let created = etag(&res);
    let id = test_support::json(res).await["data"]["id"]
        .as_i64()
        .unwrap();
    let get = |partner: i64| {
        let (app, token) = (&app, &token);
        move || {
            app.http
                .get(app.url(&user_path(partner, id)))
                .bearer_auth(token)
        }
    };
    let tag = assert_conditional_get(get(app.alpha)).await;
    assert_eq!(tag, created, "the create's tag is the GET's");
    // HEAD answers the same tag, and 304 to it
    let res = app
        .http
        .head(app.url(&user_path(app.alpha, id)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!((res.status().as_u16(), etag(&res)), (200, tag.clone()));

    // Attached to Beta (a create with its email): the 200 carries the same tag, and so does
    // the GET through Beta; a 304 there too.
    let res = app
        .post(&token, &users_path(app.beta), &jane("JANE@example.com"))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(etag(&res), tag);
    assert_eq!(assert_conditional_get(get(app.beta)).await, tag);

    // A change through one partner moves the tag in both; the PUT's `{}` carries the new one.
    let res = app
        .put(
            &token,
            &user_path(app.beta, id),
            &json!({"first_name": "Janet"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let moved = etag(&res);
    assert_eq!(res.bytes().await.unwrap(), "{}", "the body is still {{}}");
    assert_ne!(moved, tag);
    for partner in [app.alpha, app.beta] {
        let res = get(partner)().send().await.unwrap();
        assert_eq!(etag(&res), moved);
    }
    // a PUT that changes nothing the GET shows keeps the tag
    let res = app
        .put(
            &token,
            &user_path(app.alpha, id),
            &json!({"first_name": "Janet", "new_password": "another-pw-1",
                    "new_password_confirmation": "another-pw-1"}),
        )
        .await;
    assert_eq!((res.status().as_u16(), etag(&res)), (200, moved.clone()));
    // another user's tag is another
    let other = app.seed_user("other@example.com", &[], &[app.alpha]).await;
    let res = app.get(&token, &user_path(app.alpha, other)).await;
    assert_ne!(etag(&res), moved);
    // the list and the user's partners are not single users: no tag
    let res = app.get(&token, &users_path(app.alpha)).await;
    assert!(res.headers().get("etag").is_none());
}

#[tokio::test]
async fn put_checks_if_match_under_the_lock() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let id = app
        .seed_user("u@example.com", &[], &[app.alpha, app.beta])
        .await;
    let path = user_path(app.alpha, id);
    let (app, path, token) = (&app, &path, &token);
    let get = || app.http.get(app.url(path)).bearer_auth(token);
    let tag = etag(&get().send().await.unwrap());
    let put = |body: Value| move || app.http.put(app.url(path)).bearer_auth(token).json(&body);
    let res = assert_if_match(put(json!({"last_name": "Changed"})), get, &tag, &failed()).await;
    let moved = etag(&res);
    assert_ne!(moved, tag);
    assert_eq!(etag(&get().send().await.unwrap()), moved);
    // the current tag passes (also among others); the old one, or its weak form, does not
    let res = put(json!({"last_name": "Again"}))()
        .header("if-match", format!("\"x\", {moved}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let current = etag(&res);
    for stale in [moved.clone(), format!("W/{current}")] {
        let res = put(json!({"last_name": "No"}))()
            .header("if-match", &stale)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 412, "{stale}");
        assert_eq!(test_support::json(res).await, failed());
    }
    // the tag seen through Beta is good in Alpha
    let beta = app.get(token, &user_path(app.beta, id)).await;
    assert_eq!(etag(&beta), current);
    let res = put(json!({"first_name": "Via"}))()
        .header("if-match", &current)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // without the header, as always
    let res = put(json!({"first_name": "Plain"}))().send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/json"
    );
    let current = etag(&res);
    assert_eq!(res.bytes().await.unwrap(), "{}");

    // 401, 403 and 404 come first, and a 422 is still a 422
    let res = app
        .http
        .put(app.url(path))
        .header("if-match", "\"stale\"")
        .json(&json!({"first_name": "X"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let (_, reader) = app
        .caller("reader@example.com", &["users.read"], &[app.alpha])
        .await;
    let res = app
        .http
        .put(app.url(path))
        .bearer_auth(&reader)
        .header("if-match", "\"stale\"")
        .json(&json!({"first_name": "X"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(test_support::json(res).await, unauthorized());
    let res = app
        .http
        .put(app.url(&user_path(app.alpha, 999_999)))
        .bearer_auth(token)
        .header("if-match", "\"stale\"")
        .json(&json!({"first_name": "X"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(test_support::json(res).await, message("Not found."));
    let res = put(json!({"first_name": ""}))()
        .header("if-match", &current)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);

    // Detached from Alpha: a PUT there holding the user's tag learns that it changed (412);
    // without the header, or with a tag of something else, it is the usual 404.
    let res = app.delete(token, path).await;
    assert_eq!(res.status(), 200);
    let res = put(json!({"first_name": "Gone"}))()
        .header("if-match", &current)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 412);
    assert_eq!(test_support::json(res).await, failed());
    for condition in [Some("\"stale\""), Some("*"), None] {
        let mut request = put(json!({"first_name": "Gone"}))();
        if let Some(condition) = condition {
            request = request.header("if-match", condition);
        }
        let res = request.send().await.unwrap();
        assert_eq!(res.status(), 404, "{condition:?}");
    }
}

#[tokio::test]
async fn delete_checks_if_match_under_the_lock() {
    let app = spawn_app().await;
    let (me, token) = app
        .caller("mgr@example.com", MANAGER, &[app.alpha, app.beta])
        .await;
    let both = app
        .seed_user("both@example.com", &[], &[app.alpha, app.beta])
        .await;
    let (app, token) = (&app, &token);
    let get = |partner: i64| {
        move || {
            app.http
                .get(app.url(&user_path(partner, both)))
                .bearer_auth(token)
        }
    };
    let delete = |partner: i64| {
        move || {
            app.http
                .delete(app.url(&user_path(partner, both)))
                .bearer_auth(token)
        }
    };
    let tag = etag(&get(app.alpha)().send().await.unwrap());

    // Detached from Alpha (stale, W/ and junk refused first): the user still exists, so the
    // answer carries its tag, unchanged by the detach.
    let res = assert_if_match(delete(app.alpha), get(app.alpha), &tag, &failed()).await;
    assert_eq!(etag(&res), tag);
    assert_eq!(res.bytes().await.unwrap(), "{}");
    assert_eq!(app.memberships(both).await, vec![app.beta]);
    // the tag no longer names a member of Alpha: 412; anything else is the usual 404
    let res = delete(app.alpha)()
        .header("if-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 412);
    assert_eq!(test_support::json(res).await, failed());
    assert_eq!(delete(app.alpha)().send().await.unwrap().status(), 404);

    // Deleted with its last partner: no tag on the answer; later writes holding it get 412.
    let res = app
        .put(
            token,
            &user_path(app.beta, both),
            &json!({"first_name": "B"}),
        )
        .await;
    let current = etag(&res);
    let res = delete(app.beta)()
        .header("if-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 412, "the tag before the PUT");
    let res = delete(app.beta)()
        .header("if-match", &current)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("etag").is_none(), "the user is gone");
    assert!(app.stored_users().await.iter().all(|u| u.0 != both));
    let res = delete(app.beta)()
        .header("if-match", &current)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 412);
    let res = app
        .http
        .put(app.url(&user_path(app.beta, both)))
        .bearer_auth(token)
        .header("if-match", &current)
        .json(&json!({"first_name": "C"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 412);
    assert_eq!(delete(app.beta)().send().await.unwrap().status(), 404);

    // 401 and the 403s come first
    let res = app
        .http
        .delete(app.url(&user_path(app.alpha, me)))
        .bearer_auth(token)
        .header("if-match", "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        test_support::json(res).await,
        message("You cannot delete your own account.")
    );
    let other = app.seed_user("other@example.com", &[], &[app.alpha]).await;
    let res = app
        .http
        .delete(app.url(&user_path(app.alpha, other)))
        .header("if-match", "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let (_, reader) = app
        .caller("reader@example.com", &["users.read"], &[app.alpha])
        .await;
    let res = app
        .http
        .delete(app.url(&user_path(app.alpha, other)))
        .bearer_auth(&reader)
        .header("if-match", "*")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(app.memberships(other).await, vec![app.alpha]);
}

#[tokio::test]
async fn of_twenty_writers_with_one_tag_one_wins() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let id = app.seed_user("race@example.com", &[], &[app.alpha]).await;
    let path = user_path(app.alpha, id);
    let tag = etag(&app.get(&token, &path).await);
    let statuses = assert_one_wins(20, || {
        app.http
            .put(app.url(&path))
            .bearer_auth(&token)
            .header("if-match", &tag)
            .json(&json!({"first_name": "Winner"}))
    })
    .await;
    assert!(statuses.iter().all(|s| *s < 500), "{statuses:?}");

    // Deleted (its only partner): the 19 others find it gone.
    let tag = etag(&app.get(&token, &path).await);
    assert_one_wins(20, || {
        app.http
            .delete(app.url(&path))
            .bearer_auth(&token)
            .header("if-match", &tag)
    })
    .await;
    assert!(app.stored_users().await.iter().all(|u| u.0 != id));

    // Detached (it stays in Beta, its tag unchanged): the 19 others find it no member of Alpha.
    let both = app
        .seed_user("both@example.com", &[], &[app.alpha, app.beta])
        .await;
    let path = user_path(app.alpha, both);
    let tag = etag(&app.get(&token, &path).await);
    assert_one_wins(20, || {
        app.http
            .delete(app.url(&path))
            .bearer_auth(&token)
            .header("if-match", &tag)
    })
    .await;
    assert_eq!(app.memberships(both).await, vec![app.beta]);
}

#[tokio::test]
async fn a_create_with_a_key_runs_once() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let create = |key: &str, body: &Value| {
        app.http
            .post(app.url(&users_path(app.alpha)))
            .bearer_auth(&token)
            .header("idempotency-key", key)
            .json(body)
    };
    let reused = message("Idempotency-Key reused with a different request");
    let first = assert_idempotent_create(
        create,
        &jane("one@example.com"),
        &jane("two@example.com"),
        (422, &reused),
        || count(&app),
    )
    .await;
    assert_eq!(first.status, 201);
    let id = first.json()["data"]["id"].as_i64().unwrap();
    let path = user_path(app.alpha, id);
    assert_eq!(
        first.etag.as_deref(),
        Some(etag(&app.get(&token, &path).await).as_str())
    );

    // replayed even after the user changed, as first answered
    let key = "changed-since";
    let answer = Answer::of(
        create(key, &jane("three@example.com"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 201);
    let three = answer.json()["data"]["id"].as_i64().unwrap();
    let res = app
        .put(
            &token,
            &user_path(app.alpha, three),
            &json!({"first_name": "Changed"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let again = Answer::of(
        create(key, &jane("three@example.com"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(again.replayed);
    assert_eq!(
        (again.status, &again.body, &again.etag),
        (answer.status, &answer.body, &answer.etag)
    );

    // an attach (200) is stored and replayed too
    let beta_only = app.seed_user("beta@example.com", &[], &[app.beta]).await;
    let key = "attach";
    let answer = Answer::of(create(key, &jane("beta@example.com")).send().await.unwrap()).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["data"]["id"], json!(beta_only));
    assert!(answer.etag.is_some() && !answer.replayed);
    let again = Answer::of(create(key, &jane("beta@example.com")).send().await.unwrap()).await;
    assert!(again.replayed);
    assert_eq!(
        (again.status, &again.body, &again.etag),
        (answer.status, &answer.body, &answer.etag)
    );
    // without the key, the same request is refused: the user is a member now
    let res = app
        .post(&token, &users_path(app.alpha), &jane("beta@example.com"))
        .await;
    assert_eq!(res.status(), 422);

    assert_one_create(
        20,
        |key| create(key, &jane("race@example.com")),
        || count(&app),
    )
    .await;

    // a 4xx is not stored: the key can be used again
    let key = "retry-after-a-422";
    let res = create(key, &json!({"first_name": "No email"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let res = create(key, &jane("later@example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert!(res.headers().get("idempotent-replayed").is_none());
    // a taken email (422) neither
    let key = "retry-after-taken";
    let res = create(key, &jane("later@example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let res = create(key, &jane("latest@example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert!(res.headers().get("idempotent-replayed").is_none());

    // the same key on another partner's path is another request
    let res = app
        .http
        .post(app.url(&users_path(app.beta)))
        .bearer_auth(&token)
        .header("idempotency-key", key)
        .json(&jane("latest@example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(test_support::json(res).await, reused);
}

#[tokio::test]
async fn a_create_without_a_key_answers_as_before() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let res = app
        .post(&token, &users_path(app.alpha), &jane("plain@example.com"))
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(
        res.headers().get("content-type").unwrap(),
        "application/json"
    );
    assert!(res.headers().get("location").is_none());
    assert!(res.headers().get("idempotent-replayed").is_none());
    let tag = etag(&res);
    let body = res.bytes().await.unwrap();
    let id = serde_json::from_slice::<Value>(&body).unwrap()["data"]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        body,
        format!(
            r#"{{"data":{{"id":{id},"first_name":"Jane","last_name":"Roe","email":"plain@example.com"}}}}"#
        )
    );
    let res = app.get(&token, &user_path(app.alpha, id)).await;
    assert_eq!(etag(&res), tag);
    assert_eq!(res.bytes().await.unwrap(), body);
    // the same request again: an error as before (the email is a member's), not a replay
    let res = app
        .post(&token, &users_path(app.alpha), &jane("plain@example.com"))
        .await;
    assert_eq!(res.status(), 422);
}

#[tokio::test]
async fn keys_belong_to_their_caller() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, manager) = app.caller("mgr@example.com", MANAGER, &[app.alpha]).await;
    let key = "shared-key";
    let send = |token: &str, body: &Value| {
        app.http
            .post(app.url(&users_path(app.alpha)))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(body)
            .send()
    };
    let res = send(&admin, &jane("a@example.com")).await.unwrap();
    assert_eq!(res.status(), 201);
    let res = send(&manager, &jane("b@example.com")).await.unwrap();
    assert_eq!(res.status(), 201, "another caller's key is another key");
    assert!(res.headers().get("idempotent-replayed").is_none());
    // the same request as the admin's, by the manager: run again (422, the email is taken),
    // never the admin's answer replayed
    let res = send(&manager, &jane("a@example.com")).await.unwrap();
    assert_eq!(res.status(), 422);
    let res = send(&admin, &jane("a@example.com")).await.unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers().get("idempotent-replayed").unwrap(), "true");
}
