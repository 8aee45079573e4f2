//! virtool-svc through the gateway: `/virtool/…` prefix routes and `Host: virtool.localhost`.
#![allow(clippy::unwrap_used)] // test code: failing loudly is the point

use e2e::{client, env_file, json, unique, url};
use serde_json::json;

async fn admin_token() -> String {
    let env = env_file("virtool");
    let res = client()
        .post(url("/virtool/api/account/login"))
        .json(&json!({
            "username": env["BOOTSTRAP_ADMIN_USER"],
            "password": env["BOOTSTRAP_ADMIN_PASSWORD"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = json(res).await;
    assert_eq!(body["token_type"], "Bearer");
    body["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn users_through_the_prefix_route_with_gateway_locations() {
    let token = admin_token().await;
    let id = unique("e2e-");
    let res = client()
        .post(url("/virtool/api/users"))
        .bearer_auth(&token)
        .json(&json!({"user_id": id, "password": "e2e-password-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, url(&format!("/virtool/api/users/{id}")));
    let created = json(res).await;
    assert_eq!(created["id"], id.as_str());
    assert_eq!(created["force_reset"], true);
    assert_eq!(created["groups"], json!([]));

    let res = client()
        .get(&location)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await, created);

    // The forced reset: login → reset code → new password → token.
    let res = client()
        .post(url("/virtool/api/account/login"))
        .json(&json!({"username": id, "password": "e2e-password-1"}))
        .send()
        .await
        .unwrap();
    let body = json(res).await;
    assert_eq!(body["reset"], true);
    let res = client()
        .post(url("/virtool/api/account/reset"))
        .json(&json!({"password": "e2e-password-2", "reset_code": body["reset_code"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let own = json(res).await["token"].as_str().unwrap().to_owned();
    let res = client()
        .get(url("/virtool/api/account"))
        .bearer_auth(&own)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await["force_reset"], false);
    // Without manage_users.
    let res = client()
        .get(url("/virtool/api/users"))
        .bearer_auth(&own)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        json(res).await,
        json!({"id": "not_permitted", "message": "Not permitted"})
    );

    let res = client()
        .delete(&location)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = client()
        .get(&location)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(
        json(res).await,
        json!({"id": "not_found", "message": "User not found"})
    );
}

#[tokio::test]
async fn host_route_reaches_virtool_with_the_path_unchanged() {
    let token = admin_token().await;
    let id = unique("e2e-host-");
    let res = client()
        .post(url("/api/users"))
        .header("host", "virtool.localhost")
        .bearer_auth(&token)
        .json(&json!({"user_id": id, "password": "e2e-password-1", "force_reset": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, format!("http://virtool.localhost/api/users/{id}"));
    let res = client()
        .delete(url(&format!("/api/users/{id}")))
        .header("host", "virtool.localhost")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = client()
        .get(url("/nope"))
        .header("host", "virtool.localhost")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(
        json(res).await,
        json!({"id": "not_found", "message": "Not found"})
    );
    let res = client()
        .get(url("/virtool/api/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        json(res).await,
        json!({"id": "requires_authorization", "message": "Requires authorization"})
    );
}
