//! Issue 8 (reliability and security), the parts `tests/api/` does not already cover: keys that
//! are almost right, a 20-way race on one email through PUT, and the organisation matrix with
//! the other org's users compared before and after. (Unknown and inactive keys: tests/api/auth.rs;
//! jive has no password login, so no throttling or login timing.) See docs/reliability.md.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: failing loudly is the point

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

use helpers::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn keys_that_are_almost_right_are_401() {
    let app = spawn_app().await;
    let (_, deleted) = app
        .seed(ORG, "gone@example.com", json!({"IsAdmin":"admin"}))
        .await;
    {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use jive_svc::db::schema::users;
        let mut conn = app.state.core.db.conn().await.unwrap();
        diesel::delete(users::table.filter(users::access_key.eq(&deleted)))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    // (Never used before its deletion, so no cache holds it; the 5-second cut-off of a cached
    // key is tests/api/auth.rs.)
    let mut truncated = ADMIN_KEY.to_owned();
    truncated.pop();
    let keys = [
        ADMIN_KEY.to_uppercase(),
        truncated,
        format!("{ADMIN_KEY}0"),
        format!(" {ADMIN_KEY}x"),
        format!("Bearer {ADMIN_KEY} extra"),
        "' OR '1'='1".to_owned(),
        "%".repeat(40),
        "*".to_owned(),
        "x".repeat(5000),
        deleted,
    ];
    for key in &keys {
        for (method, path) in [
            (Method::GET, "/api/users".to_owned()),
            (Method::POST, "/api/users".to_owned()),
            (Method::GET, format!("/api/users/{}", app.admin_id)),
            (Method::PUT, format!("/api/users/{}", app.admin_id)),
            (
                Method::POST,
                format!("/api/users/{}/actions/reset", app.admin_id),
            ),
            (Method::DELETE, format!("/api/users/{}", app.admin_id)),
        ] {
            let body = (method != Method::GET).then(
                || json!({"email_address":"evil@example.com","new_password":"evil-password"}),
            );
            let res = app.call(method.clone(), Some(key), &path, body).await;
            assert_eq!(res.status, 401, "{key:?} {method} {path}");
            assert_eq!(res.body, error(NOT_AUTHORISED));
        }
    }
    let res = app.get(ADMIN_KEY, "/api/users").await;
    assert_eq!(
        res.body["users"].as_array().unwrap().len(),
        1,
        "nothing created"
    );
}

#[tokio::test]
async fn twenty_concurrent_puts_to_one_email_leave_one_winner() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(
            app.seed(ORG, &format!("u{i}@example.com"), json!({"users":"read"}))
                .await
                .0,
        );
    }
    let attempts = ids.iter().enumerate().map(|(i, id)| {
        let app = &app;
        let email = if i % 2 == 0 {
            "Same@Example.com"
        } else {
            "same@example.com"
        };
        async move {
            app.put(
                ADMIN_KEY,
                &format!("/api/users/{id}"),
                json!({ "email_address": email }),
            )
            .await
        }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let mut winners = 0;
    for res in answers {
        match res.status {
            200 => winners += 1,
            403 => assert_eq!(res.body, error("User email already exists for this org.")),
            other => panic!("{other}: {:?}", res.body),
        }
    }
    assert_eq!(winners, 1);
    let list = app.get(ADMIN_KEY, "/api/users").await.body;
    let same = list["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| {
            u["email_address"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case("same@example.com")
        })
        .count();
    assert_eq!(same, 1);
}

#[tokio::test]
async fn another_orgs_admin_gets_404_everywhere_and_changes_nothing() {
    let app = spawn_app().await;
    let victims = [
        app.admin_id.clone(),
        app.create(
            ADMIN_KEY,
            json!({"email_address":"v1@example.com","password":"victim-password"}),
        )
        .await,
        app.seed(ORG, "v2@example.com", json!({"users":"write"}))
            .await
            .0,
    ];
    let before = app.get(ADMIN_KEY, "/api/users").await.body;
    let mut hashes = Vec::new();
    for v in &victims {
        hashes.push(app.password_hash(v).await);
    }
    let (other_org, other_admin, intruder) = app.other_org().await;
    let update = json!({"first_name":"Evil","email_address":"evil@example.com","active":false,
                        "user_permissions":{"IsAdmin":"admin"},"org_id": other_org});
    let mut tried = 0;
    for v in &victims {
        for (method, path, body) in [
            (Method::GET, format!("/api/users/{v}"), None),
            (Method::PUT, format!("/api/users/{v}"), Some(update.clone())),
            (
                Method::POST,
                format!("/api/users/{v}/actions/reset"),
                Some(json!({"new_password":"evil-password-1"})),
            ),
            (Method::DELETE, format!("/api/users/{v}"), None),
        ] {
            let res = app.call(method.clone(), Some(&intruder), &path, body).await;
            assert_eq!(res.status, 404, "{method} {path}");
            assert_eq!(res.body, error(NO_USER), "{method} {path}");
            tried += 1;
        }
    }
    assert!(tried >= 12);
    // Its list holds its own org only, and a user it creates lands in its own org.
    let list = app.get(&intruder, "/api/users").await.body;
    let users = list["users"].as_array().unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["id"], other_admin.as_str());
    let res = app
        .post(
            &intruder,
            "/api/users",
            json!({"email_address":"new@example.com","org_id": ORG}),
        )
        .await;
    assert_eq!(res.status, 200);
    let made = app
        .get(
            &intruder,
            &format!(
                "/api/users/{}",
                res.location.unwrap().rsplit('/').next().unwrap()
            ),
        )
        .await;
    assert_eq!(made.body["org_id"], other_org.as_str());
    // The victims' org is exactly as it was.
    assert_eq!(app.get(ADMIN_KEY, "/api/users").await.body, before);
    for (v, h) in victims.iter().zip(hashes) {
        assert_eq!(app.password_hash(v).await, h);
    }
}
