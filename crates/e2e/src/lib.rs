//! End-to-end tests run against the stack that `scripts/stack up` started: the real nginx
//! gateway (`E2E_GATEWAY`, default `http://127.0.0.1:8080`) in front of the real services, with
//! the demo credentials of `deploy/env/` (or `STACK_ENV_DIR`).
//!
//! These tests need the stack; `scripts/test` starts it before running them. Run alone with
//! `scripts/stack up && cargo test -p e2e`.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::HashMap;

/// The gateway's base URL.
pub fn gateway() -> String {
    std::env::var("E2E_GATEWAY").unwrap_or_else(|_| "http://127.0.0.1:8080".to_owned())
}

/// `gateway() + path`.
pub fn url(path: &str) -> String {
    format!("{}{path}", gateway())
}

/// A client that does not follow redirects (so `Location` can be checked).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The variables of `deploy/env/<short>.env` (or `$STACK_ENV_DIR/<short>.env`): the demo
/// credentials the stack was started with.
pub fn env_file(short: &str) -> HashMap<String, String> {
    let dir = std::env::var("STACK_ENV_DIR")
        .unwrap_or_else(|_| format!("{}/../../deploy/env", env!("CARGO_MANIFEST_DIR")));
    let text = std::fs::read_to_string(format!("{dir}/{short}.env"))
        .unwrap_or_else(|e| panic!("read {dir}/{short}.env: {e}"));
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        .collect()
}

/// The JSON body, panicking with the text when it is not JSON.
pub async fn json(res: reqwest::Response) -> serde_json::Value {
    let status = res.status();
    let text = res.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text:?}"))
}

/// A value unique to this test run (for emails and ids).
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}
