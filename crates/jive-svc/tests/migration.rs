//! Moving over from a Tyk dashboard (docs/migration.md): the sample `mongoexport` of its
//! `tyk_analytics_users` collection (tests/fixtures/tyk_analytics_users.json), mapped by
//! deploy/migration/tyk.jq and imported by the real binary, keeps the ObjectIds, the orgs, the
//! `$2a$` hashes and the access keys: API clients keep working with the keys they hold.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: failing loudly is the point

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use helpers::*;
use test_support::import::{admin, map_fixture};

const BIN: &str = env!("CARGO_BIN_EXE_jive-svc");
const TYK_ORG: &str = "5e9d9544a1dcd60001d0ed1f";
const ADMIN_ID: &str = "5e9d9544a1dcd60001d0ed20";

#[tokio::test]
async fn a_tyk_export_imports_and_its_access_keys_keep_working() {
    let app = spawn_app().await;
    let url = app._db.url.clone();
    let org = admin(BIN, &url, &["org-create", "Tyk org", "--id", TYK_ORG], b"").await;
    assert!(org.success, "{org:?}");
    let lines = map_fixture("tyk", "tyk_analytics_users.json");
    let ran = admin(BIN, &url, &["import", "-"], lines.as_bytes()).await;
    assert!(ran.success, "{ran:?}");
    assert_eq!(ran.stdout.trim(), "imported 2, skipped 0");
    ran.assert_prints_no_secret(&[
        "tyk-secret",
        "f81ee6f0c8f2467d539c132c8a422346",
        "0123456789abcdef0123456789abcdef",
    ]);
    // the Tyk admin's key, as its clients hold it
    let me = app
        .get(
            "f81ee6f0c8f2467d539c132c8a422346",
            &format!("/api/users/{ADMIN_ID}"),
        )
        .await;
    assert_eq!(me.status, 200, "{:?}", me.body);
    assert_eq!(me.body["email_address"], "banana@test.com");
    assert_eq!(me.body["first_name"], "Test");
    assert_eq!(me.body["org_id"], TYK_ORG);
    assert_eq!(me.body["user_permissions"]["IsAdmin"], "admin");
    // the inactive reader stays locked out
    let reader = app
        .get(
            "0123456789abcdef0123456789abcdef",
            &format!("/api/users/{ADMIN_ID}"),
        )
        .await;
    assert_ne!(reader.status, 200);
    // the other org's admin does not see them
    let other = app.get(ADMIN_KEY, &format!("/api/users/{ADMIN_ID}")).await;
    assert_ne!(other.status, 200);
}
