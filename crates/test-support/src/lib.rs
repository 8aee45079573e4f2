//! What the services' integration tests share: a database of their own per test, the real
//! server on a free port, and settings for tests.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: failing loudly is the point

pub mod audit;
pub mod conditional;
pub mod hostile;
pub mod import;
pub mod plans;
pub mod timing;

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

/// Checks every route of the server at `base` (each path of its `/openapi.json`, the
/// operations routes, path parameters `1`; every route is in the document: each service's
/// `routes::tests` checks it): each of GET, POST, PUT, PATCH, DELETE and
/// HEAD is sent without credentials, and every 405 must carry an `Allow` header naming exactly
/// the methods that did not answer 405. HEAD must answer as GET does, without a body. Returns the
/// number of routes checked.
pub async fn assert_405s_name_the_allowed_methods(base: &str) -> usize {
    const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"];
    let http = client();
    let doc = json(
        http.get(format!("{base}/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let mut paths: Vec<String> = ["/healthz", "/readyz", "/metrics", "/openapi.json"]
        .iter()
        .map(|p| (*p).to_owned())
        .collect();
    paths.extend(doc["paths"].as_object().expect("paths").keys().cloned());
    for path in &paths {
        let concrete: String = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "1" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let mut served = Vec::new();
        let mut allows = Vec::new();
        let mut statuses = Vec::new();
        for method in METHODS {
            let mut req = http.request(method.parse().unwrap(), format!("{base}{concrete}"));
            if method != "HEAD" {
                req = req.header("content-type", "application/json").body("{}");
            }
            let res = req.send().await.unwrap();
            statuses.push(res.status());
            if res.status() == 405 {
                let allow = res.headers().get("allow");
                let allow =
                    allow.unwrap_or_else(|| panic!("{method} {concrete}: 405 without Allow"));
                allows.push((method, allow.to_str().unwrap().to_owned()));
            } else {
                served.push(method);
            }
            if method == "HEAD" {
                let body = res.bytes().await.unwrap();
                assert!(
                    body.is_empty(),
                    "HEAD {concrete}: {} bytes of body",
                    body.len()
                );
            }
        }
        // RFC 9110 (9.3.2): a resource that answers GET answers HEAD the same way, minus the body.
        let status_of = |m: &str| statuses[METHODS.iter().position(|x| *x == m).unwrap()];
        assert_eq!(
            status_of("GET"),
            status_of("HEAD"),
            "{concrete}: GET and HEAD answer differently"
        );
        assert!(!allows.is_empty(), "{concrete} serves every method");
        for (method, allow) in allows {
            let mut named: Vec<&str> = allow.split(", ").collect();
            named.sort_unstable();
            let mut want = served.clone();
            want.sort_unstable();
            assert_eq!(named, want, "{method} {concrete}: Allow {allow:?}");
        }
    }
    paths.len()
}

/// Hand-made JSON Web Tokens for the authentication-attack tests: `header` and `claims` as
/// given, signed HMAC-SHA256 with `secret` whatever `alg` the header names.
pub mod forge {
    use hmac::{Hmac, Mac};
    use serde_json::{json, Value};

    /// Unpadded base64url.
    pub fn b64url(bytes: &[u8]) -> String {
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..=chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }

    /// The claims of `token` (its middle part, unpadded base64url JSON), unchecked.
    pub fn claims_of(token: &str) -> Value {
        part_of(token, 1)
    }

    /// The header of `token` (its first part), unchecked.
    pub fn header_of(token: &str) -> Value {
        part_of(token, 0)
    }

    fn part_of(token: &str, n: usize) -> Value {
        let part = token.split('.').nth(n).unwrap();
        let mut bits = 0u32;
        let mut n = 0;
        let mut out = Vec::new();
        for c in part.bytes() {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'-' => 62,
                b'_' => 63,
                _ => panic!("not base64url: {part}"),
            };
            bits = (bits << 6) | u32::from(v);
            n += 6;
            if n >= 8 {
                n -= 8;
                out.push((bits >> n) as u8);
                bits &= (1 << n) - 1;
            }
        }
        serde_json::from_slice(&out).unwrap()
    }

    /// `header.claims.HMAC-SHA256(secret)`.
    pub fn sign(header: &Value, claims: &Value, secret: &[u8]) -> String {
        let h = b64url(header.to_string().as_bytes());
        let c = b64url(claims.to_string().as_bytes());
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(format!("{h}.{c}").as_bytes());
        format!("{h}.{c}.{}", b64url(&mac.finalize().into_bytes()))
    }

    pub fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    /// A public key in PEM, as an attacker would use it for the HS/RS confusion (the server
    /// has no RSA key; the token must fail whatever key the attacker picked).
    const PUBLIC_KEY_PEM: &str = "-----BEGIN PUBLIC KEY-----\n\
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n\
4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u\n\
+qKhbwKfBstIs+bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyeh\n\
kd3qqGElvW/VDL5AaWTg0nLVkjRo9z+40RQzuVaE8AkAFmxZzow3x+VJYKdjykkJ\n\
0iT9wCS0DRTXu269V264Vf/3jvredZiKRkgwlL9xNAwxXFg0x/XFw005UWVRIkdg\n\
cKWTjpBP2dPwVZ4WWC+9aGVd+Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbc\n\
mwIDAQAB\n-----END PUBLIC KEY-----\n";

    /// `(what, token)` for every attack of issue 8 item 5, built from `valid` — the claims of a
    /// token the service accepts (`iss`, `aud`, `sub`, `iat`, `exp` and its own claims). Each
    /// must be refused with 401. `control(valid, secret)` is the same claims signed right.
    pub fn attacks(valid: &Value, secret: &[u8]) -> Vec<(&'static str, String)> {
        let hs = json!({"alg":"HS256","typ":"JWT"});
        let with = |changes: Value| {
            let mut c = valid.clone();
            for (k, v) in changes.as_object().unwrap() {
                c[k] = v.clone();
            }
            c
        };
        let unsigned = |alg: &str| {
            format!(
                "{}.{}.",
                b64url(json!({"alg": alg, "typ": "JWT"}).to_string().as_bytes()),
                b64url(valid.to_string().as_bytes())
            )
        };
        let t = now();
        let mut out = vec![
            ("alg none", unsigned("none")),
            ("alg None", unsigned("None")),
            ("alg NONE", unsigned("NONE")),
            ("alg none without the last dot", {
                let s = unsigned("none");
                s[..s.len() - 1].to_owned()
            }),
            ("alg none with the real signature", {
                let good = sign(&hs, valid, secret);
                let sig = good.rsplit('.').next().unwrap().to_owned();
                format!("{}{sig}", unsigned("none"))
            }),
            (
                "wrong key",
                sign(&hs, valid, b"another-key-another-key-another-key!"),
            ),
            (
                "RS256 header, HMAC with the real secret",
                sign(&json!({"alg":"RS256","typ":"JWT"}), valid, secret),
            ),
            (
                "HS256 signed with a public key as the secret",
                sign(&hs, valid, PUBLIC_KEY_PEM.as_bytes()),
            ),
            (
                "HS512 header",
                sign(&json!({"alg":"HS512","typ":"JWT"}), valid, secret),
            ),
            (
                "ES256 header",
                sign(&json!({"alg":"ES256","typ":"JWT"}), valid, secret),
            ),
            (
                "wrong aud",
                sign(&hs, &with(json!({"aud":"another-svc"})), secret),
            ),
            (
                "aud as a list with another service",
                sign(&hs, &with(json!({"aud":["another-svc"]})), secret),
            ),
            (
                "wrong iss",
                sign(&hs, &with(json!({"iss":"another-svc"})), secret),
            ),
            (
                "expired (past the 30 s leeway)",
                sign(
                    &hs,
                    &with(json!({"iat": t - 7200, "exp": t - 3600})),
                    secret,
                ),
            ),
            (
                "issued in the future",
                sign(
                    &hs,
                    &with(json!({"iat": t + 3600, "exp": t + 7200})),
                    secret,
                ),
            ),
            ("no exp", {
                let mut c = valid.clone();
                c.as_object_mut().unwrap().remove("exp");
                sign(&hs, &c, secret)
            }),
            ("no sub", {
                let mut c = valid.clone();
                c.as_object_mut().unwrap().remove("sub");
                sign(&hs, &c, secret)
            }),
            ("tampered claims", {
                let good = sign(&hs, valid, secret);
                let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
                parts[1] = b64url(with(json!({"sub": "someone-else"})).to_string().as_bytes());
                parts.join(".")
            }),
            ("garbage", "garbage".to_owned()),
            ("three dots of garbage", "a.b.c".to_owned()),
            ("not base64", "%%%.***.!!!".to_owned()),
            ("a huge token", "A".repeat(8000)),
        ];
        out.push(("empty header JSON", sign(&json!({}), valid, secret)));
        out
    }

    /// The valid claims signed right: the control that proves [`attacks`] tests the key only.
    pub fn control(valid: &Value, secret: &[u8]) -> String {
        sign(&json!({"alg":"HS256","typ":"JWT"}), valid, secret)
    }
}
