//! What the services' integration tests share: a database of their own per test, the real
//! server on a free port, and settings for tests.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: failing loudly is the point

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use user_core::config::{CommonConfig, ServiceInfo, Settings};

/// The server tests connect to as an administrator (to create and drop databases).
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database that exists for one test and is dropped (forcibly) when the value is.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn new() -> Self {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let admin = admin_url();
        let mut conn = AsyncPgConnection::establish(&admin)
            .await
            .unwrap_or_else(|e| panic!("cannot reach the test Postgres at {admin}: {e}"));
        conn.batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create the test database");
        let url = replace_database(&admin, &name);
        Self { name, url }
    }

    /// A direct connection (for assertions on stored state), in `schema`.
    pub async fn conn(&self, schema: &str) -> AsyncPgConnection {
        let url = user_core::db::with_search_path(&self.url, schema).unwrap();
        AsyncPgConnection::establish(url.expose())
            .await
            .expect("connect to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin = admin_url();
        // Dropping needs async I/O; do it on a thread of its own so this works inside any runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(mut conn) = AsyncPgConnection::establish(&admin).await {
                    let _ = conn
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

fn replace_database(url: &str, db: &str) -> String {
    let mut parsed = reqwest::Url::parse(url).expect("TEST_DATABASE_URL is a URL");
    parsed.set_path(&format!("/{db}"));
    parsed.to_string()
}

/// Settings for a test: the test database, cheap bcrypt, a fixed JWT secret, plus `extra`.
pub fn settings(info: ServiceInfo, db: &TestDb, extra: &[(&str, &str)]) -> Settings {
    let mut vars: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), db.url.clone()),
        ("BCRYPT_COST".into(), "4".into()),
        ("ALLOW_WEAK_BCRYPT".into(), "1".into()),
        ("JWT_SECRET".into(), TEST_JWT_SECRET.into()),
        ("DB_TIMEOUT_MS".into(), "3000".into()),
        ("DB_POOL_SIZE".into(), "8".into()),
    ];
    for (k, v) in extra {
        vars.retain(|(key, _)| key != k);
        vars.push(((*k).to_owned(), (*v).to_owned()));
    }
    user_core::config::from_iter::<CommonConfig, _>(vars)
        .expect("test settings")
        .resolve(info)
        .expect("test settings resolve")
}

pub const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret!";

/// A running server: `url("/path")` gives its address.
pub struct TestServer {
    pub base: String,
    handle: actix_web::dev::ServerHandle,
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        drop(handle.stop(false));
    }
}

/// Serves the app built by `factory` on 127.0.0.1 at a free port, exactly as `main` does.
pub fn spawn<F, I, S, B>(factory: F) -> TestServer
where
    F: Fn() -> I + Send + Clone + 'static,
    I: actix_service::IntoServiceFactory<S, actix_http::Request>,
    S: actix_web::dev::ServiceFactory<actix_http::Request, Config = actix_web::dev::AppConfig>
        + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<actix_http::Response<B>> + 'static,
    <S::Service as actix_web::dev::Service<actix_http::Request>>::Future: 'static,
    S::Service: 'static,
    B: actix_web::body::MessageBody + 'static,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = listener.local_addr().expect("local addr").port();
    let server = user_core::http::server(listener, factory).expect("start the server");
    let handle = server.handle();
    tokio::spawn(server);
    TestServer {
        base: format!("http://127.0.0.1:{port}"),
        handle,
    }
}

/// A plain HTTP client for tests (no redirects followed, so `Location` can be checked).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The JSON body of `res`, panicking with the body text when it is not JSON.
pub async fn json(res: reqwest::Response) -> serde_json::Value {
    let status = res.status();
    let text = res.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text:?}"))
}
