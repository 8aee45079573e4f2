//! The user list of 100 000 users is streamed: the process's peak memory grows by far less than
//! the size of the list. Its own test binary, so no other test shares the process while RSS is read.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use agency_svc::{app, bootstrap, db, Config, INFO};
use diesel_async::SimpleAsyncConnection;
use user_core::db::Db;
use user_core::Secret;

const USERS: usize = 100_000;

/// Peak resident set size of this process so far, in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[tokio::test]
async fn listing_100k_users_streams_with_flat_memory() {
    let test_db = test_support::TestDb::new().await;
    let settings = test_support::settings(INFO, &test_db, &[]);
    let database = Db::new(&settings).unwrap();
    database.migrate(db::MIGRATIONS).await.unwrap();
    let state = agency_svc::state(settings, database).await.unwrap();
    bootstrap::apply(
        &state,
        &Config {
            bootstrap_agency_group: Some("G".into()),
            bootstrap_agencies: Some("Big".into()),
            bootstrap_client_id: Some("c".into()),
            bootstrap_client_secret: Some(Secret::new("client-secret-123")),
        },
    )
    .await
    .unwrap();
    let mut conn = test_db.conn("agency").await;
    conn.batch_execute(&format!(
        "INSERT INTO users (agency_id, firstname, lastname, email, phone) \
         SELECT (SELECT min(id) FROM agencies), 'First' || g, 'Last' || g, 'user' || g || '@example.no', '+47 ' || g \
         FROM generate_series(1, {USERS}) g"
    ))
    .await
    .unwrap();
    let for_server = state.clone();
    let server = test_support::spawn(move || app::build(for_server.clone()));
    let http = test_support::client();
    let token: serde_json::Value = http
        .post(server.url("/oauth/token"))
        .json(&serde_json::json!({"grant_type":"client_credentials","client_id":"c","client_secret":"client-secret-123"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let agencies: serde_json::Value = http
        .get(server.url("/agencies"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let agency = agencies[0]["id"].as_i64().unwrap();

    // Warm up (pool, allocator, first batch) on the same list, reading only its start.
    let mut warm = http
        .get(server.url(&format!("/agency/{agency}/users")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let _ = warm.chunk().await.unwrap();
    drop(warm);
    let before = peak_rss_kib();

    let mut res = http
        .get(server.url(&format!("/agency/{agency}/users")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let needle = b"\"agency_id\":";
    let (mut count, mut bytes, mut carry) = (0usize, 0usize, Vec::new());
    let mut last = Vec::new();
    while let Some(chunk) = res.chunk().await.unwrap() {
        bytes += chunk.len();
        carry.extend_from_slice(&chunk);
        count += carry.windows(needle.len()).filter(|w| w == needle).count();
        let keep = carry.len().saturating_sub(needle.len() - 1);
        carry.drain(..keep);
        last.extend_from_slice(&chunk);
        let cut = last.len().saturating_sub(2);
        last.drain(..cut);
    }
    let after = peak_rss_kib();
    assert_eq!(count, USERS);
    assert_eq!(last, b"}]", "the array is closed");
    let growth_mib = (after.saturating_sub(before)) as f64 / 1024.0;
    let body_mib = bytes as f64 / (1024.0 * 1024.0);
    println!(
        "streamed {USERS} users, {body_mib:.1} MiB of JSON; peak RSS grew {growth_mib:.1} MiB"
    );
    assert!(
        growth_mib < 16.0,
        "peak RSS grew {growth_mib:.1} MiB for a {body_mib:.1} MiB list: not streamed"
    );
}
