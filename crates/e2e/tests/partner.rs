//! partner-svc through the gateway: login, a searched page whose links carry the gateway's URL
//! and `/partner` prefix (or the `partner.localhost` host), and clean-up.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: failing loudly is the point
use e2e::{client, env_file, gateway, json, unique, url};
use serde_json::{json, Value};

async fn admin_token() -> String {
    let env = env_file("partner");
    let res = client()
        .post(url("/partner/api/internal/v1/auth/login"))
        .json(&json!({"email": env["BOOTSTRAP_ADMIN_EMAIL"], "password": env["BOOTSTRAP_ADMIN_PASSWORD"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = json(res).await;
    assert_eq!(body["data"]["token_type"], "Bearer");
    body["data"]["access_token"].as_str().unwrap().to_owned()
}

/// The first bootstrap partner (the admin holds `partners.all`, so existing ids answer 200).
async fn a_partner(token: &str) -> i64 {
    for id in 1..=50 {
        let res = client()
            .get(url(&format!(
                "/partner/api/internal/v1/partners/{id}/users?per_page=1"
            )))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        if res.status() == 200 {
            return id;
        }
        assert_eq!(res.status(), 404, "partner {id}");
    }
    panic!("no partner found: is BOOTSTRAP_PARTNERS set in deploy/env/partner.env?");
}

#[tokio::test]
async fn pages_through_the_gateway_link_to_the_gateway() {
    let token = admin_token().await;
    let partner = a_partner(&token).await;
    let users = format!("/partner/api/internal/v1/partners/{partner}/users");
    let tag = unique("e2e");
    let mut ids = Vec::new();
    for i in 0..3 {
        let res = client()
            .post(url(&users))
            .bearer_auth(&token)
            .json(
                &json!({"first_name": format!("{tag}"), "last_name": format!("N{i}"),
                          "email": format!("{tag}.{i}@example.com"), "password": "e2e-password-1"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        ids.push(json(res).await["data"]["id"].as_i64().unwrap());
    }

    let res = client()
        .get(url(&format!(
            "{users}?search={}&per_page=2",
            tag.to_uppercase()
        )))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = json(res).await;
    let base = format!("{}{users}", gateway());
    let q = format!("search={}&per_page=2", tag.to_uppercase());
    assert_eq!(
        body["meta"],
        json!({"current_page":1,"from":1,"last_page":2,"path":base,"per_page":2,"to":2,"total":3})
    );
    assert_eq!(
        body["links"],
        json!({"first": format!("{base}?{q}&page=1"), "last": format!("{base}?{q}&page=2"),
               "prev": Value::Null, "next": format!("{base}?{q}&page=2")})
    );
    // Following `next` through the gateway gives the last user.
    let next = body["links"]["next"].as_str().unwrap().to_owned();
    let res = client()
        .get(&next)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let body = json(res).await;
    assert_eq!(body["data"][0]["id"], ids[2]);
    assert_eq!(body["meta"]["current_page"], 2);

    // Host routing: the path is unchanged and the links use the host the caller sent.
    let path = format!("/api/internal/v1/partners/{partner}/users");
    let res = client()
        .get(url(&format!("{path}?search={tag}")))
        .header("host", "partner.localhost")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = json(res).await;
    assert_eq!(body["meta"]["total"], 3);
    assert_eq!(
        body["links"]["first"],
        format!("http://partner.localhost{path}?search={tag}&page=1")
    );

    for id in ids {
        let res = client()
            .delete(url(&format!("{users}/{id}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(json(res).await, json!({}));
    }
}

#[tokio::test]
async fn errors_through_the_gateway_are_in_laravel_shape() {
    let res = client()
        .get(url("/partner/api/internal/v1/partners/1/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(json(res).await, json!({"message":"Unauthenticated."}));
    let res = client()
        .post(url("/partner/api/internal/v1/auth/login"))
        .json(&json!({"email":"nobody@example.com","password":"wrong-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(json(res).await, json!({"message":"Invalid credentials."}));
    let res = client().get(url("/partner/nope")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(json(res).await, json!({"message":"Not found."}));
}
