//! `GET /api/users`: all users streamed, or pages of 10.

use crate::helpers::*;
use serde_json::{json, Value};

/// The org with 23 users (the admin and 22 seeded); returns all ids in id order.
async fn twenty_three(app: &TestApp) -> Vec<String> {
    let mut all = vec![app.admin_id.clone()];
    for i in 0..22 {
        let (id, _) = app
            .seed(ORG, &format!("user{i:02}@example.com"), json!({}))
            .await;
        all.push(id);
    }
    all.sort();
    all
}

#[tokio::test]
async fn unpaged_lists_every_user_in_id_order_with_pages_0() {
    let app = spawn_app().await;
    let all = twenty_three(&app).await;
    let (_, _, other_key) = app.other_org().await;
    let res = app.get(ADMIN_KEY, "/api/users").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["pages"], 0);
    assert_eq!(ids(&res.body), all);
    let keys: Vec<&str> = res
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["pages", "users"]);
    // The admin's own entry, whole.
    let first = &res.body["users"][0];
    assert_eq!(
        *first,
        json!({"api_model":{},"first_name":"Admin","last_name":"","email_address":ADMIN_EMAIL,
               "password":"","org_id":ORG,"active":true,"id":app.admin_id,"access_key":ADMIN_KEY,
               "user_permissions":{"IsAdmin":"admin"}})
    );
    // The other org sees only its own admin.
    let res = app.get(&other_key, "/api/users").await;
    assert_eq!(res.body["users"].as_array().unwrap().len(), 1);
    assert!(!all.contains(&ids(&res.body)[0]));
}

#[tokio::test]
async fn pages_of_ten() {
    let app = spawn_app().await;
    let all = twenty_three(&app).await;
    for (p, range) in [(1, 0..10), (2, 10..20), (3, 20..23)] {
        let res = app.get(ADMIN_KEY, &format!("/api/users?p={p}")).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.body["pages"], 3, "p={p}");
        assert_eq!(ids(&res.body), all[range].to_vec(), "p={p}");
    }
    for p in [
        "4",
        "99",
        "9223372036854775807",
        "18446744073709551615",
        "99999999999999999999999",
    ] {
        let res = app.get(ADMIN_KEY, &format!("/api/users?p={p}")).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.body, json!({"users":[],"pages":3}), "p={p}");
    }
    for q in ["?p=0", "?p=x", "?p=-1", "?p=", "?q=1"] {
        let res = app.get(ADMIN_KEY, &format!("/api/users{q}")).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.body["pages"], 0, "{q}");
        assert_eq!(ids(&res.body), all, "{q}");
    }
}

#[tokio::test]
async fn page_counts_round_up() {
    let app = spawn_app().await;
    let pages = |v: Value| v["pages"].as_u64().unwrap();
    assert_eq!(pages(app.get(ADMIN_KEY, "/api/users?p=1").await.body), 1);
    for i in 0..9 {
        app.seed(ORG, &format!("u{i}@example.com"), json!({})).await;
    }
    assert_eq!(
        pages(app.get(ADMIN_KEY, "/api/users?p=1").await.body),
        1,
        "10 users"
    );
    app.seed(ORG, "eleven@example.com", json!({})).await;
    assert_eq!(
        pages(app.get(ADMIN_KEY, "/api/users?p=1").await.body),
        2,
        "11 users"
    );
}

#[tokio::test]
async fn a_long_list_streams_across_batches() {
    let app = spawn_app().await;
    {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use jive_svc::db::schema::users;
        let mut conn = app.state.core.db.conn().await.unwrap();
        let rows: Vec<_> = (0..2100)
            .map(|i| {
                (
                    users::id.eq(jive_svc::ids::object_id()),
                    users::org_id.eq(ORG),
                    users::email_address.eq(format!("bulk{i}@example.com")),
                    users::password_hash.eq("x"),
                    users::access_key.eq(user_core::secret::random_hex(16)),
                )
            })
            .collect();
        diesel::insert_into(users::table)
            .values(rows)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let res = app.get(ADMIN_KEY, "/api/users").await;
    assert_eq!(res.status, 200);
    let listed = ids(&res.body);
    assert_eq!(listed.len(), 2101);
    let mut sorted = listed.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, listed, "in id order, no repeats across batches");
}

/// The two page statements give the same pages, for every size and offset of a 23-user org:
/// the API reads the first thousand entries with `PAGE_FROM_START_SQL`, so `PAGE_SQL`'s two
/// branches (forward before the middle, backward past it) are checked here.
#[tokio::test]
async fn both_page_statements_give_every_page_alike() {
    use jive_svc::db::{read_page, PAGE_FROM_START_SQL, PAGE_SQL};
    let app = spawn_app().await;
    let all = twenty_three(&app).await;
    let mut conn = app.state.core.db.conn().await.unwrap();
    for limit in [1_usize, 4, 10, 23, 100] {
        for offset in 0..=26_usize {
            let want: Vec<String> = all.iter().skip(offset).take(limit).cloned().collect();
            for sql in [PAGE_SQL, PAGE_FROM_START_SQL] {
                let (users, total) = read_page(
                    &mut conn,
                    sql,
                    ORG,
                    i64::try_from(limit).unwrap(),
                    i64::try_from(offset).unwrap(),
                )
                .await
                .unwrap();
                assert_eq!(total, 23);
                let got: Vec<String> = users.into_iter().map(|u| u.id).collect();
                assert_eq!(got, want, "{limit} at {offset}");
            }
        }
    }
    for sql in [PAGE_SQL, PAGE_FROM_START_SQL] {
        let (users, total) = read_page(&mut conn, sql, ORG, 10, i64::MAX).await.unwrap();
        assert_eq!((users.len(), total), (0, 23));
    }
}
