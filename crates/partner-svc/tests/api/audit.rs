//! The audit trail and the change feed (`../shared/api/audit.md`): an event for every action,
//! in the change's transaction, with only what changed and no secret; the partner's feed, its
//! access rules, its query errors, `wait`, the feed rule, and `admin events`.

use crate::helpers::*;
use serde_json::{json, Value};
use std::time::Duration;
use test_support::audit::{assert_feed_rule, assert_wait, leaked, ALLOW_COMMITS, FAIL_AT_COMMIT};
use test_support::json;
use user_core::audit::FeedQuery;

fn events_path(partner: i64) -> String {
    format!("/api/internal/v1/partners/{partner}/events")
}

fn jane(email: &str) -> Value {
    json!({"first_name":"Jane","last_name":"Roe","email":email,"password":"secret-pw-1"})
}

/// Every event of the trail (any tenant), as the feed shows them, oldest first.
async fn all_events(app: &TestApp) -> Vec<Value> {
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let page = app
            .state
            .core
            .audit
            .feed(
                None,
                &FeedQuery {
                    after,
                    limit: 1000,
                    ..FeedQuery::default()
                },
            )
            .await
            .unwrap();
        if page.events.is_empty() {
            return events;
        }
        after = page.next_after;
        events.extend(
            page.events
                .into_iter()
                .map(|e| serde_json::to_value(e).unwrap()),
        );
    }
}

/// The events of `action` about target `target`, of any tenant.
async fn events_of(app: &TestApp, action: &str, target: &str) -> Vec<Value> {
    all_events(app)
        .await
        .into_iter()
        .filter(|e| e["action"] == action && e["target"]["id"] == target)
        .collect()
}

/// The last event id so far (what a follower starting now passes as `after`).
async fn last_id(app: &TestApp) -> i64 {
    all_events(app)
        .await
        .last()
        .map_or(0, |e| e["id"].as_i64().unwrap())
}

/// The partner's feed read by `token` with `query`: (status, raw body).
async fn read_feed(app: &TestApp, token: &str, partner: i64, query: &str) -> (u16, String) {
    let res = app
        .get(token, &format!("{}?{query}", events_path(partner)))
        .await;
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn admin_id(app: &TestApp) -> i64 {
    app.stored_users()
        .await
        .into_iter()
        .find(|u| u.1 == ADMIN_EMAIL)
        .unwrap()
        .0
}

fn id_of(body: &Value) -> i64 {
    body["data"]["id"].as_i64().unwrap()
}

#[tokio::test]
async fn bootstrap_and_admin_partner_create_record_the_operators_actions() {
    let app = spawn_app().await;
    let events = all_events(&app).await;
    let actions: Vec<&str> = events
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["partner.created", "partner.created", "user.created"],
        "{events:#?}"
    );
    for (event, (id, name)) in events
        .iter()
        .zip([(app.alpha, "Alpha"), (app.beta, "Beta")])
    {
        assert_eq!(event["actor"], json!({"type": "operator", "id": null}));
        assert_eq!(
            event["target"],
            json!({"type": "partner", "id": id.to_string()})
        );
        assert_eq!(event["tenant"], id.to_string(), "in the new partner");
        assert_eq!(event["request_id"], Value::Null);
        assert_eq!(event["address"], Value::Null);
        assert_eq!(
            event["changes"],
            json!({"id": {"to": id}, "name": {"to": name}})
        );
    }
    // The super admin belongs to no partner: its creation is in no partner's feed.
    let admin = admin_id(&app).await;
    let created = &events[2];
    assert_eq!(created["target"]["id"], admin.to_string());
    assert_eq!(created["tenant"], Value::Null);
    assert_eq!(
        created["changes"],
        json!({"id": {"to": admin}, "first_name": {"to": "Super"}, "last_name": {"to": "Admin"},
               "email": {"to": ADMIN_EMAIL},
               "permissions": {"to": ALL}})
    );
    let text = serde_json::to_string(&events).unwrap();
    assert_eq!(leaked(&text, &[ADMIN_PASSWORD]), Vec::<&str>::new());

    // Bootstrap again: nothing new exists, nothing is recorded.
    let config = partner_svc::Config {
        bootstrap_partners: Some("Alpha, Beta".into()),
        bootstrap_admin_email: Some(ADMIN_EMAIL.into()),
        bootstrap_admin_password: Some(user_core::Secret::new(ADMIN_PASSWORD)),
    };
    partner_svc::bootstrap::apply(&app.state, &config)
        .await
        .unwrap();
    assert_eq!(all_events(&app).await.len(), 3);

    // `admin partner-create`: an operator's partner.created in the new partner; a refused
    // one records nothing.
    let db = &app.state.core.db;
    let gamma = partner_svc::admin::create_partner(db, "Gamma")
        .await
        .unwrap();
    assert!(partner_svc::admin::create_partner(db, "Gamma")
        .await
        .is_err());
    let events = all_events(&app).await;
    assert_eq!(events.len(), 4);
    assert_eq!(events[3]["action"], "partner.created");
    assert_eq!(events[3]["tenant"], gamma.to_string());
    assert_eq!(events[3]["actor"]["type"], "operator");
    assert_eq!(
        events[3]["changes"],
        json!({"id": {"to": gamma}, "name": {"to": "Gamma"}})
    );
}

#[tokio::test]
async fn a_create_records_user_created_with_every_field_and_no_secret() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let admin = admin_id(&app).await;
    let res = app
        .http
        .post(app.url(&users_path(app.alpha)))
        .bearer_auth(&token)
        .header("x-request-id", "create-req-1")
        .json(
            &json!({"first_name":"Jane","last_name":"Roe","email":"jane@example.com",
                      "password":"secret-pw-1","permissions":["users.read"]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let id = id_of(&json(res).await);
    let (status, raw) = read_feed(
        &app,
        &token,
        app.alpha,
        &format!("action=user.created&target={id}"),
    )
    .await;
    assert_eq!(status, 200, "{raw}");
    assert_eq!(leaked(&raw, &["secret-pw-1"]), Vec::<&str>::new(), "{raw}");
    let body: Value = serde_json::from_str(&raw).unwrap();
    let events = body["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{body}");
    let e = &events[0];
    assert_eq!(body["next_after"], e["id"]);
    assert!(e["id"].as_i64().unwrap() > 0);
    let time = e["time"].as_str().unwrap();
    assert!(time.ends_with('Z') && time.len() == 27, "{time}");
    assert_eq!(
        {
            let mut e = e.clone();
            e.as_object_mut().unwrap().remove("id");
            e.as_object_mut().unwrap().remove("time");
            e
        },
        json!({
            "action": "user.created",
            "actor": {"type": "user", "id": admin.to_string()},
            "target": {"type": "user", "id": id.to_string()},
            "tenant": app.alpha.to_string(),
            "request_id": "create-req-1",
            "address": "127.0.0.1",
            "changes": {"id": {"to": id}, "first_name": {"to": "Jane"}, "last_name": {"to": "Roe"},
                        "email": {"to": "jane@example.com"}, "permissions": {"to": ["users.read"]}},
        })
    );
    // A request without X-Request-Id gets one made, and the event carries it.
    let res = app
        .post(&token, &users_path(app.alpha), &jane("jim@example.com"))
        .await;
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let id = id_of(&json(res).await);
    let events = events_of(&app, "user.created", &id.to_string()).await;
    assert_eq!(events[0]["request_id"], request_id);
    assert_eq!(events[0]["changes"]["permissions"], json!({"to": []}));
}

#[tokio::test]
async fn a_create_on_an_existing_email_records_user_attached_once_even_when_replayed() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let res = app
        .post(&token, &users_path(app.alpha), &jane("jane@example.com"))
        .await;
    let id = id_of(&json(res).await);
    let attach = || {
        app.http
            .post(app.url(&users_path(app.beta)))
            .bearer_auth(&token)
            .header("idempotency-key", "attach-1")
            .json(
                &json!({"first_name":"Other","last_name":"Name","email":"JANE@example.com",
                          "password":"ignored-pw-1"}),
            )
    };
    assert_eq!(attach().send().await.unwrap().status(), 200);
    let replay = attach().send().await.unwrap();
    assert_eq!(replay.status(), 200);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    // an attach to a partner it is a member of already is a 422: nothing
    let res = app
        .post(&token, &users_path(app.beta), &jane("jane@example.com"))
        .await;
    assert_eq!(res.status(), 422);
    let events = events_of(&app, "user.attached", &id.to_string()).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["tenant"], app.beta.to_string());
    assert_eq!(events[0]["changes"], json!({"partner": {"to": app.beta}}));
    assert_eq!(
        events[0]["target"],
        json!({"type": "user", "id": id.to_string()})
    );
    // the attach is in Beta's feed, not Alpha's; Alpha has the create
    let (_, raw) = read_feed(&app, &token, app.alpha, &format!("target={id}")).await;
    let alpha: Value = serde_json::from_str(&raw).unwrap();
    let actions: Vec<&Value> = alpha["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["action"])
        .collect();
    assert_eq!(actions, [&json!("user.created")]);
    let text = serde_json::to_string(&all_events(&app).await).unwrap();
    assert_eq!(
        leaked(&text, &["secret-pw-1", "ignored-pw-1"]),
        Vec::<&str>::new()
    );
}

#[tokio::test]
async fn an_update_records_only_the_fields_that_changed() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let id = app
        .seed_named("u@example.com", "Ann", "Lee", &[], &[app.alpha, app.beta])
        .await;
    let path = user_path(app.beta, id);
    let res = app
        .put(
            &token,
            &path,
            &json!({"first_name": "Anna", "last_name": "Lee", "email": "anna@example.com"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .put(
            &token,
            &path,
            &json!({"permissions": ["users.read", "users.create"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let events = events_of(&app, "user.updated", &id.to_string()).await;
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_eq!(
        events[0]["changes"],
        json!({"first_name": {"from": "Ann", "to": "Anna"},
               "email": {"from": "u@example.com", "to": "anna@example.com"}})
    );
    assert_eq!(
        events[1]["changes"],
        json!({"permissions": {"from": [], "to": ["users.read", "users.create"]}})
    );
    for e in &events {
        assert_eq!(e["tenant"], app.beta.to_string(), "the partner of the path");
    }
    assert!(events_of(&app, "user.password_changed", &id.to_string())
        .await
        .is_empty());
}

#[tokio::test]
async fn a_password_set_records_password_changed_and_with_other_fields_user_updated_too() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let id = app
        .seed_named("p@example.com", "Pat", "Doe", &[], &[app.alpha])
        .await;
    let path = user_path(app.alpha, id);
    let target = id.to_string();
    // the password alone: only user.password_changed
    let res = app
        .put(
            &token,
            &path,
            &json!({"new_password": "first-new-pw-1", "new_password_confirmation": "first-new-pw-1"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(events_of(&app, "user.updated", &target).await.is_empty());
    let changed = events_of(&app, "user.password_changed", &target).await;
    assert_eq!(changed.len(), 1);
    assert_eq!(
        changed[0]["changes"],
        json!({"password": {"changed": true}})
    );
    assert_eq!(changed[0]["tenant"], app.alpha.to_string());
    // the password and a name: both events, the update's with the password too
    let res = app
        .put(
            &token,
            &path,
            &json!({"last_name": "Smith", "new_password": "second-new-pw-2",
                    "new_password_confirmation": "second-new-pw-2"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let updated = events_of(&app, "user.updated", &target).await;
    assert_eq!(updated.len(), 1);
    assert_eq!(
        updated[0]["changes"],
        json!({"last_name": {"from": "Doe", "to": "Smith"}, "password": {"changed": true}})
    );
    let changed = events_of(&app, "user.password_changed", &target).await;
    assert_eq!(changed.len(), 2);
    assert_eq!(
        changed[1]["changes"],
        json!({"password": {"changed": true}})
    );
    assert_eq!(
        changed[1]["request_id"], updated[0]["request_id"],
        "one request"
    );
    let (_, raw) = read_feed(&app, &token, app.alpha, "limit=1000").await;
    assert_eq!(
        leaked(&raw, &[PASSWORD, "first-new-pw-1", "second-new-pw-2"]),
        Vec::<&str>::new()
    );
    let stored = app.stored_users().await;
    let hash = &stored.iter().find(|u| u.0 == id).unwrap().2;
    assert!(!raw.contains(hash.as_str()));
}

#[tokio::test]
async fn a_write_that_changes_nothing_or_is_refused_records_no_event() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let (me, mine) = app.caller("m@example.com", MANAGER, &[app.alpha]).await;
    let (_, reader) = app
        .caller("r@example.com", &["users.read"], &[app.alpha])
        .await;
    let id = app
        .seed_named("n@example.com", "Nat", "King", &[], &[app.alpha])
        .await;
    let path = user_path(app.alpha, id);
    let before = last_id(&app).await;
    let unchanged = json!({"first_name": "Nat", "last_name": "King", "email": "n@example.com",
                           "permissions": []});
    let attempts = [
        // an empty PUT and one that sets every field to what it is: 200, nothing changed
        (app.put(&token, &path, &json!({})).await, 200),
        (app.put(&token, &path, &unchanged).await, 200),
        // a 412
        (
            app.http
                .put(app.url(&path))
                .bearer_auth(&token)
                .header("if-match", "\"stale.tag\"")
                .json(&json!({"first_name": "Changed"}))
                .send()
                .await
                .unwrap(),
            412,
        ),
        // invalid, taken, forbidden, not a member, oneself
        (app.put(&token, &path, &json!({"email": "nope"})).await, 422),
        (
            app.put(&token, &path, &json!({"email": ADMIN_EMAIL})).await,
            422,
        ),
        (
            app.put(&reader, &path, &json!({"first_name": "X"})).await,
            403,
        ),
        (
            app.put(
                &token,
                &user_path(app.beta, id),
                &json!({"first_name": "X"}),
            )
            .await,
            404,
        ),
        (app.delete(&reader, &path).await, 403),
        (app.delete(&mine, &user_path(app.alpha, me)).await, 403),
        (
            app.post(&reader, &users_path(app.alpha), &jane("x@example.com"))
                .await,
            403,
        ),
        (
            app.post(
                &token,
                &users_path(app.alpha),
                &json!({"email": "y@example.com"}),
            )
            .await,
            422,
        ),
    ];
    for (n, (res, status)) in attempts.into_iter().enumerate() {
        assert_eq!(res.status(), status, "attempt {n}");
    }
    assert_eq!(last_id(&app).await, before, "{:#?}", all_events(&app).await);
}

#[tokio::test]
async fn a_delete_records_detached_while_the_user_is_elsewhere_and_deleted_at_its_last_partner() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let id = app
        .seed_named(
            "d@example.com",
            "Dee",
            "Ho",
            &["users.read"],
            &[app.alpha, app.beta],
        )
        .await;
    let target = id.to_string();
    assert_eq!(
        app.delete(&token, &user_path(app.alpha, id)).await.status(),
        200
    );
    let detached = events_of(&app, "user.detached", &target).await;
    assert_eq!(detached.len(), 1);
    assert_eq!(detached[0]["tenant"], app.alpha.to_string());
    assert_eq!(
        detached[0]["changes"],
        json!({"partner": {"from": app.alpha}})
    );
    assert!(events_of(&app, "user.deleted", &target).await.is_empty());
    assert_eq!(
        app.delete(&token, &user_path(app.beta, id)).await.status(),
        200
    );
    let deleted = events_of(&app, "user.deleted", &target).await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["tenant"], app.beta.to_string());
    assert_eq!(
        deleted[0]["changes"],
        json!({"id": {"from": id}, "first_name": {"from": "Dee"}, "last_name": {"from": "Ho"},
               "email": {"from": "d@example.com"}, "permissions": {"from": ["users.read"]}})
    );
    assert_eq!(events_of(&app, "user.detached", &target).await.len(), 1);
    // gone: a second delete is a 404 and records nothing
    let before = last_id(&app).await;
    assert_eq!(
        app.delete(&token, &user_path(app.beta, id)).await.status(),
        404
    );
    assert_eq!(last_id(&app).await, before);
}

#[tokio::test]
async fn sign_in_records_succeeded_failed_and_throttled_once_in_no_partner() {
    let app = spawn_app_with(&[("LOGIN_MAX_FAILURES", "2")]).await;
    let admin = admin_id(&app).await;
    let user = app.seed_user("s@example.com", MANAGER, &[app.alpha]).await;
    let token = app.token("S@Example.com", PASSWORD).await;
    let succeeded = events_of(&app, "login.succeeded", &user.to_string()).await;
    assert_eq!(succeeded.len(), 1);
    assert_eq!(
        succeeded[0]["actor"],
        json!({"type": "user", "id": user.to_string()})
    );
    assert_eq!(succeeded[0]["tenant"], Value::Null);
    assert_eq!(succeeded[0]["address"], "127.0.0.1");
    assert_eq!(succeeded[0]["changes"], json!({}));

    // a wrong password, and an account that does not exist: named as typed
    assert_eq!(
        app.login("Admin@Example.com", "wrong-password-1")
            .await
            .status(),
        401
    );
    assert_eq!(
        app.login("Nobody@Example.com", "wrong-password-2")
            .await
            .status(),
        401
    );
    for typed in ["Admin@Example.com", "Nobody@Example.com"] {
        let failed = events_of(&app, "login.failed", typed).await;
        assert_eq!(failed.len(), 1, "{typed}");
        assert_eq!(failed[0]["target"], json!({"type": "user", "id": typed}));
        assert_eq!(failed[0]["actor"], json!({"type": "user", "id": null}));
        assert_eq!(failed[0]["tenant"], Value::Null);
    }
    assert!(events_of(&app, "login.failed", &admin.to_string())
        .await
        .is_empty());

    // the account is throttled: many refusals, one login.throttled
    assert_eq!(
        app.login("Nobody@Example.com", "wrong-password-3")
            .await
            .status(),
        401
    );
    for _ in 0..5 {
        assert_eq!(
            app.login("Nobody@Example.com", "wrong-password-4")
                .await
                .status(),
            429
        );
    }
    let throttled = events_of(&app, "login.throttled", "Nobody@Example.com").await;
    assert_eq!(throttled.len(), 1, "{throttled:#?}");
    assert_eq!(throttled[0]["tenant"], Value::Null);
    assert_eq!(throttled[0]["address"], "127.0.0.1");

    // no sign-in event is in a partner's feed
    let (_, raw) = read_feed(&app, &token, app.alpha, "limit=1000").await;
    assert!(!raw.contains("login."), "{raw}");
    let text = serde_json::to_string(&all_events(&app).await).unwrap();
    assert_eq!(
        leaked(
            &text,
            &[
                PASSWORD,
                "wrong-password-1",
                "wrong-password-2",
                "wrong-password-3",
                "wrong-password-4"
            ]
        ),
        Vec::<&str>::new()
    );
}

#[tokio::test]
async fn a_write_whose_commit_fails_changes_nothing_and_leaves_no_event() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let id = app
        .seed_named("c@example.com", "Cid", "Moe", &[], &[app.alpha, app.beta])
        .await;
    let gamma = partner_svc::admin::create_partner(&app.state.core.db, "Gamma")
        .await
        .unwrap();
    let users_before = app.stored_users().await;
    let before = last_id(&app).await;
    app.sql(FAIL_AT_COMMIT).await;
    let attempts = [
        app.post(&token, &users_path(app.alpha), &jane("new@example.com"))
            .await,
        app.post(&token, &users_path(gamma), &jane("c@example.com"))
            .await,
        app.put(
            &token,
            &user_path(app.alpha, id),
            &json!({"first_name": "Changed"}),
        )
        .await,
        app.put(
            &token,
            &user_path(app.alpha, id),
            &json!({"new_password": "refused-pw-1", "new_password_confirmation": "refused-pw-1"}),
        )
        .await,
        app.delete(&token, &user_path(app.alpha, id)).await,
    ];
    app.sql(ALLOW_COMMITS).await;
    for (n, res) in attempts.into_iter().enumerate() {
        assert!(
            res.status().is_server_error(),
            "attempt {n}: {}",
            res.status()
        );
    }
    assert_eq!(app.stored_users().await, users_before, "nothing changed");
    assert_eq!(app.memberships(id).await, vec![app.alpha, app.beta]);
    assert_eq!(last_id(&app).await, before, "no event");
    // the same writes commit now, with their events
    let res = app
        .put(
            &token,
            &user_path(app.alpha, id),
            &json!({"first_name": "Changed"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        events_of(&app, "user.updated", &id.to_string()).await.len(),
        1
    );
}

#[tokio::test]
async fn the_feed_shows_a_partner_its_own_events_to_callers_with_users_read_and_access() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, alpha_reader) = app
        .caller("ar@example.com", &["users.read"], &[app.alpha])
        .await;
    let (_, beta_manager) = app.caller("bm@example.com", MANAGER, &[app.beta]).await;
    let (_, no_read) = app
        .caller(
            "nr@example.com",
            &["users.create", "users.update"],
            &[app.alpha],
        )
        .await;
    // events in both partners
    for (partner, email) in [(app.alpha, "a1@example.com"), (app.beta, "b1@example.com")] {
        let res = app.post(&admin, &users_path(partner), &jane(email)).await;
        assert_eq!(res.status(), 201);
    }
    let res = app
        .post(
            &beta_manager,
            &users_path(app.beta),
            &jane("b2@example.com"),
        )
        .await;
    assert_eq!(res.status(), 201);
    for (token, partner) in [
        (&alpha_reader, app.alpha),
        (&admin, app.alpha),
        (&beta_manager, app.beta),
        (&admin, app.beta),
    ] {
        let (status, raw) = read_feed(&app, token, partner, "limit=1000").await;
        assert_eq!(status, 200, "{raw}");
        let body: Value = serde_json::from_str(&raw).unwrap();
        let events = body["events"].as_array().unwrap();
        assert!(events.len() >= 2, "{body}");
        for e in events {
            assert_eq!(e["tenant"], partner.to_string(), "{e}");
        }
    }
    // another partner's feed, no users.read, no token, a bad token, a partner that is not
    let refused = [
        (read_feed(&app, &beta_manager, app.alpha, "").await, 403),
        (read_feed(&app, &alpha_reader, app.beta, "").await, 403),
        (read_feed(&app, &no_read, app.alpha, "").await, 403),
        (read_feed(&app, &alpha_reader, 999_999, "").await, 403),
        (read_feed(&app, "not-a-token", app.alpha, "").await, 401),
        (read_feed(&app, &admin, 999_999, "").await, 404),
        (read_feed(&app, &admin, 0, "").await, 404),
    ];
    for (n, ((status, raw), expected)) in refused.into_iter().enumerate() {
        assert_eq!(status, expected, "{n}: {raw}");
        let body: Value = serde_json::from_str(&raw).unwrap();
        let message = match expected {
            403 => "This action is unauthorized.",
            401 => "Unauthenticated.",
            _ => "Not found.",
        };
        assert_eq!(body, json!({ "message": message }), "{n}");
    }
    let res = app
        .http
        .get(app.url(&events_path(app.alpha)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn wrong_feed_queries_are_422_in_laravel_shape() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let (status, raw) = read_feed(
        &app,
        &token,
        app.alpha,
        "after=-1&limit=0&wait=31&action=&target=",
    )
    .await;
    assert_eq!(status, 422, "{raw}");
    assert_eq!(
        serde_json::from_str::<Value>(&raw).unwrap(),
        json!({"message": "The given data was invalid.", "errors": {
            "after": ["The after must be an integer of at least 0."],
            "limit": ["The limit must be an integer between 1 and 1000."],
            "wait": ["The wait must be a number of seconds between 0 and 30."],
            "action": ["The action must be 1 to 255 characters."],
            "target": ["The target must be 1 to 255 characters."],
        }})
    );
    for query in ["limit=1001", "after=x", "wait=NaN", "wait=-1", "limit=1.5"] {
        let (status, raw) = read_feed(&app, &token, app.alpha, query).await;
        assert_eq!(status, 422, "{query}: {raw}");
        let body: Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(body["message"], "The given data was invalid.");
    }
    // permission comes first: a caller without access gets 403 whatever the query
    let (_, other) = app.caller("o@example.com", MANAGER, &[app.beta]).await;
    let (status, _) = read_feed(&app, &other, app.alpha, "limit=0").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn next_after_pages_through_the_feed_and_action_and_target_filter_it() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let mut ids = Vec::new();
    for n in 0..5 {
        let res = app
            .post(
                &token,
                &users_path(app.alpha),
                &jane(&format!("page{n}@example.com")),
            )
            .await;
        ids.push(id_of(&json(res).await));
    }
    let res = app
        .put(
            &token,
            &user_path(app.alpha, ids[2]),
            &json!({"last_name": "Paged"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    // all of Alpha's events, two at a time
    let mut after = 0;
    let mut seen = Vec::new();
    loop {
        let (status, raw) =
            read_feed(&app, &token, app.alpha, &format!("after={after}&limit=2")).await;
        assert_eq!(status, 200);
        let body: Value = serde_json::from_str(&raw).unwrap();
        let events = body["events"].as_array().unwrap().clone();
        assert!(events.len() <= 2);
        if events.is_empty() {
            assert_eq!(body["next_after"], after, "an empty page gives after back");
            break;
        }
        assert_eq!(body["next_after"], events.last().unwrap()["id"]);
        after = body["next_after"].as_i64().unwrap();
        seen.extend(events);
    }
    let numbers: Vec<i64> = seen.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
    let actions: Vec<&str> = seen.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "partner.created",
            "user.created",
            "user.created",
            "user.created",
            "user.created",
            "user.created",
            "user.updated"
        ]
    );
    // filters
    let (_, raw) = read_feed(&app, &token, app.alpha, "action=user.updated").await;
    let body: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(body["events"].as_array().unwrap().len(), 1);
    assert_eq!(body["events"][0]["target"]["id"], ids[2].to_string());
    let (_, raw) = read_feed(&app, &token, app.alpha, &format!("target={}", ids[2])).await;
    let body: Value = serde_json::from_str(&raw).unwrap();
    let actions: Vec<&Value> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["action"])
        .collect();
    assert_eq!(actions, [&json!("user.created"), &json!("user.updated")]);
}

#[tokio::test]
async fn a_waiting_feed_answers_within_100_ms_of_a_change() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let id = app.seed_user("w@example.com", &[], &[app.alpha]).await;
    let (_, raw) = read_feed(&app, &token, app.alpha, "limit=1000").await;
    let after = serde_json::from_str::<Value>(&raw).unwrap()["next_after"]
        .as_i64()
        .unwrap();
    let feed = |after: i64, wait: u32| {
        app.http
            .get(app.url(&format!(
                "{}?after={after}&wait={wait}",
                events_path(app.alpha)
            )))
            .bearer_auth(&token)
    };
    assert_wait(feed, after, || async {
        let res = app
            .put(
                &token,
                &user_path(app.alpha, id),
                &json!({"first_name": "Woken"}),
            )
            .await;
        assert_eq!(res.status(), 200);
    })
    .await;
}

#[tokio::test]
async fn eight_concurrent_writers_with_delayed_commits_a_follower_sees_each_event_once() {
    let app = spawn_app().await;
    assert_feed_rule(&app.state.core.db, 8).await;
}

#[tokio::test]
async fn admin_events_prints_the_trail_as_ndjson_and_follows_it() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let url = app.db.url.clone();
    let command = move |args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_partner-svc"));
        command
            .env("DATABASE_URL", &url)
            .env("JWT_SECRET", test_support::TEST_JWT_SECRET)
            .env("BCRYPT_COST", "4")
            .env("ALLOW_WEAK_BCRYPT", "1")
            .env("RUST_LOG", "off")
            .args(args);
        command
    };
    let events = all_events(&app).await;
    let first = events[0]["id"].as_i64().unwrap();
    let run = {
        let mut c = command(&["admin", "events", "--after", &first.to_string()]);
        tokio::task::spawn_blocking(move || c.output().unwrap())
    };
    let out = run.await.unwrap();
    assert!(out.status.success(), "{out:?}");
    let printed: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        printed,
        events[1..],
        "every event after the first, one per line"
    );
    // a wrong argument: a failure that says how
    let run = {
        let mut c = command(&["admin", "events", "--after", "x"]);
        tokio::task::spawn_blocking(move || c.output().unwrap())
    };
    let out = run.await.unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--after"),
        "{out:?}"
    );
    let usage = partner_svc::admin::run(
        &app.state.core.db,
        &app.state.core.settings.hasher(),
        &["nothing".into()],
    )
    .await;
    assert!(usage
        .unwrap_err()
        .to_string()
        .contains("events [--after N] [--follow]"));

    // --follow prints what is written after it started
    let last = events.last().unwrap()["id"].as_i64().unwrap();
    let mut child = command(&["admin", "events", "--after", &last.to_string(), "--follow"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (line_tx, line_rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = line_tx.send(line);
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let res = app
        .post(&token, &users_path(app.alpha), &jane("follow@example.com"))
        .await;
    let id = id_of(&json(res).await);
    let line = tokio::time::timeout(Duration::from_secs(5), line_rx).await;
    child.kill().unwrap();
    let _ = child.wait();
    let line = line.expect("a line within 5 s").unwrap();
    let event: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["action"], "user.created");
    assert_eq!(event["target"]["id"], id.to_string());
}
