//! The audit trail and `GET /events` (`../shared/api/audit.md`): every action's event (actor,
//! target, tenant, request id, address, the diff, no secret), writes that change nothing,
//! a change whose commit fails, tenant isolation, the query's errors, `wait`, the feed rule, and
//! `agency-svc admin events`.

use crate::helpers::{spawn_app, spawn_app_with, TestApp, CLIENT_ID, CLIENT_SECRET};
use diesel_async::SimpleAsyncConnection;
use reqwest::Method;
use serde_json::{json, Value};
use std::io::BufRead;
use std::time::Duration;
use test_support::audit::{assert_feed_rule, assert_wait, leaked, ALLOW_COMMITS, FAIL_AT_COMMIT};
use test_support::json;
use user_core::audit::FeedQuery;

const PASSWORD: &str = "first-pass-1";
const NEW_PASSWORD: &str = "second-pass-2";
const THIRD_PASSWORD: &str = "third-pass-3";

fn kari(email: &str) -> Value {
    json!({"firstname":"Kari","lastname":"Nordmann","email":email,
           "new_password":PASSWORD,"new_password_confirmation":PASSWORD})
}

/// `GET /events?<query>` as the raw answer.
async fn feed_raw(app: &TestApp, token: &str, query: &str) -> reqwest::Response {
    app.get(token, &format!("/events?{query}")).await
}

/// The events after `after` (every page), and the raw bodies read.
async fn events(app: &TestApp, token: &str, after: i64) -> (Vec<Value>, String) {
    let mut after = after;
    let mut all = Vec::new();
    let mut raw = String::new();
    loop {
        let res = feed_raw(app, token, &format!("after={after}&limit=1000")).await;
        assert_eq!(res.status(), 200);
        let text = res.text().await.unwrap();
        let page: Value = serde_json::from_str(&text).unwrap();
        raw.push_str(&text);
        let got = page["events"].as_array().unwrap().clone();
        if got.is_empty() {
            assert_eq!(page["next_after"], after);
            return (all, raw);
        }
        assert_eq!(page["next_after"], got.last().unwrap()["id"]);
        after = page["next_after"].as_i64().unwrap();
        all.extend(got);
    }
}

/// The feed's current end for `token`'s group.
async fn last_id(app: &TestApp, token: &str) -> i64 {
    let (all, _) = events(app, token, 0).await;
    all.last().map_or(0, |e| e["id"].as_i64().unwrap())
}

/// Every event of the trail (all tenants, sign-ins of unknown clients included), as the
/// operator's `admin events` reads them.
async fn all_events(app: &TestApp) -> Vec<Value> {
    let page = app
        .state
        .core
        .audit
        .feed(
            None,
            &FeedQuery {
                limit: 1000,
                ..FeedQuery::default()
            },
        )
        .await
        .unwrap();
    page.events
        .into_iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .collect()
}

fn actions(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

/// `{"<field>": {"to": value}}` for every field of a user JSON.
fn created(user: &Value) -> Value {
    let map: serde_json::Map<String, Value> = user
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), json!({"to": v})))
        .collect();
    Value::Object(map)
}

fn from_fields(user: &Value) -> Value {
    let map: serde_json::Map<String, Value> = user
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), json!({"from": v})))
        .collect();
    Value::Object(map)
}

async fn group_of(app: &TestApp, token: &str) -> String {
    let agencies = json(app.get(token, "/agencies").await).await;
    agencies[0]["agency_group_id"].to_string()
}

#[tokio::test]
async fn user_writes_record_who_what_where_and_the_diff_without_secrets() {
    let app = spawn_app().await;
    let token = app.token().await;
    let group = group_of(&app, &token).await;
    let agency = app.agencies[0];
    let start = last_id(&app, &token).await;

    // create (with a password): user.created, every field as {"to"}, no password entry
    let res = app
        .http
        .post(app.url(&format!("/agency/{agency}/user")))
        .bearer_auth(&token)
        .header("x-request-id", "audit-create-1")
        .json(&kari("kari@example.no"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let user = json(res).await;
    let id = user["id"].as_i64().unwrap();
    let path = format!("/agency/{agency}/user/{id}");
    let (got, _) = events(&app, &token, start).await;
    assert_eq!(actions(&got), ["user.created"]);
    let e = &got[0];
    let keys: Vec<&String> = e.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "action",
            "actor",
            "address",
            "changes",
            "id",
            "request_id",
            "target",
            "tenant",
            "time"
        ]
    );
    assert!(e["id"].as_i64().unwrap() > start);
    assert_eq!(e["actor"], json!({"type": "client", "id": CLIENT_ID}));
    assert_eq!(e["target"], json!({"type": "user", "id": id.to_string()}));
    assert_eq!(
        e["tenant"],
        json!(group),
        "the tenant is the group id, a string"
    );
    assert_eq!(e["request_id"], json!(request_id));
    assert_eq!(e["address"], "127.0.0.1");
    assert_eq!(e["changes"], created(&user));
    let time = e["time"].as_str().unwrap();
    assert!(time.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(time).is_ok());
    let after_create = e["id"].as_i64().unwrap();

    // other fields and the password: user.updated (only what changed, the password as
    // changed) and user.password_changed, both with the request's id
    let res = app
        .send(
            Method::PATCH,
            &token,
            &path,
            &json!({"firstname":"Karin","phone":null,"new_password":NEW_PASSWORD,
                    "new_password_confirmation":NEW_PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (got, _) = events(&app, &token, after_create).await;
    assert_eq!(actions(&got), ["user.updated", "user.password_changed"]);
    assert_eq!(
        got[0]["changes"],
        json!({"firstname":{"from":"Kari","to":"Karin"},
               "name":{"from":"Kari Nordmann","to":"Karin Nordmann"},
               "password":{"changed":true}}),
        "phone was null and stays null: not a change; updated_at is left out"
    );
    assert_eq!(got[1]["changes"], json!({"password":{"changed":true}}));
    assert_eq!(got[0]["request_id"], got[1]["request_id"]);
    assert_eq!(
        got[1]["target"],
        json!({"type": "user", "id": id.to_string()})
    );
    let after_both = got[1]["id"].as_i64().unwrap();

    // the password alone (through POST, the update's other verb): only user.password_changed
    let res = app
        .send(
            Method::POST,
            &token,
            &path,
            &json!({"new_password":THIRD_PASSWORD,"new_password_confirmation":THIRD_PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (got, _) = events(&app, &token, after_both).await;
    assert_eq!(actions(&got), ["user.password_changed"]);
    assert_eq!(got[0]["changes"], json!({"password":{"changed":true}}));
    let after_password = got[0]["id"].as_i64().unwrap();

    // an email alone: only user.updated
    let res = app
        .send(
            Method::PATCH,
            &token,
            &path,
            &json!({"email":"karin@example.no","lastname":"Nordmann"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let before_delete = json(res).await;
    let (got, _) = events(&app, &token, after_password).await;
    assert_eq!(actions(&got), ["user.updated"]);
    assert_eq!(
        got[0]["changes"],
        json!({"email":{"from":"kari@example.no","to":"karin@example.no"}})
    );
    let after_email = got[0]["id"].as_i64().unwrap();

    // delete: user.deleted, every field as {"from"}
    let res = app.send(Method::DELETE, &token, &path, &json!({})).await;
    assert_eq!(res.status(), 200);
    let (got, _) = events(&app, &token, after_email).await;
    assert_eq!(actions(&got), ["user.deleted"]);
    assert_eq!(got[0]["changes"], from_fields(&before_delete));
    assert_eq!(
        got[0]["target"],
        json!({"type": "user", "id": id.to_string()})
    );

    // no password, hash or client secret anywhere in the feed
    let (_, raw) = events(&app, &token, 0).await;
    let found = leaked(
        &raw,
        &[PASSWORD, NEW_PASSWORD, THIRD_PASSWORD, CLIENT_SECRET],
    );
    assert!(found.is_empty(), "leaked {found:?}: {raw}");
}

#[tokio::test]
async fn writes_that_change_nothing_record_no_event() {
    let app = spawn_app().await;
    let token = app.token().await;
    let agency = app.agencies[0];
    let res = app
        .create_user(&token, agency, &kari("kari@example.no"))
        .await;
    assert_eq!(res.status(), 201);
    let user = json(res).await;
    let path = format!("/agency/{agency}/user/{}", user["id"]);
    let start = last_id(&app, &token).await;

    // an empty update, one that sets what is there already, unknown fields only
    for body in [
        json!({}),
        json!({"firstname":"Kari","lastname":"Nordmann","phone":null}),
        json!({"nickname":"K"}),
    ] {
        let res = app.send(Method::PATCH, &token, &path, &body).await;
        assert_eq!(res.status(), 200, "{body}");
    }
    // rejected: 422 (invalid, taken email), 404, 412 on update and delete
    let res = app
        .send(Method::PATCH, &token, &path, &json!({"email":"nope"}))
        .await;
    assert_eq!(res.status(), 422);
    let res = app
        .create_user(&token, agency, &kari("kari@example.no"))
        .await;
    assert_eq!(res.status(), 422);
    let res = app
        .send(
            Method::PATCH,
            &token,
            &format!("/agency/{agency}/user/999999"),
            &json!({"firstname":"X"}),
        )
        .await;
    assert_eq!(res.status(), 404);
    let res = app
        .http
        .patch(app.url(&path))
        .bearer_auth(&token)
        .header("if-match", "\"stale\"")
        .json(&json!({"firstname":"Other"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 412);
    let res = app
        .http
        .delete(app.url(&path))
        .bearer_auth(&token)
        .header("if-match", "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 412);
    // a replayed keyed create is not a second create
    for _ in 0..2 {
        let res = app
            .http
            .post(app.url(&format!("/agency/{agency}/user")))
            .bearer_auth(&token)
            .header("idempotency-key", "audit-once")
            .json(&json!({"firstname":"Ola","email":"ola@example.no"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    // the tag matches: the update happens and is recorded (the update to the same values
    // moved `updated_at`, and so the tag: read it again)
    let tag = app.get(&token, &path).await.headers()["etag"]
        .to_str()
        .unwrap()
        .to_owned();
    let res = app
        .http
        .patch(app.url(&path))
        .bearer_auth(&token)
        .header("if-match", &tag)
        .json(&json!({"firstname":"Kaja"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let (got, _) = events(&app, &token, start).await;
    assert_eq!(actions(&got), ["user.created", "user.updated"], "{got:?}");
    assert_eq!(got[0]["changes"]["email"], json!({"to": "ola@example.no"}));
}

#[tokio::test]
async fn a_write_whose_commit_fails_leaves_neither_the_change_nor_an_event() {
    let app = spawn_app().await;
    let token = app.token().await;
    let agency = app.agencies[0];
    let res = app
        .create_user(&token, agency, &kari("kari@example.no"))
        .await;
    assert_eq!(res.status(), 201);
    let user = json(res).await;
    let path = format!("/agency/{agency}/user/{}", user["id"]);
    let start = last_id(&app, &token).await;
    let stored = app.stored_users().await;

    let mut conn = app.db.conn("agency").await;
    conn.batch_execute(FAIL_AT_COMMIT).await.unwrap();
    let res = app
        .create_user(&token, agency, &kari("ola@example.no"))
        .await;
    assert!(res.status().is_server_error(), "{}", res.status());
    let res = app
        .send(
            Method::PATCH,
            &token,
            &path,
            &json!({"firstname":"Karin","new_password":NEW_PASSWORD,
                    "new_password_confirmation":NEW_PASSWORD}),
        )
        .await;
    assert!(res.status().is_server_error(), "{}", res.status());
    let res = app.send(Method::DELETE, &token, &path, &json!({})).await;
    assert!(res.status().is_server_error(), "{}", res.status());
    conn.batch_execute(ALLOW_COMMITS).await.unwrap();

    assert_eq!(app.stored_users().await, stored, "nothing changed");
    assert_eq!(json(app.get(&token, &path).await).await, user);
    let (got, _) = events(&app, &token, start).await;
    assert_eq!(actions(&got), Vec::<&str>::new(), "no event");
}

#[tokio::test]
async fn sign_ins_are_recorded_with_the_client_id_as_typed() {
    let app = spawn_app_with(&[("LOGIN_WINDOW_SECONDS", "2")]).await;
    let token = app.token().await;
    let group = group_of(&app, &token).await;
    let token_request = |id: &str, secret: &str| {
        app.http
            .post(app.url("/oauth/token"))
            .json(&json!({"grant_type":"client_credentials","client_id":id,"client_secret":secret}))
    };
    // a wrong secret for the client, an unknown client, a long typed id
    let res = token_request(CLIENT_ID, "wrong-secret-1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = token_request("No-Such-Client", "wrong-secret-2")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let long = "x".repeat(5000);
    let res = token_request(&long, "wrong-secret-3").send().await.unwrap();
    assert_eq!(
        res.status(),
        401,
        "a long client id is refused as any other"
    );
    // malformed requests are not sign-ins
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .json(&json!({"grant_type":"password","client_id":CLIENT_ID,"client_secret":"x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    let all = all_events(&app).await;
    let logins: Vec<&Value> = all
        .iter()
        .filter(|e| e["action"].as_str().unwrap().starts_with("login."))
        .collect();
    let summary: Vec<(&str, &str, Value)> = logins
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["target"]["id"].as_str().unwrap(),
                e["tenant"].clone(),
            )
        })
        .collect();
    // cut visibly at 255 bytes (`Target::typed`)
    let cut = format!("{}…", "x".repeat(252));
    assert_eq!(
        summary,
        [
            ("login.succeeded", CLIENT_ID, json!(group)),
            ("login.failed", CLIENT_ID, json!(group)),
            ("login.failed", "No-Such-Client", Value::Null),
            ("login.failed", cut.as_str(), Value::Null),
        ]
    );
    for e in &logins {
        assert_eq!(e["target"]["type"], "client");
        assert_eq!(e["actor"]["type"], "client");
        assert_eq!(e["actor"]["id"], e["target"]["id"]);
        assert_eq!(e["address"], "127.0.0.1");
        assert_eq!(e["changes"], json!({}));
        assert!(e["request_id"].is_string());
    }
    // the group sees its own client's sign-ins, not the unknown ones
    let (mine, raw) = events(&app, &token, 0).await;
    let mine: Vec<&str> = actions(&mine)
        .into_iter()
        .filter(|a| a.starts_with("login."))
        .collect();
    assert_eq!(mine, ["login.succeeded", "login.failed"]);
    assert!(!raw.contains("No-Such-Client"));
    let found = leaked(
        &serde_json::to_string(&all).unwrap(),
        &[
            CLIENT_SECRET,
            "wrong-secret-1",
            "wrong-secret-2",
            "wrong-secret-3",
        ],
    );
    assert!(found.is_empty(), "leaked {found:?}");

    // a burst of bad secrets: the throttle refuses several, login.throttled is recorded once;
    // after the window (LOGIN_WINDOW_SECONDS) a new burst records it again
    let throttled = || async {
        all_events(&app)
            .await
            .into_iter()
            .filter(|e| e["action"] == "login.throttled")
            .collect::<Vec<_>>()
    };
    for round in 1..=2 {
        let mut refused = 0;
        for _ in 0..14 {
            let res = token_request(CLIENT_ID, "wrong-secret-1")
                .send()
                .await
                .unwrap();
            if res.status() == 429 {
                refused += 1;
            }
        }
        assert!(refused >= 3, "{refused}");
        let got = throttled().await;
        assert_eq!(got.len(), round, "{got:?}");
        let e = got.last().unwrap();
        assert_eq!(e["target"], json!({"type": "client", "id": CLIENT_ID}));
        assert_eq!(e["address"], "127.0.0.1");
        tokio::time::sleep(Duration::from_millis(2100)).await;
    }
}

#[tokio::test]
async fn the_feed_shows_the_callers_group_only() {
    let app = spawn_app().await;
    let token = app.token().await;
    let group = group_of(&app, &token).await;
    let (other_agency, other_id, other_secret) = app.other_group().await;
    let other = app.token_for(&other_id, &other_secret).await;

    let res = app
        .create_user(&token, app.agencies[0], &kari("mine@example.no"))
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .create_user(&other, other_agency, &kari("theirs@example.no"))
        .await;
    assert_eq!(res.status(), 201);
    let theirs = json(res).await;

    // group one: its bootstrap (operator) events, its sign-in and its user; nothing of group two
    let (mine, raw) = events(&app, &token, 0).await;
    assert!(mine.iter().all(|e| e["tenant"] == json!(group)), "{mine:?}");
    assert_eq!(
        actions(&mine),
        [
            "group.created",
            "agency.created",
            "agency.created",
            "client.created",
            "login.succeeded",
            "user.created"
        ]
    );
    assert!(!raw.contains("theirs@example.no"));
    assert!(!raw.contains(&other_id));
    // group two: its client's creation, its sign-in and its user
    let (got, raw) = events(&app, &other, 0).await;
    assert_eq!(
        actions(&got),
        ["client.created", "login.succeeded", "user.created"]
    );
    assert_ne!(got[0]["tenant"], json!(group));
    assert!(!raw.contains("mine@example.no"));
    assert_eq!(
        got[2]["target"],
        json!({"type": "user", "id": theirs["id"].to_string()})
    );
    // the filters stay inside the group
    let target = theirs["id"].to_string();
    let res = feed_raw(
        &app,
        &token,
        &format!("target={target}&action=user.created"),
    )
    .await;
    assert_eq!(
        json(res).await,
        json!({"events": [], "next_after": 0}),
        "another group's target is not found"
    );
    let res = feed_raw(
        &app,
        &other,
        &format!("target={target}&action=user.created"),
    )
    .await;
    let page = json(res).await;
    assert_eq!(page["events"].as_array().unwrap().len(), 1);
    let res = feed_raw(&app, &token, "action=agency.created&limit=1").await;
    let page = json(res).await;
    assert_eq!(page["events"].as_array().unwrap().len(), 1);
    assert_eq!(page["next_after"], page["events"][0]["id"]);

    // no token, a bad token, a revoked client's token: 401 in the API's shape
    let unauthenticated = json!({"message": "Unauthenticated."});
    let res = app.http.get(app.url("/events")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(json(res).await, unauthenticated);
    let res = app.get("not-a-token", "/events").await;
    assert_eq!(res.status(), 401);
    let mut conn = app.state.core.db.conn().await.unwrap();
    agency_svc::admin::revoke_client(&mut conn, &other_id)
        .await
        .unwrap();
    drop(conn);
    let mut status = 200;
    for _ in 0..30 {
        status = app.get(&other, "/events").await.status().as_u16();
        if status == 401 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(status, 401, "a revoked client reads no more");
}

#[tokio::test]
async fn wrong_feed_queries_are_422_in_laravels_shape() {
    let app = spawn_app().await;
    let token = app.token().await;
    let res = feed_raw(&app, &token, "after=-1&limit=0&wait=31&action=&target=x").await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        json(res).await,
        json!({"message": "The given data was invalid.", "errors": {
            "after": ["The after must be an integer of at least 0."],
            "limit": ["The limit must be an integer between 1 and 1000."],
            "wait": ["The wait must be a number of seconds between 0 and 30."],
            "action": ["The action must be 1 to 255 characters."],
        }})
    );
    for query in ["limit=1001", "after=x", "wait=NaN", "limit=2.5"] {
        let res = feed_raw(&app, &token, query).await;
        assert_eq!(res.status(), 422, "{query}");
        let body = json(res).await;
        assert_eq!(body["message"], "The given data was invalid.", "{query}");
    }
    // 401 comes first
    let res = app
        .http
        .get(app.url("/events?limit=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // and a good query answers
    let res = feed_raw(&app, &token, "after=0&limit=1000&wait=0").await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_held_feed_answers_within_100_ms_of_a_change() {
    let app = spawn_app().await;
    let token = app.token().await;
    let after = last_id(&app, &token).await;
    let feed = |after: i64, wait: u32| {
        app.http
            .get(app.url(&format!("/events?after={after}&wait={wait}")))
            .bearer_auth(&token)
    };
    assert_wait(feed, after, || async {
        let res = app
            .create_user(&token, app.agencies[0], &kari("held@example.no"))
            .await;
        assert_eq!(res.status(), 201);
    })
    .await;
}

#[tokio::test]
async fn a_held_feed_is_not_woken_by_another_groups_event() {
    let app = spawn_app().await;
    let token = app.token().await;
    let (other_agency, other_id, other_secret) = app.other_group().await;
    let other = app.token_for(&other_id, &other_secret).await;
    let after = last_id(&app, &token).await;
    let started = std::time::Instant::now();
    let held = tokio::spawn(
        app.http
            .get(app.url(&format!("/events?after={after}&wait=1")))
            .bearer_auth(&token)
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let res = app
        .create_user(&other, other_agency, &kari("theirs@example.no"))
        .await;
    assert_eq!(res.status(), 201);
    let res = held.await.unwrap().unwrap();
    assert_eq!(json(res).await, json!({"events": [], "next_after": after}));
    assert!(started.elapsed() >= Duration::from_millis(950));
}

#[tokio::test]
async fn eight_writers_with_delayed_commits_a_follower_sees_each_event_once_in_order() {
    let app = spawn_app().await;
    assert_feed_rule(&app.state.core.db, 8).await;
}

/// The binary's `admin` subcommand against the test's database.
fn admin(app: &TestApp, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_agency-svc"));
    cmd.arg("admin")
        .args(args)
        .env("DATABASE_URL", &app.db.url)
        .env("BCRYPT_COST", "4")
        .env("ALLOW_WEAK_BCRYPT", "1")
        .env("JWT_SECRET", test_support::TEST_JWT_SECRET)
        .env("RUST_LOG", "error");
    cmd
}

fn output(mut cmd: std::process::Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn operator_commands_are_recorded_and_admin_events_prints_them() {
    let app = spawn_app().await;
    let before = all_events(&app).await;
    let start = before.last().unwrap()["id"].as_i64().unwrap();
    let bootstrap = &before[..4];
    assert_eq!(
        actions(bootstrap),
        [
            "group.created",
            "agency.created",
            "agency.created",
            "client.created"
        ]
    );
    for e in bootstrap {
        assert_eq!(e["actor"], json!({"type": "operator", "id": null}));
        assert_eq!(e["request_id"], Value::Null);
        assert_eq!(e["address"], Value::Null);
    }
    let group = bootstrap[0]["target"]["id"].as_str().unwrap().to_owned();
    assert_eq!(bootstrap[0]["target"]["type"], "group");
    assert_eq!(
        bootstrap[0]["changes"],
        json!({"id": {"to": group.parse::<i64>().unwrap()}, "name": {"to": "Group One"}})
    );
    assert_eq!(
        bootstrap[3]["changes"],
        json!({"id": {"to": CLIENT_ID}, "agency_group_id": {"to": group.parse::<i64>().unwrap()},
               "name": {"to": "bootstrap"}})
    );
    // a second start changes nothing and records nothing; a new secret is recorded as changed
    let mut config = agency_svc::Config {
        bootstrap_agency_group: Some("Group One".into()),
        bootstrap_agencies: Some("Oslo,Bergen".into()),
        bootstrap_client_id: Some(CLIENT_ID.into()),
        bootstrap_client_secret: Some(user_core::Secret::new(CLIENT_SECRET)),
    };
    agency_svc::bootstrap::apply(&app.state, &config)
        .await
        .unwrap();
    assert_eq!(all_events(&app).await, before);
    config.bootstrap_client_secret = Some(user_core::Secret::new("another-secret-0123456789"));
    agency_svc::bootstrap::apply(&app.state, &config)
        .await
        .unwrap();
    let got = all_events(&app).await;
    assert_eq!(actions(&got[before.len()..]), ["client.updated"]);
    assert_eq!(
        got[before.len()]["changes"],
        json!({"secret": {"changed": true}})
    );

    // the admin subcommands, run as the binary
    let new_group = output(admin(&app, &["group-create", "Group Three"]));
    let new_group = new_group.trim().to_owned();
    let agency = output(admin(&app, &["agency-create", &new_group, "Tromsø"]));
    let client = output(admin(&app, &["client-create", &new_group, "importer"]));
    let (client_id, client_secret) = client.trim().split_once(' ').unwrap();
    output(admin(&app, &["client-revoke", client_id]));
    output(admin(&app, &["client-revoke", client_id]));
    // a refused command records nothing
    let out = admin(&app, &["group-create", "Group Three"])
        .output()
        .unwrap();
    assert!(!out.status.success());

    let printed = output(admin(&app, &["events", "--after", &start.to_string()]));
    let lines: Vec<Value> = printed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        actions(&lines),
        [
            "client.updated",
            "group.created",
            "agency.created",
            "client.created",
            "client.revoked"
        ],
        "{printed}"
    );
    for e in &lines[1..] {
        assert_eq!(e["tenant"], json!(new_group));
        assert_eq!(e["actor"], json!({"type": "operator", "id": null}));
    }
    assert_eq!(
        lines[2]["target"],
        json!({"type": "agency", "id": agency.trim()})
    );
    assert_eq!(lines[2]["changes"]["name"], json!({"to": "Tromsø"}));
    assert_eq!(
        lines[3]["target"],
        json!({"type": "client", "id": client_id})
    );
    assert_eq!(
        lines[4]["target"],
        json!({"type": "client", "id": client_id})
    );
    assert_eq!(
        lines[4]["changes"],
        json!({"revoked": {"from": false, "to": true}})
    );
    let found = leaked(&printed, &[client_secret, "another-secret-0123456789"]);
    assert!(found.is_empty(), "leaked {found:?}: {printed}");
    // every event from 0, in id order
    let everything = output(admin(&app, &["events"]));
    let ids: Vec<i64> = everything
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert_eq!(ids.len(), got.len() + lines.len() - 1);
    // wrong arguments
    let out = admin(&app, &["events", "--after", "-3"]).output().unwrap();
    assert!(!out.status.success());
    let out = admin(&app, &["nonsense"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("events [--after N] [--follow]"));
}

#[tokio::test]
async fn admin_events_follow_prints_new_events_as_they_come() {
    let app = spawn_app().await;
    let token = app.token().await;
    let mut child = admin(&app, &["events", "--follow"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let next = async |rx: &mut tokio::sync::mpsc::UnboundedReceiver<String>| -> Value {
        let line = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("a line in time")
            .expect("a line");
        serde_json::from_str(&line).unwrap()
    };
    // what is there already: bootstrap's four events and the sign-in
    for _ in 0..5 {
        next(&mut rx).await;
    }
    let res = app
        .create_user(&token, app.agencies[0], &kari("followed@example.no"))
        .await;
    assert_eq!(res.status(), 201);
    let e = next(&mut rx).await;
    assert_eq!(e["action"], "user.created");
    assert_eq!(e["changes"]["email"], json!({"to": "followed@example.no"}));
    child.kill().unwrap();
    child.wait().unwrap();
}
