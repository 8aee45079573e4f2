use agency_svc::app;
use agency_svc::state::AppState;
use agency_svc::{admin, db, Config, INFO};
use serde_json::{json, Value};
use test_support::{TestDb, TestServer};
use user_core::db::Db;
use user_core::Secret;

pub const CLIENT_ID: &str = "test-client";
pub const CLIENT_SECRET: &str = "test-client-secret-0123456789abcdef";

pub struct TestApp {
    pub server: TestServer,
    pub state: AppState,
    pub db: TestDb,
    pub agencies: Vec<i64>,
    pub http: reqwest::Client,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    let test_db = TestDb::new().await;
    let settings = test_support::settings(INFO, &test_db, extra);
    let database = Db::new(&settings).unwrap();
    database.migrate(db::MIGRATIONS).await.unwrap();
    let state = agency_svc::state(settings, database).await.unwrap();
    let config = Config {
        bootstrap_agency_group: Some("Group One".into()),
        bootstrap_agencies: Some("Oslo,Bergen".into()),
        bootstrap_client_id: Some(CLIENT_ID.into()),
        bootstrap_client_secret: Some(Secret::new(CLIENT_SECRET)),
    };
    agency_svc::bootstrap::apply(&state, &config).await.unwrap();
    let mut conn = state.core.db.conn().await.unwrap();
    let (group, _) = db::ensure_group(&mut conn, "Group One").await.unwrap();
    let agencies = db::agencies_of_group(&mut conn, group)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    drop(conn);
    let for_server = state.clone();
    let server = test_support::spawn(move || app::build(for_server.clone()));
    TestApp {
        server,
        state,
        db: test_db,
        agencies,
        http: test_support::client(),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    pub async fn token_for(&self, id: &str, secret: &str) -> String {
        let res = self
            .http
            .post(self.url("/oauth/token"))
            .json(&json!({"grant_type":"client_credentials","client_id":id,"client_secret":secret}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        test_support::json(res).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn token(&self) -> String {
        self.token_for(CLIENT_ID, CLIENT_SECRET).await
    }

    /// A second agency group with one agency and a client: (agency id, client id, secret).
    pub async fn other_group(&self) -> (i64, String, String) {
        let mut conn = self.state.core.db.conn().await.unwrap();
        let group = db::create_group(&mut conn, "Group Two").await.unwrap();
        let agency = db::create_agency(&mut conn, group, "Trondheim")
            .await
            .unwrap();
        let (id, secret) = admin::new_client(&mut conn, &self.state.core.hasher, group, "other")
            .await
            .unwrap();
        (agency, id, secret)
    }

    pub async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: &Value,
    ) -> reqwest::Response {
        self.http
            .request(method, self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn create_user(&self, token: &str, agency: i64, body: &Value) -> reqwest::Response {
        self.send(
            reqwest::Method::POST,
            token,
            &format!("/agency/{agency}/user"),
            body,
        )
        .await
    }

    /// The stored users of the database, as (email, password hash) rows.
    pub async fn stored_users(&self) -> Vec<(String, Option<String>)> {
        use agency_svc::db::schema::users;
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        let mut conn = self.db.conn("agency").await;
        users::table
            .order(users::id)
            .select((users::email, users::password_hash))
            .load(&mut conn)
            .await
            .unwrap()
    }
}
