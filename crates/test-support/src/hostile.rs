//! Hostile request bodies for the services' input-limit tests (`tests/limits.rs`).

use serde_json::{json, Value};

/// The length of the oversized values and the depth of the nested bodies.
pub const LONG: usize = 10_000;

/// Bodies that break one field of `good` each: (what, field, raw JSON body).
pub fn field_cases(good: &Value) -> Vec<(String, String, Vec<u8>)> {
    let mut cases = Vec::new();
    for field in good.as_object().unwrap().keys() {
        let bad: [(&str, Value); 5] = [
            ("10 000 characters", Value::String("x".repeat(LONG))),
            ("a NUL byte", Value::String("a\u{0}b".to_owned())),
            ("a number", json!(123)),
            (
                "a huge number",
                serde_json::from_str("1000000000000000000000000000000").unwrap(),
            ),
            ("an object", json!({"nested": ["x"]})),
        ];
        for (what, value) in bad {
            let mut body = good.clone();
            body[field] = value;
            cases.push((
                format!("{field}: {what}"),
                field.clone(),
                serde_json::to_vec(&body).unwrap(),
            ));
        }
    }
    cases
}

/// Bodies that are not JSON at all, or JSON nested beyond any parser's depth limit.
pub fn body_cases(good: &Value) -> Vec<(&'static str, Vec<u8>)> {
    let text = serde_json::to_string(good).unwrap();
    // Inside the first string value (the first key when there is none): a byte that never
    // occurs in UTF-8, and a raw NUL (JSON allows control characters only escaped).
    let at = text.find(":\"").map_or(2, |i| i + 2);
    let inject = |byte: u8| {
        let mut bytes = text.clone().into_bytes();
        bytes.insert(at, byte);
        bytes
    };
    let invalid_utf8 = inject(0xff);
    let raw_nul = inject(0);
    let cases = vec![
        ("invalid UTF-8", invalid_utf8),
        ("a raw NUL byte", raw_nul),
        (
            "10 000 nested arrays",
            [vec![b'['; LONG], vec![b']'; LONG]].concat(),
        ),
        (
            "10 000 nested objects",
            [b"{\"a\":".repeat(LONG), b"1".to_vec(), b"}".repeat(LONG)].concat(),
        ),
    ];
    for (what, body) in &cases {
        assert!(
            serde_json::from_slice::<Value>(body).is_err(),
            "{what} must not be JSON"
        );
    }
    cases
}

/// Sends `body` as JSON with `request` (method, URL and credentials already set) and returns
/// the status and the answer, which must be JSON whatever the status.
pub async fn send(request: reqwest::RequestBuilder, body: Vec<u8>) -> (u16, Value) {
    let res = request
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{status} answer is not JSON: {text:?}"));
    (status, value)
}
