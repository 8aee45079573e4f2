//! What every service does: operations endpoints, the error shape of the shared plumbing,
//! bootstrap, and an unreachable database.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;
use test_support::json;
use user_core::db::Db;
use virtool_svc::{app, Config, INFO};

#[tokio::test]
async fn health_readiness_metrics_and_openapi() {
    let app = spawn_app().await;
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await, json!({"status": "ok"}));
    let res = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let admin = app.admin_token().await;
    app.get(&admin, "/api/users/admin").await;
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            r#"http_requests_total{method="GET",route="/api/users/{user_id}",status="200"} 1"#
        ),
        "{metrics}"
    );
    let doc = json(app.http.get(app.url("/openapi.json")).send().await.unwrap()).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for (path, method) in [
        ("/api/account/login", "post"),
        ("/api/account/reset", "post"),
        ("/api/account", "get"),
        ("/api/users", "get"),
        ("/api/users", "post"),
        ("/api/users/{user_id}", "get"),
        ("/api/users/{user_id}", "patch"),
        ("/api/users/{user_id}", "delete"),
        ("/api/users/{user_id}/groups", "post"),
        ("/api/users/{user_id}/groups/{group_id}", "delete"),
        ("/api/groups", "get"),
        ("/api/groups", "post"),
        ("/api/groups/{group_id}", "get"),
        ("/api/groups/{group_id}", "patch"),
        ("/api/groups/{group_id}", "delete"),
    ] {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing"
        );
    }
    let user = &doc["components"]["schemas"]["UserJson"]["properties"];
    for field in [
        "id",
        "groups",
        "permissions",
        "primary_group",
        "force_reset",
        "last_password_change",
        "identicon",
    ] {
        assert!(user[field].is_object(), "UserJson.{field}");
    }
}

#[tokio::test]
async fn plumbing_errors_answer_in_virtool_shape() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let res = app.get(&admin, "/nope").await;
    assert_eq!(res.status(), 404);
    assert_eq!(json(res).await, error("not_found", "Not found"));
    let res = app
        .send(Method::PUT, &admin, "/api/users", &json!({}))
        .await;
    assert_eq!(res.status(), 405);
    assert_eq!(
        json(res).await,
        error("method_not_allowed", "Method not allowed")
    );
    let res = app
        .http
        .post(app.url("/api/users"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{\"user_id\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(json(res).await, error("invalid_json", "Invalid JSON"));
    let res = app
        .http
        .post(app.url("/api/users"))
        .bearer_auth(&admin)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    assert_eq!(
        json(res).await,
        error("unsupported_media_type", "Unsupported media type")
    );
    // No Content-Type is read as JSON.
    let res = app
        .http
        .post(app.url("/api/account/login"))
        .body(format!(
            r#"{{"username":"{ADMIN}","password":"{ADMIN_PASSWORD}"}}"#
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app
        .http
        .post(app.url("/api/users"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(vec![b' '; 65 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert_eq!(
        json(res).await,
        error("payload_too_large", "Payload too large")
    );
    let res = app
        .http
        .get(app.url("/api/account"))
        .bearer_auth(&admin)
        .header("x-request-id", "virtool-test-id")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "virtool-test-id");
    assert_eq!(app.stored_user_ids().await, [ADMIN]);
}

#[tokio::test]
async fn bootstrap_is_idempotent_and_leaves_an_existing_user_alone() {
    let app = spawn_app().await;
    let before = app.stored_user(ADMIN).await.unwrap();
    let config = Config {
        bootstrap_admin_user: Some(ADMIN.into()),
        bootstrap_admin_password: Some(user_core::Secret::new("a-different-password")),
        ..Config::default()
    };
    virtool_svc::bootstrap::apply(&app.state, &config)
        .await
        .unwrap();
    assert_eq!(app.stored_user(ADMIN).await.unwrap(), before);
    assert_eq!(app.stored_groups_of(ADMIN).await, ["administrator"]);
    assert!(!before.0, "no forced reset for the bootstrap administrator");
    assert_eq!(before.1.as_deref(), Some("administrator"));
    for bad in [
        Config {
            bootstrap_admin_user: Some("root".into()),
            ..Config::default()
        },
        Config {
            bootstrap_admin_user: Some("ro ot".into()),
            bootstrap_admin_password: Some(user_core::Secret::new("long-enough-1")),
            ..Config::default()
        },
        Config {
            bootstrap_admin_user: Some("root".into()),
            bootstrap_admin_password: Some(user_core::Secret::new("short")),
            ..Config::default()
        },
    ] {
        assert!(virtool_svc::bootstrap::apply(&app.state, &bad)
            .await
            .is_err());
    }
    assert_eq!(app.stored_user_ids().await, [ADMIN]);
}

#[tokio::test]
async fn an_unreachable_database_is_503_with_retry_after() {
    let test_db = test_support::TestDb::new().await;
    let mut settings = test_support::settings(INFO, &test_db, &[("DB_TIMEOUT_MS", "300")]);
    settings.database_url = user_core::Secret::new("postgres://postgres@127.0.0.1:1/none");
    let database = Db::new(&settings).unwrap();
    let state = virtool_svc::state(settings, database, &Config::default())
        .await
        .unwrap();
    let token = state
        .jwt
        .issue(ADMIN, virtool_svc::auth::TokenClaims { pwc: 0 })
        .unwrap()
        .token;
    let for_server = state.clone();
    let server = test_support::spawn(move || app::build(for_server.clone()));
    let http = test_support::client();
    let res = http
        .get(server.url("/api/users"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "5");
    assert_eq!(
        json(res).await,
        error("service_unavailable", "Service unavailable")
    );
    let res = http
        .post(server.url("/api/account/login"))
        .json(&json!({"username": ADMIN, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let res = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 503);
}

#[tokio::test]
async fn a_405_names_the_methods_the_route_serves() {
    let app = spawn_app().await;
    let routes = test_support::assert_405s_name_the_allowed_methods(&app.url("")).await;
    assert_eq!(
        routes,
        4 + 11,
        "the operations routes and the API's (routes/mod.rs)"
    );
}
