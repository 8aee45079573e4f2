//! Conditional requests and idempotent creates (`../shared/api/concurrency.md`): ETags on users
//! and groups, 304, `If-Match` under the row lock (412), 20-way races, `Idempotency-Key` on the
//! user and group creates.

use crate::helpers::*;
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use test_support::conditional::{
    assert_conditional_get, assert_idempotent_create, assert_if_match, assert_one_create,
    assert_one_wins, etag,
};
use test_support::json;

fn failed() -> Value {
    error("precondition_failed", "Precondition failed")
}

fn reused() -> Value {
    error(
        "idempotency_key_reused",
        "Idempotency-Key reused with a different request",
    )
}

fn new_user(id: &str) -> Value {
    json!({"user_id": id, "password": "secret-pw-1"})
}

impl TestApp {
    fn request(&self, method: Method, token: &str, path: &str) -> RequestBuilder {
        self.http.request(method, self.url(path)).bearer_auth(token)
    }

    async fn tag(&self, token: &str, path: &str) -> String {
        let res = self.get(token, path).await;
        assert_eq!(res.status(), 200, "GET {path}");
        etag(&res)
    }

    async fn user_count(&self) -> i64 {
        i64::try_from(self.stored_user_ids().await.len()).unwrap()
    }

    async fn group_count(&self, token: &str) -> i64 {
        let groups = json(self.get(token, "/api/groups").await).await;
        i64::try_from(groups.as_array().unwrap().len()).unwrap()
    }
}

#[tokio::test]
async fn users_and_groups_answer_304_and_creates_carry_the_get_tag() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;

    let res = app
        .send(Method::POST, &admin, "/api/users", &new_user("kari"))
        .await;
    assert_eq!(res.status(), 201);
    assert!(res.headers().get("idempotent-replayed").is_none());
    let created = etag(&res);
    let body = json(res).await;
    let get = || app.request(Method::GET, &admin, "/api/users/kari");
    let tag = assert_conditional_get(get).await;
    assert_eq!(created, tag, "the create's tag is the GET's");
    let res = get().send().await.unwrap();
    assert_eq!(json(res).await, body, "the create answers what a GET does");
    let res = app
        .request(Method::HEAD, &admin, "/api/users/kari")
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!((res.status().as_u16(), etag(&res)), (304, tag.clone()));

    let res = app
        .send(
            Method::POST,
            &admin,
            "/api/groups",
            &json!({"group_id": "Tech"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created = etag(&res);
    let get = || app.request(Method::GET, &admin, "/api/groups/tech");
    let group_tag = assert_conditional_get(get).await;
    assert_eq!(created, group_tag);
    assert_ne!(group_tag, tag);
    // an administrator's view of an administrator is tagged too
    assert_conditional_get(|| app.request(Method::GET, &admin, "/api/users/admin")).await;
    assert_conditional_get(|| app.request(Method::GET, &admin, "/api/groups/administrator")).await;
}

#[tokio::test]
async fn user_writes_check_if_match() {
    let app = &spawn_app().await;
    let admin = &app.admin_token().await;
    app.add_group("tech", &["upload_file"]).await;
    app.add_user("bob", &[]).await;
    let path = "/api/users/bob";
    let get = || app.request(Method::GET, admin, path);
    let tag = app.tag(admin, path).await;

    // PATCH: a no-op keeps the tag, a change moves it
    let patch = |body: Value| move || app.request(Method::PATCH, admin, path).json(&body);
    let res = patch(json!({}))()
        .header("if-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!((res.status().as_u16(), etag(&res)), (200, tag.clone()));
    let res = assert_if_match(patch(json!({"force_reset": true})), get, &tag, &failed()).await;
    let moved = etag(&res);
    assert_ne!(moved, tag);
    assert_eq!(
        moved,
        app.tag(admin, path).await,
        "the answer's tag is the GET's"
    );
    assert_eq!(json(res).await, json(get().send().await.unwrap()).await);
    // with a password (checked before the bcrypt work too) and with the current tag
    let res = patch(json!({"password": "another-pw-1"}))()
        .header("if-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 412);
    assert_eq!(json(res).await, failed());
    let res = patch(json!({"force_reset": false}))()
        .header("if-match", format!("\"x\", {moved}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let current = etag(&res);

    // add to a group, by both names
    let add = |suffix: &'static str| {
        move || {
            app.request(Method::POST, admin, &format!("{path}/{suffix}"))
                .json(&json!({"group_id": "tech"}))
        }
    };
    let res = add("group")()
        .header("if-match", &moved)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 412);
    let res = assert_if_match(add("groups"), get, &current, &failed()).await;
    let added = etag(&res);
    assert_ne!(added, current);
    let body = json(res).await;
    assert_eq!(body["groups"], json!(["tech"]));
    assert_eq!(body["permissions"]["upload_file"], true);
    assert_eq!(added, app.tag(admin, path).await);

    // remove from a group: the remaining ids, with the user's new tag
    let remove = || app.request(Method::DELETE, admin, &format!("{path}/groups/tech"));
    let res = assert_if_match(remove, get, &added, &failed()).await;
    let removed = etag(&res);
    assert_eq!(json(res).await, json!([]));
    assert_eq!(removed, app.tag(admin, path).await);
    assert_eq!(removed, current, "back to the state before the add");

    // without the header, the writes happen as they always did
    let res = patch(json!({"force_reset": true}))().send().await.unwrap();
    assert_eq!(res.status(), 200);
    let current = etag(&res);

    // 401, 403 and 404 come first
    let stale = "\"stale\"";
    for (method, target, body) in [
        (
            Method::PATCH,
            "/api/users/nobody",
            json!({"force_reset": true}),
        ),
        (
            Method::POST,
            "/api/users/nobody/groups",
            json!({"group_id": "tech"}),
        ),
        (Method::DELETE, "/api/users/nobody/groups/tech", json!(null)),
        (Method::DELETE, "/api/users/nobody", json!(null)),
        (
            Method::POST,
            "/api/users/bob/groups",
            json!({"group_id": "nope"}),
        ),
        (Method::DELETE, "/api/users/bob/groups/nope", json!(null)),
        (
            Method::PATCH,
            "/api/users/bob",
            json!({"primary_group": "nope"}),
        ),
        (
            Method::PATCH,
            "/api/users/bob",
            json!({"password": "another-pw-2", "primary_group": "nope"}),
        ),
    ] {
        let mut request = app
            .request(method.clone(), admin, target)
            .header("if-match", stale);
        if !body.is_null() {
            request = request.json(&body);
        }
        let res = request.send().await.unwrap();
        assert_eq!(res.status(), 404, "{method} {target} {body}");
        let expected = if target.contains("nobody") {
            "User not found"
        } else {
            "Group not found"
        };
        assert_eq!(json(res).await, error("not_found", expected));
    }
    let res = app
        .http
        .delete(app.url(path))
        .header("if-match", &current)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let manager = app.manager("carol").await;
    let res = app
        .request(Method::PATCH, &manager, "/api/users/admin")
        .header("if-match", stale)
        .json(&json!({"force_reset": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = app
        .request(Method::DELETE, &manager, "/api/users/admin")
        .header("if-match", stale)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // DELETE: a weak tag never matches; the current one does; then the tag names a user that
    // is gone (412), while another tag or `*` finds nothing (404)
    let delete = || app.request(Method::DELETE, admin, path);
    let res = delete()
        .header("if-match", format!("W/{current}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 412);
    let res = delete().header("if-match", &current).send().await.unwrap();
    assert_eq!(res.status(), 204);
    assert!(res.headers().get("etag").is_none());
    assert_eq!(app.get(admin, path).await.status(), 404);
    for (condition, status) in [(current.as_str(), 412), (stale, 404), ("*", 404)] {
        let res = delete().header("if-match", condition).send().await.unwrap();
        assert_eq!(res.status(), status, "If-Match: {condition}");
        let res = patch(json!({"force_reset": true}))()
            .header("if-match", condition)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "PATCH, If-Match: {condition}");
    }
}

#[tokio::test]
async fn group_writes_check_if_match() {
    let app = &spawn_app().await;
    let admin = &app.admin_token().await;
    app.add_group("tech", &[]).await;
    let path = "/api/groups/tech";
    let get = || app.request(Method::GET, admin, path);
    let tag = app.tag(admin, path).await;
    let patch = |body: Value| move || app.request(Method::PATCH, admin, path).json(&body);

    let res = assert_if_match(
        patch(json!({"permissions": {"cancel_job": true}})),
        get,
        &tag,
        &failed(),
    )
    .await;
    let moved = etag(&res);
    assert_ne!(moved, tag);
    assert_eq!(moved, app.tag(admin, path).await);
    assert_eq!(
        json(res).await,
        json!({"id": "tech", "permissions": perms(&["cancel_job"])})
    );
    // a change to what it already is keeps the tag
    let res = patch(json!({"permissions": {"cancel_job": true}}))()
        .header("if-match", &moved)
        .send()
        .await
        .unwrap();
    assert_eq!((res.status().as_u16(), etag(&res)), (200, moved.clone()));

    // 400 (the administrator group) and 404 come first
    let res = app
        .request(Method::PATCH, admin, "/api/groups/administrator")
        .header("if-match", "\"stale\"")
        .json(&json!({"permissions": {"cancel_job": false}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = app
        .request(Method::DELETE, admin, "/api/groups/nope")
        .header("if-match", "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(json(res).await, error("not_found", "Group not found"));

    let delete = || app.request(Method::DELETE, admin, path);
    for condition in [tag.clone(), format!("W/{moved}"), "junk".to_owned()] {
        let res = delete()
            .header("if-match", &condition)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 412, "If-Match: {condition}");
        assert_eq!(json(res).await, failed());
    }
    let res = delete().header("if-match", &moved).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let res = delete().header("if-match", &moved).send().await.unwrap();
    assert_eq!(res.status(), 412, "its tag names a group that is gone");
    let res = patch(json!({"permissions": {"cancel_job": false}}))()
        .header("if-match", "*")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn a_group_permission_change_moves_its_members_tags_only() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.add_group("tech", &[]).await;
    app.add_group("lab", &["cancel_job"]).await;
    app.add_user("member", &["tech"]).await;
    app.add_user("other", &["lab"]).await;
    let member = app.tag(&admin, "/api/users/member").await;
    let other = app.tag(&admin, "/api/users/other").await;

    let res = app
        .send(
            Method::PATCH,
            &admin,
            "/api/groups/tech",
            &json!({"permissions": {"modify_hmm": true}}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let moved = app.tag(&admin, "/api/users/member").await;
    assert_ne!(
        moved, member,
        "a member's permissions changed, and so its tag"
    );
    assert_eq!(app.tag(&admin, "/api/users/other").await, other);

    // the member's old tag is stale now: a write holding it is refused, and GETs revalidate
    let res = app
        .request(Method::PATCH, &admin, "/api/users/member")
        .header("if-match", &member)
        .json(&json!({"force_reset": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 412);
    let res = app
        .request(Method::GET, &admin, "/api/users/member")
        .header("if-none-match", &member)
        .send()
        .await
        .unwrap();
    assert_eq!((res.status().as_u16(), etag(&res)), (200, moved.clone()));

    // deleting the group moves it again (the member loses it)
    let res = app.delete(&admin, "/api/groups/tech").await;
    assert_eq!(res.status(), 204);
    let after = app.tag(&admin, "/api/users/member").await;
    assert_ne!(after, moved);
    assert_eq!(app.tag(&admin, "/api/users/other").await, other);
}

#[tokio::test]
async fn of_twenty_writers_with_one_tag_one_wins() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.add_group("tech", &[]).await;
    app.add_user("bob", &[]).await;
    let path = "/api/users/bob";

    let tag = app.tag(&admin, path).await;
    assert_one_wins(20, || {
        app.request(Method::PATCH, &admin, path)
            .header("if-match", &tag)
            .json(&json!({"force_reset": true}))
    })
    .await;
    let tag = app.tag(&admin, path).await;
    assert_one_wins(20, || {
        app.request(Method::POST, &admin, &format!("{path}/groups"))
            .header("if-match", &tag)
            .json(&json!({"group_id": "tech"}))
    })
    .await;
    assert_eq!(app.stored_groups_of("bob").await, ["tech"]);

    let group = "/api/groups/tech";
    let tag = app.tag(&admin, group).await;
    assert_one_wins(20, || {
        app.request(Method::PATCH, &admin, group)
            .header("if-match", &tag)
            .json(&json!({"permissions": {"upload_file": true}}))
    })
    .await;

    let tag = app.tag(&admin, path).await;
    assert_one_wins(20, || {
        app.request(Method::DELETE, &admin, path)
            .header("if-match", &tag)
    })
    .await;
    assert!(app.stored_user("bob").await.is_none());
}

#[tokio::test]
async fn a_user_create_with_a_key_runs_once() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let create = |key: &str, body: &Value| {
        app.request(Method::POST, &admin, "/api/users")
            .header("idempotency-key", key)
            .json(body)
    };
    let first = assert_idempotent_create(
        create,
        &new_user("kari"),
        &new_user("ola"),
        (422, &reused()),
        || app.user_count(),
    )
    .await;
    assert_eq!(first.status, 201);
    assert_eq!(
        first.location.as_deref(),
        Some(app.url("/api/users/kari").as_str())
    );
    assert_eq!(first.etag, Some(app.tag(&admin, "/api/users/kari").await));
    assert_eq!(
        first.json(),
        json(app.get(&admin, "/api/users/kari").await).await
    );
    assert!(app.stored_user("ola").await.is_none());

    // replayed as it was, even after the user changed
    let key = "kari-again";
    let res = create(key, &new_user("knut")).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let stored = test_support::conditional::Answer::of(res).await;
    let res = app
        .send(
            Method::PATCH,
            &admin,
            "/api/users/knut",
            &json!({"force_reset": false}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let again =
        test_support::conditional::Answer::of(create(key, &new_user("knut")).send().await.unwrap())
            .await;
    assert!(again.replayed);
    assert_eq!(
        (again.status, &again.body, &again.location, &again.etag),
        (stored.status, &stored.body, &stored.location, &stored.etag)
    );

    assert_one_create(
        20,
        |key| create(key, &new_user("race")),
        || app.user_count(),
    )
    .await;

    // a 4xx is not stored: the key can be used again
    let key = "retry-after-a-4xx";
    let res = create(key, &json!({"user_id": "short", "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(
        json(res).await,
        invalid(json!({"password": ["min length is 8"]}))
    );
    for _ in 0..2 {
        let res = create(key, &new_user("kari")).send().await.unwrap();
        assert_eq!(res.status(), 409);
        assert!(res.headers().get("idempotent-replayed").is_none());
        assert_eq!(json(res).await, error("conflict", "User already exists"));
    }
    let res = create(key, &new_user("later")).send().await.unwrap();
    assert_eq!(res.status(), 201);
    assert!(res.headers().get("idempotent-replayed").is_none());
}

#[tokio::test]
async fn a_group_create_with_a_key_runs_once() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let create = |key: &str, body: &Value| {
        app.request(Method::POST, &admin, "/api/groups")
            .header("idempotency-key", key)
            .json(body)
    };
    let first = assert_idempotent_create(
        create,
        &json!({"group_id": "Tech"}),
        &json!({"group_id": "lab"}),
        (422, &reused()),
        || app.group_count(&admin),
    )
    .await;
    assert_eq!(first.status, 201);
    assert_eq!(
        first.location.as_deref(),
        Some(app.url("/api/groups/tech").as_str())
    );
    assert_eq!(first.etag, Some(app.tag(&admin, "/api/groups/tech").await));
    assert_eq!(
        first.json(),
        json!({"id": "tech", "permissions": perms(&[])})
    );

    assert_one_create(
        20,
        |key| create(key, &json!({"group_id": "race"})),
        || app.group_count(&admin),
    )
    .await;

    let key = "retry-after-a-4xx";
    let res = create(key, &json!({"group_id": ""})).send().await.unwrap();
    assert_eq!(res.status(), 422);
    let res = create(key, &json!({"group_id": "tech"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    let res = create(key, &json!({"group_id": "later"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert!(res.headers().get("idempotent-replayed").is_none());
}

#[tokio::test]
async fn keys_belong_to_their_caller() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let manager = app.manager("carol").await;
    let key = "shared-key";
    for (token, user, group) in [(&admin, "a", "ga"), (&manager, "b", "gb")] {
        let res = app
            .request(Method::POST, token, "/api/users")
            .header("idempotency-key", key)
            .json(&new_user(user))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "another caller's key is another key");
        assert!(res.headers().get("idempotent-replayed").is_none());
        let res = app
            .request(Method::POST, token, "/api/groups")
            .header("idempotency-key", "shared-group-key")
            .json(&json!({"group_id": group}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        assert!(res.headers().get("idempotent-replayed").is_none());
    }
    // one caller's key is one request: the same key on another path is a reuse
    let res = app
        .request(Method::POST, &admin, "/api/groups")
        .header("idempotency-key", key)
        .json(&json!({"group_id": "ga2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(json(res).await, reused());
    assert!(app.stored_user("a").await.is_some() && app.stored_user("b").await.is_some());
    // the same caller, the same key, the same request: replayed
    let res = app
        .request(Method::POST, &manager, "/api/users")
        .header("idempotency-key", key)
        .json(&new_user("b"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["idempotent-replayed"], "true");
}
