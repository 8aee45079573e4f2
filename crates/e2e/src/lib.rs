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
/// credentials the stack was started with, read by `scripts/lib.sh`'s `print_env_file` (compose's
/// env-file rules, the same reader `scripts/stack` starts the services with).
pub fn env_file(short: &str) -> HashMap<String, String> {
    let root = format!("{}/../..", env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::var("STACK_ENV_DIR").unwrap_or_else(|_| format!("{root}/deploy/env"));
    let file = format!("{dir}/{short}.env");
    let out = std::process::Command::new("bash")
        .args(["-c", r#". "$1" && print_env_file "$2""#, "env_file"])
        .arg(format!("{root}/scripts/lib.sh"))
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("run scripts/lib.sh print_env_file: {e}"));
    assert!(
        out.status.success(),
        "read {file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .split(|b| *b == 0)
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let pair = String::from_utf8_lossy(pair);
            let (k, v) = pair.split_once('=')?;
            Some((k.to_owned(), v.to_owned()))
        })
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

/// The stack's state folder: `$E2E_STACK_DIR`, else `.stack/` at the repository root (what
/// `scripts/stack` uses unless `STACK_STATE_DIR` moves it).
pub fn stack_dir() -> std::path::PathBuf {
    std::env::var_os("E2E_STACK_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.stack"))
}

/// The JSON log lines of every process of service `short` (`<short>.log` and the replica's
/// `<short>-2.log` in the stack's `logs/`) that carry `"request_id":"<id>"`, polling for up
/// to `wait` because a line is written when the request completes.
pub async fn service_log_lines(
    short: &str,
    id: &str,
    wait: std::time::Duration,
) -> Vec<serde_json::Value> {
    let dir = stack_dir().join("logs");
    let needle = format!("\"request_id\":\"{id}\"");
    let deadline = std::time::Instant::now() + wait;
    loop {
        let mut found = Vec::new();
        for name in [format!("{short}.log"), format!("{short}-2.log")] {
            let Some(text) = read_tail(&dir.join(&name), 8 << 20) else {
                continue;
            };
            found.extend(
                text.lines()
                    .filter(|l| l.contains(&needle))
                    .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()),
            );
        }
        if !found.is_empty() || std::time::Instant::now() >= deadline {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The last `max` bytes of a file (a long-running stack's logs grow; the lines a test looks
/// for are recent), lossily as text.
fn read_tail(path: &std::path::Path, max: u64) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(max))).ok()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// The first string field named `key` anywhere in a JSON value (log lines nest the request's
/// fields in `span`/`spans`).
pub fn find_field<'a>(value: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    match value {
        serde_json::Value::Object(map) => map
            .get(key)
            .and_then(serde_json::Value::as_str)
            .or_else(|| map.values().find_map(|v| find_field(v, key))),
        serde_json::Value::Array(items) => items.iter().find_map(|v| find_field(v, key)),
        _ => None,
    }
}
