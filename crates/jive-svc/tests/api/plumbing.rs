//! The shared HTTP behaviour, in Tyk's envelope.

use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn unknown_routes_wrong_methods_and_bad_bodies_get_the_envelope() {
    let app = spawn_app().await;
    let res = app.get(ADMIN_KEY, "/api/nothing").await;
    assert_eq!(res.status, 404);
    assert_eq!(res.body, error("Not found"));
    let res = app
        .call(reqwest::Method::PATCH, Some(ADMIN_KEY), "/api/users", None)
        .await;
    assert_eq!(res.status, 405);
    assert_eq!(res.body, error("Method not allowed"));
    let res = app
        .post(
            ADMIN_KEY,
            &format!("/api/users/{}", app.admin_id),
            json!({}),
        )
        .await;
    assert_eq!(res.status, 405);

    let url = app.url("/api/users");
    let send_raw = |ct: Option<&'static str>, body: Vec<u8>| {
        let mut req = app
            .http
            .post(&url)
            .header("authorization", ADMIN_KEY)
            .body(body);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        req.send()
    };
    let res = send_raw(Some("application/json"), b"{not json".to_vec())
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(
        test_support::json(res).await,
        error("Malformed request body: not valid JSON")
    );
    let res = send_raw(Some("text/plain"), b"{}".to_vec()).await.unwrap();
    assert_eq!(res.status(), 415);
    assert_eq!(test_support::json(res).await["Status"], "Error");
    let res = send_raw(Some("application/json"), vec![b' '; 65 * 1024])
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert_eq!(test_support::json(res).await["Status"], "Error");
    // No content type is read as JSON.
    let res = send_raw(None, br#"{"email_address":"noct@example.com"}"#.to_vec())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn ops_endpoints_and_openapi() {
    let app = spawn_app().await;
    let res = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(test_support::json(res).await, json!({"status":"ok"}));
    let res = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let doc =
        test_support::json(app.http.get(app.url("/openapi.json")).send().await.unwrap()).await;
    for path in [
        "/api/users",
        "/api/users/{id}",
        "/api/users/{id}/actions/reset",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
    assert!(doc["components"]["schemas"]["UserJson"].is_object());
    assert!(doc["components"]["securitySchemes"]["access_key"].is_object());
    assert_eq!(app.get(ADMIN_KEY, "/api/users").await.status, 200);
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
        metrics.contains("/api/users"),
        "requests are counted by route"
    );
}

#[tokio::test]
async fn location_follows_the_gateway_headers() {
    let app = spawn_app().await;
    let res = app
        .http
        .post(app.url("/api/users"))
        .header("authorization", ADMIN_KEY)
        .header("x-forwarded-host", "gw.example:8080")
        .header("x-forwarded-prefix", "/jive")
        .json(&json!({"email_address":"loc@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("http://gw.example:8080/jive/api/users/"),
        "{location}"
    );
}

#[tokio::test]
async fn bootstrap_is_idempotent_and_admin_commands_work() {
    let app = spawn_app().await;
    let config = jive_svc::Config {
        bootstrap_org_id: Some(ORG.into()),
        bootstrap_admin_email: Some(ADMIN_EMAIL.into()),
        bootstrap_admin_access_key: Some(user_core::Secret::new(ADMIN_KEY)),
    };
    let before = app.user_count().await;
    jive_svc::bootstrap::apply(&app.state, &config)
        .await
        .unwrap();
    jive_svc::bootstrap::apply(&app.state, &config)
        .await
        .unwrap();
    assert_eq!(app.user_count().await, before);
    // A second key with the bootstrap email creates nothing (the email is taken).
    let config = jive_svc::Config {
        bootstrap_admin_access_key: Some(user_core::Secret::new(
            "another-key-0123456789abcdef0123456",
        )),
        ..config
    };
    jive_svc::bootstrap::apply(&app.state, &config)
        .await
        .unwrap();
    assert_eq!(app.user_count().await, before);

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
    assert_eq!(app.user_count().await, before + 1);
    assert!(jive_svc::admin::run(
        &db,
        &hasher,
        &args(&["user-create", ORG, "cli@example.com"])
    )
    .await
    .is_err());
    assert!(jive_svc::admin::run(
        &db,
        &hasher,
        &args(&["user-create", "ffffffffffffffffffffffff", "x@example.com"])
    )
    .await
    .is_err());
    assert!(jive_svc::admin::run(&db, &hasher, &args(&["bogus"]))
        .await
        .is_err());
}

#[tokio::test]
async fn an_unreachable_database_is_a_503_envelope_with_retry_after() {
    let test_db = test_support::TestDb::new().await;
    let settings = test_support::settings(
        jive_svc::INFO,
        &test_db,
        &[
            ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/nowhere"),
            ("DB_TIMEOUT_MS", "300"),
        ],
    );
    let database = user_core::db::Db::new(&settings).unwrap();
    let state = jive_svc::state(settings, database).await.unwrap();
    let server = test_support::spawn(move || jive_svc::app::build(state.clone()));
    let http = test_support::client();
    let res = http
        .get(server.url("/api/users"))
        .header("authorization", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "5");
    assert_eq!(test_support::json(res).await, error("Service unavailable"));
    let res = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    // Without a key the answer needs no database.
    let res = http.get(server.url("/api/users")).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn a_405_names_the_methods_the_route_serves() {
    let app = spawn_app().await;
    let routes = test_support::assert_405s_name_the_allowed_methods(&app.url("")).await;
    assert_eq!(
        routes,
        4 + 4,
        "the operations routes and the API's (routes/mod.rs)"
    );
}

#[tokio::test]
async fn head_answers_as_get_without_the_body() {
    let app = spawn_app().await;
    for path in [
        format!("/api/users/{}", app.admin_id),
        "/api/users".to_owned(),
    ] {
        let send = |method| {
            app.http
                .request(method, app.url(&path))
                .header("authorization", ADMIN_KEY)
                .send()
        };
        let get = send(reqwest::Method::GET).await.unwrap();
        let head = send(reqwest::Method::HEAD).await.unwrap();
        assert_eq!(get.status(), 200, "GET {path}");
        assert_eq!(head.status(), 200, "HEAD {path}");
        for name in ["content-type", "content-length", "transfer-encoding"] {
            assert_eq!(
                get.headers().get(name),
                head.headers().get(name),
                "{name} of HEAD {path}"
            );
        }
        assert!(head.headers().contains_key("x-request-id"));
        let body = head.bytes().await.unwrap();
        assert!(body.is_empty(), "HEAD {path}: {} bytes of body", body.len());
        assert!(!get.bytes().await.unwrap().is_empty());
    }
    // Without a key, HEAD is refused as GET is.
    let res = app.http.head(app.url("/api/users")).send().await.unwrap();
    assert_eq!(res.status(), 401);
}
