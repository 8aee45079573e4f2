//! jive-svc through the gateway: `/jive/…` and `Host: jive.localhost`, with the demo admin key
//! of `deploy/env/jive.env`.

use e2e::{client, env_file, json, unique, url};
use serde_json::json;

fn admin_key() -> String {
    env_file("jive")["BOOTSTRAP_ADMIN_ACCESS_KEY"].clone()
}

#[tokio::test]
async fn users_round_trip_through_the_prefix_route() {
    let key = admin_key();
    let http = client();
    let email = format!("{}@e2e.example", unique("jive"));

    let res = http
        .post(url("/jive/api/users"))
        .header("authorization", &key)
        .json(&json!({"first_name":"E2E","last_name":"User","email_address":email}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        json(res).await,
        json!({"Status":"OK","Message":"User created","Meta":""})
    );
    let prefix = url("/jive/api/users/");
    assert!(
        location.starts_with(&prefix),
        "{location} should start with {prefix}"
    );
    let id = location.rsplit('/').next().unwrap().to_owned();

    // The Location header works as given.
    let res = http
        .get(&location)
        .header("authorization", format!("Bearer {key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let user = json(res).await;
    assert_eq!(user["id"], id.as_str());
    assert_eq!(user["email_address"], email.as_str());
    assert_eq!(user["password"], "");

    let res = http
        .put(url(&format!("/jive/api/users/{id}")))
        .header("authorization", &key)
        .json(&json!({"last_name":"Changed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await["last_name"], "Changed");

    let res = http
        .post(url(&format!("/jive/api/users/{id}/actions/reset")))
        .header("authorization", &key)
        .json(&json!({"new_password":"e2e-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json(res).await,
        json!({"Status":"OK","Message":"User password updated","Meta":""})
    );

    let res = http
        .get(url("/jive/api/users?p=1"))
        .header("authorization", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let page = json(res).await;
    assert!(page["pages"].as_u64().unwrap() >= 1);
    assert!(page["users"].as_array().unwrap().len() <= 10);

    let res = http
        .delete(url(&format!("/jive/api/users/{id}")))
        .header("authorization", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        json(res).await,
        json!({"Status":"OK","Message":"User deleted","Meta":""})
    );
    let res = http
        .get(url(&format!("/jive/api/users/{id}")))
        .header("authorization", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(
        json(res).await,
        json!({"Status":"Error","Message":"Could not retrieve user detail.","Meta":null})
    );
}

#[tokio::test]
async fn host_route_reaches_jive_with_the_path_unchanged() {
    let http = client();
    let res = http
        .get(url("/api/users"))
        .header("host", "jive.localhost")
        .header("authorization", admin_key())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = json(res).await;
    assert_eq!(body["pages"], 0);
    assert!(!body["users"].as_array().unwrap().is_empty());

    // HEAD answers as GET does, through the gateway too, without a body.
    for route in ["/api/users", "/jive/api/users"] {
        let mut req = http.head(url(route)).header("authorization", admin_key());
        if !route.starts_with("/jive") {
            req = req.header("host", "jive.localhost");
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 200, "HEAD {route}");
        assert!(res.headers().contains_key("x-request-id"));
        assert!(
            res.bytes().await.unwrap().is_empty(),
            "HEAD {route}: a body"
        );
    }

    let res = http
        .get(url("/api/users"))
        .header("host", "jive.localhost")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        json(res).await,
        json!({"Status":"Error","Message":"Not authorised","Meta":null})
    );

    let res = http
        .get(url("/nope"))
        .header("host", "jive.localhost")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(
        json(res).await,
        json!({"Status":"Error","Message":"Not found","Meta":null})
    );
}

#[tokio::test]
async fn location_through_the_host_route_has_no_prefix() {
    let http = client();
    let res = http
        .post(url("/api/users"))
        .header("host", "jive.localhost")
        .header("authorization", admin_key())
        .json(&json!({"email_address": format!("{}@e2e.example", unique("host"))}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("http://jive.localhost/api/users/")
            || location.starts_with("http://jive.localhost:"),
        "{location}"
    );
    let id = location.rsplit('/').next().unwrap();
    let res = http
        .delete(url(&format!("/api/users/{id}")))
        .header("host", "jive.localhost")
        .header("authorization", admin_key())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
