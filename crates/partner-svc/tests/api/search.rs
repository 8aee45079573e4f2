use crate::helpers::*;
use serde_json::{json, Value};
use std::time::Instant;
use test_support::json;

async fn ids_for(app: &TestApp, token: &str, partner: i64, search: &str) -> Vec<i64> {
    let res = app
        .http
        .get(app.url(&users_path(partner)))
        .query(&[("search", search)])
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = json(res).await;
    assert_eq!(
        body["meta"]["total"],
        body["data"].as_array().unwrap().len()
    );
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn search_is_case_insensitive_on_each_field_and_first_last() {
    let app = spawn_app().await;
    let john = app
        .seed_named("jdoe@Acme.test", "John", "Doe", &[], &[app.alpha])
        .await;
    let jane = app
        .seed_named("jane@roe.example", "Jane", "Roe", &[], &[app.alpha])
        .await;
    let ase = app
        .seed_named("ase@fjord.no", "Åse", "Ødegård", &[], &[app.alpha])
        .await;
    let pct = app
        .seed_named("pct@odd.test", "Per_cent", "100%", &[], &[app.alpha])
        .await;
    // A John Doe in another partner never shows up in Alpha.
    app.seed_named("other@acme.test", "John", "Doe", &[], &[app.beta])
        .await;
    let token = app.admin_token().await;
    let a = app.alpha;
    for (term, want) in [
        ("john", vec![john]), // first name
        ("JOHN", vec![john]),
        ("dOe", vec![john]),       // last name
        ("ACME.TEST", vec![john]), // email
        ("jdoe@acme", vec![john]),
        ("John Doe", vec![john]), // "first last"
        ("hn do", vec![john]),
        ("  jane roe ", vec![jane]), // trimmed
        ("ja", vec![jane]),          // shorter than a trigram still works
        ("åse ødeg", vec![ase]),     // non-ASCII lower-casing
        ("ØDEGÅRD", vec![ase]),
        ("Doe John", vec![]), // not "last first"
        ("%", vec![pct]),     // wildcards are literal
        ("r_c", vec![pct]),
        ("_", vec![pct]),
        ("nobody", vec![]),
        ("jo\0hn", vec![]), // a NUL (found by the fuzzer: it was a 500)
        ("\0", vec![]),
    ] {
        assert_eq!(
            ids_for(&app, &token, a, term).await,
            want,
            "search={term:?}"
        );
    }
    // Every user when the term is empty.
    assert_eq!(
        ids_for(&app, &token, a, "").await,
        vec![john, jane, ase, pct]
    );
}

#[tokio::test]
async fn search_pages_keep_the_term_in_links() {
    let app = spawn_app().await;
    for i in 0..7 {
        app.seed_named(
            &format!("s{i}@example.com"),
            "Smith",
            &format!("No{i}"),
            &[],
            &[app.alpha],
        )
        .await;
        app.seed_named(
            &format!("o{i}@example.com"),
            "Other",
            "Person",
            &[],
            &[app.alpha],
        )
        .await;
    }
    let token = app.admin_token().await;
    let path = users_path(app.alpha);
    let base = app.url(&path);
    let res = app
        .get(&token, &format!("{path}?search=SMITH&per_page=3&page=3"))
        .await;
    let body = json(res).await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"][0]["last_name"], "No6");
    assert_eq!(
        body["meta"],
        json!({"current_page":3,"from":7,"last_page":3,"path":base,"per_page":3,"to":7,"total":7})
    );
    assert_eq!(
        body["links"],
        json!({"first": format!("{base}?search=SMITH&per_page=3&page=1"),
               "last": format!("{base}?search=SMITH&per_page=3&page=3"),
               "prev": format!("{base}?search=SMITH&per_page=3&page=2"),
               "next": Value::Null})
    );
}

/// The search text lives on the memberships (a copy kept by triggers): a rename or a new email
/// is searchable at once in every partner of the user, the old text no longer is, and a user
/// attached to another partner later is found there by its current text.
#[tokio::test]
async fn search_follows_renames_and_attaches() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let (a, b) = (app.alpha, app.beta);
    let id = app
        .seed_named("ola@old.example", "Ola", "Nordmann", &[], &[a])
        .await;
    assert_eq!(ids_for(&app, &token, a, "nordmann").await, vec![id]);
    let res = app
        .put(
            &token,
            &user_path(a, id),
            &json!({"last_name":"Fjellheim","email":"ola@new.example"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(ids_for(&app, &token, a, "nordmann").await.is_empty());
    assert!(ids_for(&app, &token, a, "old.example").await.is_empty());
    assert_eq!(ids_for(&app, &token, a, "ola fjellheim").await, vec![id]);
    assert_eq!(ids_for(&app, &token, a, "NEW.example").await, vec![id]);
    // Attached to Beta by email (other names in the body are ignored): found by its text.
    let res = app
        .post(
            &token,
            &users_path(b),
            &json!({"first_name":"X","last_name":"Y","email":"OLA@new.example","password":"whatever-pw-1"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(ids_for(&app, &token, b, "fjellheim").await, vec![id]);
    assert!(ids_for(&app, &token, b, "x y").await.is_empty());
    // A rename reaches both partners' copies.
    let res = app
        .put(&token, &user_path(b, id), &json!({"first_name":"Åsmund"}))
        .await;
    assert_eq!(res.status(), 200);
    for partner in [a, b] {
        assert_eq!(
            ids_for(&app, &token, partner, "åsmund fjell").await,
            vec![id]
        );
        assert!(ids_for(&app, &token, partner, "ola fjell").await.is_empty());
    }
}

/// 100 000 users in one partner, loaded with SQL; the exact search queries the service runs
/// are explained and must be served by the trigram index, and the API answers a search.
/// Prints the plans and timings (`cargo test -p partner-svc search_at_100k -- --nocapture`).
#[tokio::test]
async fn search_at_100k_users_uses_the_trigram_index_on_memberships() {
    use diesel::sql_types::{BigInt, Text};
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct PlanLine {
        #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
        line: String,
    }
    let app = spawn_app().await;
    let started = Instant::now();
    app.sql(&format!(
        "INSERT INTO users (first_name, last_name, email, password_hash)
         SELECT 'First' || g, 'Last' || g, 'user' || g || '@example.com', 'x'
         FROM generate_series(1, 100000) AS g;
         INSERT INTO memberships (partner_id, user_id)
         SELECT {}, id FROM users WHERE email LIKE 'user%@example.com';
         ANALYZE users; ANALYZE memberships;",
        app.alpha
    ))
    .await;
    println!("loaded 100 000 users in {:?}", started.elapsed());
    let mut conn = app.db.conn("partner").await;
    let search = partner_svc::db::Search::new(
        "First12345 Last",
        &user_core::search::TrigramStats::default(),
    );
    let mut plans = Vec::new();
    for (name, sql, with_page) in [
        ("page", partner_svc::db::SEARCH_PAGE_SQL, true),
        ("count", partner_svc::db::SEARCH_COUNT_SQL, false),
        (
            "page, large partner",
            partner_svc::db::SEARCH_PAGE_LARGE_SQL,
            true,
        ),
        (
            "count, large partner",
            partner_svc::db::SEARCH_COUNT_LARGE_SQL,
            false,
        ),
    ] {
        let explain = format!("EXPLAIN (ANALYZE, BUFFERS) {sql}");
        let query = diesel::sql_query(explain)
            .bind::<BigInt, _>(app.alpha)
            .bind::<Text, _>(&search.pattern)
            .bind::<Text, _>(&search.filter);
        let lines: Vec<PlanLine> = if with_page {
            query
                .bind::<BigInt, _>(20_i64)
                .bind::<BigInt, _>(0_i64)
                .load(&mut conn)
                .await
                .unwrap()
        } else {
            query.load(&mut conn).await.unwrap()
        };
        let plan: Vec<String> = lines.into_iter().map(|l| l.line).collect();
        println!("-- {name} query plan --\n{}", plan.join("\n"));
        assert!(
            plan.iter()
                .any(|l| l.contains("Bitmap Index Scan on memberships_search_idx")),
            "{name} not served by the trigram index:\n{}",
            plan.join("\n")
        );
        assert!(
            !plan.iter().any(|l| l.contains("Seq Scan")),
            "{name} scans a table:\n{}",
            plan.join("\n")
        );
        plans.push(plan);
    }
    let token = app.admin_token().await;
    let path = users_path(app.alpha);
    for term in ["First12345 Last", "user99999@", "LAST4242"] {
        let t = Instant::now();
        let res = app
            .http
            .get(app.url(&path))
            .query(&[("search", term)])
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let elapsed = t.elapsed();
        assert_eq!(res.status(), 200);
        let body = json(res).await;
        println!(
            "GET ?search={term:?}: {} matches in {elapsed:?}",
            body["meta"]["total"]
        );
        assert!(body["meta"]["total"].as_i64().unwrap() >= 1);
    }
    let t = Instant::now();
    let body = json(app.get(&token, &format!("{path}?page=2500")).await).await;
    println!("GET ?page=2500 (no search) in {:?}", t.elapsed());
    assert_eq!(body["meta"]["total"], 100_000);
    assert_eq!(body["data"].as_array().unwrap().len(), 20);
    // The last page is read backward from the end, on the memberships' primary key alone.
    let explain = format!("EXPLAIN (ANALYZE) {}", partner_svc::db::PAGE_SQL);
    let lines: Vec<PlanLine> = diesel::sql_query(explain)
        .bind::<BigInt, _>(app.alpha)
        .bind::<BigInt, _>(20_i64)
        .bind::<BigInt, _>(99_980_i64)
        .load(&mut conn)
        .await
        .unwrap();
    let plan: Vec<String> = lines.into_iter().map(|l| l.line).collect();
    println!("-- last page plan --\n{}", plan.join("\n"));
    assert!(
        plan.iter()
            .any(|l| l.contains("Index Only Scan Backward") && !l.contains("never executed")),
        "the last page is not read backward:\n{}",
        plan.join("\n")
    );
    assert!(!plan.iter().any(|l| l.contains("Seq Scan")));
    // One plan for every page: planned without its values, the page costs what it costs with
    // them, so Postgres keeps that plan from the sixth call instead of planning every page.
    let missing = app.alpha + 1_000_000;
    let calls = [
        format!("{}, 20, 0", app.alpha),
        format!("{}, 20, 20", app.alpha),
        format!("{}, 20, 99980", app.alpha),
        format!("{}, 100, 50000", app.alpha),
        format!("{}, 20, 0", app.beta),
        format!("{missing}, 20, 0"),
    ];
    for sql in [
        partner_svc::db::PAGE_SQL,
        partner_svc::db::PAGE_FROM_START_SQL,
    ] {
        test_support::plans::assert_generic_plan_costs_no_more(
            &mut conn,
            sql,
            "bigint, bigint, bigint",
            &calls,
        )
        .await;
    }
    let mut pooled = app.state.core.db.conn().await.unwrap();
    for page in 0..8 {
        let listed = partner_svc::db::users_page(&mut pooled, app.alpha, None, 20, page * 20)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(listed.1, 100_000);
    }
    let (generic, custom) =
        test_support::plans::generic_and_custom_plans(&mut pooled, "OFFSET t.off) p ON true").await;
    assert!(
        generic >= 2 && custom <= 6,
        "{generic} generic, {custom} custom plans"
    );
    let last = json(app.get(&token, &format!("{path}?page=5000")).await).await;
    let ids: Vec<i64> = last["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 20);
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(last["meta"]["total"], 100_000);
    assert_eq!(last["meta"]["to"], 100_000);
    // With a trigram sample, the index is given the rare part of a term, and the answers are
    // still exactly the rows the whole term matches (checked against a plain LIKE count).
    let sample = app
        .state
        .search_sample
        .renew(partner_svc::db::search_sample(&mut conn))
        .await
        .unwrap();
    assert!(
        sample.texts() >= user_core::search::MIN_SAMPLE,
        "{}",
        sample.texts()
    );
    let narrowed = partner_svc::db::Search::new("user99999@example.com", &sample);
    assert!(
        narrowed.pattern.contains("99999") && narrowed.pattern.len() < 15,
        "{narrowed:?}"
    );
    for term in [
        "user99999@example.com",
        "First4242 Last4242",
        "last12",
        "irst9",
        "@example",
        "zzz",
    ] {
        let search = partner_svc::db::Search::new(term, &sample);
        let expected: i64 = {
            #[derive(diesel::QueryableByName)]
            struct N {
                #[diesel(sql_type = BigInt)]
                n: i64,
            }
            diesel::sql_query(
                "SELECT count(*) AS n FROM memberships WHERE partner_id = $1 AND search LIKE $2",
            )
            .bind::<BigInt, _>(app.alpha)
            .bind::<Text, _>(partner_svc::db::contains_pattern(term))
            .get_result::<N>(&mut conn)
            .await
            .unwrap()
            .n
        };
        let res = app
            .http
            .get(app.url(&path))
            .query(&[("search", term)])
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let body = json(res).await;
        println!(
            "{term:?}: index pattern {:?}, {expected} matches",
            search.pattern
        );
        assert_eq!(body["meta"]["total"], expected, "{term}");
    }
}
