//! The audit trail and `GET /api/events` (`../shared/api/audit.md`): every action's event
//! (actor, target, no tenant, request id, address, the diff, no secret), writes that change
//! nothing, a change whose commit fails, who may read, the query's errors, `wait`, the feed
//! rule, and `virtool-svc admin events`.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::io::BufRead;
use std::time::Duration;
use test_support::audit::{assert_feed_rule, assert_wait, leaked, ALLOW_COMMITS, FAIL_AT_COMMIT};
use test_support::json;

const FIRST: &str = "first-secret-1";
const SECOND: &str = "second-secret-2";
const THIRD: &str = "third-secret-3";
const FOURTH: &str = "fourth-secret-4";

impl TestApp {
    /// The events after `after` (every page) and the raw bodies read.
    async fn events_after(&self, token: &str, after: i64) -> (Vec<Value>, String) {
        let mut after = after;
        let mut all = Vec::new();
        let mut raw = String::new();
        loop {
            let res = self
                .get(token, &format!("/api/events?after={after}&limit=1000"))
                .await;
            assert_eq!(res.status(), 200);
            let text = res.text().await.unwrap();
            let page: Value = serde_json::from_str(&text).unwrap();
            raw.push_str(&text);
            let got = page["events"].as_array().unwrap().clone();
            if got.is_empty() {
                assert_eq!(page["next_after"], after, "{page}");
                return (all, raw);
            }
            assert_eq!(page["next_after"], got.last().unwrap()["id"], "{page}");
            after = page["next_after"].as_i64().unwrap();
            all.extend(got);
        }
    }

    /// The feed's current end.
    async fn mark(&self, token: &str) -> i64 {
        let (all, _) = self.events_after(token, 0).await;
        all.last().map_or(0, |e| e["id"].as_i64().unwrap())
    }

    /// The events after `after` as (action, target id, changes), and the raw bodies.
    async fn since(&self, token: &str, after: i64) -> (Vec<(String, String, Value)>, String) {
        let (all, raw) = self.events_after(token, after).await;
        let short = all
            .iter()
            .map(|e| {
                (
                    e["action"].as_str().unwrap().to_owned(),
                    e["target"]["id"].as_str().unwrap().to_owned(),
                    e["changes"].clone(),
                )
            })
            .collect();
        (short, raw)
    }

    /// A write, and its request id.
    async fn write(&self, method: Method, token: &str, path: &str, body: &Value) -> (u16, String) {
        let res = self.send(method, token, path, body).await;
        let id = request_id(&res);
        (res.status().as_u16(), id)
    }
}

fn request_id(res: &reqwest::Response) -> String {
    res.headers()["x-request-id"].to_str().unwrap().to_owned()
}

fn ev(action: &str, target: &str, changes: Value) -> (String, String, Value) {
    (action.to_owned(), target.to_owned(), changes)
}

fn none_leaked(raw: &str, secrets: &[&str]) {
    assert_eq!(leaked(raw, secrets), Vec::<&str>::new(), "{raw}");
}

#[tokio::test]
async fn the_bootstrap_administrator_is_created_by_the_operator() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (events, raw) = app.events_after(&admin, 0).await;
    let created = &events[0];
    assert_eq!(created["action"], "user.created");
    assert_eq!(created["actor"], json!({"type": "operator", "id": null}));
    assert_eq!(created["target"], json!({"type": "user", "id": ADMIN}));
    assert_eq!(created["tenant"], Value::Null);
    assert_eq!(created["request_id"], Value::Null);
    assert_eq!(created["address"], Value::Null);
    let changes = &created["changes"];
    assert_eq!(changes["id"], json!({"to": ADMIN}));
    assert_eq!(changes["groups"], json!({"to": ["administrator"]}));
    assert_eq!(changes["primary_group"], json!({"to": "administrator"}));
    assert_eq!(changes["force_reset"], json!({"to": false}));
    assert_eq!(changes["permissions"], json!({"to": all_perms()}));
    assert!(changes.get("password").is_none(), "{changes}");
    // then the admin's sign-in
    assert_eq!(events[1]["action"], "login.succeeded");
    assert_eq!(events.len(), 2, "{events:?}");
    none_leaked(&raw, &[ADMIN_PASSWORD]);
    // a second start changes nothing and records nothing
    let config = virtool_svc::Config {
        bootstrap_admin_user: Some(ADMIN.into()),
        bootstrap_admin_password: Some(user_core::Secret::new(ADMIN_PASSWORD)),
        ..virtool_svc::Config::default()
    };
    virtool_svc::bootstrap::apply(&app.state, &config)
        .await
        .unwrap();
    assert_eq!(app.events_after(&admin, 0).await.0.len(), 2);
}

#[tokio::test]
async fn user_writes_record_who_what_and_only_what_changed() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let mark = app.mark(&admin).await;

    // create (force_reset defaults to true)
    let res = app
        .send(
            Method::POST,
            &admin,
            "/api/users",
            &json!({"user_id": "kari", "password": FIRST}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created_request = request_id(&res);
    let body = json(res).await;
    let (events, _) = app.events_after(&admin, mark).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert!(e["id"].as_i64().unwrap() > mark);
    assert_eq!(e["action"], "user.created");
    assert_eq!(e["actor"], json!({"type": "user", "id": ADMIN}));
    assert_eq!(e["target"], json!({"type": "user", "id": "kari"}));
    assert_eq!(e["tenant"], Value::Null);
    assert_eq!(e["request_id"], created_request.as_str());
    assert_eq!(e["address"], "127.0.0.1");
    let time = e["time"].as_str().unwrap();
    assert!(time.ends_with('Z') && time.len() == 27, "{time}");
    let expected: serde_json::Map<String, Value> = body
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), json!({ "to": v })))
        .collect();
    assert_eq!(
        e["changes"],
        Value::Object(expected),
        "every field of the GET as `to`"
    );
    let mark = e["id"].as_i64().unwrap();

    // a field alone
    let (status, _) = app
        .write(
            Method::PATCH,
            &admin,
            "/api/users/kari",
            &json!({"force_reset": false}),
        )
        .await;
    assert_eq!(status, 200);
    // the password alone: only user.password_changed
    let (status, only_password) = app
        .write(
            Method::PATCH,
            &admin,
            "/api/users/kari",
            &json!({"password": SECOND}),
        )
        .await;
    assert_eq!(status, 200);
    // the password and a field: both, in the same request
    let (status, both) = app
        .write(
            Method::PATCH,
            &admin,
            "/api/users/kari",
            &json!({"password": THIRD, "force_reset": true}),
        )
        .await;
    assert_eq!(status, 200);
    let (all, raw) = app.events_after(&admin, mark).await;
    let got: Vec<_> = all
        .iter()
        .map(|e| {
            (
                e["action"].clone(),
                e["changes"].clone(),
                e["request_id"].clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                json!("user.updated"),
                json!({"force_reset": {"from": true, "to": false}}),
                all[0]["request_id"].clone()
            ),
            (
                json!("user.password_changed"),
                json!({"password": {"changed": true}}),
                json!(only_password)
            ),
            (
                json!("user.updated"),
                json!({"force_reset": {"from": false, "to": true}, "password": {"changed": true}}),
                json!(both)
            ),
            (
                json!("user.password_changed"),
                json!({"password": {"changed": true}}),
                json!(both)
            ),
        ]
    );
    none_leaked(&raw, &[FIRST, SECOND, THIRD]);
    let mark = all.last().unwrap()["id"].as_i64().unwrap();

    // memberships and the primary group
    app.add_group("tech", &["upload_file"]).await;
    app.add_group("empty", &[]).await;
    for group in ["tech", "empty"] {
        let (status, _) = app
            .write(
                Method::POST,
                &admin,
                "/api/users/kari/groups",
                &json!({"group_id": group}),
            )
            .await;
        assert_eq!(status, 200);
    }
    let (status, _) = app
        .write(
            Method::PATCH,
            &admin,
            "/api/users/kari",
            &json!({"primary_group": "tech"}),
        )
        .await;
    assert_eq!(status, 200);
    let res = app.delete(&admin, "/api/users/kari/groups/tech").await;
    assert_eq!(res.status(), 200);
    let (events, raw) = app.since(&admin, mark).await;
    assert_eq!(
        events,
        [
            ev(
                "user.group_added",
                "kari",
                json!({"groups": {"from": [], "to": ["tech"]},
                       "permissions": {"from": {"upload_file": false}, "to": {"upload_file": true}}})
            ),
            ev(
                "user.group_added",
                "kari",
                json!({"groups": {"from": ["tech"], "to": ["empty", "tech"]}})
            ),
            ev(
                "user.updated",
                "kari",
                json!({"primary_group": {"from": "", "to": "tech"}})
            ),
            ev(
                "user.group_removed",
                "kari",
                json!({"groups": {"from": ["empty", "tech"], "to": ["empty"]},
                       "permissions": {"from": {"upload_file": true}, "to": {"upload_file": false}},
                       "primary_group": {"from": "tech", "to": ""}})
            ),
        ]
    );
    none_leaked(&raw, &[FIRST, SECOND, THIRD]);
    let mark = app.mark(&admin).await;

    // delete: the user as it was
    let before = json(app.get(&admin, "/api/users/kari").await).await;
    let res = app.delete(&admin, "/api/users/kari").await;
    assert_eq!(res.status(), 204);
    let deleted_request = request_id(&res);
    let (all, raw) = app.events_after(&admin, mark).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["action"], "user.deleted");
    assert_eq!(all[0]["target"], json!({"type": "user", "id": "kari"}));
    assert_eq!(all[0]["actor"], json!({"type": "user", "id": ADMIN}));
    assert_eq!(all[0]["request_id"], deleted_request.as_str());
    let expected: serde_json::Map<String, Value> = before
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), json!({ "from": v })))
        .collect();
    assert_eq!(all[0]["changes"], Value::Object(expected));
    none_leaked(&raw, &[FIRST, SECOND, THIRD]);
}

#[tokio::test]
async fn group_writes_record_only_the_permissions_that_changed() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let manager = app.manager("mona").await;
    let mark = app.mark(&admin).await;

    let res = app
        .send(
            Method::POST,
            &manager,
            "/api/groups",
            &json!({"group_id": "Tech"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let (status, _) = app
        .write(
            Method::PATCH,
            &manager,
            "/api/groups/tech",
            &json!({"permissions": {"upload_file": true, "cancel_job": false}}),
        )
        .await;
    assert_eq!(status, 200);
    app.add_user("bob", &["tech"]).await;
    app.add_user("eve", &["tech"]).await;
    app.add_user("tom", &[]).await;
    app.execute("UPDATE users SET primary_group = 'tech' WHERE id = 'bob'")
        .await;
    let res = app.delete(&manager, "/api/groups/tech").await;
    assert_eq!(res.status(), 204);
    let (all, _) = app.events_after(&admin, mark).await;
    for e in &all {
        assert_eq!(e["actor"], json!({"type": "user", "id": "mona"}), "{e}");
        assert_eq!(e["target"]["type"], "group", "{e}");
        assert_eq!(e["tenant"], Value::Null, "{e}");
    }
    let (events, _) = app.since(&admin, mark).await;
    assert_eq!(
        events,
        [
            ev(
                "group.created",
                "tech",
                json!({"id": {"to": "tech"}, "permissions": {"to": perms(&[])}})
            ),
            ev(
                "group.updated",
                "tech",
                json!({"permissions": {"from": {"upload_file": false}, "to": {"upload_file": true}}})
            ),
            ev(
                "group.deleted",
                "tech",
                json!({"id": {"from": "tech"},
                       "permissions": {"from": perms(&["upload_file"])},
                       "members": {"from": ["bob", "eve"]}})
            ),
        ],
        "one event for the deletion, naming the members who lost the group"
    );
    assert_eq!(app.stored_user("bob").await.unwrap().1, None);
}

#[tokio::test]
async fn the_reset_flow_records_the_password_change_by_the_user() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let res = app
        .send(
            Method::POST,
            &admin,
            "/api/users",
            &json!({"user_id": "kari", "password": FIRST}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let mark = app.mark(&admin).await;
    let res = app.login("kari", FIRST).await;
    assert_eq!(res.status(), 200);
    let code = json(res).await["reset_code"].as_str().unwrap().to_owned();
    let res = app
        .http
        .post(app.url("/api/account/reset"))
        .json(&json!({"password": SECOND, "reset_code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let reset_request = request_id(&res);
    let token = json(res).await["token"].as_str().unwrap().to_owned();
    let (all, raw) = app.events_after(&admin, mark).await;
    let got: Vec<_> = all
        .iter()
        .map(|e| {
            (
                e["action"].clone(),
                e["actor"].clone(),
                e["changes"].clone(),
            )
        })
        .collect();
    let kari = json!({"type": "user", "id": "kari"});
    assert_eq!(
        got,
        [
            (json!("login.succeeded"), kari.clone(), json!({})),
            (
                json!("user.updated"),
                kari.clone(),
                json!({"force_reset": {"from": true, "to": false}, "password": {"changed": true}})
            ),
            (
                json!("user.password_changed"),
                kari.clone(),
                json!({"password": {"changed": true}})
            ),
        ]
    );
    assert_eq!(all[1]["request_id"], reset_request.as_str());
    assert_eq!(all[2]["request_id"], reset_request.as_str());
    none_leaked(&raw, &[FIRST, SECOND, &code, &token]);

    // a code whose user's force_reset was cleared meanwhile: the password change alone
    let res = app
        .send(
            Method::PATCH,
            &admin,
            "/api/users/kari",
            &json!({"force_reset": true}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let code = json(app.login("kari", SECOND).await).await["reset_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .send(
            Method::PATCH,
            &admin,
            "/api/users/kari",
            &json!({"force_reset": false}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let mark = app.mark(&admin).await;
    let res = app
        .http
        .post(app.url("/api/account/reset"))
        .json(&json!({"password": THIRD, "reset_code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (events, raw) = app.since(&admin, mark).await;
    assert_eq!(
        events,
        [ev(
            "user.password_changed",
            "kari",
            json!({"password": {"changed": true}})
        )]
    );
    none_leaked(&raw, &[FIRST, SECOND, THIRD, &code]);
    // a used code changes nothing and records nothing
    let res = app
        .http
        .post(app.url("/api/account/reset"))
        .json(&json!({"password": FOURTH, "reset_code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(app.since(&admin, mark).await.0.len(), 1);
}

#[tokio::test]
async fn sign_ins_are_recorded_with_the_account_as_typed() {
    let app = spawn_app_with(
        &[("LOGIN_MAX_FAILURES", "3")],
        virtool_svc::Config::default(),
    )
    .await;
    let admin = app.admin_token().await;
    app.add_user("bob", &[]).await;
    let mark = app.mark(&admin).await;
    assert_eq!(app.login("bob", PASSWORD).await.status(), 200);
    assert_eq!(app.login("bob", "wrong-password").await.status(), 400);
    assert_eq!(app.login("Nobody", "wrong-password").await.status(), 400);
    assert_eq!(app.login("a\0b", "wrong-password").await.status(), 400);
    let long = "q".repeat(300);
    assert_eq!(app.login(&long, "wrong-password").await.status(), 400);
    // bob's account is throttled after 3 failures; every later attempt is 429, one event
    assert_eq!(app.login("bob", "wrong-password").await.status(), 400);
    assert_eq!(app.login("bob", "wrong-password").await.status(), 400);
    for _ in 0..5 {
        assert_eq!(app.login("bob", "wrong-password").await.status(), 429);
    }
    assert_eq!(app.login("bob", PASSWORD).await.status(), 429);
    let (all, raw) = app.events_after(&admin, mark).await;
    let cut = format!("{}…", "q".repeat(252));
    let got: Vec<_> = all
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["target"]["id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("login.succeeded", "bob"),
            ("login.failed", "bob"),
            ("login.failed", "Nobody"),
            ("login.failed", "a\u{fffd}b"),
            ("login.failed", cut.as_str()),
            ("login.failed", "bob"),
            ("login.failed", "bob"),
            ("login.throttled", "bob"),
        ]
    );
    for e in &all {
        assert_eq!(e["target"]["type"], "user");
        assert_eq!(e["actor"], json!({"type": "user", "id": e["target"]["id"]}));
        assert_eq!(e["address"], "127.0.0.1");
        assert_eq!(e["changes"], json!({}));
        assert!(e["request_id"].is_string());
    }
    none_leaked(&raw, &[PASSWORD, "wrong-password", ADMIN_PASSWORD]);
}

#[tokio::test]
async fn writes_that_change_nothing_record_nothing() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.add_group("tech", &["upload_file"]).await;
    app.add_user("bob", &["tech"]).await;
    let mark = app.mark(&admin).await;
    let tag = test_support::conditional::etag(&app.get(&admin, "/api/users/bob").await);
    let stale = "\"not-the-tag\"";
    let cases: Vec<(Method, &str, Value, u16)> = vec![
        (Method::PATCH, "/api/users/bob", json!({}), 200),
        (
            Method::PATCH,
            "/api/users/bob",
            json!({"force_reset": false}),
            200,
        ),
        (
            Method::PATCH,
            "/api/users/bob",
            json!({"primary_group": "none"}),
            200,
        ),
        (
            Method::PATCH,
            "/api/users/bob",
            json!({"primary_group": "nope"}),
            404,
        ),
        (
            Method::PATCH,
            "/api/users/bob",
            json!({"password": "short"}),
            422,
        ),
        (
            Method::PATCH,
            "/api/users/nobody",
            json!({"force_reset": true}),
            404,
        ),
        (
            Method::POST,
            "/api/users/bob/groups",
            json!({"group_id": "tech"}),
            200,
        ),
        (
            Method::POST,
            "/api/users/bob/groups",
            json!({"group_id": "nope"}),
            404,
        ),
        (
            Method::DELETE,
            "/api/users/bob/groups/administrator",
            json!(null),
            200,
        ),
        (
            Method::DELETE,
            "/api/users/bob/groups/nope",
            json!(null),
            404,
        ),
        (
            Method::POST,
            "/api/users",
            json!({"user_id": "bob", "password": FIRST}),
            409,
        ),
        (
            Method::POST,
            "/api/users",
            json!({"user_id": "x", "password": "short"}),
            422,
        ),
        (Method::DELETE, "/api/users/admin", json!(null), 400),
        (Method::DELETE, "/api/users/nobody", json!(null), 404),
        (
            Method::POST,
            "/api/groups",
            json!({"group_id": "tech"}),
            409,
        ),
        (Method::PATCH, "/api/groups/tech", json!({}), 200),
        (
            Method::PATCH,
            "/api/groups/tech",
            json!({"permissions": {"upload_file": true}}),
            200,
        ),
        (
            Method::PATCH,
            "/api/groups/administrator",
            json!({"permissions": {"upload_file": false}}),
            400,
        ),
        (
            Method::PATCH,
            "/api/groups/tech",
            json!({"permissions": {"bogus": true}}),
            422,
        ),
        (
            Method::DELETE,
            "/api/groups/administrator",
            json!(null),
            400,
        ),
        (Method::DELETE, "/api/groups/nope", json!(null), 404),
    ];
    for (method, path, body, want) in cases {
        let mut request = app
            .http
            .request(method.clone(), app.url(path))
            .bearer_auth(&admin);
        if !body.is_null() {
            request = request.json(&body);
        }
        let res = request.send().await.unwrap();
        assert_eq!(res.status().as_u16(), want, "{method} {path} {body}");
    }
    // 412: a stale If-Match on every conditional write
    let stale_writes: Vec<(Method, &str, Value)> = vec![
        (
            Method::PATCH,
            "/api/users/bob",
            json!({"force_reset": true}),
        ),
        (Method::PATCH, "/api/users/bob", json!({"password": SECOND})),
        (
            Method::POST,
            "/api/users/bob/groups",
            json!({"group_id": "administrator"}),
        ),
        (Method::DELETE, "/api/users/bob/groups/tech", json!(null)),
        (Method::DELETE, "/api/users/bob", json!(null)),
        (
            Method::PATCH,
            "/api/groups/tech",
            json!({"permissions": {"cancel_job": true}}),
        ),
        (Method::DELETE, "/api/groups/tech", json!(null)),
    ];
    for (method, path, body) in stale_writes {
        let mut request = app
            .http
            .request(method.clone(), app.url(path))
            .bearer_auth(&admin)
            .header("if-match", stale);
        if !body.is_null() {
            request = request.json(&body);
        }
        let res = request.send().await.unwrap();
        assert_eq!(res.status(), 412, "{method} {path}");
    }
    // the current tag on a no-op still records nothing
    let res = app
        .http
        .patch(app.url("/api/users/bob"))
        .bearer_auth(&admin)
        .header("if-match", &tag)
        .json(&json!({"force_reset": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (events, raw) = app.since(&admin, mark).await;
    assert_eq!(events, [], "nothing changed, nothing recorded");
    none_leaked(&raw, &[FIRST, SECOND]);
    assert_eq!(app.stored_groups_of("bob").await, ["tech"]);
}

#[tokio::test]
async fn a_write_whose_commit_fails_leaves_neither_change_nor_event() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.add_group("tech", &[]).await;
    app.add_user("bob", &[]).await;
    let mark = app.mark(&admin).await;
    let before = app.stored_user("bob").await.unwrap();
    app.execute(FAIL_AT_COMMIT).await;
    let writes: Vec<(Method, &str, Value)> = vec![
        (
            Method::PATCH,
            "/api/users/bob",
            json!({"force_reset": true, "password": SECOND}),
        ),
        (
            Method::POST,
            "/api/users/bob/groups",
            json!({"group_id": "tech"}),
        ),
        (Method::DELETE, "/api/users/bob", json!(null)),
        (
            Method::POST,
            "/api/users",
            json!({"user_id": "kari", "password": FIRST}),
        ),
        (Method::POST, "/api/groups", json!({"group_id": "ops"})),
        (
            Method::PATCH,
            "/api/groups/tech",
            json!({"permissions": {"upload_file": true}}),
        ),
        (Method::DELETE, "/api/groups/tech", json!(null)),
    ];
    for (method, path, body) in writes {
        let mut request = app
            .http
            .request(method.clone(), app.url(path))
            .bearer_auth(&admin);
        if !body.is_null() {
            request = request.json(&body);
        }
        let res = request.send().await.unwrap();
        assert!(
            res.status().is_server_error(),
            "{method} {path}: {}",
            res.status()
        );
    }
    app.execute(ALLOW_COMMITS).await;
    assert_eq!(app.stored_user("bob").await.unwrap(), before);
    assert_eq!(app.stored_groups_of("bob").await, Vec::<String>::new());
    assert_eq!(app.stored_user_ids().await, [ADMIN, "bob"]);
    let groups = json(app.get(&admin, "/api/groups").await).await;
    assert_eq!(
        groups,
        json!([{"id": "administrator", "permissions": all_perms()},
               {"id": "tech", "permissions": perms(&[])}])
    );
    let (events, _) = app.since(&admin, mark).await;
    assert_eq!(events, [], "no event of a rolled-back change");
    // and the trail goes on
    let res = app
        .send(
            Method::PATCH,
            &admin,
            "/api/users/bob",
            &json!({"force_reset": true}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.since(&admin, mark).await.0.len(), 1);
}

#[tokio::test]
async fn only_manage_users_reads_the_feed_and_it_shows_every_event() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let manager = app.manager("mona").await;
    app.add_group("readers", &["upload_file"]).await;
    app.add_user("rita", &["readers"]).await;
    let rita = app.token_for("rita", PASSWORD).await;

    let res = app.http.get(app.url("/api/events")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        json(res).await,
        error("requires_authorization", "Requires authorization")
    );
    let res = app.get("not-a-token", "/api/events").await;
    assert_eq!(res.status(), 401);
    let res = app.get(&rita, "/api/events").await;
    assert_eq!(res.status(), 403);
    assert_eq!(json(res).await, error("not_permitted", "Not permitted"));
    // a 403 even with a bad query: permission first
    let res = app.get(&rita, "/api/events?limit=0").await;
    assert_eq!(res.status(), 403);

    // a manager who is no administrator sees everything, the administrator's events too
    let res = app
        .send(
            Method::PATCH,
            &admin,
            "/api/users/rita",
            &json!({"force_reset": true}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (as_manager, _) = app.events_after(&manager, 0).await;
    let (as_admin, _) = app.events_after(&admin, 0).await;
    assert_eq!(as_manager, as_admin);
    assert!(as_manager.iter().any(|e| e["action"] == "user.updated"
        && e["actor"]["id"] == ADMIN
        && e["target"]["id"] == "rita"));
    assert!(
        as_manager.iter().all(|e| e["tenant"].is_null()),
        "one tenant: none named"
    );
    // losing the permission closes the feed within the principal cache's life
    app.execute("UPDATE groups SET manage_users = false WHERE id = 'mona_managers'")
        .await;
    tokio::time::sleep(virtool_svc::state::PRINCIPAL_CACHE_TTL + Duration::from_millis(200)).await;
    assert_eq!(app.get(&manager, "/api/events").await.status(), 403);
}

#[tokio::test]
async fn the_feed_filters_pages_and_refuses_wrong_queries_in_the_api_shape() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.add_user("bob", &[]).await;
    app.add_user("eve", &[]).await;
    let mark = app.mark(&admin).await;
    for (user, value) in [("bob", true), ("eve", true), ("bob", false)] {
        let res = app
            .send(
                Method::PATCH,
                &admin,
                &format!("/api/users/{user}"),
                &json!({"force_reset": value}),
            )
            .await;
        assert_eq!(res.status(), 200);
    }
    let page = json(
        app.get(&admin, &format!("/api/events?after={mark}&target=bob"))
            .await,
    )
    .await;
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e["target"]["id"] == "bob"));
    assert_eq!(page["next_after"], events[1]["id"]);
    let page = json(
        app.get(&admin, "/api/events?action=user.created&limit=5")
            .await,
    )
    .await;
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "the bootstrap's: {page}");
    assert_eq!(events[0]["target"]["id"], ADMIN);
    // one at a time
    let page = json(
        app.get(&admin, &format!("/api/events?after={mark}&limit=1"))
            .await,
    )
    .await;
    assert_eq!(page["events"].as_array().unwrap().len(), 1);
    let first = page["next_after"].as_i64().unwrap();
    assert!(first > mark);
    let page = json(
        app.get(&admin, &format!("/api/events?after={first}&limit=1"))
            .await,
    )
    .await;
    assert!(page["next_after"].as_i64().unwrap() > first);
    // nothing newer: the given after back
    let page = json(app.get(&admin, "/api/events?after=999999").await).await;
    assert_eq!(page, json!({"events": [], "next_after": 999999}));

    // wrong queries: 422 in the API's shape, every field at once
    let res = app
        .get(
            &admin,
            "/api/events?after=-1&limit=0&wait=31&action=&target=%00",
        )
        .await;
    assert_eq!(res.status(), 422);
    let body = json(res).await;
    assert_eq!(body["id"], "invalid_input");
    assert_eq!(body["message"], "Invalid input");
    let errors = body["errors"].as_object().unwrap();
    let fields: Vec<&str> = errors.keys().map(String::as_str).collect();
    assert_eq!(fields, ["action", "after", "limit", "target", "wait"]);
    assert_eq!(
        body["errors"]["limit"],
        json!(["The limit must be an integer between 1 and 1000."])
    );
    assert_eq!(
        body["errors"]["after"],
        json!(["The after must be an integer of at least 0."])
    );
    assert_eq!(
        body["errors"]["wait"],
        json!(["The wait must be a number of seconds between 0 and 30."])
    );
    for query in ["limit=1001", "after=x", "wait=NaN", "limit=2.5"] {
        let res = app.get(&admin, &format!("/api/events?{query}")).await;
        assert_eq!(res.status(), 422, "{query}");
        assert_eq!(json(res).await["id"], "invalid_input", "{query}");
    }
}

#[tokio::test]
async fn a_held_feed_answers_within_100ms_of_a_change() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.add_user("bob", &[]).await;
    let after = app.mark(&admin).await;
    let feed = |after: i64, wait: u32| {
        app.http
            .get(app.url(&format!("/api/events?after={after}&wait={wait}")))
            .bearer_auth(&admin)
    };
    assert_wait(feed, after, || async {
        let res = app
            .send(
                Method::PATCH,
                &admin,
                "/api/users/bob",
                &json!({"force_reset": true}),
            )
            .await;
        assert_eq!(res.status(), 200);
    })
    .await;
}

#[tokio::test]
async fn a_follower_sees_every_event_once_in_order_under_eight_writers() {
    let app = spawn_app().await;
    assert_feed_rule(&app.state.core.db, 8).await;
}

/// `virtool-svc admin …` run as an operator would, against the test database.
fn admin_command(app: &TestApp, args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_virtool-svc"));
    command
        .env_clear()
        .env("DATABASE_URL", &app.db.url)
        .env("RUST_LOG", "off")
        .arg("admin")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    command
}

#[tokio::test]
async fn admin_events_prints_the_trail_as_ndjson_and_follows_it() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.add_user("bob", &[]).await;
    let res = app
        .send(
            Method::PATCH,
            &admin,
            "/api/users/bob",
            &json!({"password": SECOND}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (events, _) = app.events_after(&admin, 0).await;

    let out = admin_command(&app, &["events"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let printed: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(
        printed, events,
        "one event per line, as the feed shows them"
    );
    none_leaked(&stdout, &[SECOND, ADMIN_PASSWORD]);

    let first = events[0]["id"].as_i64().unwrap().to_string();
    let out = admin_command(&app, &["events", "--after", &first])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().lines().count(),
        events.len() - 1
    );

    for bad in [
        &["events", "--after"][..],
        &["events", "--bogus"],
        &["nothing"],
        &[],
    ] {
        let out = admin_command(&app, bad).output().unwrap();
        assert!(!out.status.success(), "{bad:?}");
    }
    let usage = virtool_svc::admin::run(
        &app.state.core.db,
        &app.state.core.settings.hasher(),
        &["users".to_owned()],
    )
    .await
    .unwrap_err();
    assert!(
        usage.to_string().contains("events [--after N] [--follow]"),
        "{usage}"
    );

    // --follow: a change made after it started arrives as a new line
    let last = events.last().unwrap()["id"].as_i64().unwrap().to_string();
    let mut child = admin_command(&app, &["events", "--after", &last, "--follow"])
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if lines_tx.send(line).is_err() {
                return;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let res = app
        .send(
            Method::PATCH,
            &admin,
            "/api/users/bob",
            &json!({"force_reset": true}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let line = tokio::task::spawn_blocking(move || lines_rx.recv_timeout(Duration::from_secs(10)))
        .await
        .unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    let event: Value = serde_json::from_str(&line.unwrap().unwrap()).unwrap();
    assert_eq!(event["action"], "user.updated");
    assert_eq!(event["target"]["id"], "bob");
    assert_eq!(
        event["changes"],
        json!({"force_reset": {"from": false, "to": true}})
    );
}
