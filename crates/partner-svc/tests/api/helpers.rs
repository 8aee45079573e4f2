use partner_svc::app;
use partner_svc::db::{self, NewUser};
use partner_svc::state::AppState;
use partner_svc::{Config, INFO};
use serde_json::{json, Value};
use test_support::{TestDb, TestServer};
use user_core::db::Db;
use user_core::Secret;

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "admin-password-123";
pub const PASSWORD: &str = "user-password-1";

pub const ALL: &[&str] = &[
    "users.read",
    "users.create",
    "users.update",
    "users.delete",
    "partners.all",
];
/// Every permission but `partners.all`: a partner's own manager.
pub const MANAGER: &[&str] = &["users.read", "users.create", "users.update", "users.delete"];

pub struct TestApp {
    pub server: TestServer,
    pub state: AppState,
    pub db: TestDb,
    /// The ids of the bootstrap partners "Alpha" and "Beta".
    pub alpha: i64,
    pub beta: i64,
    pub http: reqwest::Client,
    hash: String,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    let test_db = TestDb::new().await;
    let settings = test_support::settings(INFO, &test_db, extra);
    let database = Db::new(&settings).unwrap();
    database.migrate(db::MIGRATIONS).await.unwrap();
    let state = partner_svc::state(settings, database).await.unwrap();
    let config = Config {
        bootstrap_partners: Some("Alpha, Beta".into()),
        bootstrap_admin_email: Some(ADMIN_EMAIL.into()),
        bootstrap_admin_password: Some(Secret::new(ADMIN_PASSWORD)),
    };
    partner_svc::bootstrap::apply(&state, &config)
        .await
        .unwrap();
    let mut conn = state.core.db.conn().await.unwrap();
    let alpha = db::ensure_partner(&mut conn, "Alpha").await.unwrap();
    let beta = db::ensure_partner(&mut conn, "Beta").await.unwrap();
    drop(conn);
    let for_server = state.clone();
    let server = test_support::spawn(move || app::build(for_server.clone()));
    let hash = bcrypt::hash(PASSWORD, 4).unwrap();
    TestApp {
        server,
        state,
        db: test_db,
        alpha,
        beta,
        http: test_support::client(),
        hash,
    }
}

pub fn users_path(partner: i64) -> String {
    format!("/api/internal/v1/partners/{partner}/users")
}

pub fn user_path(partner: i64, user: i64) -> String {
    format!("/api/internal/v1/partners/{partner}/users/{user}")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.http
            .post(self.url("/api/internal/v1/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap()
    }

    pub async fn token(&self, email: &str, password: &str) -> String {
        let res = self.login(email, password).await;
        assert_eq!(res.status(), 200, "login of {email}");
        test_support::json(res).await["data"]["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub async fn admin_token(&self) -> String {
        self.token(ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    /// A user stored directly (password [`PASSWORD`]), member of `partners`, holding `perms`.
    pub async fn seed_user(&self, email: &str, perms: &[&str], partners: &[i64]) -> i64 {
        self.seed_named(email, "Test", "User", perms, partners)
            .await
    }

    pub async fn seed_named(
        &self,
        email: &str,
        first: &str,
        last: &str,
        perms: &[&str],
        partners: &[i64],
    ) -> i64 {
        let mut conn = self.state.core.db.conn().await.unwrap();
        let new = NewUser {
            first_name: first.into(),
            last_name: last.into(),
            email: email.into(),
            password_hash: self.hash.clone(),
            permissions: perms.iter().map(|p| (*p).to_owned()).collect(),
        };
        let (first_partner, rest) = partners.split_first().unwrap();
        let user = db::insert_member(&mut conn, *first_partner, new)
            .await
            .unwrap();
        for p in rest {
            assert_eq!(
                db::attach(&mut conn, *p, user.id).await.unwrap(),
                Some(true)
            );
        }
        user.id
    }

    /// A user with `perms` in `partners`, logged in: (id, token).
    pub async fn caller(&self, email: &str, perms: &[&str], partners: &[i64]) -> (i64, String) {
        let id = self.seed_user(email, perms, partners).await;
        (id, self.token(email, PASSWORD).await)
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut req = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            req = req.json(body);
        }
        req.send().await.unwrap()
    }

    pub async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.send(reqwest::Method::GET, token, path, None).await
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> reqwest::Response {
        self.send(reqwest::Method::POST, token, path, Some(body))
            .await
    }

    pub async fn put(&self, token: &str, path: &str, body: &Value) -> reqwest::Response {
        self.send(reqwest::Method::PUT, token, path, Some(body))
            .await
    }

    pub async fn delete(&self, token: &str, path: &str) -> reqwest::Response {
        self.send(reqwest::Method::DELETE, token, path, None).await
    }

    /// Runs raw SQL on the test database (in the service's schema).
    pub async fn sql(&self, statement: &str) {
        use diesel_async::SimpleAsyncConnection;
        let mut conn = self.db.conn("partner").await;
        conn.batch_execute(statement).await.unwrap();
    }

    /// (id, email, password hash, permissions) of every stored user, by id.
    pub async fn stored_users(&self) -> Vec<(i64, String, String, Vec<String>)> {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use partner_svc::db::schema::users;
        let mut conn = self.db.conn("partner").await;
        users::table
            .order(users::id)
            .select((
                users::id,
                users::email,
                users::password_hash,
                users::permissions,
            ))
            .load(&mut conn)
            .await
            .unwrap()
    }

    /// The stored permissions of `user`.
    pub async fn permissions(&self, user: i64) -> Vec<String> {
        self.stored_users()
            .await
            .into_iter()
            .find(|u| u.0 == user)
            .unwrap()
            .3
    }

    /// The partner ids of `user`, by id.
    pub async fn memberships(&self, user: i64) -> Vec<i64> {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use partner_svc::db::schema::memberships;
        let mut conn = self.db.conn("partner").await;
        memberships::table
            .filter(memberships::user_id.eq(user))
            .order(memberships::partner_id)
            .select(memberships::partner_id)
            .load(&mut conn)
            .await
            .unwrap()
    }
}

/// `{"message": text}`.
pub fn message(text: &str) -> Value {
    json!({ "message": text })
}

pub fn unauthorized() -> Value {
    message("This action is unauthorized.")
}
