//! Create, get, update, reset and delete, with the permission rules.

use crate::helpers::*;
use serde_json::{json, Value};

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

#[tokio::test]
async fn create_then_get_shows_the_document_shape() {
    let app = spawn_app().await;
    let res = app
        .post(
            ADMIN_KEY,
            "/api/users",
            json!({"first_name":" Jason ","last_name":"Jasonson","email_address":"jason@jasonsonson.com","active":true}),
        )
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body, ok("User created"));
    let location = res.location.unwrap();
    let id = location.rsplit('/').next().unwrap();
    assert_eq!(location, app.url(&format!("/api/users/{id}")));
    assert!(jive_svc::ids::is_object_id(id), "{id}");

    let got = app.get(ADMIN_KEY, &format!("/api/users/{id}")).await;
    assert_eq!(got.status, 200);
    let key = got.body["access_key"].as_str().unwrap().to_owned();
    assert_eq!(key.len(), 32);
    assert!(key
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert_eq!(
        got.body,
        json!({
            "api_model": {},
            "first_name": "Jason",
            "last_name": "Jasonson",
            "email_address": "jason@jasonsonson.com",
            "password": "",
            "org_id": ORG,
            "active": true,
            "id": id,
            "access_key": key,
            "user_permissions": {}
        })
    );
    assert_eq!(
        keys(&got.body),
        [
            "access_key",
            "active",
            "api_model",
            "email_address",
            "first_name",
            "id",
            "last_name",
            "org_id",
            "password",
            "user_permissions"
        ]
    );
    // A random password was set (hashed), and the new key works at once.
    assert!(app.password_hash(id).await.starts_with("$2b$04$"));
    let own = app.get(&key, &format!("/api/users/{id}")).await;
    assert_eq!(own.status, 403, "no permissions: authenticated but refused");
    assert_eq!(own.body, error(DENIED));
}

#[tokio::test]
async fn create_with_a_password_and_permissions_by_an_admin() {
    let app = spawn_app().await;
    let id = app
        .create(
            ADMIN_KEY,
            json!({"email_address":"r@example.com","password":"correct horse","user_permissions":{"users":"read"},"id":"ignored","org_id":"ffffffffffffffffffffffff"}),
        )
        .await;
    let hash = app.password_hash(&id).await;
    let hasher = user_core::password::PasswordHasher::new(4);
    assert!(hasher.verify("correct horse", Some(&hash)).await);
    let got = app.get(ADMIN_KEY, &format!("/api/users/{id}")).await;
    assert_eq!(got.body["org_id"], ORG);
    assert_eq!(got.body["user_permissions"], json!({"users":"read"}));
    assert_eq!(got.body["first_name"], "");
}

#[tokio::test]
async fn create_validation_errors_name_the_field_and_store_nothing() {
    let app = spawn_app().await;
    let before = app.user_count().await;
    for (body, message) in [
        (
            json!({"first_name":"No"}),
            "User object validation failed: email_address is required",
        ),
        (
            json!({"email_address":"not-an-email"}),
            "User object validation failed: email_address is not a valid email address",
        ),
        (
            json!({"email_address":"a@b.co","active":"yes"}),
            "User object validation failed: active must be true or false",
        ),
        (
            json!({"email_address":"a@b.co","password":"short"}),
            "Password must be at least 8 characters",
        ),
        (
            json!({"email_address":"a@b.co","password":"p".repeat(73)}),
            "Password must be at most 72 bytes",
        ),
        (
            json!({"email_address":"a@b.co","user_permissions":"admin"}),
            "User object validation failed: user_permissions must be an object",
        ),
        (
            json!({"email_address":"a@b.co","last_name":"nul\u{0}byte"}),
            "User object validation failed: last_name must not contain control characters",
        ),
        (
            json!("a string"),
            "User object validation failed: the body must be a JSON object",
        ),
    ] {
        let res = app.post(ADMIN_KEY, "/api/users", body.clone()).await;
        assert_eq!(res.status, 400, "{body}");
        assert_eq!(res.body, error(message), "{body}");
    }
    assert_eq!(app.user_count().await, before);
}

#[tokio::test]
async fn duplicate_email_in_any_case_is_refused_but_other_orgs_may_use_it() {
    let app = spawn_app().await;
    app.create(ADMIN_KEY, json!({"email_address":"Kari@Example.com"}))
        .await;
    for email in ["kari@example.com", " KARI@EXAMPLE.COM ", ADMIN_EMAIL] {
        let res = app
            .post(ADMIN_KEY, "/api/users", json!({"email_address": email}))
            .await;
        assert_eq!(res.status, 403, "{email}");
        assert_eq!(res.body, error("User email already exists for this org."));
    }
    let (_, _, other_key) = app.other_org().await;
    app.create(&other_key, json!({"email_address":"kari@example.com"}))
        .await;
    // Changing an email to a taken one is refused too.
    let id = app
        .create(ADMIN_KEY, json!({"email_address":"per@example.com"}))
        .await;
    let res = app
        .put(
            ADMIN_KEY,
            &format!("/api/users/{id}"),
            json!({"email_address":"KARI@example.com"}),
        )
        .await;
    assert_eq!(res.status, 403);
    assert_eq!(res.body, error("User email already exists for this org."));
}

#[tokio::test]
async fn twenty_concurrent_creates_with_one_email_make_one_user() {
    let app = spawn_app().await;
    let before = app.user_count().await;
    let url = app.url("/api/users");
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let http = app.http.clone();
            let url = url.clone();
            let email = if i % 2 == 0 {
                "race@example.com"
            } else {
                "RACE@example.com"
            };
            tokio::spawn(async move {
                send(
                    &http,
                    reqwest::Method::POST,
                    Some(ADMIN_KEY),
                    &url,
                    Some(json!({"email_address": email})),
                )
                .await
            })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        let res = task.await.unwrap();
        match res.status {
            200 => created += 1,
            403 => assert_eq!(res.body, error("User email already exists for this org.")),
            other => panic!("unexpected {other}: {:?}", res.body),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(app.user_count().await, before + 1);
}

#[tokio::test]
async fn put_changes_only_the_fields_present_and_ignores_the_fixed_ones() {
    let app = spawn_app().await;
    let id = app
        .create(
            ADMIN_KEY,
            json!({"first_name":"Jason","last_name":"Jasonson","email_address":"jason@example.com"}),
        )
        .await;
    let path = format!("/api/users/{id}");
    let before = app.get(ADMIN_KEY, &path).await.body;
    let hash = app.password_hash(&id).await;
    let res = app
        .put(
            ADMIN_KEY,
            &path,
            json!({"last_name":"Jasonsonson","id":"ffffffffffffffffffffffff","org_id":"eeeeeeeeeeeeeeeeeeeeeeee","access_key":"stolen","password":"new password!","api_model":{"x":1},"unknown":true}),
        )
        .await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    let mut expected = before.clone();
    expected["last_name"] = json!("Jasonsonson");
    assert_eq!(res.body, expected);
    assert_eq!(app.get(ADMIN_KEY, &path).await.body, expected);
    assert_eq!(
        app.password_hash(&id).await,
        hash,
        "password only via reset"
    );

    // The whole object sent back (as Tyk clients do) changes nothing.
    let res = app.put(ADMIN_KEY, &path, expected.clone()).await;
    assert_eq!(res.body, expected);

    let res = app
        .put(ADMIN_KEY, &path, json!({"email_address":"bad"}))
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(
        res.body,
        error("User object validation failed: email_address is not a valid email address")
    );
    let res = app
        .put(
            ADMIN_KEY,
            &path,
            json!({"active":false,"user_permissions":{"users":"write"}}),
        )
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["active"], false);
    assert_eq!(res.body["user_permissions"], json!({"users":"write"}));
}

#[tokio::test]
async fn reset_sets_the_password_within_the_length_rules() {
    let app = spawn_app().await;
    let id = app
        .create(ADMIN_KEY, json!({"email_address":"reset@example.com"}))
        .await;
    let path = format!("/api/users/{id}/actions/reset");
    let hash = app.password_hash(&id).await;
    for (body, message) in [
        (
            json!({"new_password":"1234567"}),
            "Password must be at least 8 characters",
        ),
        (
            json!({"new_password":"€".repeat(25)}),
            "Password must be at most 72 bytes",
        ),
        (
            json!({"new_password":"a".repeat(73)}),
            "Password must be at most 72 bytes",
        ),
        (json!({}), "new_password is required"),
    ] {
        let res = app.post(ADMIN_KEY, &path, body).await;
        assert_eq!(res.status, 400);
        assert_eq!(res.body, error(message));
    }
    assert_eq!(app.password_hash(&id).await, hash);
    let hasher = user_core::password::PasswordHasher::new(4);
    for good in ["12345678", &"a".repeat(72), &"€".repeat(24)] {
        let res = app
            .post(ADMIN_KEY, &path, json!({"new_password": good}))
            .await;
        assert_eq!(res.status, 200);
        assert_eq!(res.body, ok("User password updated"));
        assert!(
            hasher
                .verify(good, Some(&app.password_hash(&id).await))
                .await
        );
    }
    let res = app
        .post(
            ADMIN_KEY,
            "/api/users/ffffffffffffffffffffffff/actions/reset",
            json!({"new_password":"12345678"}),
        )
        .await;
    assert_eq!(res.status, 404);
    assert_eq!(res.body, error(NO_USER));
}

#[tokio::test]
async fn delete_removes_the_user() {
    let app = spawn_app().await;
    let id = app
        .create(ADMIN_KEY, json!({"email_address":"gone@example.com"}))
        .await;
    let path = format!("/api/users/{id}");
    let res = app.delete(ADMIN_KEY, &path).await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body, ok("User deleted"));
    for res in [
        app.get(ADMIN_KEY, &path).await,
        app.delete(ADMIN_KEY, &path).await,
    ] {
        assert_eq!(res.status, 404);
        assert_eq!(res.body, error(NO_USER));
    }
    // The email is free again.
    app.create(ADMIN_KEY, json!({"email_address":"gone@example.com"}))
        .await;
}

#[tokio::test]
async fn nobody_deletes_or_deactivates_themselves() {
    let app = spawn_app().await;
    let own = format!("/api/users/{}", app.admin_id);
    let res = app.delete(ADMIN_KEY, &own).await;
    assert_eq!(res.status, 400);
    assert_eq!(res.body, error("You cannot delete your own user"));
    let res = app.put(ADMIN_KEY, &own, json!({"active":false})).await;
    assert_eq!(res.status, 400);
    assert_eq!(res.body, error("You cannot deactivate your own user"));
    let (writer, key) = app
        .seed(ORG, "w@example.com", json!({"users":"write"}))
        .await;
    let res = app.delete(&key, &format!("/api/users/{writer}")).await;
    assert_eq!(res.status, 400);
    assert_eq!(app.get(ADMIN_KEY, &own).await.body["active"], true);
    let res = app
        .put(
            ADMIN_KEY,
            &own,
            json!({"user_permissions":{"users":"write"}}),
        )
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(res.body, error("You cannot change your own permissions"));
    let res = app
        .put(
            ADMIN_KEY,
            &own,
            json!({"user_permissions":{"IsAdmin":"admin"}}),
        )
        .await;
    assert_eq!(res.status, 200, "sending the same permissions back is fine");
    // Changing one's own name is fine.
    let res = app
        .put(ADMIN_KEY, &own, json!({"first_name":"Boss","active":true}))
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["first_name"], "Boss");
}

#[tokio::test]
async fn unknown_foreign_and_malformed_ids_are_all_not_found() {
    let app = spawn_app().await;
    let (_, other_id, other_key) = app.other_org().await;
    let mine = app
        .create(ADMIN_KEY, json!({"email_address":"mine@example.com"}))
        .await;
    for id in [
        "ffffffffffffffffffffffff",
        "nope",
        "FFFFFFFFFFFFFFFFFFFFFFFF",
        &other_id,
    ] {
        let path = format!("/api/users/{id}");
        for res in [
            app.get(ADMIN_KEY, &path).await,
            app.put(ADMIN_KEY, &path, json!({"first_name":"x"})).await,
            app.delete(ADMIN_KEY, &path).await,
        ] {
            assert_eq!(res.status, 404, "{id}");
            assert_eq!(res.body, error(NO_USER));
        }
    }
    // And the other way round.
    let res = app.get(&other_key, &format!("/api/users/{mine}")).await;
    assert_eq!(res.status, 404);
    let res = app.delete(&other_key, &format!("/api/users/{mine}")).await;
    assert_eq!(res.status, 404);
    assert_eq!(
        app.get(ADMIN_KEY, &format!("/api/users/{mine}"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn read_only_users_read_but_never_write_and_see_no_other_keys() {
    let app = spawn_app().await;
    let (reader, key) = app
        .seed(ORG, "reader@example.com", json!({"users":"read"}))
        .await;
    let target = app
        .create(ADMIN_KEY, json!({"email_address":"t@example.com"}))
        .await;
    let before = app.user_count().await;

    let admin = app.get(&key, &format!("/api/users/{}", app.admin_id)).await;
    assert_eq!(admin.status, 200);
    assert_eq!(admin.body["access_key"], "");
    let own = app.get(&key, &format!("/api/users/{reader}")).await;
    assert_eq!(own.body["access_key"], key.as_str());
    let list = app.get(&key, "/api/users").await;
    for u in list.body["users"].as_array().unwrap() {
        let expected = if u["id"] == reader.as_str() {
            key.as_str()
        } else {
            ""
        };
        assert_eq!(u["access_key"], expected, "{u}");
    }

    let path = format!("/api/users/{target}");
    for res in [
        app.post(
            &key,
            "/api/users",
            json!({"email_address":"new@example.com"}),
        )
        .await,
        app.put(&key, &path, json!({"first_name":"x"})).await,
        app.post(
            &key,
            &format!("{path}/actions/reset"),
            json!({"new_password":"12345678"}),
        )
        .await,
        app.delete(&key, &path).await,
    ] {
        assert_eq!(res.status, 403);
        assert_eq!(res.body, error(DENIED));
    }
    assert_eq!(app.user_count().await, before);
    assert_eq!(app.get(ADMIN_KEY, &path).await.body["first_name"], "");
}

#[tokio::test]
async fn only_admins_grant_permissions_and_writers_leave_admins_alone() {
    let app = spawn_app().await;
    let (writer, key) = app
        .seed(ORG, "writer@example.com", json!({"users":"write"}))
        .await;
    let before = app.user_count().await;
    for perms in [json!({"users":"read"}), json!({"IsAdmin":"admin"})] {
        let res = app
            .post(
                &key,
                "/api/users",
                json!({"email_address":"x@example.com","user_permissions":perms}),
            )
            .await;
        assert_eq!(res.status, 403);
        assert_eq!(res.body, error(DENIED));
    }
    assert_eq!(app.user_count().await, before);
    // A writer creates users without permissions and edits them, but grants nothing.
    let id = app
        .create(
            &key,
            json!({"email_address":"plain@example.com","user_permissions":{}}),
        )
        .await;
    let path = format!("/api/users/{id}");
    let res = app
        .put(
            &key,
            &path,
            json!({"first_name":"Plain","user_permissions":{}}),
        )
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["access_key"], "", "a writer sees no other keys");
    let res = app
        .put(&key, &path, json!({"user_permissions":{"users":"write"}}))
        .await;
    assert_eq!(res.status, 403);
    let res = app
        .put(
            &key,
            &format!("/api/users/{writer}"),
            json!({"user_permissions":{"IsAdmin":"admin"}}),
        )
        .await;
    assert_eq!(res.status, 403, "no self-promotion");
    assert_eq!(
        app.get(ADMIN_KEY, &path).await.body["user_permissions"],
        json!({})
    );
    // Admins: the writer may not edit, reset or delete them.
    let admin = format!("/api/users/{}", app.admin_id);
    for res in [
        app.put(&key, &admin, json!({"active":false})).await,
        app.post(
            &key,
            &format!("{admin}/actions/reset"),
            json!({"new_password":"12345678"}),
        )
        .await,
        app.delete(&key, &admin).await,
    ] {
        assert_eq!(res.status, 403);
        assert_eq!(res.body, error(DENIED));
    }
    // The admin grants.
    let res = app
        .put(
            ADMIN_KEY,
            &path,
            json!({"user_permissions":{"users":"read"}}),
        )
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["user_permissions"], json!({"users":"read"}));
}
