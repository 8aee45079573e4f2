use crate::helpers::spawn_app;
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
    let token = app.token().await;
    app.get(&token, &format!("/agency/{}/users", app.agencies[0]))
        .await;
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
            r#"http_requests_total{method="GET",route="/agency/{agency}/users",status="200"} 1"#
        ),
        "{metrics}"
    );
    assert!(metrics.contains("db_pool_max_connections 8"));
    assert!(metrics.contains("bcrypt_jobs_in_flight"));
    let doc = json(app.http.get(app.url("/openapi.json")).send().await.unwrap()).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/oauth/token",
        "/agencies",
        "/agency/{agency}/users",
        "/agency/{agency}/user",
        "/agency/{agency}/user/{user}",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    assert!(doc["components"]["schemas"]["UserJson"].is_object());
}

#[tokio::test]
async fn unknown_routes_wrong_methods_and_bodies_answer_in_laravel_shape() {
    let app = spawn_app().await;
    let token = app.token().await;
    let res = app.get(&token, "/nope").await;
    assert_eq!(res.status(), 404);
    assert_eq!(json(res).await, json!({"message":"Not found."}));
    let res = app
        .send(reqwest::Method::PUT, &token, "/agencies", &json!({}))
        .await;
    assert_eq!(res.status(), 405);
    assert_eq!(json(res).await, json!({"message":"Method not allowed."}));
    let path = format!("/agency/{}/user", app.agencies[0]);
    let res = app
        .http
        .post(app.url(&path))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"firstname\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(json(res).await, json!({"message":"Malformed JSON."}));
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
    assert_eq!(
        json(res).await,
        json!({"message":"Unsupported media type."})
    );
    let big = json!({"firstname": "x".repeat(70 * 1024), "email": "big@example.no"});
    let res = app.create_user(&token, app.agencies[0], &big).await;
    assert_eq!(res.status(), 413);
    assert_eq!(json(res).await, json!({"message":"Payload too large."}));
    let res = app
        .http
        .post(app.url(&path))
        .bearer_auth(&token)
        .body(json!({"firstname":"NoType","email":"notype@example.no"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        201,
        "a body without Content-Type is read as JSON"
    );
    assert!(app
        .stored_users()
        .await
        .iter()
        .all(|(e, _)| e != "big@example.no"));
}

#[tokio::test]
async fn request_ids_are_echoed_or_made() {
    let app = spawn_app().await;
    let res = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123");
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.headers()["x-request-id"].len(), 36);
}

#[tokio::test]
async fn an_unreachable_database_is_503_with_retry_after() {
    // A pool pointed at a port where nothing listens: every request needing the database fails fast.
    let app = spawn_app().await;
    let token = app.token().await;
    let db = test_support::TestDb::new().await;
    let mut settings = test_support::settings(agency_svc::INFO, &db, &[("DB_TIMEOUT_MS", "500")]);
    settings.database_url = user_core::Secret::new("postgres://postgres@127.0.0.1:1/nowhere");
    let broken = user_core::db::Db::new(&settings).unwrap();
    let state = agency_svc::state(settings, broken).await.unwrap();
    let server = test_support::spawn(move || agency_svc::app::build(state.clone()));
    let res = app
        .http
        .get(server.url("/agencies"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "5");
    assert_eq!(json(res).await, json!({"message":"Service Unavailable"}));
    let res = app.http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let res = app.http.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_405_names_the_methods_the_route_serves() {
    let app = spawn_app().await;
    let routes = test_support::assert_405s_name_the_allowed_methods(&app.url("")).await;
    assert_eq!(
        routes,
        4 + 6,
        "the operations routes and the API's (routes/mod.rs)"
    );
}
