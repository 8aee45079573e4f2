//! What the services see of a request that came through the gateway, read from their own JSON
//! log lines in `.stack/logs/<service>.log` (`E2E_STACK_DIR` moves the folder): the caller's
//! `X-Request-Id` reaches every service on both routings, the prefix is stripped, and an
//! encoded slash (`%2F`) is passed on still encoded.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: failing loudly is the point

use std::time::Duration;

use e2e::{client, find_field, service_log_lines, unique, url};

/// A path of each service's API that answers 401 without credentials (the request reaches the
/// service and is logged with its request id).
const PROTECTED: [(&str, &str); 4] = [
    ("agency", "/agencies"),
    ("jive", "/api/users"),
    ("partner", "/api/internal/v1/partners/1/users"),
    ("virtool", "/api/users"),
];

/// The single log line of `id` in `short`'s logs, with a readable failure.
async fn logged(short: &str, id: &str) -> serde_json::Value {
    let lines = service_log_lines(short, id, Duration::from_secs(5)).await;
    assert!(
        !lines.is_empty(),
        "no log line with request_id {id} in {short}'s logs under {}",
        e2e::stack_dir().join("logs").display()
    );
    lines
        .iter()
        .find(|l| find_field(l, "path").is_some())
        .unwrap_or(&lines[0])
        .clone()
}

#[tokio::test]
async fn the_callers_request_id_reaches_every_service_log_through_the_prefix_route() {
    for (short, path) in PROTECTED {
        let id = unique(&format!("e2e-log-{short}-"));
        let res = client()
            .get(url(&format!("/{short}{path}")))
            .header("x-request-id", &id)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{short}{path}");
        assert_eq!(res.headers()["x-request-id"], id.as_str());
        let line = logged(short, &id).await;
        assert_eq!(find_field(&line, "request_id"), Some(id.as_str()), "{line}");
        // The service saw the path without the gateway prefix.
        assert_eq!(find_field(&line, "path"), Some(path), "{short}: {line}");
    }
}

#[tokio::test]
async fn the_callers_request_id_reaches_every_service_log_through_the_host_route() {
    for (short, path) in PROTECTED {
        let id = unique(&format!("e2e-log-host-{short}-"));
        let res = client()
            .get(url(path))
            .header("host", format!("{short}.localhost"))
            .header("x-request-id", &id)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{short}.localhost{path}");
        assert_eq!(res.headers()["x-request-id"], id.as_str());
        let line = logged(short, &id).await;
        assert_eq!(find_field(&line, "path"), Some(path), "{short}: {line}");
    }
}

#[tokio::test]
async fn a_request_id_made_by_the_gateway_is_the_one_the_service_logs() {
    let res = client()
        .get(url("/virtool/api/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let made = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let line = logged("virtool", &made).await;
    assert_eq!(find_field(&line, "path"), Some("/api/users"), "{line}");
    // An unusable id (spaces, too long) is replaced, never passed on.
    let res = client()
        .get(url("/jive/api/users"))
        .header("x-request-id", "not a token")
        .send()
        .await
        .unwrap();
    let made = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(made, "not a token");
    let _ = logged("jive", &made).await;
}

#[tokio::test]
async fn encoded_slashes_reach_the_service_still_encoded_on_both_routes() {
    // Prefix route: the prefix goes, `%2F` stays (nginx would otherwise send `/a/b`).
    let id = unique("e2e-enc-");
    let res = client()
        .get(url("/virtool/api/users/a%2Fb?x=1&y=%2F"))
        .header("x-request-id", &id)
        .send()
        .await
        .unwrap();
    // `/api/users/{user_id}` matched with one segment: the service's own 401, not its 404.
    assert_eq!(res.status(), 401);
    let line = logged("virtool", &id).await;
    assert_eq!(
        find_field(&line, "path"),
        Some("/api/users/a%2Fb"),
        "{line}"
    );

    // Host route: the whole path unchanged.
    let id = unique("e2e-enc-host-");
    let res = client()
        .get(url("/api/users/a%2Fb"))
        .header("host", "virtool.localhost")
        .header("x-request-id", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let line = logged("virtool", &id).await;
    assert_eq!(
        find_field(&line, "path"),
        Some("/api/users/a%2Fb"),
        "{line}"
    );

    // Every service: an encoded slash in an unknown path arrives as sent.
    for short in ["agency", "jive", "partner", "virtool"] {
        let id = unique(&format!("e2e-enc-{short}-"));
        let res = client()
            .get(url(&format!("/{short}/e2e%2Fprobe")))
            .header("x-request-id", &id)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{short}");
        let line = logged(short, &id).await;
        assert_eq!(find_field(&line, "path"), Some("/e2e%2Fprobe"), "{line}");
    }
}

#[tokio::test]
async fn a_raw_path_that_does_not_start_with_its_prefix_is_refused_with_json() {
    // `/%61gency/...` normalises to `/agency/...`, but the raw path does not start with the
    // prefix, so there is no raw rest to pass on: the gateway answers 400 itself. (The same
    // holds for `/agency/../jive/...`, which an HTTP client normalises before sending.)
    let res = client()
        .get(url("/%61gency/agencies"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("application/json"), "{ct}");
    assert_eq!(
        e2e::json(res).await,
        serde_json::json!({"message":"Bad Request"})
    );
}
