//! Who is calling: the API client behind the bearer token, checked on every request.

use crate::db;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};

/// The token's own claim: the client's agency group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenClaims {
    pub grp: i64,
}

/// An authenticated API client, acting for its agency group.
#[derive(Debug, Clone)]
pub struct Caller {
    pub client_id: String,
    pub group_id: i64,
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}

async fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or(ApiError::INTERNAL)?;
    let claims = user_core::http::bearer_claims::<TokenClaims>(req, &state.jwt)
        .ok_or(ApiError::UNAUTHENTICATED)?;
    let group = state
        .clients
        .get_or_load(&state.core.db, &claims.sub, async |conn| {
            db::client_group(conn, &claims.sub).await
        })
        .await?;
    match group {
        Some(group_id) => Ok(Caller {
            client_id: claims.sub,
            group_id,
        }),
        None => {
            tracing::debug!(client = %claims.sub, "token of a revoked or unknown client");
            Err(ApiError::UNAUTHENTICATED)
        }
    }
}
