//! Who is calling, and which URL they see us at.

use super::{Problem, MAX_BODY_BYTES};
use crate::config::Settings;
use crate::jwt::{Claims, JwtKeys};
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;
use std::net::IpAddr;

fn peer_is_trusted(req: &HttpRequest, trusted: &[ipnet::IpNet]) -> bool {
    req.peer_addr()
        .is_some_and(|p| trusted.iter().any(|net| net.contains(&p.ip())))
}

/// The client's address: the peer, or — when the peer is a trusted proxy — the right-most
/// address in `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(req: &HttpRequest, trusted: &[ipnet::IpNet]) -> IpAddr {
    let peer = req
        .peer_addr()
        .map_or(IpAddr::from([127, 0, 0, 1]), |p| p.ip());
    if !peer_is_trusted(req, trusted) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .collect();
    forwarded
        .iter()
        .rev()
        .find(|ip| !trusted.iter().any(|net| net.contains(*ip)))
        .or(forwarded.first())
        .copied()
        .unwrap_or(peer)
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn is_host(value: &str) -> bool {
    value.len() <= 255
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c))
}

fn is_prefix(value: &str) -> bool {
    value.starts_with('/')
        && value.len() <= 255
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-_.~".contains(c))
}

/// The claims of the JWT in `Authorization: Bearer <jwt>`, checked by `keys`; `None` (the
/// reason logged at debug level) when there is none or it does not verify.
pub fn bearer_claims<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    keys: &JwtKeys,
) -> Option<Claims<T>> {
    let token = bearer_token(req)?;
    keys.verify::<T>(token)
        .map_err(|reason| tracing::debug!(%reason, "bearer token refused"))
        .ok()
}

/// `base` followed by `segments`, each percent-encoded as one path segment: a `Location`
/// header for a resource (`location(base, &["api", "users", id])`).
pub fn location(base: &str, segments: &[&str]) -> String {
    match url::Url::parse(base) {
        Ok(mut url) => {
            if let Ok(mut path) = url.path_segments_mut() {
                path.pop_if_empty().extend(segments);
            }
            url.to_string()
        }
        Err(_) => format!("{base}/{}", segments.join("/")),
    }
}

/// The absolute base URL (no trailing slash) for links and `Location` headers:
/// `PUBLIC_BASE_URL` when set; else, from a trusted proxy, `X-Forwarded-Proto`, `-Host` and
/// `-Prefix`; else the request's own `Host`. Forwarded headers from untrusted peers are ignored.
pub fn public_base_url(req: &HttpRequest, settings: &Settings) -> String {
    if let Some(base) = &settings.public_base_url {
        return base.clone();
    }
    let own_host = header(req, "host")
        .filter(|h| is_host(h))
        .map(str::to_owned)
        .unwrap_or_else(|| req.app_config().host().to_owned());
    if peer_is_trusted(req, &settings.trusted_proxies) {
        if let Some(host) = header(req, "x-forwarded-host").filter(|h| is_host(h)) {
            let proto = match header(req, "x-forwarded-proto") {
                Some("https") => "https",
                _ => "http",
            };
            let prefix = header(req, "x-forwarded-prefix")
                .filter(|p| is_prefix(p))
                .unwrap_or("")
                .trim_end_matches('/');
            return format!("{proto}://{host}{prefix}");
        }
    }
    format!("http://{own_host}")
}

/// Reads a raw body of at most [`MAX_BODY_BYTES`] (for endpoints that accept more than JSON).
pub async fn read_body(mut payload: web::Payload) -> Result<bytes::Bytes, Problem> {
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| Problem::MalformedJson)?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(Problem::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, spaces
/// trimmed), if the request has one.
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn locations_keep_the_prefix_and_encode_each_segment() {
        assert_eq!(
            location("http://127.0.0.1:8080/virtool", &["api", "users", "bill"]),
            "http://127.0.0.1:8080/virtool/api/users/bill"
        );
        assert_eq!(
            location("http://h:1", &["api", "users", "a?b#c%d"]),
            "http://h:1/api/users/a%3Fb%23c%25d"
        );
    }

    #[test]
    fn bearer_tokens_are_read_from_the_authorization_header() {
        let token = |value: Option<&str>| {
            let mut req = TestRequest::default();
            if let Some(v) = value {
                req = req.insert_header(("authorization", v));
            }
            bearer_token(&req.to_http_request()).map(str::to_owned)
        };
        assert_eq!(token(Some("Bearer abc.def")), Some("abc.def".to_owned()));
        assert_eq!(token(Some("  bearer   abc ")), Some("abc".to_owned()));
        assert_eq!(token(Some("Basic abc")), None);
        assert_eq!(token(Some("Bearer")), None);
        assert_eq!(token(Some("Bearer  ")), None);
        assert_eq!(token(None), None);
    }

    fn settings(base: Option<&str>) -> Settings {
        let mut vars = vec![("DATABASE_URL".to_owned(), "postgres://h/db".to_owned())];
        if let Some(b) = base {
            vars.push(("PUBLIC_BASE_URL".to_owned(), b.to_owned()));
        }
        crate::config::from_iter::<crate::config::CommonConfig, _>(vars)
            .unwrap()
            .resolve(crate::config::ServiceInfo {
                name: "t",
                schema: "t",
                port: 1,
            })
            .unwrap()
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let s = settings(None);
        let via_proxy = TestRequest::default()
            .peer_addr("127.0.0.1:5000".parse().unwrap())
            .insert_header(("host", "127.0.0.1:8083"))
            .insert_header(("x-forwarded-host", "gw.example:8080"))
            .insert_header(("x-forwarded-proto", "https"))
            .insert_header(("x-forwarded-prefix", "/partner"))
            .insert_header(("x-forwarded-for", "203.0.113.9, 127.0.0.1"))
            .to_http_request();
        assert_eq!(
            public_base_url(&via_proxy, &s),
            "https://gw.example:8080/partner"
        );
        assert_eq!(
            client_ip(&via_proxy, &s.trusted_proxies),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );

        let direct = TestRequest::default()
            .peer_addr("198.51.100.7:5000".parse().unwrap())
            .insert_header(("host", "api.example"))
            .insert_header(("x-forwarded-host", "evil.example"))
            .insert_header(("x-forwarded-for", "203.0.113.9"))
            .to_http_request();
        assert_eq!(public_base_url(&direct, &s), "http://api.example");
        assert_eq!(
            client_ip(&direct, &s.trusted_proxies),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn configured_base_url_wins_and_bad_headers_are_ignored() {
        let s = settings(Some("https://users.example/agency/"));
        let req = TestRequest::default()
            .peer_addr("127.0.0.1:5000".parse().unwrap())
            .insert_header(("x-forwarded-host", "gw:8080"))
            .to_http_request();
        assert_eq!(public_base_url(&req, &s), "https://users.example/agency");

        let s = settings(None);
        let req = TestRequest::default()
            .peer_addr("127.0.0.1:5000".parse().unwrap())
            .insert_header(("host", "h:1"))
            .insert_header(("x-forwarded-host", "gw:8080/evil path"))
            .to_http_request();
        assert_eq!(public_base_url(&req, &s), "http://h:1");
    }
}
