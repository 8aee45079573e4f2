//! Issue 8 (reliability and security), the parts `tests/api/` does not already cover: token
//! attacks over HTTP, the 11th bad password and a good login after the window, login timing,
//! 20-way races on one group id, and concurrent group/permission/membership changes that leave
//! a consistent state. See docs/reliability.md.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: failing loudly is the point

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use helpers::*;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use test_support::{forge, json};

/// The timing test runs alone in this binary: the other tests hold this lock shared.
static QUIET: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());
use virtool_svc::Config;

#[tokio::test]
async fn forged_expired_and_foreign_tokens_are_401_requires_authorization() {
    let _shared = QUIET.read().await;
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let valid = forge::claims_of(&token);
    let secret = test_support::TEST_JWT_SECRET.as_bytes();
    let control = forge::control(&valid, secret);
    assert_eq!(app.get(&control, "/api/users").await.status(), 200);
    for (what, bad) in forge::attacks(&valid, secret) {
        for path in ["/api/account", "/api/users", "/api/groups"] {
            let res = app.get(&bad, path).await;
            assert_eq!(res.status(), 401, "{what} on {path}");
            assert_eq!(
                json(res).await,
                error("requires_authorization", "Requires authorization"),
                "{what}"
            );
        }
        let res = app
            .send(
                Method::POST,
                &bad,
                "/api/users",
                &json!({"user_id":"evil","password":"evil-password"}),
            )
            .await;
        assert_eq!(res.status(), 401, "{what} on POST");
    }
    assert!(app.stored_user("evil").await.is_none());
}

#[tokio::test]
async fn the_eleventh_bad_password_is_429_and_a_good_login_works_after_the_window() {
    let _shared = QUIET.read().await;
    let app = spawn_app_with(&[("LOGIN_WINDOW_SECONDS", "2")], Config::default()).await;
    for i in 0..10 {
        let res = app.login(ADMIN, "wrong-password").await;
        assert_eq!(res.status(), 400, "attempt {}", i + 1);
    }
    let res = app.login(ADMIN, "wrong-password").await;
    assert_eq!(res.status(), 429, "the 11th");
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&wait), "{wait}");
    assert_eq!(
        json(res).await,
        error("too_many_requests", "Too many requests")
    );
    assert_eq!(app.login(ADMIN, ADMIN_PASSWORD).await.status(), 429);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    app.token_for(ADMIN, ADMIN_PASSWORD).await;
}

#[tokio::test]
async fn an_unknown_user_takes_as_long_as_a_wrong_password() {
    let _alone = QUIET.write().await;
    // Cost 10 (the smallest accepted without ALLOW_WEAK_BCRYPT); the bootstrap administrator's
    // hash is made by the service at that cost.
    let app = spawn_app_with(
        &[
            ("BCRYPT_COST", "10"),
            ("LOGIN_MAX_FAILURES", "100000"),
            ("LOGIN_MAX_FAILURES_PER_ADDRESS", "100000"),
        ],
        Config::default(),
    )
    .await;
    let attempt = |user: &'static str| {
        let app = &app;
        async move {
            let started = Instant::now();
            let res = app.login(user, "wrong-password").await;
            assert_eq!(res.status(), 400);
            started.elapsed()
        }
    };
    test_support::timing::assert_medians_within_20_percent(attempt, ADMIN, "nobody").await;
}

#[tokio::test]
async fn twenty_way_races_on_one_group_id_have_one_winner() {
    let _shared = QUIET.read().await;
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    // Create: ids are lower-cased, so "Lab" and "lab" are the same group.
    let creates = (0..20).map(|i| {
        let (app, admin) = (&app, &admin);
        let id = if i % 2 == 0 { "Lab" } else { "lab" };
        async move {
            app.send(
                Method::POST,
                admin,
                "/api/groups",
                &json!({ "group_id": id }),
            )
            .await
            .status()
            .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(creates).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
    // Delete: one 204, the others find it gone.
    let deletes = (0..20).map(|_| {
        let (app, admin) = (&app, &admin);
        async move { app.delete(admin, "/api/groups/lab").await.status().as_u16() }
    });
    let statuses = futures_util::future::join_all(deletes).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 204).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 404).count(),
        19,
        "{statuses:?}"
    );
    // Joining one group 20 times at once: one membership.
    app.add_group("lab", &["upload_file"]).await;
    app.add_user("fred", &[]).await;
    let joins = (0..20).map(|i| {
        let (app, admin) = (&app, &admin);
        let path = if i % 2 == 0 {
            "/api/users/fred/groups"
        } else {
            "/api/users/fred/group"
        };
        async move {
            app.send(Method::POST, admin, path, &json!({"group_id": "lab"}))
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(joins).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(app.stored_groups_of("fred").await, ["lab"]);
}

/// Checks, through the API, what the contract promises whatever happened before: every group a
/// user is in exists, the primary group is one of them (or ""), and the user's permissions are
/// exactly the union of its groups' permissions — also as a fresh login of the user sees them.
async fn assert_consistent(app: &TestApp, admin: &str, users: &[String]) {
    let groups = json(app.get(admin, "/api/groups").await).await;
    let by_id: BTreeMap<String, Value> = groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["id"].as_str().unwrap().to_owned(),
                g["permissions"].clone(),
            )
        })
        .collect();
    for user in users {
        let res = app.get(admin, &format!("/api/users/{user}")).await;
        assert_eq!(res.status(), 200);
        let body = json(res).await;
        let member_of: Vec<&str> = body["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g.as_str().unwrap())
            .collect();
        for g in &member_of {
            assert!(
                by_id.contains_key(*g),
                "{user} is in {g}, which does not exist"
            );
        }
        let primary = body["primary_group"].as_str().unwrap();
        assert!(
            primary.is_empty() || member_of.contains(&primary),
            "{user}: primary group {primary} not among {member_of:?}"
        );
        let mut expected = perms(&[]);
        for g in &member_of {
            for (name, on) in by_id[*g].as_object().unwrap() {
                if on.as_bool().unwrap() {
                    expected[name] = Value::Bool(true);
                }
            }
        }
        assert_eq!(body["permissions"], expected, "{user}: stale permissions");
        // The user's own view through a token made now.
        let own = app.token_for(user, PASSWORD).await;
        let account = json(app.get(&own, "/api/account").await).await;
        assert_eq!(account["permissions"], expected, "{user}: account view");
        assert_eq!(account["groups"], body["groups"]);
        // manage_users decides /api/users at once.
        let want = if expected["manage_users"] == true {
            200
        } else {
            403
        };
        assert_eq!(app.get(&own, "/api/users").await.status(), want, "{user}");
    }
}

#[tokio::test]
async fn concurrent_group_permission_and_membership_changes_stay_consistent() {
    let _shared = QUIET.read().await;
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let groups = ["g0", "g1", "g2", "g3"];
    let names = virtool_svc::permissions::NAMES;
    for round in 0..3 {
        for (i, g) in groups.iter().enumerate() {
            app.add_group(g, &[names[i], "manage_users"][..1 + (i % 2)])
                .await;
        }
        let users: Vec<String> = (0..6).map(|u| format!("r{round}u{u}")).collect();
        for (u, user) in users.iter().enumerate() {
            app.add_user(user, &[groups[u % 4], groups[(u + 1) % 4]])
                .await;
        }
        let mut calls: Vec<(Method, String, Value)> = Vec::new();
        for (u, user) in users.iter().enumerate() {
            let g = groups[(u + round) % 4];
            calls.push((
                Method::POST,
                format!("/api/users/{user}/groups"),
                json!({"group_id": groups[(u + 2) % 4]}),
            ));
            calls.push((
                Method::DELETE,
                format!("/api/users/{user}/groups/{}", groups[(u + 1) % 4]),
                Value::Null,
            ));
            calls.push((
                Method::PATCH,
                format!("/api/users/{user}"),
                json!({ "primary_group": g }),
            ));
        }
        for (i, g) in groups.iter().enumerate() {
            calls.push((
                Method::PATCH,
                format!("/api/groups/{g}"),
                json!({"permissions": {names[(i + round) % names.len()]: true, "manage_users": i % 2 == 0}}),
            ));
        }
        // Two groups go while all of that runs, twice each (one 204, one 404).
        for g in [groups[round % 4], groups[(round + 2) % 4]] {
            for _ in 0..2 {
                calls.push((Method::DELETE, format!("/api/groups/{g}"), Value::Null));
            }
        }
        let sent = calls.iter().map(|(method, path, body)| {
            let (app, admin) = (&app, &admin);
            async move {
                let res = app.send(method.clone(), admin, path, body).await;
                (
                    method.clone(),
                    path.clone(),
                    res.status().as_u16(),
                    json_or_empty(res).await,
                )
            }
        });
        let answers = futures_util::future::join_all(sent).await;
        let mut deletes: BTreeMap<String, Vec<u16>> = BTreeMap::new();
        for (method, path, status, body) in &answers {
            assert!(*status < 500, "{method} {path}: {status} {body}");
            match status {
                200 | 204 => {}
                404 => assert!(
                    body == &error("not_found", "Group not found")
                        || body == &error("not_found", "User not found"),
                    "{method} {path}: {body}"
                ),
                400 => assert_eq!(body["id"], "bad_request", "{method} {path}: {body}"),
                other => panic!("{method} {path}: {other} {body}"),
            }
            if *method == Method::DELETE && path.starts_with("/api/groups/") {
                deletes.entry(path.clone()).or_default().push(*status);
            }
        }
        for (path, statuses) in deletes {
            let set: BTreeSet<u16> = statuses.into_iter().collect();
            assert_eq!(set, BTreeSet::from([204, 404]), "{path}: one winner");
        }
        assert_consistent(&app, &admin, &users).await;
        // Clean up the groups left for the next round.
        for g in groups {
            let _ = app.delete(&admin, &format!("/api/groups/{g}")).await;
        }
    }
}

async fn json_or_empty(res: reqwest::Response) -> Value {
    let text = res.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or(Value::Null)
}
