//! `/api/users`: list, get, create, membership, removal, permissions and their propagation.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use test_support::json;
use virtool_svc::Config;

async fn create(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.send(Method::POST, token, "/api/users", &body).await
}

#[tokio::test]
async fn create_answers_201_with_the_user_and_its_location() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let res = create(
        &app,
        &admin,
        json!({"user_id": "bill", "password": "foobar12"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, app.url("/api/users/bill"));
    let stored = app.stored_user("bill").await.unwrap();
    let expected = user_json("bill", &[], perms(&[]), "", true, &timestamp(stored.2));
    assert_eq!(json(res).await, expected);
    assert_eq!(
        expected["identicon"],
        "623210167553939c87ed8c5f2bfe0b3e0684e12c3a3dd2513613c4e67263b5a1"
    );
    assert!(stored.3.starts_with("$2"), "bcrypt hash stored");
    assert!(!stored.3.contains("foobar12"));
    // The Location answers with the same user.
    let res = app.get(&admin, "/api/users/bill").await;
    assert_eq!(json(res).await, expected);

    let res = create(
        &app,
        &admin,
        json!({"user_id": "fred", "password": "foobar12", "force_reset": false}),
    )
    .await;
    assert_eq!(res.status(), 201);
    assert_eq!(json(res).await["force_reset"], false);
    app.token_for("fred", "foobar12").await;
}

#[tokio::test]
async fn create_location_escapes_odd_ids() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let res = create(
        &app,
        &admin,
        json!({"user_id": "a?b#ø", "password": "foobar12"}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, app.url("/api/users/a%3Fb%23%C3%B8"));
    let res = app
        .http
        .get(&location)
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await["id"], "a?b#ø");
}

#[tokio::test]
async fn create_of_a_taken_id_is_409_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.add_user("fred", &[]).await;
    let before = app.stored_user("fred").await;
    let res = create(
        &app,
        &admin,
        json!({"user_id": "fred", "password": "other-password"}),
    )
    .await;
    assert_eq!(res.status(), 409);
    assert_eq!(json(res).await, error("conflict", "User already exists"));
    assert_eq!(app.stored_user("fred").await, before);
}

#[tokio::test]
async fn create_reports_every_failing_field_at_once() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let cases = [
        (
            json!({}),
            json!({"user_id": ["required field"], "password": ["required field"]}),
        ),
        (
            json!({"user_id": 7, "password": false, "force_reset": "yes", "groups": []}),
            json!({
                "user_id": ["must be of string type"],
                "password": ["must be of string type"],
                "force_reset": ["must be of boolean type"],
                "groups": ["unknown field"],
            }),
        ),
        (
            json!({"user_id": "x".repeat(65), "password": "short"}),
            json!({"user_id": ["max length is 64"], "password": ["min length is 8"]}),
        ),
        (
            json!({"user_id": "bill", "password": "€".repeat(25)}),
            json!({"password": ["max length is 72 bytes"]}),
        ),
        (
            json!({"user_id": "a/b", "password": "foobar12"}),
            json!({"user_id": ["must not contain whitespace, control characters or '/'"]}),
        ),
        (
            json!({"user_id": "a b", "password": null}),
            json!({
                "user_id": ["must not contain whitespace, control characters or '/'"],
                "password": ["null value not allowed"],
            }),
        ),
        (
            json!({"user_id": "", "password": "foobar12"}),
            json!({"user_id": ["empty values not allowed"]}),
        ),
        (
            json!(["bill"]),
            json!({"document": ["must be of dict type"]}),
        ),
    ];
    for (body, errors) in cases {
        let res = create(&app, &admin, body.clone()).await;
        assert_eq!(res.status(), 422, "{body}");
        assert_eq!(json(res).await, invalid(errors), "{body}");
    }
    assert_eq!(app.stored_user_ids().await, vec![ADMIN.to_owned()]);
    // 64 characters and 72 bytes are fine.
    let res = create(
        &app,
        &admin,
        json!({"user_id": "x".repeat(64), "password": "a".repeat(72)}),
    )
    .await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn the_minimum_password_length_is_configurable() {
    let app = spawn_app_with(
        &[],
        Config {
            minimum_password_length: 12,
            ..Config::default()
        },
    )
    .await;
    let admin = app.admin_token().await;
    let res = create(
        &app,
        &admin,
        json!({"user_id": "bill", "password": "elevenchars"}),
    )
    .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        json(res).await,
        invalid(json!({"password": ["min length is 12"]}))
    );
    let res = create(
        &app,
        &admin,
        json!({"user_id": "bill", "password": "twelve-chars"}),
    )
    .await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn twenty_concurrent_creates_of_one_id_give_one_201_and_nineteen_409() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let requests = (0..20).map(|i| {
        let req = app
            .http
            .post(app.url("/api/users"))
            .bearer_auth(&admin)
            .json(&json!({"user_id": "racer", "password": format!("password-{i}")}));
        async move { req.send().await.unwrap().status().as_u16() }
    });
    let mut statuses = futures_util::future::join_all(requests).await;
    statuses.sort_unstable();
    let created = statuses.iter().filter(|s| **s == 201).count();
    let conflicts = statuses.iter().filter(|s| **s == 409).count();
    assert_eq!((created, conflicts), (1, 19), "{statuses:?}");
    assert!(statuses.iter().all(|s| *s < 500));
    assert_eq!(
        app.stored_user_ids().await,
        vec![ADMIN.to_owned(), "racer".to_owned()]
    );
}

#[tokio::test]
async fn list_is_sorted_and_find_keeps_matching_ids() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.add_group("tech", &["upload_file"]).await;
    app.add_user("zoe", &[]).await;
    app.add_user("fred", &["tech"]).await;
    app.add_user("Alfred", &[]).await;
    let res = app.get(&admin, "/api/users").await;
    assert_eq!(res.status(), 200);
    let body = json(res).await;
    let ids: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["Alfred", "admin", "fred", "zoe"]);
    let fred = app.stored_user("fred").await.unwrap();
    assert_eq!(
        body[2],
        user_json(
            "fred",
            &["tech"],
            perms(&["upload_file"]),
            "",
            false,
            &timestamp(fred.2)
        )
    );
    let res = app.get(&admin, "/api/users?find=FRED").await;
    let body = json(res).await;
    let ids: Vec<&str> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["Alfred", "fred"]);
    let res = app.get(&admin, "/api/users?find=nobody").await;
    assert_eq!(json(res).await, json!([]));
    let res = app.get(&admin, "/api/users?find=%00").await;
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await, json!([]));
}

#[tokio::test]
async fn get_of_a_missing_or_impossible_id_is_404() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for path in [
        "/api/users/nobody",
        "/api/users/a%2Fb",
        "/api/users/a%00b",
        "/api/users/%FF",
        "/api/users/a%20b",
    ] {
        let res = app.get(&admin, path).await;
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(
            json(res).await,
            error("not_found", "User not found"),
            "{path}"
        );
    }
    for path in ["/api/users/a%2Fb/groups/x", "/api/users/a%00b"] {
        let res = app.delete(&admin, path).await;
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(json(res).await, error("not_found", "User not found"));
    }
}

async fn add(app: &TestApp, token: &str, path: &str, group: &str) -> reqwest::Response {
    app.send(Method::POST, token, path, &json!({ "group_id": group }))
        .await
}

#[tokio::test]
async fn add_group_returns_the_user_with_permissions_or_ed_over_its_groups() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.add_group("tech", &["cancel_job", "create_sample"])
        .await;
    app.add_group("lab", &["create_sample", "upload_file"])
        .await;
    app.add_user("fred", &[]).await;
    let stamp = timestamp(app.stored_user("fred").await.unwrap().2);

    let res = add(&app, &admin, "/api/users/fred/groups", "tech").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        json(res).await,
        user_json(
            "fred",
            &["tech"],
            perms(&["cancel_job", "create_sample"]),
            "",
            false,
            &stamp
        )
    );
    // The document's singular path works the same.
    let res = add(&app, &admin, "/api/users/fred/group", "lab").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        json(res).await,
        user_json(
            "fred",
            &["lab", "tech"],
            perms(&["cancel_job", "create_sample", "upload_file"]),
            "",
            false,
            &stamp
        )
    );
    // Adding again changes nothing.
    let res = add(&app, &admin, "/api/users/fred/groups", "lab").await;
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await["groups"], json!(["lab", "tech"]));
    // Administrator means every permission.
    let res = add(&app, &admin, "/api/users/fred/groups", "administrator").await;
    assert_eq!(
        json(res).await,
        user_json(
            "fred",
            &["administrator", "lab", "tech"],
            all_perms(),
            "",
            false,
            &stamp
        )
    );
    assert_eq!(
        app.stored_groups_of("fred").await,
        ["administrator", "lab", "tech"]
    );
}

#[tokio::test]
async fn add_group_errors() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.add_group("tech", &[]).await;
    app.add_user("fred", &[]).await;
    let res = add(&app, &admin, "/api/users/nobody/groups", "tech").await;
    assert_eq!(res.status(), 404);
    assert_eq!(json(res).await, error("not_found", "User not found"));
    for group in ["nope", "no/pe", ""] {
        let res = add(&app, &admin, "/api/users/fred/groups", group).await;
        assert_eq!(res.status(), 404, "{group:?}");
        assert_eq!(json(res).await, error("not_found", "Group not found"));
    }
    let res = add(&app, &admin, "/api/users/nobody/groups", "no/pe").await;
    assert_eq!(json(res).await, error("not_found", "User not found"));
    let res = app
        .send(
            Method::POST,
            &admin,
            "/api/users/fred/groups",
            &json!({"group": "tech"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        json(res).await,
        invalid(json!({"group_id": ["required field"], "group": ["unknown field"]}))
    );
    assert!(app.stored_groups_of("fred").await.is_empty());
}

#[tokio::test]
async fn remove_group_returns_the_remaining_ids_and_recomputes_permissions() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.add_group("tech", &["cancel_job", "create_sample"])
        .await;
    app.add_group("lab", &["create_sample", "upload_file"])
        .await;
    app.add_user("fred", &["administrator", "lab", "tech"])
        .await;
    let res = app
        .send(
            Method::PATCH,
            &admin,
            "/api/users/fred",
            &json!({"primary_group": "tech"}),
        )
        .await;
    assert_eq!(res.status(), 200);

    let res = app.delete(&admin, "/api/users/fred/groups/tech").await;
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await, json!(["administrator", "lab"]));
    let stored = app.stored_user("fred").await.unwrap();
    assert_eq!(stored.1, None, "the primary group was this one");
    let res = app.get(&admin, "/api/users/fred").await;
    assert_eq!(
        json(res).await,
        user_json(
            "fred",
            &["administrator", "lab"],
            all_perms(),
            "",
            false,
            &timestamp(stored.2)
        )
    );

    let res = app
        .delete(&admin, "/api/users/fred/groups/administrator")
        .await;
    assert_eq!(json(res).await, json!(["lab"]));
    let res = app.get(&admin, "/api/users/fred").await;
    assert_eq!(
        json(res).await["permissions"],
        perms(&["create_sample", "upload_file"])
    );
    // Not a member: nothing changes.
    let res = app.delete(&admin, "/api/users/fred/groups/tech").await;
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await, json!(["lab"]));
    let res = app.delete(&admin, "/api/users/fred/groups/lab").await;
    assert_eq!(json(res).await, json!([]));
    let res = app.get(&admin, "/api/users/fred").await;
    assert_eq!(json(res).await["permissions"], perms(&[]));
}

#[tokio::test]
async fn remove_group_keeps_another_primary_group() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.add_group("tech", &[]).await;
    app.add_group("lab", &[]).await;
    app.add_user("fred", &["lab", "tech"]).await;
    app.send(
        Method::PATCH,
        &admin,
        "/api/users/fred",
        &json!({"primary_group": "lab"}),
    )
    .await;
    let res = app.delete(&admin, "/api/users/fred/groups/tech").await;
    assert_eq!(json(res).await, json!(["lab"]));
    assert_eq!(
        app.stored_user("fred").await.unwrap().1.as_deref(),
        Some("lab")
    );
}

#[tokio::test]
async fn remove_group_errors() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.add_user("fred", &["administrator"]).await;
    let res = app
        .delete(&admin, "/api/users/admin/groups/administrator")
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        json(res).await,
        error(
            "bad_request",
            "Administrators cannot remove themselves from the administrator group"
        )
    );
    assert_eq!(app.stored_groups_of(ADMIN).await, ["administrator"]);
    let res = app
        .delete(&admin, "/api/users/nobody/groups/administrator")
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(json(res).await, error("not_found", "User not found"));
    let res = app.delete(&admin, "/api/users/fred/groups/nope").await;
    assert_eq!(res.status(), 404);
    assert_eq!(json(res).await, error("not_found", "Group not found"));
    // Another administrator may be removed from the group.
    let res = app
        .delete(&admin, "/api/users/fred/groups/administrator")
        .await;
    assert_eq!(json(res).await, json!([]));
}

#[tokio::test]
async fn delete_removes_the_user_but_never_yourself() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.add_group("tech", &[]).await;
    app.add_user("fred", &["tech"]).await;
    let fred = app.token_for("fred", PASSWORD).await;
    let res = app.delete(&admin, "/api/users/fred").await;
    assert_eq!(res.status(), 204);
    assert_eq!(res.bytes().await.unwrap().len(), 0);
    assert_eq!(app.stored_user("fred").await, None);
    assert!(app.stored_groups_of("fred").await.is_empty());
    let res = app.get(&admin, "/api/users/fred").await;
    assert_eq!(res.status(), 404);
    // The deleted user's token stops working at once.
    let res = app.get(&fred, "/api/account").await;
    assert_eq!(res.status(), 401);
    let res = app.delete(&admin, "/api/users/fred").await;
    assert_eq!(res.status(), 404);
    assert_eq!(json(res).await, error("not_found", "User not found"));
    let res = app.delete(&admin, "/api/users/admin").await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        json(res).await,
        error("bad_request", "Cannot remove own account")
    );
    assert!(app.stored_user(ADMIN).await.is_some());
}

#[tokio::test]
async fn every_users_and_groups_call_needs_manage_users() {
    let app = spawn_app().await;
    app.add_group("tech", &["cancel_job", "upload_file", "modify_settings"])
        .await;
    app.add_user("fred", &["tech"]).await;
    let fred = app.token_for("fred", PASSWORD).await;
    let calls: Vec<(Method, &str, Value)> = vec![
        (Method::GET, "/api/users", Value::Null),
        (
            Method::POST,
            "/api/users",
            json!({"user_id": "bill", "password": "foobar12"}),
        ),
        (Method::GET, "/api/users/admin", Value::Null),
        (
            Method::PATCH,
            "/api/users/admin",
            json!({"force_reset": true}),
        ),
        (Method::DELETE, "/api/users/admin", Value::Null),
        (
            Method::POST,
            "/api/users/fred/groups",
            json!({"group_id": "administrator"}),
        ),
        (
            Method::POST,
            "/api/users/fred/group",
            json!({"group_id": "administrator"}),
        ),
        (
            Method::DELETE,
            "/api/users/admin/groups/administrator",
            Value::Null,
        ),
        (Method::GET, "/api/groups", Value::Null),
        (Method::POST, "/api/groups", json!({"group_id": "new"})),
        (Method::GET, "/api/groups/tech", Value::Null),
        (
            Method::PATCH,
            "/api/groups/tech",
            json!({"permissions": {"manage_users": true}}),
        ),
        (Method::DELETE, "/api/groups/tech", Value::Null),
    ];
    for (method, path, body) in calls {
        let res = app.send(method.clone(), &fred, path, &body).await;
        assert_eq!(res.status(), 403, "{method} {path}");
        assert_eq!(json(res).await, error("not_permitted", "Not permitted"));
    }
    assert_eq!(app.stored_groups_of("fred").await, ["tech"]);
    assert!(app.stored_user(ADMIN).await.is_some());
    assert!(app.stored_user("bill").await.is_none());
    // A user holding only manage_users may.
    let manager = app.manager("mary").await;
    let res = app.get(&manager, "/api/users").await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn losing_manage_users_through_the_api_applies_at_once() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let mary = app.manager("mary").await;
    assert_eq!(app.get(&mary, "/api/users").await.status(), 200);
    let res = app
        .send(
            Method::PATCH,
            &admin,
            "/api/groups/mary_managers",
            &json!({"permissions": {"manage_users": false}}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get(&mary, "/api/users").await.status(), 403);
    // And gaining it back through a membership.
    app.add_group("helpers", &["manage_users"]).await;
    let res = app
        .send(
            Method::POST,
            &admin,
            "/api/users/mary/groups",
            &json!({"group_id": "helpers"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get(&mary, "/api/users").await.status(), 200);
    let res = app.delete(&admin, "/api/users/mary/groups/helpers").await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.get(&mary, "/api/users").await.status(), 403);
}

#[tokio::test]
async fn losing_manage_users_elsewhere_reaches_an_existing_token_within_5_seconds() {
    let app = spawn_app().await;
    let mary = app.manager("mary").await;
    assert_eq!(app.get(&mary, "/api/users").await.status(), 200);
    // Another replica (or an operator) changes the database; this process only learns of it
    // when its cached entry expires.
    app.execute("UPDATE groups SET manage_users = false WHERE id = 'mary_managers'")
        .await;
    let started = Instant::now();
    loop {
        let status = app.get(&mary, "/api/users").await.status();
        if status == 403 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still permitted after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(started.elapsed() < Duration::from_secs(5));
    // A user deleted elsewhere loses access the same way.
    let admin = app.admin_token().await;
    app.add_user("fred", &[]).await;
    let fred = app.token_for("fred", PASSWORD).await;
    assert_eq!(app.get(&fred, "/api/account").await.status(), 200);
    app.execute("DELETE FROM users WHERE id = 'fred'").await;
    let started = Instant::now();
    while app.get(&fred, "/api/account").await.status() != 401 {
        assert!(started.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.get(&admin, "/api/users/fred").await.status(), 404);
}

#[tokio::test]
async fn only_administrators_change_administrators() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let mary = app.manager("mary").await;
    app.add_user("fred", &[]).await;
    let admin_before = app.stored_user(ADMIN).await;
    let forbidden = error("not_permitted", "Not permitted");
    let res = app
        .send(
            Method::POST,
            &mary,
            "/api/users/mary/groups",
            &json!({"group_id": "administrator"}),
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(json(res).await, forbidden);
    let res = app
        .delete(&mary, "/api/users/admin/groups/administrator")
        .await;
    assert_eq!(res.status(), 403);
    let res = app
        .send(
            Method::PATCH,
            &mary,
            "/api/users/admin",
            &json!({"password": "taken-over-1"}),
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(json(res).await, forbidden);
    let res = app.delete(&mary, "/api/users/admin").await;
    assert_eq!(res.status(), 403);
    assert_eq!(app.stored_user(ADMIN).await, admin_before);
    assert_eq!(app.stored_groups_of(ADMIN).await, ["administrator"]);
    assert_eq!(app.stored_groups_of("mary").await, ["mary_managers"]);
    // Everyone else is hers to manage.
    let res = app
        .send(
            Method::PATCH,
            &mary,
            "/api/users/fred",
            &json!({"force_reset": true}),
        )
        .await;
    assert_eq!(res.status(), 200);
    // Once an administrator herself, she may.
    let res = app
        .send(
            Method::POST,
            &admin,
            "/api/users/mary/groups",
            &json!({"group_id": "administrator"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .send(
            Method::PATCH,
            &mary,
            "/api/users/admin",
            &json!({"force_reset": true}),
        )
        .await;
    assert_eq!(res.status(), 200);
}
