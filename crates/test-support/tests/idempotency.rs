//! `user_core::idempotency` against a real Postgres, on the table every service's migrations
//! make (agency's migration, read as it is): claims, replays, refusals, the lease a dead replica
//! leaves behind, a zombie that outlived its lease, and keys that expire.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: failing loudly is the point

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use actix_web::HttpMessage;
use diesel_async::{AsyncConnection, SimpleAsyncConnection};
use serde_json::json;
use test_support::TestDb;
use user_core::config::ServiceInfo;
use user_core::db::{Db, DbError};
use user_core::idempotency::{self, Answer, BeginError, Begun, Fingerprint, Refusal};

const INFO: ServiceInfo = ServiceInfo {
    name: "idempotency-test",
    schema: "idem_test",
    port: 0,
};
const TABLE: &str =
    include_str!("../../agency-svc/migrations/2026-12-03-000001_idempotency_keys/up.sql");
const TTL: i64 = 3600;

async fn setup() -> (TestDb, Db) {
    let test_db = TestDb::new().await;
    let mut conn = test_db.conn("public").await;
    conn.batch_execute(&format!(
        "CREATE SCHEMA idem_test; SET search_path TO idem_test; {TABLE}"
    ))
    .await
    .unwrap();
    let settings = test_support::settings(INFO, &test_db, &[]);
    (test_db, Db::new(&settings).unwrap())
}

fn keyed(key: &str, fingerprint: u8) -> Option<idempotency::Keyed> {
    let req = TestRequest::default()
        .insert_header(("idempotency-key", key))
        .to_http_request();
    req.extensions_mut().insert(Fingerprint(vec![fingerprint]));
    idempotency::key_of(&req).unwrap()
}

async fn begin(db: &Db, caller: &str, key: &str, fingerprint: u8) -> Result<Begun, BeginError> {
    idempotency::begin(db, caller, keyed(key, fingerprint), TTL).await
}

fn refused(result: Result<Begun, BeginError>) -> Refusal {
    match result {
        Err(BeginError::Refused(r)) => r,
        Err(e) => panic!("{e}"),
        Ok(Begun::Claimed(_)) => panic!("claimed"),
        Ok(Begun::Replay(_)) => panic!("replayed"),
        Ok(Begun::Unkeyed) => panic!("unkeyed"),
    }
}

fn claimed(result: Result<Begun, BeginError>) -> idempotency::Ticket {
    match result {
        Ok(Begun::Claimed(t)) => t,
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("not claimed"),
    }
}

async fn complete(db: &Db, ticket: &idempotency::Ticket, answer: &Answer) -> Result<(), DbError> {
    let mut conn = db.conn().await.unwrap();
    conn.transaction::<_, DbError, _>(async |conn| ticket.complete(conn, answer).await)
        .await
}

async fn sql(test_db: &TestDb, statement: &str) {
    let mut conn = test_db.conn("idem_test").await;
    conn.batch_execute(statement).await.unwrap();
}

#[tokio::test]
async fn a_completed_key_replays_and_refuses_another_request() {
    let (_test_db, db) = setup().await;
    let ticket = claimed(begin(&db, "alice", "k1", 1).await);
    assert_eq!(
        refused(begin(&db, "alice", "k1", 1).await),
        Refusal::InProgress
    );
    let answer = Answer::json(StatusCode::CREATED, &json!({"id": 7}))
        .tagged("user/7")
        .with_location("http://h/users/7".into());
    complete(&db, &ticket, &answer).await.unwrap();
    match begin(&db, "alice", "k1", 1).await.unwrap() {
        Begun::Replay(res) => {
            assert_eq!(res.status(), 201);
            assert_eq!(res.headers().get("idempotent-replayed").unwrap(), "true");
            assert_eq!(res.headers().get("location").unwrap(), "http://h/users/7");
            assert_eq!(
                res.headers().get("etag").unwrap().to_str().unwrap(),
                answer.etag.as_deref().unwrap()
            );
            let body = actix_web::body::to_bytes(res.into_body()).await.unwrap();
            assert_eq!(body.as_ref(), br#"{"id":7}"#);
        }
        _ => panic!("no replay"),
    }
    assert_eq!(refused(begin(&db, "alice", "k1", 2).await), Refusal::Reused);
    // another caller's key of the same name is its own
    claimed(begin(&db, "bob", "k1", 2).await);
    assert!(matches!(
        idempotency::begin(&db, "alice", None, TTL).await.unwrap(),
        Begun::Unkeyed
    ));
}

#[tokio::test]
async fn a_released_key_may_be_used_again() {
    let (_test_db, db) = setup().await;
    let ticket = claimed(begin(&db, "alice", "k", 1).await);
    ticket.release(&db).await.unwrap();
    claimed(begin(&db, "alice", "k", 2).await);
}

#[tokio::test]
async fn a_dead_claim_is_taken_over_after_its_lease_and_its_zombie_cannot_complete() {
    let (test_db, db) = setup().await;
    let zombie = claimed(begin(&db, "alice", "k", 1).await);
    assert_eq!(
        refused(begin(&db, "alice", "k", 1).await),
        Refusal::InProgress
    );
    // the lease (60 s) runs out
    sql(
        &test_db,
        "UPDATE idempotency_keys SET locked_until = now() - interval '1 second'",
    )
    .await;
    let heir = claimed(begin(&db, "alice", "k", 1).await);
    let answer = Answer::json(StatusCode::CREATED, &json!({"who": "zombie"}));
    let err = complete(&db, &zombie, &answer).await.unwrap_err();
    assert!(matches!(err, DbError::Unavailable(_)), "{err}");
    let answer = Answer::json(StatusCode::CREATED, &json!({"who": "heir"}));
    complete(&db, &heir, &answer).await.unwrap();
    match begin(&db, "alice", "k", 1).await.unwrap() {
        Begun::Replay(res) => {
            let body = actix_web::body::to_bytes(res.into_body()).await.unwrap();
            assert_eq!(body.as_ref(), br#"{"who":"heir"}"#);
        }
        _ => panic!("no replay"),
    }
}

#[tokio::test]
async fn keys_are_forgotten_after_the_ttl() {
    let (test_db, db) = setup().await;
    let ticket = claimed(begin(&db, "alice", "old", 1).await);
    complete(&db, &ticket, &Answer::json(StatusCode::CREATED, &json!({})))
        .await
        .unwrap();
    for n in 0..30 {
        let t = claimed(begin(&db, "bob", &format!("k{n}"), 1).await);
        complete(&db, &t, &Answer::json(StatusCode::CREATED, &json!({})))
            .await
            .unwrap();
    }
    sql(
        &test_db,
        &format!(
            "UPDATE idempotency_keys SET created_at = now() - interval '{} seconds'",
            TTL + 1
        ),
    )
    .await;
    // the same key with another request is a new claim, not a refusal, and it completes
    let renewed = claimed(begin(&db, "alice", "old", 2).await);
    complete(
        &db,
        &renewed,
        &Answer::json(StatusCode::CREATED, &json!({"new": true})),
    )
    .await
    .unwrap();
    assert!(matches!(
        begin(&db, "alice", "old", 2).await.unwrap(),
        Begun::Replay(_)
    ));
    // and each claim prunes some of the expired rows
    let mut conn = test_db.conn("idem_test").await;
    use diesel::sql_types::BigInt;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let left: Count = diesel_async::RunQueryDsl::get_result(
        diesel::sql_query("SELECT count(*) AS n FROM idempotency_keys"),
        &mut conn,
    )
    .await
    .unwrap();
    assert!(left.n < 31, "expired rows are pruned: {}", left.n);
}
