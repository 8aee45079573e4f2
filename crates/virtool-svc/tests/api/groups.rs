//! `/api/groups`: list, create, get, change permissions, remove; the administrator group.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;
use test_support::json;

#[tokio::test]
async fn the_administrator_group_exists_with_every_permission() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let res = app.get(&admin, "/api/groups").await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        json(res).await,
        json!([{"id": "administrator", "permissions": all_perms()}])
    );
    let res = app.get(&admin, "/api/groups/administrator").await;
    assert_eq!(
        json(res).await,
        json!({"id": "administrator", "permissions": all_perms()})
    );
}

#[tokio::test]
async fn create_lower_cases_the_id_and_refuses_duplicates() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let res = app
        .send(
            Method::POST,
            &admin,
            "/api/groups",
            &json!({"group_id": "Tech"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(
        res.headers()["location"].to_str().unwrap(),
        app.url("/api/groups/tech")
    );
    assert_eq!(
        json(res).await,
        json!({"id": "tech", "permissions": perms(&[])})
    );
    for dup in ["tech", "TECH", "administrator"] {
        let res = app
            .send(
                Method::POST,
                &admin,
                "/api/groups",
                &json!({"group_id": dup}),
            )
            .await;
        assert_eq!(res.status(), 409, "{dup}");
        assert_eq!(json(res).await, error("conflict", "Group already exists"));
    }
    app.send(
        Method::POST,
        &admin,
        "/api/groups",
        &json!({"group_id": "lab"}),
    )
    .await;
    let res = app.get(&admin, "/api/groups").await;
    let ids: Vec<String> = json(res)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["administrator", "lab", "tech"]);
}

#[tokio::test]
async fn create_checks_its_input() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for (body, errors) in [
        (json!({}), json!({"group_id": ["required field"]})),
        (
            json!({"group_id": 5, "permissions": {}}),
            json!({"group_id": ["must be of string type"], "permissions": ["unknown field"]}),
        ),
        (
            json!({"group_id": "a b"}),
            json!({"group_id": ["must not contain whitespace, control characters or '/'"]}),
        ),
        (
            json!({"group_id": "g".repeat(65)}),
            json!({"group_id": ["max length is 64"]}),
        ),
    ] {
        let res = app.send(Method::POST, &admin, "/api/groups", &body).await;
        assert_eq!(res.status(), 422, "{body}");
        assert_eq!(json(res).await, invalid(errors));
    }
    let res = app.get(&admin, "/api/groups").await;
    assert_eq!(json(res).await.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn get_of_a_missing_group_is_404() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for path in ["/api/groups/nope", "/api/groups/a%2Fb", "/api/groups/a%00"] {
        let res = app.get(&admin, path).await;
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(json(res).await, error("not_found", "Group not found"));
    }
}

#[tokio::test]
async fn patch_changes_only_the_named_permissions_and_members_follow() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.add_group("tech", &["cancel_job", "upload_file"]).await;
    app.add_group("lab", &["remove_job"]).await;
    app.add_user("fred", &["lab", "tech"]).await;
    let res = app
        .send(
            Method::PATCH,
            &admin,
            "/api/groups/tech",
            &json!({"permissions": {"upload_file": false, "modify_hmm": true}}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        json(res).await,
        json!({"id": "tech", "permissions": perms(&["cancel_job", "modify_hmm"])})
    );
    let res = app.get(&admin, "/api/groups/tech").await;
    assert_eq!(
        json(res).await["permissions"],
        perms(&["cancel_job", "modify_hmm"])
    );
    let res = app.get(&admin, "/api/users/fred").await;
    assert_eq!(
        json(res).await["permissions"],
        perms(&["cancel_job", "modify_hmm", "remove_job"])
    );
    // An empty change, or none at all, changes nothing.
    for body in [json!({"permissions": {}}), json!({})] {
        let res = app
            .send(Method::PATCH, &admin, "/api/groups/tech", &body)
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(
            json(res).await["permissions"],
            perms(&["cancel_job", "modify_hmm"])
        );
    }
}

#[tokio::test]
async fn patch_refuses_unknown_permissions_and_the_administrator_group() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.add_group("tech", &[]).await;
    let res = app
        .send(
            Method::PATCH,
            &admin,
            "/api/groups/tech",
            &json!({"permissions": {"modify_user": true, "cancel_job": "yes", "upload_file": true}}),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        json(res).await,
        invalid(json!({"permissions": [{
            "cancel_job": ["must be of boolean type"],
            "modify_user": ["unknown field"],
        }]}))
    );
    let res = app
        .send(
            Method::PATCH,
            &admin,
            "/api/groups/tech",
            &json!({"permissions": []}),
        )
        .await;
    assert_eq!(
        json(res).await,
        invalid(json!({"permissions": ["must be of dict type"]}))
    );
    let res = app.get(&admin, "/api/groups/tech").await;
    assert_eq!(json(res).await["permissions"], perms(&[]), "nothing stored");
    let res = app
        .send(
            Method::PATCH,
            &admin,
            "/api/groups/administrator",
            &json!({"permissions": {"manage_users": false}}),
        )
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        json(res).await,
        error(
            "bad_request",
            "The administrator group cannot be changed or removed"
        )
    );
    let res = app
        .send(
            Method::PATCH,
            &admin,
            "/api/groups/nope",
            &json!({"permissions": {"manage_users": false}}),
        )
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(json(res).await, error("not_found", "Group not found"));
    let res = app.get(&admin, "/api/groups/administrator").await;
    assert_eq!(json(res).await["permissions"], all_perms());
}

#[tokio::test]
async fn delete_removes_the_group_from_members_and_primary_groups() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.add_group("tech", &["upload_file"]).await;
    app.add_group("lab", &["remove_job"]).await;
    app.add_user("fred", &["lab", "tech"]).await;
    app.send(
        Method::PATCH,
        &admin,
        "/api/users/fred",
        &json!({"primary_group": "tech"}),
    )
    .await;
    let res = app.delete(&admin, "/api/groups/tech").await;
    assert_eq!(res.status(), 204);
    assert_eq!(res.bytes().await.unwrap().len(), 0);
    let res = app.get(&admin, "/api/users/fred").await;
    let stored = app.stored_user("fred").await.unwrap();
    assert_eq!(
        json(res).await,
        user_json(
            "fred",
            &["lab"],
            perms(&["remove_job"]),
            "",
            false,
            &timestamp(stored.2)
        )
    );
    let res = app.get(&admin, "/api/groups/tech").await;
    assert_eq!(res.status(), 404);
    let res = app.delete(&admin, "/api/groups/tech").await;
    assert_eq!(res.status(), 404);
    assert_eq!(json(res).await, error("not_found", "Group not found"));
    let res = app.delete(&admin, "/api/groups/administrator").await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        json(res).await,
        error(
            "bad_request",
            "The administrator group cannot be changed or removed"
        )
    );
    assert_eq!(app.stored_groups_of(ADMIN).await, ["administrator"]);
}

#[tokio::test]
async fn deleting_a_group_takes_its_permissions_from_existing_tokens() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let mary = app.manager("mary").await;
    assert_eq!(app.get(&mary, "/api/groups").await.status(), 200);
    let res = app.delete(&admin, "/api/groups/mary_managers").await;
    assert_eq!(res.status(), 204);
    assert_eq!(app.get(&mary, "/api/groups").await.status(), 403);
    assert_eq!(app.get(&mary, "/api/account").await.status(), 200);
}

#[tokio::test]
async fn racing_a_group_deletion_never_answers_5xx() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for n in 0..10 {
        let group = format!("race{n}");
        let user = format!("racer{n}");
        let other = format!("other{n}");
        app.add_group(&group, &["upload_file"]).await;
        app.add_user(&user, &[&group]).await;
        app.add_user(&other, &[]).await;
        let (user_path, other_path, group_path) = (
            format!("/api/users/{user}"),
            format!("/api/users/{other}/groups"),
            format!("/api/groups/{group}"),
        );
        let (patch_body, add_body) = (
            json!({ "primary_group": group }),
            json!({ "group_id": group }),
        );
        // A member whose primary group it is, re-added while the group goes.
        let member = format!("member{n}");
        app.add_user(&member, &[&group]).await;
        app.execute(&format!(
            "UPDATE users SET primary_group = '{group}' WHERE id = '{member}'"
        ))
        .await;
        let member_path = format!("/api/users/{member}/groups");
        let patch = app.send(Method::PATCH, &admin, &user_path, &patch_body);
        let add = app.send(Method::POST, &admin, &other_path, &add_body);
        let readd = app.send(Method::POST, &admin, &member_path, &add_body);
        let delete = app.delete(&admin, &group_path);
        let (patch, add, readd, delete) = tokio::join!(patch, add, readd, delete);
        assert_eq!(delete.status(), 204);
        assert_eq!(app.stored_user(&member).await.unwrap().1, None);
        assert!(app.stored_groups_of(&member).await.is_empty());
        // Each answer is one a sequential order could give: done before the deletion, the group
        // gone, or (PATCH) the membership gone with it a moment before the group itself.
        for res in [patch, add, readd] {
            let status = res.status().as_u16();
            let body = json(res).await;
            match status {
                200 => {}
                404 => assert_eq!(body, error("not_found", "Group not found")),
                400 => assert_eq!(
                    body,
                    error(
                        "bad_request",
                        &format!("User is not member of group: {group}")
                    )
                ),
                other => panic!("{other}: {body}"),
            }
        }
        // Whatever the order, the group is gone from both users afterwards.
        assert_eq!(app.stored_user(&user).await.unwrap().1, None);
        assert!(app.stored_groups_of(&other).await.is_empty());
    }
}
