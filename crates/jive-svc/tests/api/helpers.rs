use jive_svc::app;
use jive_svc::state::AppState;
use jive_svc::{db, ids, Config, INFO};
use serde_json::{json, Value};
use test_support::{TestDb, TestServer};
use user_core::config::Settings;
use user_core::db::Db;
use user_core::Secret;

pub const ORG: &str = "54b53d3aeba6db5c35000002";
pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_KEY: &str = "test-admin-key-0123456789abcdef0123";

pub struct TestApp {
    pub server: TestServer,
    pub state: AppState,
    pub settings: Settings,
    /// Kept for its `Drop` (the database goes with the app).
    pub _db: TestDb,
    pub http: reqwest::Client,
    pub admin_id: String,
}

/// The app on a fresh database, bootstrapped with org [`ORG`] and its admin ([`ADMIN_KEY`]).
pub async fn spawn_app() -> TestApp {
    start(TestDb::new().await).await
}

/// The app on `test_db` (what it holds already kept: an instance a test has filled first),
/// bootstrapped with org [`ORG`] and its admin ([`ADMIN_KEY`]), which bootstrap creates only
/// when no user has that key.
pub async fn start(test_db: TestDb) -> TestApp {
    let settings = test_support::settings(INFO, &test_db, &[]);
    let database = Db::new(&settings).unwrap();
    database.migrate(db::MIGRATIONS).await.unwrap();
    let state = jive_svc::state(settings.clone(), database).await.unwrap();
    let config = Config {
        bootstrap_org_id: Some(ORG.into()),
        bootstrap_admin_email: Some(ADMIN_EMAIL.into()),
        bootstrap_admin_access_key: Some(Secret::new(ADMIN_KEY)),
    };
    jive_svc::bootstrap::apply(&state, &config).await.unwrap();
    let admin_id = {
        let mut conn = state.core.db.conn().await.unwrap();
        db::principal_by_key(&mut conn, ADMIN_KEY)
            .await
            .unwrap()
            .unwrap()
            .user_id
    };
    let for_server = state.clone();
    let server = test_support::spawn(move || app::build(for_server.clone()));
    TestApp {
        server,
        state,
        settings,
        _db: test_db,
        http: test_support::client(),
        admin_id,
    }
}

/// A second replica on the same database, with its own key cache.
pub async fn spawn_replica(app: &TestApp) -> (TestServer, AppState) {
    let database = Db::new(&app.settings).unwrap();
    database.migrate(db::MIGRATIONS).await.unwrap();
    let state = jive_svc::state(app.settings.clone(), database)
        .await
        .unwrap();
    let for_server = state.clone();
    (
        test_support::spawn(move || app::build(for_server.clone())),
        state,
    )
}

pub struct Res {
    pub status: u16,
    pub location: Option<String>,
    pub body: Value,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        key: Option<&str>,
        path: &str,
        body: Option<Value>,
    ) -> Res {
        send(&self.http, method, key, &self.url(path), body).await
    }

    pub async fn get(&self, key: &str, path: &str) -> Res {
        self.call(reqwest::Method::GET, Some(key), path, None).await
    }

    pub async fn post(&self, key: &str, path: &str, body: Value) -> Res {
        self.call(reqwest::Method::POST, Some(key), path, Some(body))
            .await
    }

    pub async fn put(&self, key: &str, path: &str, body: Value) -> Res {
        self.call(reqwest::Method::PUT, Some(key), path, Some(body))
            .await
    }

    pub async fn delete(&self, key: &str, path: &str) -> Res {
        self.call(reqwest::Method::DELETE, Some(key), path, None)
            .await
    }

    /// Creates a user through the API as `key`; returns its id (from `Location`).
    pub async fn create(&self, key: &str, body: Value) -> String {
        let res = self.post(key, "/api/users", body).await;
        assert_eq!(res.status, 200, "{:?}", res.body);
        let location = res.location.unwrap();
        location.rsplit('/').next().unwrap().to_owned()
    }

    /// A user stored directly (no bcrypt): returns (id, access key).
    pub async fn seed(&self, org: &str, email: &str, permissions: Value) -> (String, String) {
        let mut conn = self.state.core.db.conn().await.unwrap();
        let id = ids::object_id();
        let key = user_core::secret::random_hex(16);
        db::insert_user(
            &mut conn,
            db::NewUser {
                id: id.clone(),
                org_id: org.to_owned(),
                first_name: "Seed".into(),
                last_name: "User".into(),
                email_address: email.to_owned(),
                password_hash: "not-a-hash".into(),
                active: true,
                access_key: key.clone(),
                user_permissions: permissions,
            },
        )
        .await
        .unwrap();
        (id, key)
    }

    /// Another org with an admin: (org id, admin id, admin key).
    pub async fn other_org(&self) -> (String, String, String) {
        let org = ids::object_id();
        let mut conn = self.state.core.db.conn().await.unwrap();
        db::create_org(&mut conn, &org, "Other").await.unwrap();
        drop(conn);
        let (id, key) = self
            .seed(&org, "boss@other.example", json!({"IsAdmin":"admin"}))
            .await;
        (org, id, key)
    }

    pub async fn password_hash(&self, id: &str) -> String {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use jive_svc::db::schema::users;
        let mut conn = self.state.core.db.conn().await.unwrap();
        users::table
            .find(id)
            .select(users::password_hash)
            .first(&mut conn)
            .await
            .unwrap()
    }

    pub async fn user_count(&self) -> i64 {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use jive_svc::db::schema::users;
        let mut conn = self.state.core.db.conn().await.unwrap();
        users::table.count().get_result(&mut conn).await.unwrap()
    }
}

pub async fn send(
    http: &reqwest::Client,
    method: reqwest::Method,
    key: Option<&str>,
    url: &str,
    body: Option<Value>,
) -> Res {
    let mut req = http.request(method, url);
    if let Some(key) = key {
        req = req.header("authorization", key);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = test_support::json(res).await;
    Res {
        status,
        location,
        body,
    }
}

/// The ids in a `GET /api/users` answer, in its order.
pub fn ids(body: &Value) -> Vec<String> {
    body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The Tyk error envelope.
pub fn error(message: &str) -> Value {
    json!({"Status":"Error","Message":message,"Meta":null})
}

/// The Tyk success envelope.
pub fn ok(message: &str) -> Value {
    json!({"Status":"OK","Message":message,"Meta":""})
}

pub const DENIED: &str = "access denied: You do not have permission to access /api/users";
pub const NOT_AUTHORISED: &str = "Not authorised";
pub const NO_USER: &str = "Could not retrieve user detail.";
