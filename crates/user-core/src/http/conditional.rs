//! Conditional requests (RFC 9110 section 13): strong `ETag`s of a resource's representation,
//! `If-None-Match` on GET (304) and `If-Match` on writes (412), the same in every service
//! (`../shared/api/concurrency.md`).
//!
//! An ETag is `"<who>.<what>"`: a digest of the resource's identity (`user/42`) and one of the
//! JSON a GET of it answers, as the caller would see it. It changes exactly when that JSON
//! changes (a virtool user's follows its groups' permissions, since they are part of it), and
//! costs two SHA-256 of a few hundred bytes. Writes check `If-Match` inside their transaction,
//! after locking the resource's row and reading it again: of two writers holding the same tag,
//! the second finds the first one's change. The identity part tells a resource that was deleted
//! under a writer (its tag names it: 412, the resource changed) from one the caller never saw
//! (404, as without the header): so of twenty deletes holding one tag, one succeeds and
//! nineteen get 412, however late they run.

use super::Problem;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

/// A strong entity tag: its opaque value, without the quotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ETag(String);

impl ETag {
    /// The tag of the resource `identity` (`user/42`) whose GET answers `representation`.
    pub fn of<T: serde::Serialize>(identity: &str, representation: &T) -> Self {
        Self::of_bytes(
            identity,
            &serde_json::to_vec(representation).unwrap_or_default(),
        )
    }

    /// The tag of a representation already serialized.
    pub fn of_bytes(identity: &str, bytes: &[u8]) -> Self {
        let digest = Sha256::digest(bytes);
        Self(format!("{}.{}", who(identity), hex::encode(&digest[..16])))
    }

    /// `"<opaque>"`, as the `ETag` header carries it.
    pub fn header_value(&self) -> HeaderValue {
        // hex digits and quotes are always a valid header value
        HeaderValue::from_str(&format!("\"{}\"", self.0))
            .unwrap_or(HeaderValue::from_static("\"\""))
    }

    /// `ETag: "<opaque>"` added to `response`.
    pub fn set_on(&self, response: &mut HttpResponse) {
        response
            .headers_mut()
            .insert(header::ETAG, self.header_value());
    }
}

/// The identity part of the tags of `identity`.
fn who(identity: &str) -> String {
    hex::encode(&Sha256::digest(identity.as_bytes())[..4])
}

/// One member of an `If-Match` / `If-None-Match` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTag {
    weak: bool,
    opaque: String,
}

/// A parsed `If-Match` or `If-None-Match` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `*`: any current representation.
    Any,
    /// A list of tags (empty when the header held none that parse: it then matches nothing).
    Tags(Vec<EntityTag>),
}

impl Condition {
    /// Every `name` header of `req` (a list may be split over several lines), or `None` when
    /// there is none.
    fn from_request(req: &HttpRequest, name: header::HeaderName) -> Option<Self> {
        let mut values = req.headers().get_all(name).peekable();
        values.peek()?;
        let mut tags = Vec::new();
        for value in values {
            let text = value.to_str().unwrap_or("");
            if text.trim() == "*" {
                return Some(Self::Any);
            }
            tags.extend(parse_list(text));
        }
        Some(Self::Tags(tags))
    }

    /// `If-Match` of `req`.
    pub fn if_match(req: &HttpRequest) -> Option<Self> {
        Self::from_request(req, header::IF_MATCH)
    }

    /// `If-None-Match` of `req`.
    pub fn if_none_match(req: &HttpRequest) -> Option<Self> {
        Self::from_request(req, header::IF_NONE_MATCH)
    }

    /// Strong comparison (`If-Match`): `*` matches any existing representation; a weak tag
    /// matches nothing.
    pub fn matches_strongly(&self, current: &ETag) -> bool {
        match self {
            Self::Any => true,
            Self::Tags(tags) => tags.iter().any(|t| !t.weak && t.opaque == current.0),
        }
    }

    /// Whether a listed tag (strong) is one of `identity`'s, of any version.
    fn names(&self, identity: &str) -> bool {
        let prefix = format!("{}.", who(identity));
        match self {
            Self::Any => false,
            Self::Tags(tags) => tags
                .iter()
                .any(|t| !t.weak && t.opaque.starts_with(&prefix)),
        }
    }

    /// Weak comparison (`If-None-Match`, RFC 9110 13.1.2): `W/"x"` matches `"x"`.
    pub fn matches_weakly(&self, current: &ETag) -> bool {
        match self {
            Self::Any => true,
            Self::Tags(tags) => tags.iter().any(|t| t.opaque == current.0),
        }
    }
}

/// The entity tags of a comma-separated list; members that do not parse are left out.
fn parse_list(text: &str) -> Vec<EntityTag> {
    let mut tags = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return tags;
        }
        let (weak, after) = match rest.strip_prefix("W/") {
            Some(after) => (true, after),
            None => (false, rest),
        };
        let Some(body) = after.strip_prefix('"') else {
            // not a tag: skip to the next comma
            rest = after.find(',').map_or("", |i| &after[i..]);
            continue;
        };
        match body.find('"') {
            Some(end) => {
                let opaque = &body[..end];
                if opaque
                    .bytes()
                    .all(|b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80)
                {
                    tags.push(EntityTag {
                        weak,
                        opaque: opaque.to_owned(),
                    });
                }
                rest = &body[end + 1..];
            }
            None => return tags,
        }
    }
}

/// The answer to a GET whose `If-None-Match` names `current`: 304 with the tag, no body.
pub fn not_modified(req: &HttpRequest, current: &ETag) -> Option<HttpResponse> {
    let condition = Condition::if_none_match(req)?;
    condition.matches_weakly(current).then(|| {
        let mut response = HttpResponse::NotModified().finish();
        current.set_on(&mut response);
        response
    })
}

/// `representation` as the JSON answer about one resource, with its `ETag`; for a GET (or
/// HEAD) whose `If-None-Match` names that tag, 304 instead.
pub fn tagged<T: serde::Serialize>(
    req: &HttpRequest,
    status: actix_web::http::StatusCode,
    identity: &str,
    representation: &T,
) -> HttpResponse {
    let body = serde_json::to_vec(representation).unwrap_or_default();
    let etag = ETag::of_bytes(identity, &body);
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        if let Some(response) = not_modified(req, &etag) {
            return response;
        }
    }
    let mut response = HttpResponse::build(status)
        .content_type(mime::APPLICATION_JSON)
        .body(body);
    etag.set_on(&mut response);
    response
}

/// A write's precondition: `If-Match` of the request, if any. [`Precondition::holds`] is asked
/// with the tag of the resource as the write found it, under its row lock.
#[derive(Debug, Clone, Default)]
pub struct Precondition(Option<Condition>);

impl Precondition {
    pub fn of(req: &HttpRequest) -> Self {
        Self(Condition::if_match(req))
    }

    /// No `If-Match`: every write goes ahead.
    pub fn none() -> Self {
        Self(None)
    }

    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// Whether a write may go ahead on the resource whose current tag is `current`.
    pub fn holds(&self, current: &ETag) -> bool {
        self.0.as_ref().is_none_or(|c| c.matches_strongly(current))
    }

    /// The answer to a write on `identity` that does not exist (any more): 412 when `If-Match`
    /// names a tag of it (the caller saw it before it was deleted), else `not_found` (as without
    /// the header).
    pub fn gone<E: From<Problem>>(&self, identity: &str, not_found: E) -> E {
        if self.0.as_ref().is_some_and(|c| c.names(identity)) {
            Problem::PreconditionFailed.into()
        } else {
            not_found
        }
    }

    /// [`Precondition::holds`], else 412 ([`Problem::PreconditionFailed`]).
    pub fn check(&self, current: &ETag) -> Result<(), Problem> {
        if self.holds(current) {
            Ok(())
        } else {
            Err(Problem::PreconditionFailed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use serde_json::json;

    fn tag(v: serde_json::Value) -> ETag {
        ETag::of("user/1", &v)
    }

    #[test]
    fn tags_follow_the_representation_exactly() {
        assert_eq!(tag(json!({"a": 1})), tag(json!({"a": 1})));
        assert_ne!(tag(json!({"a": 1})), tag(json!({"a": 2})));
        assert_ne!(ETag::of("user/2", &json!({"a": 1})), tag(json!({"a": 1})));
        let value = tag(json!({"a": 1})).header_value();
        let text = value.to_str().unwrap();
        assert!(
            text.starts_with('"') && text.ends_with('"') && text.len() == 43,
            "{text}"
        );
    }

    #[test]
    fn lists_parse_as_rfc_9110_says() {
        let tags = parse_list(r#" "a", W/"b" ,"c,d", junk, "e"#);
        let names: Vec<(bool, &str)> = tags.iter().map(|t| (t.weak, t.opaque.as_str())).collect();
        assert_eq!(names, vec![(false, "a"), (true, "b"), (false, "c,d")]);
        assert!(parse_list("").is_empty());
    }

    #[test]
    fn if_match_is_strong_and_if_none_match_weak() {
        let current = tag(json!({"a": 1}));
        let quoted = current.header_value().to_str().unwrap().to_owned();
        let req = |name: &str, value: &str| {
            TestRequest::default()
                .insert_header((name, value))
                .to_http_request()
        };
        let strong = req("if-match", &format!("\"x\", {quoted}"));
        assert!(Precondition::of(&strong).holds(&current));
        let weak = req("if-match", &format!("W/{quoted}"));
        assert!(
            !Precondition::of(&weak).holds(&current),
            "a W/ tag never matches"
        );
        assert!(Precondition::of(&req("if-match", "*")).holds(&current));
        assert!(!Precondition::of(&req("if-match", "\"stale\"")).holds(&current));
        assert!(!Precondition::of(&req("if-match", "garbage")).holds(&current));
        assert!(Precondition::of(&TestRequest::default().to_http_request()).holds(&current));

        let gone = |h: &str| -> Problem {
            Precondition::of(&req("if-match", h)).gone("user/1", Problem::NotFound)
        };
        assert_eq!(
            gone(&quoted),
            Problem::PreconditionFailed,
            "its own tag: it was deleted"
        );
        assert_eq!(gone("\"stale\""), Problem::NotFound);
        assert_eq!(gone("*"), Problem::NotFound);
        let other = ETag::of("user/2", &json!({"a": 1})).header_value();
        assert_eq!(
            gone(other.to_str().unwrap()),
            Problem::NotFound,
            "another's tag"
        );

        let get = req("if-none-match", &format!("W/{quoted}"));
        let res = not_modified(&get, &current).expect("304");
        assert_eq!(res.status(), 304);
        assert_eq!(res.headers().get("etag").unwrap(), &current.header_value());
        assert!(not_modified(&req("if-none-match", "\"other\""), &current).is_none());
        assert!(not_modified(&req("if-none-match", "*"), &current).is_some());
    }
}
