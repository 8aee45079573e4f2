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

/// A replica of the service on `db` (migrated and bootstrapped already) with these keys.
async fn replica(
    db: &test_support::TestDb,
    secret: &str,
    previous: &str,
) -> test_support::TestServer {
    let settings = test_support::settings(
        agency_svc::INFO,
        db,
        &[("JWT_SECRET", secret), ("JWT_PREVIOUS_SECRETS", previous)],
    );
    let database = user_core::db::Db::new(&settings).unwrap();
    let state = agency_svc::state(settings, database).await.unwrap();
    test_support::spawn(move || agency_svc::app::build(state.clone()))
}

/// A token from `server`'s token endpoint.
async fn token_from(http: &reqwest::Client, server: &test_support::TestServer) -> String {
    let res = http
        .post(server.url("/oauth/token"))
        .json(
            &json!({"grant_type": "client_credentials", "client_id": CLIENT_ID,
                      "client_secret": helpers::CLIENT_SECRET}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    json(res).await["access_token"].as_str().unwrap().to_owned()
}

/// The status `server` answers `GET /agencies` with `token`.
async fn status_with(
    http: &reqwest::Client,
    server: &test_support::TestServer,
    token: &str,
) -> u16 {
    http.get(server.url("/agencies"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// JWT key rotation (`common.md`, "JWT"; the runbook in docs/deploy.md) on two replicas of one
/// database, restarted one at a time in each step: at every moment, every token issued so far
/// by any replica is accepted by every replica running, so nobody is logged out; tokens issued
/// after the switch carry the new key's `kid`; once the old key is dropped its tokens are
/// refused; a token whose `kid` names no configured key never passes.
#[tokio::test]
async fn rotating_the_jwt_key_on_two_replicas_one_at_a_time_logs_nobody_out() {
    let _shared = QUIET.read().await;
    const OLD: &str = test_support::TEST_JWT_SECRET;
    const NEW: &str = "the-next-jwt-secret-0123456789abcdef";
    let app = spawn_app().await; // its database, migrated and bootstrapped; the old key
    let http = test_support::client();
    let mut tokens = vec![token_from(&http, &app.server).await];
    // (JWT_SECRET, JWT_PREVIOUS_SECRETS) of each step, each rolled to the two replicas in turn
    let steps = [(OLD, ""), (OLD, NEW), (NEW, OLD)];
    let mut replicas = [
        replica(&app.db, OLD, "").await,
        replica(&app.db, OLD, "").await,
    ];
    for (n, (secret, previous)) in steps.iter().enumerate().skip(1) {
        for which in 0..2 {
            replicas[which].stop().await;
            replicas[which] = replica(&app.db, secret, previous).await;
            tokens.push(token_from(&http, &replicas[which]).await);
            for (t, token) in tokens.iter().enumerate() {
                for (r, server) in replicas.iter().enumerate() {
                    assert_eq!(
                        status_with(&http, server, token).await,
                        200,
                        "step {n}, replica {which} rolled: token {t} on replica {r}"
                    );
                }
            }
        }
    }
    let kid = |token: &str| forge::header_of(token)["kid"].as_str().map(str::to_owned);
    assert_eq!(
        kid(&tokens[0]),
        Some(user_core::jwt::kid_of(OLD.as_bytes()))
    );
    assert_eq!(
        kid(tokens.last().unwrap()),
        Some(user_core::jwt::kid_of(NEW.as_bytes())),
        "issued after the switch: the new key"
    );
    // one TTL later the old key is dropped: its tokens are refused, the new ones are not
    let done = replica(&app.db, NEW, "").await;
    assert_eq!(status_with(&http, &done, &tokens[0]).await, 401);
    assert_eq!(status_with(&http, &done, tokens.last().unwrap()).await, 200);
    // a forged kid, signed with the real key: refused
    let claims = forge::claims_of(tokens.last().unwrap());
    let forged = forge::sign(
        &json!({"alg": "HS256", "typ": "JWT", "kid": "0123456789abcdef"}),
        &claims,
        NEW.as_bytes(),
    );
    assert_eq!(status_with(&http, &done, &forged).await, 401);
    let right = forge::sign(
        &json!({"alg": "HS256", "typ": "JWT", "kid": user_core::jwt::kid_of(NEW.as_bytes())}),
        &claims,
        NEW.as_bytes(),
    );
    assert_eq!(status_with(&http, &done, &right).await, 200, "the control");
}
