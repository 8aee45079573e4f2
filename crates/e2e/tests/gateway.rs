//! The gateway's own behaviour (independent of any one service).

use e2e::{client, json, url};

#[tokio::test]
async fn healthz_is_answered_by_the_gateway() {
    let res = client().get(url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await, serde_json::json!({"status":"ok"}));
}

#[tokio::test]
async fn unknown_paths_get_a_json_404() {
    let res = client()
        .get(url("/no-such-service/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("application/json"), "{ct}");
    let _ = json(res).await;
}

#[tokio::test]
async fn request_ids_are_kept_or_made_and_echoed() {
    let res = client()
        .get(url("/agency/healthz"))
        .header("x-request-id", "e2e-fixed-id-1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-request-id"], "e2e-fixed-id-1");
    let res = client().get(url("/agency/healthz")).send().await.unwrap();
    let made = res.headers()["x-request-id"].to_str().unwrap();
    assert!(made.len() >= 16, "{made}");
}

#[tokio::test]
async fn bodies_over_64_kib_get_a_json_413() {
    let body = vec![b'a'; 65 * 1024];
    let res = client()
        .post(url("/agency/oauth/token"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    let _ = json(res).await;
}

#[tokio::test]
async fn host_routing_reaches_the_service_with_the_path_unchanged() {
    let res = client()
        .get(url("/healthz"))
        .header("host", "agency.localhost")
        .header("x-request-id", "e2e-host-route")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // The service (not nginx) answered: it echoes the id and speaks its own 404 shape.
    let res = client()
        .get(url("/nope"))
        .header("host", "agency.localhost")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(json(res).await, serde_json::json!({"message":"Not found."}));
}
