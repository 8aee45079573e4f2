//! Who is calling: the user behind the access key in `authorization`, and what it may do.

use crate::db::{self, Principal};
use crate::error::ApiError;
use crate::permissions::Access;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use user_core::db::DbError;

/// An authenticated, active user, acting in its org: the principal behind its access key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub Principal);

impl std::ops::Deref for Caller {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.0
    }
}

impl Caller {
    /// 403 unless the caller has at least `needed`.
    pub fn require(&self, needed: Access) -> Result<(), ApiError> {
        self.access.require(needed)
    }

    pub fn is_admin(&self) -> bool {
        self.access == Access::Admin
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}

/// The key in `authorization: <key>` or `authorization: Bearer <key>`.
pub fn access_key(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get("authorization")?.to_str().ok()?.trim();
    let key = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => value,
    };
    (!key.is_empty() && key.len() <= 256 && !key.contains(' ')).then_some(key)
}

async fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or(ApiError::INTERNAL)?;
    let key = access_key(req).ok_or(ApiError::UNAUTHENTICATED)?;
    match lookup(state, key).await? {
        Some(principal) => Ok(Caller(principal)),
        None => {
            tracing::debug!("unknown or inactive access key");
            Err(ApiError::UNAUTHENTICATED)
        }
    }
}

/// The active user behind `key`: from the cache when it was read less than
/// [`crate::state::KEY_CACHE_TTL`] ago, else from the database (and then cached). Unknown or
/// inactive keys are not cached, so guessing cannot crowd out real entries.
pub async fn lookup(state: &AppState, key: &str) -> Result<Option<Principal>, DbError> {
    state
        .keys
        .get_or_load(&state.core.db, &key.to_owned(), async |conn| {
            db::principal_by_key(conn, key).await
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_raw_or_as_bearer() {
        let req = |v: &str| {
            actix_web::test::TestRequest::default()
                .insert_header(("authorization", v))
                .to_http_request()
        };
        assert_eq!(access_key(&req("abc123")), Some("abc123"));
        assert_eq!(access_key(&req("Bearer abc123")), Some("abc123"));
        assert_eq!(access_key(&req("bearer  abc123 ")), Some("abc123"));
        assert_eq!(access_key(&req("  ")), None);
        assert_eq!(access_key(&req("Basic a b")), None);
        let none = actix_web::test::TestRequest::default().to_http_request();
        assert_eq!(access_key(&none), None);
    }
}
