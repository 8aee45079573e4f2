//! Moving over from IM4 (docs/migration.md): the sample export of its Laravel `users` table
//! (tests/fixtures/im4-users.ndjson), mapped by deploy/migration/im4.jq and imported by the
//! real binary, keeps the users' ids, fields, timestamps and `$2y$` hashes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: failing loudly is the point

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use helpers::*;
use serde_json::Value;
use test_support::import::{admin, map_fixture};

const BIN: &str = env!("CARGO_BIN_EXE_agency-svc");

#[tokio::test]
async fn an_im4_export_imports_with_its_ids_fields_and_hashes() {
    let app = spawn_app().await;
    let token = app.token().await;
    let group = test_support::json(app.get(&token, "/agencies").await).await[0]["agency_group_id"]
        .as_i64()
        .unwrap();
    // the fixture's agencies are 3 and 4: the next two after the bootstrap's Oslo and Bergen
    for name in ["Trondheim", "Stavanger"] {
        let ran = admin(
            BIN,
            &app.db.url,
            &["agency-create", &group.to_string(), name],
            b"",
        )
        .await;
        assert!(ran.success, "{ran:?}");
    }
    let lines = map_fixture("im4", "im4-users.ndjson");
    let ran = admin(BIN, &app.db.url, &["import", "-"], lines.as_bytes()).await;
    assert!(ran.success, "{ran:?}");
    assert_eq!(ran.stdout.trim(), "imported 3, skipped 0");
    ran.assert_prints_no_secret(&["im4-secret"]);
    let kari = test_support::json(app.get(&token, "/agency/3/user/41").await).await;
    assert_eq!(kari["firstname"], "Kari");
    assert_eq!(kari["name"], "Kari Nordmann");
    assert_eq!(kari["phone"], "+47 22 33 44 55");
    assert_eq!(kari["created_at"], "2019-04-01T08:30:00.000000Z");
    assert_eq!(kari["updated_at"], "2021-11-12T14:05:09.000000Z");
    let nils = test_support::json(app.get(&token, "/agency/4/user/57").await).await;
    assert_eq!(nils["email"], "nils@example.no");
    // the Laravel hashes, as they were
    let fixture: Vec<Value> = std::fs::read_to_string(
        test_support::import::root().join("tests/fixtures/im4-users.ndjson"),
    )
    .unwrap()
    .lines()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect();
    let exported = admin(BIN, &app.db.url, &["export"], b"").await;
    for upstream in &fixture {
        let line: Value = exported
            .stdout
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|l| l["id"] == upstream["id"])
            .unwrap();
        assert_eq!(
            line.get("password_hash"),
            upstream.get("password").filter(|p| !p.is_null())
        );
    }
}
