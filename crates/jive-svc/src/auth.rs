//! Who is calling: the user behind the access key in `authorization`, and what it may do.

use crate::app::AppState;
use crate::db;
use crate::error::ApiError;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde_json::Value;
use user_core::db::DbError;

/// What a user may do with `/api/users`, from its `user_permissions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Authenticated, but every `/api/users` call is refused.
    None,
    /// `{"users":"read"}`: the `GET` calls.
    Read,
    /// `{"users":"write"}`: every call, but not granting permissions.
    Write,
    /// `{"IsAdmin":"admin"}`: everything in the org.
    Admin,
}

impl Access {
    pub fn of(permissions: &Value) -> Self {
        if permissions.get("IsAdmin").and_then(Value::as_str) == Some("admin") {
            return Self::Admin;
        }
        match permissions.get("users").and_then(Value::as_str) {
            Some("write") => Self::Write,
            Some("read") => Self::Read,
            _ => Self::None,
        }
    }
}

/// An authenticated, active user, acting in its org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: String,
    pub org_id: String,
    pub access: Access,
}

impl Caller {
    /// 403 unless the caller has at least `needed`.
    pub fn require(&self, needed: Access) -> Result<(), ApiError> {
        if self.access >= needed {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }

    pub fn is_admin(&self) -> bool {
        self.access == Access::Admin
    }
}

/// What the cache keeps per key: the caller while the user is active, `None` once it is not.
pub type KeyState = Option<Caller>;

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
        .ok_or(ApiError::Problem(user_core::http::Problem::Internal))?;
    let key = access_key(req).ok_or(ApiError::UNAUTHENTICATED)?;
    match lookup(state, key).await? {
        Some(caller) => Ok(caller),
        None => {
            tracing::debug!("unknown or inactive access key");
            Err(ApiError::UNAUTHENTICATED)
        }
    }
}

/// The caller behind `key`: from the cache when it was read less than
/// [`crate::app::KEY_CACHE_TTL`] ago, else from the database (and then cached).
/// Unknown keys are not cached, so guessing cannot crowd out real entries.
pub async fn lookup(state: &AppState, key: &str) -> Result<KeyState, DbError> {
    if let Some(cached) = state.keys.get(&key.to_owned()) {
        return Ok(cached);
    }
    let mut conn = state.core.db.conn().await?;
    let Some(owner) = db::find_by_key(&mut conn, key).await? else {
        return Ok(None);
    };
    let caller = owner.active.then(|| Caller {
        access: Access::of(&owner.user_permissions),
        user_id: owner.id,
        org_id: owner.org_id,
    });
    state.keys.insert(key.to_owned(), caller.clone());
    Ok(caller)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn permissions_map_to_access() {
        assert_eq!(Access::of(&json!({"IsAdmin":"admin"})), Access::Admin);
        assert_eq!(
            Access::of(&json!({"IsAdmin":"admin","users":"read"})),
            Access::Admin
        );
        assert_eq!(Access::of(&json!({"users":"write"})), Access::Write);
        assert_eq!(Access::of(&json!({"users":"read"})), Access::Read);
        assert_eq!(Access::of(&json!({"users":"deny"})), Access::None);
        assert_eq!(Access::of(&json!({})), Access::None);
        assert_eq!(Access::of(&json!({"IsAdmin":"yes"})), Access::None);
        assert!(Access::Admin > Access::Write && Access::Write > Access::Read);
    }

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
