use crate::helpers::*;
use serde_json::{json, Value};
use test_support::json;

/// 45 users in Alpha (plus a few in Beta that must not show): ids in creation order.
async fn forty_five(app: &TestApp) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 1..=45 {
        let id = app
            .seed_named(
                &format!("user{i:02}@example.com"),
                &format!("First{i:02}"),
                &format!("Last{i:02}"),
                &[],
                &[app.alpha],
            )
            .await;
        ids.push(id);
        if i % 15 == 0 {
            app.seed_user(&format!("beta{i}@example.com"), &[], &[app.beta])
                .await;
        }
    }
    ids
}

fn user_json(id: i64, i: usize) -> Value {
    json!({"id": id, "first_name": format!("First{i:02}"), "last_name": format!("Last{i:02}"),
           "email": format!("user{i:02}@example.com")})
}

#[tokio::test]
async fn forty_five_users_are_pages_of_20_20_5_with_every_meta_and_link() {
    let app = spawn_app().await;
    let ids = forty_five(&app).await;
    let token = app.admin_token().await;
    let path = users_path(app.alpha);
    let base = app.url(&path);
    let link = |page: i64| format!("{base}?page={page}");
    for (page, range) in [(1, 0..20), (2, 20..40), (3, 40..45)] {
        let res = app.get(&token, &format!("{path}?page={page}")).await;
        assert_eq!(res.status(), 200);
        let data: Vec<Value> = range.clone().map(|i| user_json(ids[i], i + 1)).collect();
        assert_eq!(
            json(res).await,
            json!({
                "data": data,
                "meta": {"current_page": page, "from": range.start + 1, "last_page": 3,
                         "path": base, "per_page": 20, "to": range.end, "total": 45},
                "links": {"first": link(1), "last": link(3),
                          "prev": if page > 1 { json!(link(page - 1)) } else { Value::Null },
                          "next": if page < 3 { json!(link(page + 1)) } else { Value::Null }},
            })
        );
    }
}

#[tokio::test]
async fn bad_pages_are_one_and_pages_past_the_end_are_empty() {
    let app = spawn_app().await;
    let ids = forty_five(&app).await;
    let token = app.admin_token().await;
    let path = users_path(app.alpha);
    let first = json(app.get(&token, &path).await).await;
    assert_eq!(first["meta"]["current_page"], 1);
    assert_eq!(first["data"][0]["id"], ids[0]);
    for bad in ["0", "abc", "-2", "1.5", ""] {
        let body = json(app.get(&token, &format!("{path}?page={bad}")).await).await;
        assert_eq!(body, first, "page={bad}");
    }
    let base = app.url(&path);
    let res = app.get(&token, &format!("{path}?page=99")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        json(res).await,
        json!({
            "data": [],
            "meta": {"current_page": 99, "from": null, "last_page": 3, "path": base,
                     "per_page": 20, "to": null, "total": 45},
            "links": {"first": format!("{base}?page=1"), "last": format!("{base}?page=3"),
                      "prev": format!("{base}?page=98"), "next": null},
        })
    );
    let res = app
        .get(&token, &format!("{path}?page=99999999999999999"))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await["data"], json!([]));
}

#[tokio::test]
async fn per_page_is_kept_in_links_and_checked() {
    let app = spawn_app().await;
    let ids = forty_five(&app).await;
    let token = app.admin_token().await;
    let path = users_path(app.alpha);
    let base = app.url(&path);
    let res = app.get(&token, &format!("{path}?per_page=5&page=2")).await;
    let data: Vec<Value> = (5..10).map(|i| user_json(ids[i], i + 1)).collect();
    assert_eq!(
        json(res).await,
        json!({
            "data": data,
            "meta": {"current_page": 2, "from": 6, "last_page": 9, "path": base,
                     "per_page": 5, "to": 10, "total": 45},
            "links": {"first": format!("{base}?per_page=5&page=1"),
                      "last": format!("{base}?per_page=5&page=9"),
                      "prev": format!("{base}?per_page=5&page=1"),
                      "next": format!("{base}?per_page=5&page=3")},
        })
    );
    for (bad, text) in [
        ("0", "The per page must be between 1 and 100."),
        ("101", "The per page must be between 1 and 100."),
        ("ten", "The per page must be an integer."),
    ] {
        let res = app.get(&token, &format!("{path}?per_page={bad}")).await;
        assert_eq!(res.status(), 422);
        assert_eq!(
            json(res).await,
            json!({"message":"The given data was invalid.","errors":{"per_page":[text]}})
        );
    }
    let res = app.get(&token, &format!("{path}?per_page=100")).await;
    assert_eq!(json(res).await["meta"]["last_page"], 1);
}

#[tokio::test]
async fn an_empty_partner_has_one_empty_page() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let path = users_path(app.beta);
    let base = app.url(&path);
    assert_eq!(
        json(app.get(&token, &path).await).await,
        json!({
            "data": [],
            "meta": {"current_page": 1, "from": null, "last_page": 1, "path": base,
                     "per_page": 20, "to": null, "total": 0},
            "links": {"first": format!("{base}?page=1"), "last": format!("{base}?page=1"),
                      "prev": null, "next": null},
        })
    );
}

#[tokio::test]
async fn links_follow_the_gateway_headers_or_public_base_url() {
    let app = spawn_app().await;
    forty_five(&app).await;
    let token = app.admin_token().await;
    let path = users_path(app.alpha);
    // The test client is on loopback, a trusted proxy by default.
    let res = app
        .http
        .get(app.url(&format!("{path}?search=first&per_page=20&page=2")))
        .bearer_auth(&token)
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "gw.example.com:8443")
        .header("x-forwarded-prefix", "/partner")
        .send()
        .await
        .unwrap();
    let body = json(res).await;
    let base = format!("https://gw.example.com:8443/partner{path}");
    assert_eq!(body["meta"]["path"], base);
    assert_eq!(
        body["links"],
        json!({"first": format!("{base}?search=first&per_page=20&page=1"),
               "last": format!("{base}?search=first&per_page=20&page=3"),
               "prev": format!("{base}?search=first&per_page=20&page=1"),
               "next": format!("{base}?search=first&per_page=20&page=3")})
    );

    let app = spawn_app_with(&[("PUBLIC_BASE_URL", "https://manager.example.com/")]).await;
    let token = app.admin_token().await;
    let path = users_path(app.alpha);
    let res = app
        .http
        .get(app.url(&format!("{path}?search=J%C3%B8hn%20Doe%26co")))
        .bearer_auth(&token)
        .header("x-forwarded-host", "ignored.example.com")
        .send()
        .await
        .unwrap();
    let body = json(res).await;
    assert_eq!(
        body["links"]["first"],
        format!("https://manager.example.com{path}?search=J%C3%B8hn+Doe%26co&page=1")
    );
}

/// The two page statements give the same pages, for every size and offset of a 45-user
/// partner: the API reads the first thousand entries with `PAGE_FROM_START_SQL`, so
/// `PAGE_SQL`'s two branches (forward before the middle, backward past it) are checked here.
#[tokio::test]
async fn both_page_statements_give_every_page_alike() {
    use partner_svc::db::{read_page, PAGE_FROM_START_SQL, PAGE_SQL};
    let app = spawn_app().await;
    let ids = forty_five(&app).await;
    let mut conn = app.state.core.db.conn().await.unwrap();
    for limit in [1_usize, 7, 20, 45, 100] {
        for offset in 0..=50_usize {
            let want: Vec<i64> = ids.iter().copied().skip(offset).take(limit).collect();
            for sql in [PAGE_SQL, PAGE_FROM_START_SQL] {
                let (users, total) = read_page(
                    &mut conn,
                    sql,
                    app.alpha,
                    i64::try_from(limit).unwrap(),
                    i64::try_from(offset).unwrap(),
                )
                .await
                .unwrap()
                .unwrap();
                assert_eq!(total, 45);
                let got: Vec<i64> = users.iter().map(|u| u.id).collect();
                assert_eq!(got, want, "{limit} at {offset}");
            }
        }
    }
    for sql in [PAGE_SQL, PAGE_FROM_START_SQL] {
        let past = read_page(&mut conn, sql, app.alpha, 20, i64::MAX).await;
        assert_eq!(past.unwrap().unwrap().0.len(), 0);
        let missing = read_page(&mut conn, sql, app.alpha + 1_000, 20, 0).await;
        assert!(missing.unwrap().is_none());
    }
}
