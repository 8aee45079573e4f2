use reqwest::Method;
use serde_json::{json, Value};
use test_support::{TestDb, TestServer};
use user_core::db::Db;
use user_core::values::Password;
use virtool_svc::app;
use virtool_svc::db::{self, NewUser};
use virtool_svc::state::AppState;
use virtool_svc::{Config, INFO};

pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "admin-password-1";
/// The password `add_user` gives everyone.
pub const PASSWORD: &str = "hello_world";

pub struct TestApp {
    pub server: TestServer,
    pub state: AppState,
    pub db: TestDb,
    pub http: reqwest::Client,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[], Config::default()).await
}

/// An app with extra common variables and the service's own config; the bootstrap
/// administrator `admin` is always created.
pub async fn spawn_app_with(extra: &[(&str, &str)], mut config: Config) -> TestApp {
    let test_db = TestDb::new().await;
    let settings = test_support::settings(INFO, &test_db, extra);
    let database = Db::new(&settings).unwrap();
    database.migrate(db::MIGRATIONS).await.unwrap();
    config.bootstrap_admin_user = Some(ADMIN.into());
    config.bootstrap_admin_password = Some(user_core::Secret::new(ADMIN_PASSWORD));
    let state = virtool_svc::state(settings, database, &config)
        .await
        .unwrap();
    virtool_svc::bootstrap::apply(&state, &config)
        .await
        .unwrap();
    let for_server = state.clone();
    let server = test_support::spawn(move || app::build(for_server.clone()));
    TestApp {
        server,
        state,
        db: test_db,
        http: test_support::client(),
    }
}

/// Every permission set to `value`, or the named ones true.
pub fn perms(on: &[&str]) -> Value {
    let mut map = serde_json::Map::new();
    for name in virtool_svc::permissions::NAMES {
        map.insert(name.to_owned(), Value::Bool(on.contains(&name)));
    }
    Value::Object(map)
}

pub fn all_perms() -> Value {
    perms(&virtool_svc::permissions::NAMES)
}

pub fn identicon(id: &str) -> String {
    virtool_svc::wire::identicon(id)
}

/// A stored user row: (force_reset, primary_group, last_password_change, password_hash).
pub type StoredUser = (bool, Option<String>, chrono::DateTime<chrono::Utc>, String);

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    pub async fn login(&self, user: &str, password: &str) -> reqwest::Response {
        self.http
            .post(self.url("/api/account/login"))
            .json(&json!({"username": user, "password": password}))
            .send()
            .await
            .unwrap()
    }

    pub async fn token_for(&self, user: &str, password: &str) -> String {
        let res = self.login(user, password).await;
        assert_eq!(res.status(), 200);
        let body = test_support::json(res).await;
        body["token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {body}"))
            .to_owned()
    }

    pub async fn admin_token(&self) -> String {
        self.token_for(ADMIN, ADMIN_PASSWORD).await
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
        method: Method,
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

    pub async fn delete(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Stores a user directly (password [`PASSWORD`], no forced reset) in `groups`.
    pub async fn add_user(&self, id: &str, groups: &[&str]) {
        let hash = self
            .state
            .core
            .hasher
            .hash(&Password::new(PASSWORD, 8).unwrap())
            .await
            .unwrap();
        let mut conn = self.state.core.db.conn().await.unwrap();
        let new = NewUser {
            id: id.to_owned(),
            password_hash: hash,
            force_reset: false,
            primary_group: None,
        };
        db::insert_user(&mut conn, new, groups).await.unwrap();
    }

    /// Stores a group directly with the named permissions.
    pub async fn add_group(&self, id: &str, on: &[&str]) {
        let mut conn = self.state.core.db.conn().await.unwrap();
        db::insert_group(&mut conn, id).await.unwrap();
        let changes: Vec<(String, bool)> = on.iter().map(|p| ((*p).to_owned(), true)).collect();
        db::update_group(&mut conn, id, &changes, db::unconditional())
            .await
            .unwrap();
    }

    /// A user in a fresh group holding `manage_users` only, and its token.
    pub async fn manager(&self, id: &str) -> String {
        let group = format!("{id}_managers");
        self.add_group(&group, &["manage_users"]).await;
        self.add_user(id, &[&group]).await;
        self.token_for(id, PASSWORD).await
    }

    pub async fn stored_user(&self, id: &str) -> Option<StoredUser> {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use virtool_svc::db::schema::users;
        let mut conn = self.db.conn("virtool").await;
        users::table
            .find(id)
            .select((
                users::force_reset,
                users::primary_group,
                users::last_password_change,
                users::password_hash,
            ))
            .first(&mut conn)
            .await
            .optional()
            .unwrap()
    }

    pub async fn stored_groups_of(&self, id: &str) -> Vec<String> {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use virtool_svc::db::schema::memberships;
        let mut conn = self.db.conn("virtool").await;
        memberships::table
            .filter(memberships::user_id.eq(id))
            .order(memberships::group_id)
            .select(memberships::group_id)
            .load(&mut conn)
            .await
            .unwrap()
    }

    pub async fn stored_user_ids(&self) -> Vec<String> {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use virtool_svc::db::schema::users;
        let mut conn = self.db.conn("virtool").await;
        users::table
            .order(users::id)
            .select(users::id)
            .load(&mut conn)
            .await
            .unwrap()
    }

    /// Runs `sql` on the test database directly (as another replica or an operator would).
    pub async fn execute(&self, sql: &str) {
        use diesel_async::SimpleAsyncConnection;
        let mut conn = self.db.conn("virtool").await;
        conn.batch_execute(sql).await.unwrap();
    }
}

/// `{"id": id, "message": message}`.
pub fn error(id: &str, message: &str) -> Value {
    json!({"id": id, "message": message})
}

/// The 422 body with `errors`.
pub fn invalid(errors: Value) -> Value {
    json!({"id": "invalid_input", "message": "Invalid input", "errors": errors})
}

/// The user JSON the API must show, with the stored `last_password_change`.
pub fn user_json(
    id: &str,
    groups: &[&str],
    permissions: Value,
    primary_group: &str,
    force_reset: bool,
    last_password_change: &str,
) -> Value {
    json!({
        "id": id,
        "groups": groups,
        "permissions": permissions,
        "primary_group": primary_group,
        "force_reset": force_reset,
        "last_password_change": last_password_change,
        "identicon": identicon(id),
    })
}

pub fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    virtool_svc::wire::timestamp(t)
}
