//! The checks every service's conditional requests and idempotent creates must pass
//! (`../shared/api/concurrency.md`), driven by closures that build the service's own requests;
//! the service's tests supply them and its error bodies.

use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::Value;

/// The strong `ETag` of `res`, quotes included (panics when there is none or it is weak).
pub fn etag(res: &Response) -> String {
    let tag = res
        .headers()
        .get("etag")
        .unwrap_or_else(|| panic!("no ETag on a {} answer", res.status()))
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        tag.starts_with('"') && tag.ends_with('"') && tag.len() > 2,
        "not a strong tag: {tag}"
    );
    tag
}

async fn send(request: RequestBuilder) -> Response {
    request.send().await.expect("request")
}

/// GET and its `If-None-Match` forms: the current tag, its weak form and `*` → 304 with no
/// body and the tag again; another tag → 200 with the same tag. Returns the tag.
pub async fn assert_conditional_get(get: impl Fn() -> RequestBuilder) -> String {
    let res = send(get()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let tag = etag(&res);
    for condition in [
        tag.clone(),
        format!("W/{tag}"),
        "*".to_owned(),
        format!("\"x\", {tag}"),
    ] {
        let res = send(get().header("if-none-match", &condition)).await;
        assert_eq!(
            res.status(),
            StatusCode::NOT_MODIFIED,
            "If-None-Match: {condition}"
        );
        assert_eq!(etag(&res), tag);
        assert!(res.bytes().await.unwrap().is_empty(), "a 304 has no body");
    }
    let res = send(get().header("if-none-match", "\"stale\"")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(etag(&res), tag);
    tag
}

/// A write with `If-Match`: a stale tag and the weak form of the current one → 412 with
/// `failed` as the body (and nothing written: the tag of `get` is still `current`); then the
/// write with `*` succeeds. Returns that answer.
pub async fn assert_if_match(
    write: impl Fn() -> RequestBuilder,
    get: impl Fn() -> RequestBuilder,
    current: &str,
    failed: &Value,
) -> Response {
    for condition in [
        "\"stale\"".to_owned(),
        format!("W/{current}"),
        "junk".to_owned(),
    ] {
        let res = send(write().header("if-match", &condition)).await;
        assert_eq!(
            res.status(),
            StatusCode::PRECONDITION_FAILED,
            "If-Match: {condition}"
        );
        let body: Value = res.json().await.expect("a JSON body");
        assert_eq!(&body, failed, "If-Match: {condition}");
        let now = send(get()).await;
        assert_eq!(etag(&now), current, "a refused write changed nothing");
    }
    let res = send(write().header("if-match", "*")).await;
    assert!(res.status().is_success(), "If-Match: * → {}", res.status());
    res
}

/// `n` concurrent writes holding the same tag: exactly one succeeds, the others get 412,
/// none a 5xx. Returns the statuses.
pub async fn assert_one_wins(n: usize, write: impl Fn() -> RequestBuilder) -> Vec<u16> {
    let answers = futures_util::future::join_all((0..n).map(|_| send(write()))).await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    let won = statuses.iter().filter(|s| (200..300).contains(*s)).count();
    let failed = statuses.iter().filter(|s| **s == 412).count();
    assert_eq!((won, failed), (1, n - 1), "statuses: {statuses:?}");
    statuses
}

/// What a create's answer is made of, for comparing a replay with the first answer.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    pub location: Option<String>,
    pub etag: Option<String>,
    pub replayed: bool,
}

impl Answer {
    pub async fn of(res: Response) -> Self {
        let header = |name: &str| {
            res.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let (location, etag, replayed) = (
            header("location"),
            header("etag"),
            header("idempotent-replayed").as_deref() == Some("true"),
        );
        Self {
            status: res.status().as_u16(),
            location,
            etag,
            replayed,
            body: res.bytes().await.unwrap().to_vec(),
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// A create sent with an `Idempotency-Key` (`create(key, body)`), as the contract wants it:
/// the first answer is 2xx with an ETag; a retry with the same body gets it again, byte for
/// byte, with `Location` and `ETag`, and `Idempotent-Replayed: true`; the same key with
/// `other` → `reused` (status, body); malformed keys → 400. `count()` (the resources there are)
/// grows by exactly one. Returns the first answer.
pub async fn assert_idempotent_create<C, F>(
    create: impl Fn(&str, &Value) -> RequestBuilder,
    body: &Value,
    other: &Value,
    reused: (u16, &Value),
    count: C,
) -> Answer
where
    C: Fn() -> F,
    F: std::future::Future<Output = i64>,
{
    let before = count().await;
    let key = format!("key-{}", uuid::Uuid::new_v4());
    let first = Answer::of(send(create(&key, body)).await).await;
    assert!((200..300).contains(&first.status), "{first:?}");
    assert!(first.etag.is_some() && !first.replayed, "{first:?}");
    for _ in 0..2 {
        let again = Answer::of(send(create(&key, body)).await).await;
        assert!(again.replayed, "no Idempotent-Replayed: {again:?}");
        assert_eq!(
            (again.status, &again.body, &again.location, &again.etag),
            (first.status, &first.body, &first.location, &first.etag)
        );
    }
    let res = send(create(&key, other)).await;
    assert_eq!(res.status().as_u16(), reused.0);
    assert_eq!(&res.json::<Value>().await.unwrap(), reused.1);
    for bad in [
        "".to_owned(),
        "x".repeat(256),
        "a b".to_owned(),
        "é".to_owned(),
    ] {
        let res = send(create(&bad, other)).await;
        assert_eq!(
            res.status(),
            StatusCode::BAD_REQUEST,
            "Idempotency-Key {bad:?}"
        );
    }
    assert_eq!(
        count().await,
        before + 1,
        "exactly one resource was created"
    );
    first
}

/// `n` concurrent creates with one key: one runs; each other answer is its replay or 409 with
/// `Retry-After: 1`; `count()` grows by exactly one.
pub async fn assert_one_create<C, F>(n: usize, create: impl Fn(&str) -> RequestBuilder, count: C)
where
    C: Fn() -> F,
    F: std::future::Future<Output = i64>,
{
    let before = count().await;
    let key = format!("race-{}", uuid::Uuid::new_v4());
    let answers = futures_util::future::join_all((0..n).map(|_| send(create(&key)))).await;
    let mut bodies = Vec::new();
    let mut statuses = Vec::new();
    for res in answers {
        statuses.push(res.status().as_u16());
        if res.status() == StatusCode::CONFLICT {
            assert_eq!(res.headers().get("retry-after").unwrap(), "1");
        }
        let answer = Answer::of(res).await;
        if (200..300).contains(&answer.status) {
            bodies.push(answer.body);
        }
    }
    assert!(
        statuses.iter().all(|s| (200..300).contains(s) || *s == 409),
        "{statuses:?}"
    );
    assert!(!bodies.is_empty(), "{statuses:?}");
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "every 2xx is the same answer"
    );
    assert_eq!(count().await, before + 1, "{statuses:?}");
}
