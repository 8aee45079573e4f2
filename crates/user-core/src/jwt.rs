//! HS256 JSON Web Tokens: `iss` and `aud` are the service's name, plus `sub`, `iat`, `exp`
//! and the service's own claims.
//!
//! Key rotation (`common.md`, "JWT"): every token carries a `kid`, derived from its key
//! ([`kid_of`]: a digest, never the key). `JWT_SECRET` signs and verifies; each key of
//! `JWT_PREVIOUS_SECRETS` only verifies. A token is checked with the one key its `kid` names,
//! and a `kid` that names no configured key is refused; a token without `kid` (issued before
//! kids) is checked with the current key only. Only HS256 is ever accepted, whatever the key.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Clock skew tolerated on `exp` and `iat`.
pub const LEEWAY_SECONDS: u64 = 30;

/// The smallest accepted `JWT_SECRET`.
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims<T> {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub iat: u64,
    pub exp: u64,
    #[serde(flatten)]
    pub extra: T,
}

/// Why a token was refused. The API answers 401 for all of them; the kind goes to the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("token is malformed or not HS256: {0}")]
    Malformed(String),
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token is for another audience or issuer")]
    WrongAudience,
    #[error("token was issued in the future")]
    IssuedInFuture,
    #[error("token names a key that is not configured (kid)")]
    UnknownKey,
    #[error("could not sign the token: {0}")]
    Signing(String),
}

/// A freshly issued token and its lifetime in seconds.
#[derive(Debug, Clone)]
pub struct Issued {
    pub token: String,
    pub expires_in: u64,
}

pub struct JwtKeys {
    service: String,
    ttl_seconds: u64,
    encoding: EncodingKey,
    /// The current key's `kid`.
    kid: String,
    /// (`kid`, key): the current key first, then the previous ones.
    decoding: Vec<(String, DecodingKey)>,
    validation: Validation,
}

/// The `kid` of `secret`: 16 hex digits of SHA-256 over a fixed label and the key. It names the
/// key without revealing it (a digest cannot be turned back into the key, and finding a key
/// from its kid is no easier than from any token it signed).
pub fn kid_of(secret: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(b"user-svc jwt kid\0");
    hash.update(secret);
    hex::encode(&hash.finalize()[..8])
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtKeys")
            .field("service", &self.service)
            .field("ttl_seconds", &self.ttl_seconds)
            .finish_non_exhaustive()
    }
}

impl JwtKeys {
    /// Keys for `service` (its `iss` and `aud`). The caller has checked the secret's length.
    pub fn new(service: &str, secret: &[u8], ttl_seconds: u64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[service]);
        validation.set_issuer(&[service]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECONDS;
        let kid = kid_of(secret);
        Self {
            service: service.to_owned(),
            ttl_seconds,
            encoding: EncodingKey::from_secret(secret),
            decoding: vec![(kid.clone(), DecodingKey::from_secret(secret))],
            kid,
            validation,
        }
    }

    /// With `previous` keys that verify tokens (until they expire) but sign none.
    #[must_use]
    pub fn with_previous<'a>(mut self, previous: impl IntoIterator<Item = &'a [u8]>) -> Self {
        for secret in previous {
            let kid = kid_of(secret);
            if !self.decoding.iter().any(|(k, _)| *k == kid) {
                self.decoding.push((kid, DecodingKey::from_secret(secret)));
            }
        }
        self
    }

    /// The `kid` of the key that signs.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn issue<T: Serialize>(&self, sub: &str, extra: T) -> Result<Issued, JwtError> {
        let now = now_seconds();
        let claims = Claims {
            iss: self.service.clone(),
            aud: self.service.clone(),
            sub: sub.to_owned(),
            iat: now,
            exp: now + self.ttl_seconds,
            extra,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        let token = encode(&header, &claims, &self.encoding)
            .map_err(|e| JwtError::Signing(e.to_string()))?;
        Ok(Issued {
            token,
            expires_in: self.ttl_seconds,
        })
    }

    pub fn verify<T: DeserializeOwned>(&self, token: &str) -> Result<Claims<T>, JwtError> {
        use jsonwebtoken::errors::ErrorKind;
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| JwtError::Malformed(e.to_string()))?;
        let key = match header.kid.as_deref() {
            Some(kid) => self
                .decoding
                .iter()
                .find(|(k, _)| k == kid)
                .map(|(_, key)| key)
                .ok_or(JwtError::UnknownKey)?,
            // Issued before tokens had a kid: the current key only.
            None => &self.decoding[0].1,
        };
        let data =
            decode::<Claims<T>>(token, key, &self.validation).map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => JwtError::BadSignature,
                ErrorKind::ExpiredSignature => JwtError::Expired,
                ErrorKind::InvalidAudience | ErrorKind::InvalidIssuer => JwtError::WrongAudience,
                _ => JwtError::Malformed(e.to_string()),
            })?;
        if data.claims.iat > now_seconds() + LEEWAY_SECONDS {
            return Err(JwtError::IssuedInFuture);
        }
        Ok(data.claims)
    }
}

fn now_seconds() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64_url as b64;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[derive(Debug, Serialize, Deserialize, PartialEq, Eq, Clone)]
    struct Extra {
        grp: i64,
    }

    fn keys() -> JwtKeys {
        JwtKeys::new("agency-svc", SECRET, 3600)
    }

    fn sign(header: &str, claims: &serde_json::Value, secret: &[u8]) -> String {
        use hmac::{Hmac, Mac};
        let h = b64::encode(header.as_bytes());
        let c = b64::encode(claims.to_string().as_bytes());
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(format!("{h}.{c}").as_bytes());
        format!("{h}.{c}.{}", b64::encode(&mac.finalize().into_bytes()))
    }

    fn claims(iat: u64, exp: u64, aud: &str) -> serde_json::Value {
        serde_json::json!({"iss":"agency-svc","aud":aud,"sub":"c1","iat":iat,"exp":exp,"grp":7})
    }

    mod base64_url {
        pub fn encode(bytes: &[u8]) -> String {
            const T: &[u8; 64] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
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
    }

    #[test]
    fn issued_tokens_verify_with_their_claims() {
        let k = keys();
        let issued = k.issue("client-1", Extra { grp: 7 }).unwrap();
        assert_eq!(issued.expires_in, 3600);
        let c: Claims<Extra> = k.verify(&issued.token).unwrap();
        assert_eq!(c.sub, "client-1");
        assert_eq!(c.iss, "agency-svc");
        assert_eq!(c.aud, "agency-svc");
        assert_eq!(c.extra, Extra { grp: 7 });
        assert_eq!(c.exp - c.iat, 3600);
    }

    #[test]
    fn hand_signed_hs256_is_accepted_so_the_rejections_below_are_meaningful() {
        let now = now_seconds();
        let t = sign(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            &claims(now, now + 60, "agency-svc"),
            SECRET,
        );
        assert!(keys().verify::<Extra>(&t).is_ok());
    }

    #[test]
    fn alg_none_is_rejected() {
        let now = now_seconds();
        let c = claims(now, now + 60, "agency-svc");
        let h = base64_url::encode(br#"{"alg":"none","typ":"JWT"}"#);
        let p = base64_url::encode(c.to_string().as_bytes());
        for t in [format!("{h}.{p}."), format!("{h}.{p}")] {
            assert!(matches!(
                keys().verify::<Extra>(&t),
                Err(JwtError::Malformed(_))
            ));
        }
    }

    #[test]
    fn other_algorithms_are_rejected() {
        let now = now_seconds();
        let c = claims(now, now + 60, "agency-svc");
        for alg in ["HS384", "HS512", "RS256", "ES256"] {
            let t = sign(&format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#), &c, SECRET);
            assert!(keys().verify::<Extra>(&t).is_err(), "{alg} accepted");
        }
    }

    #[test]
    fn wrong_key_is_rejected() {
        let other = JwtKeys::new("agency-svc", b"another-secret-another-secret-!!", 3600);
        let t = other.issue("c1", Extra { grp: 1 }).unwrap().token;
        // its kid names a key that is not configured
        assert_eq!(keys().verify::<Extra>(&t), Err(JwtError::UnknownKey));
    }

    #[test]
    fn wrong_audience_is_rejected() {
        let partner = JwtKeys::new("partner-svc", SECRET, 3600);
        let t = partner.issue("c1", Extra { grp: 1 }).unwrap().token;
        assert_eq!(keys().verify::<Extra>(&t), Err(JwtError::WrongAudience));
    }

    #[test]
    fn expired_is_rejected_after_the_leeway_only() {
        let now = now_seconds();
        let within = sign(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            &claims(now - 100, now - 10, "agency-svc"),
            SECRET,
        );
        assert!(
            keys().verify::<Extra>(&within).is_ok(),
            "10 s past exp is within the leeway"
        );
        let past = sign(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            &claims(now - 200, now - 100, "agency-svc"),
            SECRET,
        );
        assert_eq!(keys().verify::<Extra>(&past), Err(JwtError::Expired));
    }

    #[test]
    fn future_iat_is_rejected() {
        let now = now_seconds();
        let t = sign(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            &claims(now + 3600, now + 7200, "agency-svc"),
            SECRET,
        );
        assert_eq!(keys().verify::<Extra>(&t), Err(JwtError::IssuedInFuture));
    }

    const OLD: &[u8] = b"the-previous-secret-0123456789abcdef";

    fn header_of(token: &str) -> jsonwebtoken::Header {
        jsonwebtoken::decode_header(token).unwrap()
    }

    #[test]
    fn tokens_carry_the_kid_of_their_key_which_reveals_nothing_of_it() {
        let t = keys().issue("c1", Extra { grp: 1 }).unwrap().token;
        let kid = header_of(&t).kid.unwrap();
        assert_eq!(kid, kid_of(SECRET));
        assert_eq!(kid.len(), 16);
        assert!(!String::from_utf8_lossy(SECRET).contains(&kid));
        assert_ne!(kid_of(SECRET), kid_of(OLD));
        assert_eq!(header_of(&t).alg, Algorithm::HS256);
    }

    #[test]
    fn a_previous_key_verifies_while_it_is_listed_and_never_signs() {
        let old = JwtKeys::new("agency-svc", OLD, 3600);
        let t = old.issue("c1", Extra { grp: 3 }).unwrap().token;
        let rotated = keys().with_previous([OLD]);
        let c: Claims<Extra> = rotated.verify(&t).unwrap();
        assert_eq!(c.extra, Extra { grp: 3 });
        // tokens issued after the rotation carry the new key's kid
        let new = rotated.issue("c1", Extra { grp: 3 }).unwrap().token;
        assert_eq!(header_of(&new).kid.unwrap(), kid_of(SECRET));
        assert!(
            old.verify::<Extra>(&new).is_err(),
            "the old key does not verify it"
        );
        // the previous key removed: its tokens are refused
        assert_eq!(keys().verify::<Extra>(&t), Err(JwtError::UnknownKey));
    }

    #[test]
    fn a_kid_naming_no_configured_key_or_another_key_is_refused() {
        let now = now_seconds();
        let c = claims(now, now + 60, "agency-svc");
        // signed with the right key, but the kid is forged
        let forged = sign(
            r#"{"alg":"HS256","typ":"JWT","kid":"0000000000000000"}"#,
            &c,
            SECRET,
        );
        assert_eq!(keys().verify::<Extra>(&forged), Err(JwtError::UnknownKey));
        // the kid of the previous key on a token signed with the current one
        let rotated = keys().with_previous([OLD]);
        let swapped = sign(
            &format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{}"}}"#, kid_of(OLD)),
            &c,
            SECRET,
        );
        assert_eq!(
            rotated.verify::<Extra>(&swapped),
            Err(JwtError::BadSignature)
        );
        // the right kid, alg none or another algorithm: refused as before
        let kid = kid_of(SECRET);
        let h = base64_url::encode(format!(r#"{{"alg":"none","kid":"{kid}"}}"#).as_bytes());
        let p = base64_url::encode(c.to_string().as_bytes());
        assert!(rotated.verify::<Extra>(&format!("{h}.{p}.")).is_err());
        let hs512 = sign(&format!(r#"{{"alg":"HS512","kid":"{kid}"}}"#), &c, SECRET);
        assert!(rotated.verify::<Extra>(&hs512).is_err());
    }

    #[test]
    fn a_token_without_kid_is_checked_with_the_current_key_only() {
        let now = now_seconds();
        let c = claims(now, now + 60, "agency-svc");
        let current = sign(r#"{"alg":"HS256","typ":"JWT"}"#, &c, SECRET);
        assert!(keys()
            .with_previous([OLD])
            .verify::<Extra>(&current)
            .is_ok());
        let previous = sign(r#"{"alg":"HS256","typ":"JWT"}"#, &c, OLD);
        assert_eq!(
            keys().with_previous([OLD]).verify::<Extra>(&previous),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        for t in [
            "",
            "abc",
            "a.b.c",
            "a.b",
            "....",
            "eyJhbGciOiJIUzI1NiJ9.e30.x",
        ] {
            assert!(keys().verify::<Extra>(t).is_err(), "{t:?} accepted");
        }
        let now = now_seconds();
        let missing_sub = sign(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            &serde_json::json!({"iss":"agency-svc","aud":"agency-svc","iat":now,"exp":now+60,"grp":1}),
            SECRET,
        );
        assert!(keys().verify::<Extra>(&missing_sub).is_err());
    }
}
