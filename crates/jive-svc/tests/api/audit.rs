//! The audit trail and the change feed (`../shared/api/audit.md`): every action's event (its
//! actor, target, tenant, request, address and changes, no secret), writes that change nothing
//! and writes that roll back record nothing, the feed only for org admins and only of their
//! org, its query errors, `wait`, the feed rule, and the admin commands.

use crate::helpers::*;
use diesel_async::SimpleAsyncConnection;
use serde_json::{json, Value};
use std::io::BufRead;
use std::time::Duration;
use test_support::audit::{assert_feed_rule, assert_wait, leaked, ALLOW_COMMITS, FAIL_AT_COMMIT};

const EVENTS_DENIED: &str = "access denied: You do not have permission to access /api/events";

/// `GET /api/events?<query>` as `key`: status, raw body, JSON body.
async fn feed(app: &TestApp, key: &str, query: &str) -> (u16, String, Value) {
    let res = app
        .http
        .get(app.url(&format!("/api/events?{query}")))
        .header("authorization", key)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, text, body)
}

/// Every event of `key`'s org after `after` (page by page): the events and the raw bodies.
async fn events_after(app: &TestApp, key: &str, after: i64) -> (Vec<Value>, String) {
    let mut after = after;
    let mut events = Vec::new();
    let mut raw = String::new();
    loop {
        let (status, text, body) = feed(app, key, &format!("after={after}&limit=1000")).await;
        assert_eq!(status, 200, "{text}");
        raw.push_str(&text);
        let page = body["events"].as_array().unwrap().clone();
        if page.is_empty() {
            assert_eq!(body["next_after"], after, "{text}");
            return (events, raw);
        }
        after = body["next_after"].as_i64().unwrap();
        assert_eq!(
            page.last().unwrap()["id"],
            after,
            "next_after is the last id"
        );
        events.extend(page);
    }
}

/// The feed's end for `key`'s org now: pass it as `after` to see only what comes next.
async fn end(app: &TestApp, key: &str) -> i64 {
    let (events, _) = events_after(app, key, 0).await;
    events.last().map_or(0, |e| e["id"].as_i64().unwrap())
}

/// The one event of `events` that is `action` about `target`.
fn the_event<'a>(events: &'a [Value], action: &str, target: &str) -> &'a Value {
    let found: Vec<&Value> = events
        .iter()
        .filter(|e| e["action"] == action && e["target"]["id"] == target)
        .collect();
    assert_eq!(found.len(), 1, "one {action} of {target} in {events:#?}");
    found[0]
}

/// The fields every event of an API write by `actor` in [`ORG`] has.
fn assert_by(event: &Value, actor: &str, target_type: &str) {
    assert_eq!(event["actor"], json!({"type":"user","id":actor}), "{event}");
    assert_eq!(event["target"]["type"], target_type, "{event}");
    assert_eq!(event["tenant"], ORG, "{event}");
    assert_eq!(event["address"], "127.0.0.1", "{event}");
    assert!(
        event["request_id"].as_str().is_some_and(|r| !r.is_empty()),
        "{event}"
    );
    assert!(event["id"].as_i64().unwrap() > 0);
    let time = event["time"].as_str().unwrap();
    assert!(time.ends_with('Z') && time.len() == 27, "{time}");
}

#[tokio::test]
async fn bootstrap_records_the_org_and_its_admin_as_the_operator() {
    let app = spawn_app().await;
    let (events, raw) = events_after(&app, ADMIN_KEY, 0).await;
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["org.created", "user.created"], "{raw}");
    let operator = json!({"type":"operator","id":null});
    let org = &events[0];
    assert_eq!(org["actor"], operator);
    assert_eq!(org["target"], json!({"type":"org","id":ORG}));
    assert_eq!(org["tenant"], ORG);
    assert_eq!(
        (&org["request_id"], &org["address"]),
        (&Value::Null, &Value::Null)
    );
    assert_eq!(
        org["changes"],
        json!({"id":{"to":ORG},"name":{"to":"Bootstrap"}})
    );
    let admin = &events[1];
    assert_eq!(admin["actor"], operator);
    assert_eq!(admin["target"], json!({"type":"user","id":app.admin_id}));
    assert_eq!(admin["tenant"], ORG);
    assert_eq!(
        admin["changes"],
        json!({
            "api_model":{"to":{}}, "first_name":{"to":"Admin"}, "last_name":{"to":""},
            "email_address":{"to":ADMIN_EMAIL}, "password":{"changed":true},
            "org_id":{"to":ORG}, "active":{"to":true}, "id":{"to":app.admin_id},
            "access_key":{"changed":true}, "user_permissions":{"to":{"IsAdmin":"admin"}}
        })
    );
    assert_eq!(leaked(&raw, &[ADMIN_KEY]), Vec::<&str>::new());
    // applied again (a restart): nothing new
    let config = jive_svc::Config {
        bootstrap_org_id: Some(ORG.into()),
        bootstrap_admin_email: Some(ADMIN_EMAIL.into()),
        bootstrap_admin_access_key: Some(user_core::Secret::new(ADMIN_KEY)),
    };
    jive_svc::bootstrap::apply(&app.state, &config)
        .await
        .unwrap();
    let last = admin["id"].as_i64().unwrap();
    assert_eq!(
        events_after(&app, ADMIN_KEY, last).await.0,
        Vec::<Value>::new()
    );
}

#[tokio::test]
async fn every_api_write_is_recorded_with_its_actor_target_tenant_and_changes() {
    let app = spawn_app().await;
    let after = end(&app, ADMIN_KEY).await;
    let (writer_id, writer_key) = app
        .seed(ORG, "writer@example.com", json!({"users":"write"}))
        .await;
    let first_password = "correct horse battery";
    let second_password = "staple tuna 12345";

    // create (as the admin, with a request id of the caller's)
    let res = app
        .http
        .post(app.url("/api/users"))
        .header("authorization", ADMIN_KEY)
        .header("x-request-id", "audit-create-1")
        .json(
            &json!({"first_name":"Kari","last_name":"Nordmann","email_address":"kari@example.com",
                      "password":first_password,"user_permissions":{"users":"read"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let id = location.rsplit('/').next().unwrap().to_owned();
    let path = format!("/api/users/{id}");
    let user_key = app.get(ADMIN_KEY, &path).await.body["access_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(user_key.len(), 32);

    // update by a writer, who sees the user's access_key as "" (the trail does not depend on
    // who looks): only the fields that changed; the ignored ones are not there
    let res = app
        .put(
            &writer_key,
            &path,
            json!({"first_name":"Karin","last_name":"Nordmann","active":false,
                   "access_key":"","password":"ignored-password","org_id":"x"}),
        )
        .await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    // a permission change by the admin
    let res = app
        .put(
            ADMIN_KEY,
            &path,
            json!({"user_permissions":{"users":"write"}}),
        )
        .await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    // the password, by the writer
    let res = app
        .post(
            &writer_key,
            &format!("{path}/actions/reset"),
            json!({"new_password":second_password}),
        )
        .await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    // the delete, by the admin
    let res = app.delete(ADMIN_KEY, &path).await;
    assert_eq!(res.status, 200, "{:?}", res.body);

    let (events, raw) = events_after(&app, ADMIN_KEY, after).await;
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "user.created",
            "user.updated",
            "user.updated",
            "user.password_changed",
            "user.deleted"
        ],
        "{raw}"
    );
    assert!(events.iter().all(|e| e["target"]["id"] == id.as_str()));

    let created = &events[0];
    assert_by(created, &app.admin_id, "user");
    assert_eq!(created["request_id"], "audit-create-1");
    assert_eq!(
        created["changes"],
        json!({
            "api_model":{"to":{}}, "first_name":{"to":"Kari"}, "last_name":{"to":"Nordmann"},
            "email_address":{"to":"kari@example.com"}, "password":{"changed":true},
            "org_id":{"to":ORG}, "active":{"to":true}, "id":{"to":id},
            "access_key":{"changed":true}, "user_permissions":{"to":{"users":"read"}}
        })
    );

    let renamed = &events[1];
    assert_by(renamed, &writer_id, "user");
    assert_ne!(renamed["request_id"], created["request_id"]);
    assert_eq!(
        renamed["changes"],
        json!({"first_name":{"from":"Kari","to":"Karin"},"active":{"from":true,"to":false}})
    );

    let promoted = &events[2];
    assert_by(promoted, &app.admin_id, "user");
    assert_eq!(
        promoted["changes"],
        json!({"user_permissions":{"from":{"users":"read"},"to":{"users":"write"}}})
    );

    let password = &events[3];
    assert_by(password, &writer_id, "user");
    assert_eq!(password["changes"], json!({"password":{"changed":true}}));

    let deleted = &events[4];
    assert_by(deleted, &app.admin_id, "user");
    assert_eq!(
        deleted["changes"],
        json!({
            "api_model":{"from":{}}, "first_name":{"from":"Karin"}, "last_name":{"from":"Nordmann"},
            "email_address":{"from":"kari@example.com"}, "org_id":{"from":ORG},
            "active":{"from":false}, "id":{"from":id},
            "user_permissions":{"from":{"users":"write"}}
        })
    );

    // ids increase in feed order
    for pair in events.windows(2) {
        assert!(pair[0]["id"].as_i64() < pair[1]["id"].as_i64());
    }
    assert_eq!(
        leaked(
            &raw,
            &[
                first_password,
                second_password,
                "ignored-password",
                ADMIN_KEY,
                &writer_key,
                &user_key
            ]
        ),
        Vec::<&str>::new(),
        "{raw}"
    );
}

#[tokio::test]
async fn writes_that_change_nothing_or_are_refused_record_no_event() {
    let app = spawn_app().await;
    let (_, reader_key) = app
        .seed(ORG, "reader@example.com", json!({"users":"read"}))
        .await;
    let id = app
        .create(
            ADMIN_KEY,
            json!({"first_name":"Kari","email_address":"kari@example.com"}),
        )
        .await;
    let path = format!("/api/users/{id}");
    let reset = format!("{path}/actions/reset");
    let after = end(&app, ADMIN_KEY).await;

    // no field, or every field as it is: 200 and nothing recorded
    for body in [
        json!({}),
        json!({"first_name":"Kari"}),
        json!({"first_name":"Kari","active":true,"user_permissions":{},"email_address":"kari@example.com"}),
        json!({"id":"x","org_id":"y","access_key":"z","password":"ignored-password","api_model":{"a":1}}),
    ] {
        let res = app.put(ADMIN_KEY, &path, body.clone()).await;
        assert_eq!(res.status, 200, "{body}: {:?}", res.body);
    }
    // 412: a stale If-Match on each write
    for (method, url, body) in [
        (reqwest::Method::PUT, &path, json!({"first_name":"Other"})),
        (reqwest::Method::DELETE, &path, json!({})),
        (
            reqwest::Method::POST,
            &reset,
            json!({"new_password":"secret-pw-99"}),
        ),
    ] {
        let res = app
            .http
            .request(method.clone(), app.url(url))
            .header("authorization", ADMIN_KEY)
            .header("if-match", "\"stale\"")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 412, "{method} {url}");
    }
    // refused writes: 400, 401, 403, 404
    let refused = [
        (
            Some(ADMIN_KEY),
            reqwest::Method::PUT,
            path.clone(),
            json!({"email_address":"nope"}),
            400,
        ),
        (
            Some(ADMIN_KEY),
            reqwest::Method::POST,
            reset.clone(),
            json!({"new_password":"short"}),
            400,
        ),
        (
            Some(ADMIN_KEY),
            reqwest::Method::DELETE,
            format!("/api/users/{}", app.admin_id),
            json!({}),
            400,
        ),
        (
            None,
            reqwest::Method::PUT,
            path.clone(),
            json!({"first_name":"X"}),
            401,
        ),
        (
            Some(reader_key.as_str()),
            reqwest::Method::PUT,
            path.clone(),
            json!({"first_name":"X"}),
            403,
        ),
        (
            Some(reader_key.as_str()),
            reqwest::Method::DELETE,
            path.clone(),
            json!({}),
            403,
        ),
        (
            Some(ADMIN_KEY),
            reqwest::Method::POST,
            "/api/users".to_owned(),
            json!({"email_address":"KARI@example.com"}),
            403,
        ),
        (
            Some(ADMIN_KEY),
            reqwest::Method::DELETE,
            "/api/users/ffffffffffffffffffffffff".to_owned(),
            json!({}),
            404,
        ),
    ];
    for (key, method, url, body, status) in refused {
        let res = app.call(method.clone(), key, &url, Some(body)).await;
        assert_eq!(res.status, status, "{method} {url}: {:?}", res.body);
    }
    // a keyed create replayed: one user, one event
    let keyed = || {
        app.http
            .post(app.url("/api/users"))
            .header("authorization", ADMIN_KEY)
            .header("idempotency-key", "audit-once")
            .json(&json!({"email_address":"once@example.com"}))
    };
    let first = keyed().send().await.unwrap();
    let again = keyed().send().await.unwrap();
    assert_eq!(
        (first.status().as_u16(), again.status().as_u16()),
        (200, 200)
    );
    assert_eq!(again.headers()["idempotent-replayed"], "true");

    let (events, raw) = events_after(&app, ADMIN_KEY, after).await;
    assert_eq!(events.len(), 1, "{raw}");
    assert_eq!(events[0]["action"], "user.created");
    assert_eq!(
        events[0]["changes"]["email_address"]["to"],
        "once@example.com"
    );
    assert_eq!(leaked(&raw, &["ignored-password"]), Vec::<&str>::new());
}

#[tokio::test]
async fn a_write_whose_commit_fails_leaves_neither_the_change_nor_an_event() {
    let app = spawn_app().await;
    let id = app
        .create(
            ADMIN_KEY,
            json!({"first_name":"Kari","email_address":"kari@example.com","password":"secret-pw-1"}),
        )
        .await;
    let path = format!("/api/users/{id}");
    let before = app.get(ADMIN_KEY, &path).await.body;
    let hash = app.password_hash(&id).await;
    let users = app.user_count().await;
    let after = end(&app, ADMIN_KEY).await;

    let mut conn = app._db.conn(jive_svc::INFO.schema).await;
    conn.batch_execute(FAIL_AT_COMMIT).await.unwrap();
    let writes = [
        (
            reqwest::Method::POST,
            "/api/users".to_owned(),
            json!({"email_address":"new@example.com"}),
        ),
        (
            reqwest::Method::PUT,
            path.clone(),
            json!({"first_name":"Karin","active":false}),
        ),
        (
            reqwest::Method::POST,
            format!("{path}/actions/reset"),
            json!({"new_password":"secret-pw-2"}),
        ),
        (reqwest::Method::DELETE, path.clone(), json!({})),
    ];
    for (method, url, body) in writes {
        let res = app
            .call(method.clone(), Some(ADMIN_KEY), &url, Some(body))
            .await;
        assert_eq!(res.status, 500, "{method} {url}: {:?}", res.body);
        assert_eq!(res.body, error("Internal server error"));
    }
    conn.batch_execute(ALLOW_COMMITS).await.unwrap();

    assert_eq!(app.user_count().await, users, "no user created");
    assert_eq!(
        app.get(ADMIN_KEY, &path).await.body,
        before,
        "the user as it was"
    );
    assert_eq!(app.password_hash(&id).await, hash, "the password as it was");
    let (events, raw) = events_after(&app, ADMIN_KEY, after).await;
    assert_eq!(events, Vec::<Value>::new(), "{raw}");
    // and the next write is recorded as usual
    let res = app
        .put(ADMIN_KEY, &path, json!({"first_name":"Karin"}))
        .await;
    assert_eq!(res.status, 200);
    let (events, _) = events_after(&app, ADMIN_KEY, after).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0]["changes"],
        json!({"first_name":{"from":"Kari","to":"Karin"}})
    );
}

#[tokio::test]
async fn the_feed_shows_an_admin_only_its_own_orgs_events() {
    let app = spawn_app().await;
    let (other_org, _, boss_key) = app.other_org().await;
    let ours = app
        .create(ADMIN_KEY, json!({"email_address":"ours@example.com"}))
        .await;
    let theirs = app
        .create(&boss_key, json!({"email_address":"theirs@example.com"}))
        .await;
    let res = app
        .put(
            &boss_key,
            &format!("/api/users/{theirs}"),
            json!({"last_name":"B"}),
        )
        .await;
    assert_eq!(res.status, 200);

    let (mine, raw) = events_after(&app, ADMIN_KEY, 0).await;
    assert!(mine.iter().all(|e| e["tenant"] == ORG), "{raw}");
    assert!(!raw.contains(&theirs) && !raw.contains(&other_org), "{raw}");
    the_event(&mine, "user.created", &ours);
    let (other, raw) = events_after(&app, &boss_key, 0).await;
    let actions: Vec<(&str, &str)> = other
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["target"]["id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("user.created", theirs.as_str()),
            ("user.updated", theirs.as_str())
        ],
        "{raw}"
    );
    assert!(other.iter().all(|e| e["tenant"] == other_org.as_str()));
    // asking for the other org's user by target finds nothing
    let (status, _, body) = feed(&app, ADMIN_KEY, &format!("target={theirs}")).await;
    assert_eq!((status, &body["events"]), (200, &json!([])));

    // filters and paging
    let (_, _, body) = feed(&app, ADMIN_KEY, "action=user.created").await;
    let created: Vec<&Value> = body["events"].as_array().unwrap().iter().collect();
    assert_eq!(created.len(), 2, "the bootstrap admin and ours: {body}");
    assert!(created.iter().all(|e| e["action"] == "user.created"));
    let (_, _, body) = feed(&app, ADMIN_KEY, &format!("target={ours}")).await;
    assert_eq!(body["events"].as_array().unwrap().len(), 1);
    let (_, _, page1) = feed(&app, ADMIN_KEY, "limit=1").await;
    assert_eq!(page1["events"].as_array().unwrap().len(), 1);
    assert_eq!(page1["next_after"], page1["events"][0]["id"]);
    assert_eq!(page1["events"][0]["action"], "org.created");
    let (_, _, page2) = feed(
        &app,
        ADMIN_KEY,
        &format!("limit=1&after={}", page1["next_after"]),
    )
    .await;
    assert_eq!(page2["events"][0]["action"], "user.created");
    assert_eq!(page2["events"][0]["target"]["id"], app.admin_id);

    // only org admins read it
    for (permissions, email) in [
        (json!({"users":"write"}), "w@example.com"),
        (json!({"users":"read"}), "r@example.com"),
        (json!({}), "n@example.com"),
    ] {
        let (_, key) = app.seed(ORG, email, permissions.clone()).await;
        let (status, _, body) = feed(&app, &key, "").await;
        assert_eq!((status, body), (403, error(EVENTS_DENIED)), "{permissions}");
        // the permission comes before the query
        let (status, _, _) = feed(&app, &key, "limit=0").await;
        assert_eq!(status, 403);
    }
    for key in [None, Some("0123456789abcdef0123456789abcdef")] {
        let res = app
            .call(reqwest::Method::GET, key, "/api/events", None)
            .await;
        assert_eq!((res.status, res.body), (401, error(NOT_AUTHORISED)));
    }
    let res = app
        .http
        .get(app.url("/api/events?limit=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "authentication comes before the query");
}

#[tokio::test]
async fn wrong_queries_are_400_in_the_envelope() {
    let app = spawn_app().await;
    for (query, message) in [
        ("after=-1", "The after must be an integer of at least 0."),
        ("after=x", "The after must be an integer of at least 0."),
        ("after=1.5", "The after must be an integer of at least 0."),
        (
            "limit=0",
            "The limit must be an integer between 1 and 1000.",
        ),
        (
            "limit=1001",
            "The limit must be an integer between 1 and 1000.",
        ),
        ("limit=", "The limit must be an integer between 1 and 1000."),
        (
            "wait=31",
            "The wait must be a number of seconds between 0 and 30.",
        ),
        (
            "wait=-1",
            "The wait must be a number of seconds between 0 and 30.",
        ),
        (
            "wait=NaN",
            "The wait must be a number of seconds between 0 and 30.",
        ),
        (
            "wait=soon",
            "The wait must be a number of seconds between 0 and 30.",
        ),
        ("action=", "The action must be 1 to 255 characters."),
        ("target=", "The target must be 1 to 255 characters."),
        // several: the first is named (one message per answer)
        (
            "limit=0&after=-1&wait=99",
            "The after must be an integer of at least 0.",
        ),
    ] {
        let (status, text, body) = feed(&app, ADMIN_KEY, query).await;
        assert_eq!((status, body), (400, error(message)), "{query}: {text}");
    }
    let long = "a".repeat(256);
    let (status, _, body) = feed(&app, ADMIN_KEY, &format!("action={long}")).await;
    assert_eq!(
        (status, body),
        (400, error("The action must be 1 to 255 characters."))
    );
    // Postgres cannot compare text with a NUL: refused before it gets there
    for (query, message) in [
        (
            "action=%00",
            "The action must not contain control characters.",
        ),
        (
            "target=a%00b",
            "The target must not contain control characters.",
        ),
        (
            "target=%01&limit=5",
            "The target must not contain control characters.",
        ),
    ] {
        let (status, text, body) = feed(&app, ADMIN_KEY, query).await;
        assert_eq!((status, body), (400, error(message)), "{query}: {text}");
    }
    // unknown parameters are ignored; the bounds themselves are fine
    for query in [
        "x=1",
        "limit=1000&wait=0&after=0",
        "wait=0.001",
        "p=2&limit=1",
        "action=%FF%FE",
        "limit=0&limit=5",
    ] {
        let (status, text, _) = feed(&app, ADMIN_KEY, query).await;
        assert_eq!(status, 200, "{query}: {text}");
    }
}

#[tokio::test]
async fn a_held_feed_answers_within_100_ms_of_a_change() {
    let app = spawn_app().await;
    let (_, _, boss_key) = app.other_org().await;
    let id = app
        .create(ADMIN_KEY, json!({"email_address":"kari@example.com"}))
        .await;
    let after = end(&app, ADMIN_KEY).await;
    // another org's change does not end our wait
    let began = std::time::Instant::now();
    let held = tokio::spawn(
        app.http
            .get(app.url(&format!("/api/events?after={after}&wait=1")))
            .header("authorization", ADMIN_KEY)
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.create(&boss_key, json!({"email_address":"theirs@example.com"}))
        .await;
    let res = held.await.unwrap().unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        test_support::json(res).await,
        json!({"events":[],"next_after":after})
    );
    assert!(
        began.elapsed() >= Duration::from_millis(950),
        "held for its whole wait: {:?}",
        began.elapsed()
    );

    let app = &app;
    let path = format!("/api/users/{id}");
    assert_wait(
        |after, wait| {
            app.http
                .get(app.url(&format!("/api/events?after={after}&wait={wait}")))
                .header("authorization", ADMIN_KEY)
        },
        after,
        || async move {
            let res = app
                .put(ADMIN_KEY, &path, json!({"first_name":"Waited"}))
                .await;
            assert_eq!(res.status, 200);
        },
    )
    .await;
}

#[tokio::test]
async fn the_feed_rule_holds_on_jives_database() {
    let app = spawn_app().await;
    assert_feed_rule(&app.state.core.db, 8).await;
}

/// `jive-svc <args>` on the test's database; its stdout's lines.
fn binary(app: &TestApp, args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_jive-svc"));
    cmd.args(args)
        .env_clear()
        .env("DATABASE_URL", &app._db.url)
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd
}

/// The events among `lines` (log lines, if any, are not events).
fn events_in(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("action").is_some() && v.get("changes").is_some())
        .collect()
}

#[tokio::test]
async fn admin_commands_are_the_operators_and_admin_events_prints_the_trail() {
    let app = spawn_app().await;
    let after = end(&app, ADMIN_KEY).await;
    let hasher = app.state.core.hasher.clone();
    let db = app.state.core.db.clone();
    let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    jive_svc::admin::run(&db, &hasher, &args(&["org-create", "Acme"]))
        .await
        .unwrap();
    jive_svc::admin::run(
        &db,
        &hasher,
        &args(&["user-create", ORG, "cli@example.com", "--write"]),
    )
    .await
    .unwrap();
    // a refused command records nothing
    assert!(jive_svc::admin::run(
        &db,
        &hasher,
        &args(&["user-create", ORG, "cli@example.com"])
    )
    .await
    .is_err());

    // the org admin sees the user, not the other org
    let (events, raw) = events_after(&app, ADMIN_KEY, after).await;
    assert_eq!(events.len(), 1, "{raw}");
    let user = &events[0];
    assert_eq!(user["action"], "user.created");
    assert_eq!(user["actor"], json!({"type":"operator","id":null}));
    assert_eq!(
        (&user["tenant"], &user["request_id"]),
        (&json!(ORG), &Value::Null)
    );
    assert_eq!(user["changes"]["access_key"], json!({"changed":true}));
    assert_eq!(
        user["changes"]["user_permissions"],
        json!({"to":{"users":"write"}})
    );
    let user_id = user["target"]["id"].as_str().unwrap().to_owned();
    let key = app
        .get(ADMIN_KEY, &format!("/api/users/{user_id}"))
        .await
        .body["access_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(leaked(&raw, &[&key]), Vec::<&str>::new());

    // `admin events`: every tenant's events, as NDJSON, the same as the feed
    let out = binary(&app, &["admin", "events", "--after", &after.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let printed = events_in(&lines);
    assert_eq!(printed.len(), 2, "{text}");
    let org = &printed[0];
    assert_eq!(org["action"], "org.created");
    assert_eq!(org["actor"], json!({"type":"operator","id":null}));
    let org_id = org["target"]["id"].as_str().unwrap();
    assert_eq!(org["target"]["type"], "org");
    assert_eq!(org["tenant"], org_id);
    assert_eq!(
        org["changes"],
        json!({"id":{"to":org_id},"name":{"to":"Acme"}})
    );
    assert_eq!(&printed[1], user, "the line is the feed's event");
    assert_eq!(leaked(&text, &[&key, ADMIN_KEY]), Vec::<&str>::new());
    // a wrong argument is refused with the usage
    let out = binary(&app, &["admin", "events", "--after", "x"])
        .output()
        .unwrap();
    assert!(!out.status.success());

    // `--follow` prints a change made after it started
    let last = user["id"].as_i64().unwrap();
    let mut child = binary(
        &app,
        &["admin", "events", "--follow", "--after", &last.to_string()],
    )
    .spawn()
    .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let res = app
        .put(
            ADMIN_KEY,
            &format!("/api/users/{user_id}"),
            json!({"first_name":"Followed"}),
        )
        .await;
    assert_eq!(res.status, 200);
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let followed = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                seen.push(line);
                if let Some(e) = events_in(&seen).into_iter().next() {
                    break e;
                }
            }
            Err(_) => panic!("--follow printed no event: {seen:?}"),
        }
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(followed["action"], "user.updated");
    assert_eq!(followed["actor"], json!({"type":"user","id":app.admin_id}));
    assert_eq!(
        followed["changes"],
        json!({"first_name":{"from":"","to":"Followed"}})
    );
}
