use crate::helpers::*;
use serde_json::json;
use test_support::json;

#[tokio::test]
async fn health_readiness_metrics_and_openapi() {
    let app = spawn_app().await;
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await, json!({"status":"ok"}));
    let res = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let token = app.admin_token().await;
    app.get(&token, &users_path(app.alpha)).await;
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
            r#"http_requests_total{method="GET",route="/api/internal/v1/partners/{partner_id}/users",status="200"} 1"#
        ),
        "{metrics}"
    );
    let doc = json(app.http.get(app.url("/openapi.json")).send().await.unwrap()).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/internal/v1/auth/login",
        "/api/internal/v1/partners/{partner_id}/users",
        "/api/internal/v1/partners/{partner_id}/users/{user_id}",
        "/api/internal/v1/partners/{partner_id}/users/{user_id}/partners",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    assert!(doc["components"]["schemas"]["UserPage"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn unknown_routes_methods_and_bad_bodies_answer_in_laravel_shape() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let res = app.get(&token, "/nope").await;
    assert_eq!(res.status(), 404);
    assert_eq!(json(res).await, message("Not found."));
    let res = app.put(&token, &users_path(app.alpha), &json!({})).await;
    assert_eq!(res.status(), 405);
    assert_eq!(json(res).await, message("Method not allowed."));
    let path = users_path(app.alpha);
    let res = app
        .http
        .post(app.url(&path))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"first_name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(json(res).await, message("Malformed JSON."));
    let res = app
        .http
        .post(app.url(&path))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
    let _ = json(res).await;
    let res = app
        .http
        .post(app.url(&path))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(vec![b' '; 70 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let _ = json(res).await;
    // No Content-Type is read as JSON.
    let res = app
        .http
        .post(app.url("/api/internal/v1/auth/login"))
        .body(format!(
            "{{\"email\":\"{ADMIN_EMAIL}\",\"password\":\"{ADMIN_PASSWORD}\"}}"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn an_unreachable_database_is_a_503_with_retry_after() {
    let test_db = test_support::TestDb::new().await;
    let settings = test_support::settings(
        partner_svc::INFO,
        &test_db,
        &[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/nowhere"),
            ("DB_TIMEOUT_MS", "500"),
        ],
    );
    let database = user_core::db::Db::new(&settings).unwrap();
    let state = partner_svc::state(settings, database).await.unwrap();
    let server = test_support::spawn(move || partner_svc::app::build(state.clone()));
    let http = test_support::client();
    let res = http
        .post(server.url("/api/internal/v1/auth/login"))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "5");
    assert_eq!(json(res).await, message("Service Unavailable"));
    let res = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 503);
}

#[tokio::test]
async fn admin_partner_create_and_its_usage() {
    let app = spawn_app().await;
    let db = &app.state.core.db;
    partner_svc::admin::run(
        db,
        &app.state.core.settings.hasher(),
        &["partner-create".into(), "Gamma".into()],
    )
    .await
    .unwrap();
    let again = partner_svc::admin::run(
        db,
        &app.state.core.settings.hasher(),
        &["partner-create".into(), "Gamma".into()],
    )
    .await;
    assert!(again.unwrap_err().to_string().contains("exists already"));
    let usage = partner_svc::admin::run(
        db,
        &app.state.core.settings.hasher(),
        &["user-create".into()],
    )
    .await;
    assert!(usage.unwrap_err().to_string().starts_with("usage:"));
    let blank = partner_svc::admin::create_partner(db, "   ").await;
    assert!(blank.is_err());
}

#[tokio::test]
async fn a_405_names_the_methods_the_route_serves() {
    let app = spawn_app().await;
    let routes = test_support::assert_405s_name_the_allowed_methods(&app.url("")).await;
    assert_eq!(
        routes,
        4 + 5,
        "the operations routes and the API's (routes/mod.rs)"
    );
}
