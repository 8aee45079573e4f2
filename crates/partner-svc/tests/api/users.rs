use crate::helpers::*;
use serde_json::{json, Value};
use test_support::json;

fn john() -> Value {
    json!({"first_name":" John ","last_name":"Doe","email":"John.Doe@Example.com","password":"secret-pw-1"})
}

#[tokio::test]
async fn create_get_update_and_the_user_json() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let res = app.post(&token, &users_path(app.alpha), &john()).await;
    assert_eq!(res.status(), 201);
    let body = json(res).await;
    let id = body["data"]["id"].as_i64().unwrap();
    let user =
        json!({"id": id, "first_name":"John","last_name":"Doe","email":"John.Doe@Example.com"});
    assert_eq!(body, json!({ "data": user }));
    let stored = app.stored_users().await;
    let row = stored.iter().find(|u| u.0 == id).unwrap();
    assert!(row.2.starts_with("$2b$04$") && bcrypt::verify("secret-pw-1", &row.2).unwrap());
    assert!(row.3.is_empty(), "no permissions unless given");
    assert_eq!(app.memberships(id).await, vec![app.alpha]);

    let res = app.get(&token, &user_path(app.alpha, id)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await, json!({ "data": user }));
    // The new user can log in.
    app.token("john.doe@example.com", "secret-pw-1").await;

    // PUT is partial and answers {}.
    let res = app
        .put(
            &token,
            &user_path(app.alpha, id),
            &json!({"first_name":"Johnny"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await, json!({}));
    let res = app.get(&token, &user_path(app.alpha, id)).await;
    assert_eq!(
        json(res).await["data"],
        json!({"id": id, "first_name":"Johnny","last_name":"Doe","email":"John.Doe@Example.com"})
    );
    let res = app
        .put(
            &token,
            &user_path(app.alpha, id),
            &json!({"last_name":"Smith","email":"js@example.com"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app.get(&token, &user_path(app.alpha, id)).await;
    assert_eq!(
        json(res).await["data"],
        json!({"id": id, "first_name":"Johnny","last_name":"Smith","email":"js@example.com"})
    );
    let hash_before = app
        .stored_users()
        .await
        .into_iter()
        .find(|u| u.0 == id)
        .unwrap()
        .2;
    assert!(
        bcrypt::verify("secret-pw-1", &hash_before).unwrap(),
        "password untouched"
    );
}

#[tokio::test]
async fn create_validates_every_field_in_laravel_words() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let path = users_path(app.alpha);
    let res = app.post(&token, &path, &json!({})).await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        json(res).await,
        json!({"message":"The given data was invalid.","errors":{
            "first_name":["The first name field is required."],
            "last_name":["The last name field is required."],
            "email":["The email field is required."],
            "password":["The password field is required."]}})
    );
    let res = app
        .post(
            &token,
            &path,
            &json!({"first_name": "x".repeat(256), "last_name": 5,
            "email":"not-an-email","password":"short","permissions":"users.read"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        json(res).await["errors"],
        json!({"first_name":["The first name must not be greater than 255 characters."],
               "last_name":["The last name must be a string."],
               "email":["The email must be a valid email address."],
               "password":["The password must be at least 8 characters."],
               "permissions":["The permissions must be an array."]})
    );
    let long = "€".repeat(25); // 25 characters, 75 bytes
    let res = app
        .post(
            &token,
            &path,
            &json!({"first_name":"A","last_name":"B","email":"a@b.example",
            "password": long, "permissions":["users.read","users.everything"]}),
        )
        .await;
    assert_eq!(
        json(res).await["errors"],
        json!({"password":["The password must not be greater than 72 bytes."],
               "permissions.1":["The selected permissions.1 is invalid."]})
    );
    assert_eq!(
        app.stored_users().await.len(),
        1,
        "nothing but the admin stored"
    );
}

#[tokio::test]
async fn create_attaches_an_existing_user_by_email_and_refuses_a_member() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let res = app.post(&token, &users_path(app.alpha), &john()).await;
    let id = json(res).await["data"]["id"].as_i64().unwrap();
    let hash = app
        .stored_users()
        .await
        .into_iter()
        .find(|u| u.0 == id)
        .unwrap()
        .2;
    // Same email, other case, other names and password, other partner: attached unchanged.
    let res = app
        .post(
            &token,
            &users_path(app.beta),
            &json!({"first_name":"Jack","last_name":"Other",
            "email":"JOHN.DOE@example.COM","password":"different-pw"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let user =
        json!({"id": id, "first_name":"John","last_name":"Doe","email":"John.Doe@Example.com"});
    assert_eq!(json(res).await, json!({ "data": user }));
    assert_eq!(app.memberships(id).await, vec![app.alpha, app.beta]);
    let after = app
        .stored_users()
        .await
        .into_iter()
        .find(|u| u.0 == id)
        .unwrap();
    assert_eq!(after.2, hash, "password kept");
    assert_eq!(app.stored_users().await.len(), 2);
    // Already a member: 422 on email.
    for partner in [app.alpha, app.beta] {
        let res = app.post(&token, &users_path(partner), &john()).await;
        assert_eq!(res.status(), 422);
        assert_eq!(
            json(res).await,
            json!({"message":"The given data was invalid.","errors":{"email":["The email has already been taken."]}})
        );
    }
    // The user is shared: a change made in Beta shows in Alpha.
    let res = app
        .put(
            &token,
            &user_path(app.beta, id),
            &json!({"first_name":"Changed"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app.get(&token, &user_path(app.alpha, id)).await;
    assert_eq!(json(res).await["data"]["first_name"], "Changed");
}

#[tokio::test]
async fn twenty_concurrent_creates_of_one_email_make_one_user() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let path = users_path(app.alpha);
    let requests = (0..20).map(|i| {
        let body = json!({"first_name": format!("Racer{i}"), "last_name":"X",
                          "email":"race@example.com","password":"secret-pw-1"});
        let (app, token, path) = (&app, &token, &path);
        async move { app.post(token, path, &body).await.status().as_u16() }
    });
    let mut statuses = futures_util::future::join_all(requests).await;
    statuses.sort_unstable();
    let mut want = vec![201];
    want.extend(std::iter::repeat_n(422, 19));
    want.sort_unstable();
    assert_eq!(statuses, want);
    let stored = app.stored_users().await;
    assert_eq!(
        stored.iter().filter(|u| u.1 == "race@example.com").count(),
        1
    );
}

#[tokio::test]
async fn update_checks_email_password_and_confirmation() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let a = app.seed_user("a@example.com", &[], &[app.alpha]).await;
    app.seed_user("b@example.com", &[], &[app.beta]).await;
    let path = user_path(app.alpha, a);
    let res = app
        .put(
            &token,
            &path,
            &json!({"email":"B@EXAMPLE.COM","first_name":"","new_password":"new-password-1"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        json(res).await["errors"],
        json!({"first_name":["The first name field is required."],
               "new_password":["The new password confirmation does not match."]})
    );
    let res = app
        .put(&token, &path, &json!({"email":"B@EXAMPLE.COM"}))
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        json(res).await["errors"],
        json!({"email":["The email has already been taken."]})
    );
    // Its own email (any case) is fine.
    let res = app
        .put(&token, &path, &json!({"email":"A@example.com"}))
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .put(
            &token,
            &path,
            &json!({"new_password":"short","new_password_confirmation":"short"}),
        )
        .await;
    assert_eq!(
        json(res).await["errors"],
        json!({"new_password":["The new password must be at least 8 characters."]})
    );
    let res = app
        .put(
            &token,
            &path,
            &json!({"new_password":"new-password-1","new_password_confirmation":"new-password-1"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.login("A@example.com", PASSWORD).await.status(), 401);
    app.token("a@example.com", "new-password-1").await;
    // A user of Beta is not found through Alpha.
    let b = app
        .stored_users()
        .await
        .into_iter()
        .find(|u| u.1 == "b@example.com")
        .unwrap()
        .0;
    let res = app
        .put(&token, &user_path(app.alpha, b), &json!({"first_name":"X"}))
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(json(res).await, message("Not found."));
}

#[tokio::test]
async fn delete_detaches_then_deletes_and_never_yourself() {
    let app = spawn_app().await;
    let (me, token) = app
        .caller("mgr@example.com", MANAGER, &[app.alpha, app.beta])
        .await;
    let both = app
        .seed_user("both@example.com", &[], &[app.alpha, app.beta])
        .await;
    // Detach: still a user, still in Beta.
    let res = app.delete(&token, &user_path(app.alpha, both)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await, json!({}));
    assert_eq!(app.memberships(both).await, vec![app.beta]);
    assert_eq!(
        app.get(&token, &user_path(app.alpha, both)).await.status(),
        404
    );
    assert_eq!(
        app.get(&token, &user_path(app.beta, both)).await.status(),
        200
    );
    assert_eq!(
        app.delete(&token, &user_path(app.alpha, both))
            .await
            .status(),
        404
    );
    // Last partner: the user is deleted.
    let res = app.delete(&token, &user_path(app.beta, both)).await;
    assert_eq!(res.status(), 200);
    assert!(app.stored_users().await.iter().all(|u| u.0 != both));
    assert_eq!(app.login("both@example.com", PASSWORD).await.status(), 401);
    // Never yourself.
    let res = app.delete(&token, &user_path(app.alpha, me)).await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        json(res).await,
        message("You cannot delete your own account.")
    );
    assert_eq!(app.memberships(me).await, vec![app.alpha, app.beta]);
    // Ids that cannot exist are 404.
    for bad in ["999999", "abc", "0"] {
        let res = app
            .delete(&token, &format!("{}/{bad}", users_path(app.alpha)))
            .await;
        assert_eq!(res.status(), 404, "{bad}");
    }
}

#[tokio::test]
async fn user_partners_are_limited_to_the_callers() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let gamma = partner_svc::admin::create_partner(&app.state.core.db, "Gamma")
        .await
        .unwrap();
    let user = app
        .seed_user("u@example.com", &[], &[app.alpha, app.beta, gamma])
        .await;
    let (_, token) = app
        .caller("r@example.com", &["users.read"], &[app.alpha, gamma])
        .await;
    let res = app
        .get(&token, &format!("{}/partners", user_path(app.alpha, user)))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        json(res).await,
        json!({"data":[{"id": app.alpha, "name":"Alpha"},{"id": gamma, "name":"Gamma"}]})
    );
    let res = app
        .get(&admin, &format!("{}/partners", user_path(app.beta, user)))
        .await;
    assert_eq!(
        json(res).await,
        json!({"data":[{"id": app.alpha, "name":"Alpha"},{"id": app.beta, "name":"Beta"},{"id": gamma, "name":"Gamma"}]})
    );
    let outsider = app.seed_user("o@example.com", &[], &[app.beta]).await;
    let res = app
        .get(
            &admin,
            &format!("{}/partners", user_path(app.alpha, outsider)),
        )
        .await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn permissions_and_partner_access_are_enforced() {
    let app = spawn_app().await;
    let target = app.seed_user("t@example.com", &[], &[app.alpha]).await;
    let (_, reader) = app
        .caller("reader@example.com", &["users.read"], &[app.alpha])
        .await;
    let (_, beta_mgr) = app.caller("beta@example.com", MANAGER, &[app.beta]).await;
    let admin = app.admin_token().await;
    let a = app.alpha;
    let body =
        json!({"first_name":"N","last_name":"N","email":"n@example.com","password":"secret-pw-1"});
    // The reader reads but writes nothing.
    assert_eq!(app.get(&reader, &users_path(a)).await.status(), 200);
    assert_eq!(app.get(&reader, &user_path(a, target)).await.status(), 200);
    for res in [
        app.post(&reader, &users_path(a), &body).await,
        app.put(&reader, &user_path(a, target), &json!({"first_name":"X"}))
            .await,
        app.delete(&reader, &user_path(a, target)).await,
    ] {
        assert_eq!(res.status(), 403);
        assert_eq!(json(res).await, unauthorized());
    }
    // Beta's manager has every permission but no access to Alpha, nor to partners that do not
    // exist (the same 403: existence is not revealed).
    for path in [
        users_path(a),
        user_path(a, target),
        format!("{}/partners", user_path(a, target)),
        users_path(999_999),
        user_path(999_999, target),
        "/api/internal/v1/partners/abc/users".to_owned(),
    ] {
        let res = app.get(&beta_mgr, &path).await;
        assert_eq!(res.status(), 403, "{path}");
        assert_eq!(json(res).await, unauthorized());
    }
    assert_eq!(
        app.post(&beta_mgr, &users_path(a), &body).await.status(),
        403
    );
    assert_eq!(
        app.delete(&beta_mgr, &user_path(a, target)).await.status(),
        403
    );
    assert_eq!(app.memberships(target).await, vec![a]);
    // partners.all reaches every partner; a partner that does not exist is then a 404.
    assert_eq!(app.get(&admin, &users_path(app.beta)).await.status(), 200);
    let res = app.get(&admin, &users_path(999_999)).await;
    assert_eq!(res.status(), 404);
    assert_eq!(json(res).await, message("Not found."));
    // the same with a search (a NUL term too), a page past the end, or a bad per_page
    let missing = users_path(999_999);
    for query in ["search=kari", "search=%00", "page=9", "per_page=0"] {
        let res = app.get(&admin, &format!("{missing}?{query}")).await;
        assert_eq!(res.status(), 404, "{query}");
        assert_eq!(json(res).await, message("Not found."), "{query}");
    }
}

#[tokio::test]
async fn permissions_cannot_be_escalated() {
    let app = spawn_app().await;
    let (me, token) = app
        .caller(
            "mgr@example.com",
            &["users.read", "users.create", "users.update"],
            &[app.alpha],
        )
        .await;
    let path = users_path(app.alpha);
    let body = |perms: Value| json!({"first_name":"N","last_name":"N","email":"n@example.com","password":"secret-pw-1","permissions":perms});
    for perms in [
        json!(["users.delete"]),
        json!(["partners.all"]),
        json!(["users.read", "users.delete"]),
    ] {
        let res = app.post(&token, &path, &body(perms.clone())).await;
        assert_eq!(res.status(), 403, "{perms}");
        assert_eq!(json(res).await, unauthorized());
    }
    assert_eq!(app.stored_users().await.len(), 2, "nothing created");
    // What the caller holds it may grant.
    let res = app
        .post(&token, &path, &body(json!(["users.read", "users.create"])))
        .await;
    assert_eq!(res.status(), 201);
    let id = json(res).await["data"]["id"].as_i64().unwrap();
    assert_eq!(
        app.permissions(id).await,
        vec!["users.read", "users.create"]
    );
    // Through update: not to others, not to itself.
    for target in [id, me] {
        let res = app
            .put(
                &token,
                &user_path(app.alpha, target),
                &json!({"permissions":["users.read","users.delete"]}),
            )
            .await;
        assert_eq!(res.status(), 403);
        assert_eq!(json(res).await, unauthorized());
    }
    let res = app
        .put(
            &token,
            &user_path(app.alpha, id),
            &json!({"permissions":["users.update"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.permissions(id).await, vec!["users.update"]);
    // A user holding more than the caller cannot be changed by it (no password takeover).
    let boss = app
        .seed_user("boss@example.com", MANAGER, &[app.alpha])
        .await;
    let res = app
        .put(
            &token,
            &user_path(app.alpha, boss),
            &json!({"new_password":"taken-over-1","new_password_confirmation":"taken-over-1"}),
        )
        .await;
    assert_eq!(res.status(), 403);
    app.token("boss@example.com", PASSWORD).await;
    // Nor can permissions the caller lacks be taken away.
    let deleter = app
        .seed_user("del@example.com", &["users.delete"], &[app.alpha])
        .await;
    let admin = app.admin_token().await;
    let res = app
        .put(
            &admin,
            &user_path(app.alpha, deleter),
            &json!({"permissions":["users.read"]}),
        )
        .await;
    assert_eq!(res.status(), 200, "the admin may");
    assert_eq!(app.permissions(deleter).await, vec!["users.read"]);
}

#[tokio::test]
async fn an_admin_detached_from_its_last_partner_is_kept() {
    let app = spawn_app().await;
    let (_, token) = app.caller("mgr@example.com", MANAGER, &[app.alpha]).await;
    let admin_id = app.stored_users().await[0].0;
    assert_eq!(
        partner_svc::db::attach(
            &mut app.state.core.db.conn().await.unwrap(),
            app.alpha,
            admin_id
        )
        .await
        .unwrap(),
        Some(true)
    );
    let res = app.delete(&token, &user_path(app.alpha, admin_id)).await;
    assert_eq!(res.status(), 200);
    assert!(app.memberships(admin_id).await.is_empty());
    app.admin_token().await;
}
