//! Issue 8 (reliability and security), the parts `tests/api/` does not already cover: token
//! attacks over HTTP, login timing, a 20-way race on one email through PATCH, and the tenant
//! matrix with B's stored rows compared before and after. See docs/reliability.md.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: failing loudly is the point

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use helpers::{spawn_app, spawn_app_with, CLIENT_ID};
use reqwest::Method;
use serde_json::json;
use std::time::Instant;
use test_support::{forge, json};

/// The timing test runs alone in this binary: the other tests hold this lock shared.
static QUIET: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

#[tokio::test]
async fn forged_expired_and_foreign_tokens_are_401_unauthenticated() {
    let _shared = QUIET.read().await;
    let app = spawn_app().await;
    let token = app.token().await;
    let valid = forge::claims_of(&token);
    let secret = test_support::TEST_JWT_SECRET.as_bytes();
    let control = forge::control(&valid, secret);
    assert_eq!(app.get(&control, "/agencies").await.status(), 200);
    let user_path = format!("/agency/{}/users", app.agencies[0]);
    for (what, bad) in forge::attacks(&valid, secret) {
        for path in ["/agencies", user_path.as_str()] {
            let res = app.get(&bad, path).await;
            assert_eq!(res.status(), 401, "{what} on {path}");
            assert_eq!(
                json(res).await,
                json!({"message":"Unauthenticated."}),
                "{what}"
            );
        }
    }
    // Other schemes and empty bearers.
    for header in ["Basic Zm9vOmJhcg==", "Bearer", "Bearer ", "bearer", &token] {
        let res = app
            .http
            .get(app.url("/agencies"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{header:?}");
    }
}

/// Median of `samples` timings of `f`.
#[tokio::test]
async fn an_unknown_client_takes_as_long_as_a_wrong_secret() {
    let _alone = QUIET.write().await;
    // A realistic cost (10, the smallest the services accept without ALLOW_WEAK_BCRYPT); the
    // bootstrap client's secret is hashed at that cost by the service itself.
    let app = spawn_app_with(&[
        ("BCRYPT_COST", "10"),
        ("LOGIN_MAX_FAILURES", "100000"),
        ("LOGIN_MAX_FAILURES_PER_ADDRESS", "100000"),
    ])
    .await;
    let attempt = |id: &'static str| {
        let app = &app;
        async move {
            let started = Instant::now();
            let res = app
                .http
                .post(app.url("/oauth/token"))
                .json(&json!({"grant_type":"client_credentials","client_id":id,"client_secret":"wrong-secret-wrong"}))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 401);
            started.elapsed()
        }
    };
    test_support::timing::assert_medians_within_20_percent(attempt, CLIENT_ID, "nobody").await;
}

#[tokio::test]
async fn twenty_concurrent_patches_to_one_email_leave_one_winner() {
    let _shared = QUIET.read().await;
    let app = spawn_app().await;
    let token = app.token().await;
    let mut ids = Vec::new();
    for i in 0..20 {
        let res = app
            .create_user(
                &token,
                app.agencies[i % 2],
                &json!({"firstname": format!("U{i}"), "email": format!("u{i}@example.no")}),
            )
            .await;
        assert_eq!(res.status(), 201);
        ids.push((app.agencies[i % 2], json(res).await["id"].as_i64().unwrap()));
    }
    let attempts = ids.iter().enumerate().map(|(i, (agency, id))| {
        let (app, token) = (&app, &token);
        // Different cases of one address: the unique index is on lower(email).
        let email = if i % 2 == 0 {
            "Same@Example.no"
        } else {
            "same@example.no"
        };
        let method = if i % 3 == 0 {
            Method::POST
        } else {
            Method::PATCH
        };
        async move {
            app.send(
                method,
                token,
                &format!("/agency/{agency}/user/{id}"),
                &json!({ "email": email }),
            )
            .await
            .status()
            .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 422).count(),
        19,
        "{statuses:?}"
    );
    let stored = app.stored_users().await;
    assert_eq!(stored.len(), 20);
    assert_eq!(
        stored
            .iter()
            .filter(|(e, _)| e.eq_ignore_ascii_case("same@example.no"))
            .count(),
        1
    );
}

#[tokio::test]
async fn another_agency_group_gets_404_everywhere_and_changes_nothing() {
    let _shared = QUIET.read().await;
    let app = spawn_app().await;
    let token = app.token().await;
    let mut users = Vec::new();
    for (i, agency) in app.agencies.iter().enumerate() {
        let res = app
            .create_user(
                &token,
                *agency,
                &json!({"firstname": format!("B{i}"), "email": format!("b{i}@example.no"),
                        "new_password":"secret-pw-1","new_password_confirmation":"secret-pw-1"}),
            )
            .await;
        assert_eq!(res.status(), 201);
        users.push((*agency, json(res).await["id"].as_i64().unwrap()));
    }
    let before = app.stored_users().await;
    let (their_agency, their_id, their_secret) = app.other_group().await;
    let intruder = app.token_for(&their_id, &their_secret).await;
    let body = json!({"firstname":"Evil","email":"evil@example.no","phone":"1",
                      "new_password":"evil-pw-123","new_password_confirmation":"evil-pw-123"});
    let mut tried = 0;
    for (agency, user) in &users {
        let mut paths = vec![
            (Method::GET, format!("/agency/{agency}/users")),
            (Method::POST, format!("/agency/{agency}/user")),
        ];
        for m in [Method::GET, Method::PATCH, Method::POST, Method::DELETE] {
            paths.push((m.clone(), format!("/agency/{agency}/user/{user}")));
            // The intruder's own agency in the path, the victim's user id.
            paths.push((m, format!("/agency/{their_agency}/user/{user}")));
        }
        for (method, path) in paths {
            let res = app.send(method.clone(), &intruder, &path, &body).await;
            assert_eq!(res.status(), 404, "{method} {path}");
            assert_eq!(json(res).await, json!({"message":"Not found."}));
            tried += 1;
        }
    }
    assert!(tried >= 20);
    let agencies = json(app.get(&intruder, "/agencies").await).await;
    assert_eq!(
        agencies,
        json!([{"id": their_agency, "name": "Trondheim", "agency_group_id": agencies[0]["agency_group_id"]}])
    );
    assert_eq!(
        app.stored_users().await,
        before,
        "the victim's rows are unchanged"
    );
}
