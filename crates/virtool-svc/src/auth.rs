//! Who is calling: the user behind the bearer token and what it may do now.

use crate::db;
use crate::error::ApiError;
use crate::permissions::Permissions;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};

/// The token's own claim: the user's `last_password_change` when it was issued (microseconds
/// since the epoch). A password change makes every earlier token stop counting. Permissions are
/// looked up (and cached briefly), never carried in the token, so changes reach existing tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenClaims {
    pub pwc: i64,
}

/// An authenticated user and its current permissions.
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: String,
    pub permissions: Permissions,
    /// A member of the administrator group (only administrators may change administrators).
    pub administrator: bool,
}

impl Caller {
    /// 403 unless the caller is an administrator.
    pub fn require_administrator(&self) -> Result<(), ApiError> {
        if self.administrator {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
}

/// A caller holding `manage_users` (every users and groups call); 403 otherwise.
#[derive(Debug, Clone)]
pub struct Manager(pub Caller);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}

impl FromRequest for Manager {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let caller = authenticate(&req).await?;
            if caller.permissions.manage_users {
                Ok(Self(caller))
            } else {
                Err(ApiError::Forbidden)
            }
        })
    }
}

async fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or(ApiError::INTERNAL)?;
    let claims = user_core::http::bearer_claims::<TokenClaims>(req, &state.jwt)
        .ok_or(ApiError::UNAUTHENTICATED)?;
    let held = state
        .principals
        .get_or_load(&state.core.db, &claims.sub, async |conn| {
            db::principal(conn, &claims.sub).await
        })
        .await?;
    match held {
        Some(principal) if principal.password_changed != claims.extra.pwc => {
            tracing::debug!(user = %claims.sub, "token from before a password change");
            Err(ApiError::UNAUTHENTICATED)
        }
        Some(principal) => Ok(Caller {
            id: claims.sub,
            permissions: principal.permissions,
            administrator: principal.administrator,
        }),
        None => {
            tracing::debug!(user = %claims.sub, "token of a deleted user");
            Err(ApiError::UNAUTHENTICATED)
        }
    }
}
