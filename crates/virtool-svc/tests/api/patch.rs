//! `PATCH /api/users/{id}` as upstream Virtool tests it: every combination of the fields
//! {password, force_reset, primary_group} crossed with the error cases {none, unknown field,
//! user missing, group missing, not a member}, each with its exact status and body and the
//! stored state afterwards.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Map, Value};
use test_support::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    None,
    UnknownField,
    UserMissing,
    GroupMissing,
    NotMember,
}

const NEW_PASSWORD: &str = "new-password-1";

/// Every subset of the three fields (the empty one included).
fn combinations() -> Vec<Vec<&'static str>> {
    let fields = ["password", "force_reset", "primary_group"];
    (0..8u8)
        .map(|mask| {
            fields
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, f)| *f)
                .collect()
        })
        .collect()
}

async fn run_case(app: &TestApp, admin: &str, n: usize, fields: &[&str], case: Case) {
    let user = format!("user{n}");
    let group = format!("group{n}");
    // The target group exists unless the case is "group missing"; the user is in it only when
    // nothing should fail. The user also has a primary group to start with.
    app.add_group(&format!("home{n}"), &["upload_file"]).await;
    if case != Case::GroupMissing {
        app.add_group(&group, &["cancel_job"]).await;
    }
    let home = format!("home{n}");
    let mut groups = vec![home.as_str()];
    if case != Case::NotMember && case != Case::GroupMissing {
        groups.push(group.as_str());
    }
    app.add_user(&user, &groups).await;
    app.execute(&format!(
        "UPDATE users SET primary_group = 'home{n}' WHERE id = 'user{n}'"
    ))
    .await;
    let before = app.stored_user(&user).await.unwrap();
    let groups_before = app.stored_groups_of(&user).await;

    let mut body = Map::new();
    for field in fields {
        let value = match *field {
            "password" => json!(NEW_PASSWORD),
            "force_reset" => json!(true),
            _ => json!(group),
        };
        body.insert((*field).to_owned(), value);
    }
    if case == Case::UnknownField {
        body.insert("foo".to_owned(), json!("bar"));
    }
    let target = if case == Case::UserMissing {
        format!("/api/users/missing{n}")
    } else {
        format!("/api/users/{user}")
    };
    let res = app
        .send(Method::PATCH, admin, &target, &Value::Object(body.clone()))
        .await;
    let status = res.status().as_u16();
    let answer = json(res).await;
    let label = format!("{fields:?} {case:?}");

    let sets_group = fields.contains(&"primary_group");
    let expected_error = match case {
        Case::UnknownField => Some((422, invalid(json!({"foo": ["unknown field"]})))),
        Case::UserMissing => Some((404, error("not_found", "User not found"))),
        Case::GroupMissing if sets_group => Some((404, error("not_found", "Group not found"))),
        Case::NotMember if sets_group => Some((
            400,
            error(
                "bad_request",
                &format!("User is not member of group: {group}"),
            ),
        )),
        _ => None,
    };
    let after = app.stored_user(&user).await.unwrap();
    assert_eq!(app.stored_groups_of(&user).await, groups_before, "{label}");
    match expected_error {
        Some((code, body)) => {
            assert_eq!((status, answer), (code, body), "{label}");
            assert_eq!(after, before, "{label}: nothing stored");
            assert_eq!(app.login(&user, PASSWORD).await.status(), 200, "{label}");
        }
        None => {
            assert_eq!(status, 200, "{label}: {answer}");
            let changed_password = fields.contains(&"password");
            let expected_primary = if sets_group { &group } else { &home };
            assert_eq!(
                after.1.as_deref(),
                Some(expected_primary.as_str()),
                "{label}"
            );
            assert_eq!(after.0, fields.contains(&"force_reset"), "{label}");
            if changed_password {
                assert!(after.2 > before.2, "{label}: last_password_change moves");
                assert_ne!(after.3, before.3, "{label}");
            } else {
                assert_eq!(after.2, before.2, "{label}");
                assert_eq!(after.3, before.3, "{label}");
            }
            let mut held: Vec<&str> = groups.clone();
            held.sort_unstable();
            let permissions = if held.len() == 2 {
                perms(&["cancel_job", "upload_file"])
            } else {
                perms(&["upload_file"])
            };
            assert_eq!(
                answer,
                user_json(
                    &user,
                    &held,
                    permissions,
                    expected_primary,
                    after.0,
                    &timestamp(after.2)
                ),
                "{label}"
            );
            // The stored password is the one that logs in now.
            let password = if changed_password {
                NEW_PASSWORD
            } else {
                PASSWORD
            };
            let res = app.login(&user, password).await;
            assert_eq!(res.status(), 200, "{label}");
            let login = json(res).await;
            assert_eq!(login.get("reset").is_some(), after.0, "{label}: {login}");
        }
    }
}

async fn run_all(case: Case) {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for (n, fields) in combinations().iter().enumerate() {
        run_case(&app, &admin, n, fields, case).await;
    }
}

#[tokio::test]
async fn patch_combinations_without_error() {
    run_all(Case::None).await;
}

#[tokio::test]
async fn patch_combinations_with_an_unknown_field() {
    run_all(Case::UnknownField).await;
}

#[tokio::test]
async fn patch_combinations_of_a_missing_user() {
    run_all(Case::UserMissing).await;
}

#[tokio::test]
async fn patch_combinations_with_a_missing_group() {
    run_all(Case::GroupMissing).await;
}

#[tokio::test]
async fn patch_combinations_with_a_group_the_user_is_not_in() {
    run_all(Case::NotMember).await;
}

#[tokio::test]
async fn primary_group_none_or_empty_clears_it() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.add_group("tech", &[]).await;
    app.add_user("fred", &["tech"]).await;
    for clear in ["none", ""] {
        let res = app
            .send(
                Method::PATCH,
                &admin,
                "/api/users/fred",
                &json!({"primary_group": "tech"}),
            )
            .await;
        assert_eq!(json(res).await["primary_group"], "tech");
        let res = app
            .send(
                Method::PATCH,
                &admin,
                "/api/users/fred",
                &json!({"primary_group": clear}),
            )
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(json(res).await["primary_group"], "");
        assert_eq!(app.stored_user("fred").await.unwrap().1, None);
    }
}

#[tokio::test]
async fn patch_reports_every_bad_field_at_once_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.add_user("fred", &[]).await;
    let before = app.stored_user("fred").await;
    let res = app
        .send(
            Method::PATCH,
            &admin,
            "/api/users/fred",
            &json!({"force_reset": "yes", "password": "short", "primary_group": 3, "groups": []}),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        json(res).await,
        invalid(json!({
            "force_reset": ["must be of boolean type"],
            "password": ["min length is 8"],
            "primary_group": ["must be of string type"],
            "groups": ["unknown field"],
        }))
    );
    let res = app
        .send(
            Method::PATCH,
            &admin,
            "/api/users/fred",
            &json!({"password": "a".repeat(73), "force_reset": null}),
        )
        .await;
    assert_eq!(
        json(res).await,
        invalid(json!({
            "password": ["max length is 72 bytes"],
            "force_reset": ["null value not allowed"],
        }))
    );
    // Validation comes before existence.
    let res = app
        .send(
            Method::PATCH,
            &admin,
            "/api/users/nobody",
            &json!({"password": 1}),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(app.stored_user("fred").await, before);
}

#[tokio::test]
async fn an_empty_patch_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.add_user("fred", &[]).await;
    let before = app.stored_user("fred").await.unwrap();
    let res = app
        .send(Method::PATCH, &admin, "/api/users/fred", &json!({}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        json(res).await,
        user_json("fred", &[], perms(&[]), "", false, &timestamp(before.2))
    );
    assert_eq!(app.stored_user("fred").await.unwrap(), before);
}

#[tokio::test]
async fn a_new_password_cancels_a_pending_reset_code() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.add_user("fred", &[]).await;
    app.send(
        Method::PATCH,
        &admin,
        "/api/users/fred",
        &json!({"force_reset": true}),
    )
    .await;
    let res = app.login("fred", PASSWORD).await;
    let code = json(res).await["reset_code"].as_str().unwrap().to_owned();
    app.send(
        Method::PATCH,
        &admin,
        "/api/users/fred",
        &json!({"password": NEW_PASSWORD}),
    )
    .await;
    let res = app
        .send(
            Method::POST,
            "",
            "/api/account/reset",
            &json!({"password": "whatever-else", "reset_code": code}),
        )
        .await;
    assert_eq!(res.status(), 400);
}
