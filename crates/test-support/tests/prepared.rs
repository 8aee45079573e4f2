//! `user_core::db::prepared` against a real Postgres: the statement is prepared once per
//! connection and reused (it is in `pg_prepared_statements`), where `diesel::sql_query` is
//! prepared anew on every call (it is not), and its values arrive as bound.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: failing loudly is the point

use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;
use test_support::TestDb;
use user_core::db::prepared;

#[derive(diesel::QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Text)]
    s: String,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    prepared: i64,
}

const SQL: &str = "SELECT $1::bigint + $1::bigint + 1 AS n, $2::text || '!' AS s";
const COUNT: &str = "SELECT count(*) AS prepared FROM pg_prepared_statements \
     WHERE statement LIKE $1";

async fn prepared_like(conn: &mut diesel_async::AsyncPgConnection, pattern: &str) -> i64 {
    diesel::sql_query(COUNT)
        .bind::<Text, _>(pattern)
        .get_result::<Count>(conn)
        .await
        .unwrap()
        .prepared
}

#[tokio::test]
async fn a_prepared_statement_is_prepared_once_and_gets_its_values() {
    let db = TestDb::new().await;
    let mut conn = db.conn("public").await;
    for i in 0..3_i64 {
        let row: Row = prepared(SQL)
            .bind::<BigInt, _>(i)
            .bind::<Text, _>(format!("v{i}"))
            .get_result(&mut conn)
            .await
            .unwrap();
        assert_eq!((row.n, row.s), (2 * i + 1, format!("v{i}!")));
    }
    assert_eq!(
        prepared_like(&mut conn, "%$1::bigint + $1::bigint + 1%").await,
        1
    );
    // the same text through sql_query: never kept
    let other = "SELECT $1::bigint * 7 AS n, $2::text AS s";
    for _ in 0..3 {
        diesel::sql_query(other)
            .bind::<BigInt, _>(1_i64)
            .bind::<Text, _>("x")
            .get_result::<Row>(&mut conn)
            .await
            .unwrap();
    }
    assert_eq!(prepared_like(&mut conn, "%$1::bigint * 7%").await, 0);
}
