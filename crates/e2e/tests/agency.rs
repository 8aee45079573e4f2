//! agency-svc through the gateway: both routings, the token, a user's whole lifecycle.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use e2e::{client, env_file, json, unique, url};
use serde_json::json;

async fn token(base: &str, host: Option<&str>) -> String {
    let env = env_file("agency");
    let mut req = client().post(format!("{base}/oauth/token")).json(&json!({
        "grant_type": "client_credentials",
        "client_id": env["BOOTSTRAP_CLIENT_ID"],
        "client_secret": env["BOOTSTRAP_CLIENT_SECRET"],
    }));
    if let Some(h) = host {
        req = req.header("host", h);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200);
    json(res).await["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn user_lifecycle_through_the_prefix_route() {
    let base = url("/agency");
    let token = token(&base, None).await;
    let http = client();
    let agencies = json(
        http.get(format!("{base}/agencies"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let agency = agencies[0]["id"].as_i64().unwrap();
    let email = format!("{}@example.no", unique("e2e-"));
    let res = http
        .post(format!("{base}/agency/{agency}/user"))
        .bearer_auth(&token)
        .header("x-request-id", "e2e-agency-create")
        .json(&json!({"firstname":"E2E","lastname":"User","email":email,
                      "new_password":"secret-pw-1","new_password_confirmation":"secret-pw-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(res.headers()["x-request-id"], "e2e-agency-create");
    let user = json(res).await;
    let path = format!("{base}/agency/{agency}/user/{}", user["id"]);
    let got = json(http.get(&path).bearer_auth(&token).send().await.unwrap()).await;
    assert_eq!(got, user);
    let res = http
        .patch(&path)
        .bearer_auth(&token)
        .json(&json!({"phone":"123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await["phone"], "123");
    let res = http
        .post(&path)
        .bearer_auth(&token)
        .json(&json!({"lastname":"Posted"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await["name"], "E2E Posted");
    let list = json(
        http.get(format!("{base}/agency/{agency}/users"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["id"] == user["id"]));
    let res = http.delete(&path).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await, json!({}));
    let res = http.get(&path).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(json(res).await, json!({"message":"Not found."}));
}

#[tokio::test]
async fn host_route_serves_the_same_api() {
    let base = url("");
    let token = token(&base, Some("agency.localhost")).await;
    let res = client()
        .get(format!("{base}/agencies"))
        .header("host", "agency.localhost:8080")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(!json(res).await.as_array().unwrap().is_empty());
    let res = client()
        .get(format!("{base}/agencies"))
        .header("host", "agency.localhost")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(json(res).await, json!({"message":"Unauthenticated."}));
}
