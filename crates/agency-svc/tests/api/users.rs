use crate::helpers::{spawn_app, TestApp};
use reqwest::Method;
use serde_json::{json, Value};
use test_support::json;

fn kari() -> Value {
    json!({"firstname":"Kari","lastname":"Nordmann","email":"kari@example.no","phone":"+47 12345678",
           "new_password":"secret-pw-1","new_password_confirmation":"secret-pw-1"})
}

async fn created(app: &TestApp, token: &str, agency: i64, body: &Value) -> Value {
    let res = app.create_user(token, agency, body).await;
    assert_eq!(res.status(), 201);
    json(res).await
}

fn assert_user_shape(user: &Value) {
    let keys: Vec<&str> = user
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut keys = keys;
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "agency_id",
            "created_at",
            "email",
            "firstname",
            "id",
            "lastname",
            "name",
            "phone",
            "updated_at"
        ]
    );
    for k in ["created_at", "updated_at"] {
        let t = user[k].as_str().unwrap();
        assert!(
            t.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(t).is_ok(),
            "{t}"
        );
    }
}

#[tokio::test]
async fn agencies_lists_the_callers_group_by_id() {
    let app = spawn_app().await;
    let token = app.token().await;
    let res = app.get(&token, "/agencies").await;
    assert_eq!(res.status(), 200);
    let body = json(res).await;
    let group = body[0]["agency_group_id"].clone();
    assert_eq!(
        body,
        json!([
            {"id": app.agencies[0], "name": "Oslo", "agency_group_id": group},
            {"id": app.agencies[1], "name": "Bergen", "agency_group_id": group},
        ])
    );
}

#[tokio::test]
async fn lifecycle_create_get_patch_post_delete() {
    let app = spawn_app().await;
    let token = app.token().await;
    let agency = app.agencies[0];
    let user = created(&app, &token, agency, &kari()).await;
    assert_user_shape(&user);
    let id = user["id"].as_i64().unwrap();
    assert_eq!(user["agency_id"], agency);
    assert_eq!(user["firstname"], "Kari");
    assert_eq!(user["lastname"], "Nordmann");
    assert_eq!(user["name"], "Kari Nordmann");
    assert_eq!(user["email"], "kari@example.no");
    assert_eq!(user["phone"], "+47 12345678");

    let path = format!("/agency/{agency}/user/{id}");
    let res = app.get(&token, &path).await;
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await, user);

    let res = app
        .send(
            Method::PATCH,
            &token,
            &path,
            &json!({"firstname":"  Kari Anne ","lastname":null}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let patched = json(res).await;
    assert_eq!(patched["firstname"], "Kari Anne");
    assert_eq!(patched["lastname"], Value::Null);
    assert_eq!(patched["name"], "Kari Anne");
    assert_eq!(patched["email"], "kari@example.no", "absent fields stay");

    let res = app
        .send(
            Method::POST,
            &token,
            &path,
            &json!({"phone":"","email":"KARI.A@example.no"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let posted = json(res).await;
    assert_eq!(
        posted["phone"],
        Value::Null,
        "empty string is null, as in Laravel"
    );
    assert_eq!(posted["email"], "KARI.A@example.no");
    assert_eq!(posted["created_at"], user["created_at"]);

    let res = app.send(Method::DELETE, &token, &path, &json!({})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await, json!({}));
    let res = app.get(&token, &path).await;
    assert_eq!(res.status(), 404);
    assert_eq!(json(res).await, json!({"message":"Not found."}));
    let res = app.send(Method::DELETE, &token, &path, &json!({})).await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn passwords_are_stored_as_bcrypt_and_changed_only_when_given() {
    let app = spawn_app().await;
    let token = app.token().await;
    let agency = app.agencies[0];
    let user = created(&app, &token, agency, &kari()).await;
    let stored = app.stored_users().await;
    let hash = stored[0].1.clone().unwrap();
    assert!(hash.starts_with("$2b$04$"));
    assert!(bcrypt::verify("secret-pw-1", &hash).unwrap());
    let path = format!("/agency/{agency}/user/{}", user["id"]);
    app.send(Method::PATCH, &token, &path, &json!({"firstname":"K"}))
        .await;
    assert_eq!(
        app.stored_users().await[0].1.as_ref(),
        Some(&hash),
        "untouched"
    );
    let res = app
        .send(
            Method::PATCH,
            &token,
            &path,
            &json!({"new_password":"another-pw","new_password_confirmation":"another-pw"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let new_hash = app.stored_users().await[0].1.clone().unwrap();
    assert!(bcrypt::verify("another-pw", &new_hash).unwrap());
    // A user without a password.
    let res = app
        .create_user(
            &token,
            agency,
            &json!({"firstname":"Ola","email":"ola@example.no"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(app.stored_users().await[1].1, None);
}

#[tokio::test]
async fn create_requires_firstname_and_email() {
    let app = spawn_app().await;
    let token = app.token().await;
    for body in [
        json!({}),
        json!({"firstname":"","email":null}),
        json!([1, 2]),
        json!({"firstname":"   "}),
    ] {
        let res = app.create_user(&token, app.agencies[0], &body).await;
        assert_eq!(res.status(), 422, "{body}");
        assert_eq!(
            json(res).await,
            json!({"message":"The given data was invalid.","errors":{
                "firstname":["The firstname field is required."],
                "email":["The email field is required."]}})
        );
    }
    assert!(app.stored_users().await.is_empty());
}

#[tokio::test]
async fn every_failing_field_is_listed_and_nothing_is_written() {
    let app = spawn_app().await;
    let token = app.token().await;
    let body = json!({
        "firstname": "x".repeat(256),
        "lastname": 42,
        "email": "not-an-email",
        "phone": "1".repeat(33),
        "new_password": "short",
        "new_password_confirmation": "different",
        "unknown_field": "ignored"
    });
    let res = app.create_user(&token, app.agencies[0], &body).await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        json(res).await,
        json!({"message":"The given data was invalid.","errors":{
            "firstname":["The firstname must not be greater than 255 characters."],
            "lastname":["The lastname must be a string."],
            "email":["The email must be a valid email address."],
            "phone":["The phone must not be greater than 32 characters."],
            "new_password":["The new password must be at least 8 characters.",
                            "The new password confirmation does not match."]}})
    );
    let long = "é".repeat(37);
    let res = app
        .create_user(&token, app.agencies[0],
            &json!({"firstname":"A","email":"a@example.no","new_password":long,"new_password_confirmation":long}))
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        json(res).await["errors"],
        json!({"new_password":["The new password must not be greater than 72 bytes."]})
    );
    assert!(app.stored_users().await.is_empty());

    // A rejected update leaves the row as it was.
    let user = created(&app, &token, app.agencies[0], &kari()).await;
    let path = format!("/agency/{}/user/{}", app.agencies[0], user["id"]);
    let res = app
        .send(
            Method::PATCH,
            &token,
            &path,
            &json!({"firstname":"Changed","email":"bad"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(json(app.get(&token, &path).await).await, user);
}

#[tokio::test]
async fn email_is_unique_case_insensitively_ignoring_the_user_itself() {
    let app = spawn_app().await;
    let token = app.token().await;
    let taken = json!({"message":"The given data was invalid.","errors":{"email":["The email has already been taken."]}});
    let kari_user = created(&app, &token, app.agencies[0], &kari()).await;
    // Another agency of the group: emails are unique over all agencies.
    let res = app
        .create_user(
            &token,
            app.agencies[1],
            &json!({"firstname":"K","email":" KARI@Example.NO "}),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(json(res).await, taken);
    let path = format!("/agency/{}/user/{}", app.agencies[0], kari_user["id"]);
    let res = app
        .send(
            Method::PATCH,
            &token,
            &path,
            &json!({"email":"Kari@Example.no"}),
        )
        .await;
    assert_eq!(res.status(), 200, "its own email in another case is fine");
    let ola = created(
        &app,
        &token,
        app.agencies[0],
        &json!({"firstname":"Ola","email":"ola@example.no"}),
    )
    .await;
    let res = app
        .send(
            Method::PATCH,
            &token,
            &format!("/agency/{}/user/{}", app.agencies[0], ola["id"]),
            &json!({"email":"kari@example.no"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(json(res).await, taken);
}

#[tokio::test]
async fn twenty_concurrent_creates_with_one_email_give_one_201() {
    let app = spawn_app().await;
    let token = app.token().await;
    let agency = app.agencies[0];
    let attempts = (0..20).map(|i| {
        let body = json!({"firstname": format!("Racer {i}"), "email": "race@example.no"});
        let (app, token) = (&app, &token);
        async move {
            app.create_user(token, agency, &body)
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 422).count(),
        19,
        "{statuses:?}"
    );
    assert_eq!(app.stored_users().await.len(), 1);
}

#[tokio::test]
async fn another_group_sees_nothing_of_this_one() {
    let app = spawn_app().await;
    let token = app.token().await;
    let mine = app.agencies[0];
    let user = created(&app, &token, mine, &kari()).await;
    let (their_agency, their_id, their_secret) = app.other_group().await;
    let theirs = app.token_for(&their_id, &their_secret).await;

    let agencies = json(app.get(&theirs, "/agencies").await).await;
    assert_eq!(agencies.as_array().unwrap().len(), 1);
    assert_eq!(agencies[0]["id"], their_agency);

    let not_found = json!({"message":"Not found."});
    let user_path = format!("/agency/{mine}/user/{}", user["id"]);
    for (method, path) in [
        (Method::GET, format!("/agency/{mine}/users")),
        (Method::POST, format!("/agency/{mine}/user")),
        (Method::GET, user_path.clone()),
        (Method::PATCH, user_path.clone()),
        (Method::POST, user_path.clone()),
        (Method::DELETE, user_path.clone()),
        // Its own agency in the path, but our user.
        (
            Method::GET,
            format!("/agency/{their_agency}/user/{}", user["id"]),
        ),
        // An agency that does not exist answers the same.
        (Method::GET, "/agency/999999/users".to_owned()),
    ] {
        let res = app
            .send(
                method.clone(),
                &theirs,
                &path,
                &json!({"firstname":"Evil","email":"evil@example.no"}),
            )
            .await;
        assert_eq!(res.status(), 404, "{method} {path}");
        assert_eq!(json(res).await, not_found);
    }
    assert_eq!(
        json(app.get(&token, &user_path).await).await,
        user,
        "unchanged"
    );
}

#[tokio::test]
async fn a_user_of_another_agency_and_bad_ids_are_404() {
    let app = spawn_app().await;
    let token = app.token().await;
    let user = created(&app, &token, app.agencies[0], &kari()).await;
    for path in [
        format!("/agency/{}/user/{}", app.agencies[1], user["id"]),
        format!("/agency/{}/user/abc", app.agencies[0]),
        format!("/agency/{}/user/99999999999999999999999", app.agencies[0]),
        "/agency/x/users".to_owned(),
    ] {
        let res = app.get(&token, &path).await;
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(json(res).await, json!({"message":"Not found."}));
    }
}

#[tokio::test]
async fn the_list_is_every_user_of_the_agency_by_id_across_batches() {
    let app = spawn_app().await;
    let token = app.token().await;
    let agency = app.agencies[0];
    {
        use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
        let mut conn = app.db.conn("agency").await;
        conn.batch_execute(&format!(
            "INSERT INTO users (agency_id, firstname, email) \
             SELECT {agency}, 'User ' || g, 'user' || g || '@example.no' FROM generate_series(1, 2500) g; \
             INSERT INTO users (agency_id, firstname, email) VALUES ({}, 'Elsewhere', 'x@example.no');",
            app.agencies[1]
        ))
        .await
        .unwrap();
        let _ = diesel::sql_query("SELECT 1").execute(&mut conn).await;
    }
    let res = app.get(&token, &format!("/agency/{agency}/users")).await;
    assert_eq!(res.status(), 200);
    let list = json(res).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2500);
    let ids: Vec<i64> = list.iter().map(|u| u["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ordered by id");
    assert!(list.iter().all(|u| u["agency_id"] == agency));
    assert_user_shape(&list[0]);
    let empty = json(
        app.get(&token, &format!("/agency/{}/users", app.agencies[1]))
            .await,
    )
    .await;
    assert_eq!(empty.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn no_response_contains_a_hash_or_secret() {
    let app = spawn_app().await;
    let token = app.token().await;
    let agency = app.agencies[0];
    let user = created(&app, &token, agency, &kari()).await;
    let mut bodies = vec![user.to_string()];
    for path in [
        format!("/agency/{agency}/users"),
        format!("/agency/{agency}/user/{}", user["id"]),
        "/agencies".into(),
    ] {
        bodies.push(app.get(&token, &path).await.text().await.unwrap());
    }
    for body in bodies {
        assert!(!body.contains("$2b$"), "{body}");
        assert!(!body.contains("secret-pw-1"), "{body}");
        assert!(!body.contains(crate::helpers::CLIENT_SECRET), "{body}");
        assert!(!body.contains("password"), "{body}");
    }
}

#[tokio::test]
async fn nul_bytes_and_huge_fields_are_422_not_500() {
    let app = spawn_app().await;
    let token = app.token().await;
    let res = app
        .create_user(
            &token,
            app.agencies[0],
            &json!({"firstname":"a\u{0}b","email":"nul@example.no","lastname":"x".repeat(10_000)}),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        json(res).await["errors"],
        json!({"firstname":["The firstname must not contain null bytes."],
               "lastname":["The lastname must not be greater than 255 characters."]})
    );
    assert!(app.stored_users().await.is_empty());
}
