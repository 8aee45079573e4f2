//! This API's errors, in Laravel's shape (`user_core::laravel`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;
use user_core::db::DbError;
use user_core::http::{problem_response, Problem};
use user_core::laravel::{Errors, LaravelShape};
use user_core::password::HashError;

pub type Shape = LaravelShape;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0:?}")]
    Problem(Problem),
    #[error("validation failed")]
    Invalid(Errors),
    #[error("client authentication failed")]
    InvalidClient,
    #[error("unsupported grant type")]
    UnsupportedGrantType,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Hash(#[from] HashError),
}

impl ApiError {
    pub const NOT_FOUND: Self = Self::Problem(Problem::NotFound);
    pub const UNAUTHENTICATED: Self = Self::Problem(Problem::Unauthenticated);

    fn problem(&self) -> Option<Problem> {
        match self {
            Self::Problem(p) => Some(p.clone()),
            Self::Db(e) => Some(Problem::from(e)),
            Self::Hash(e) => {
                tracing::error!(error = %e, "password hashing failed");
                Some(Problem::Internal)
            }
            _ => None,
        }
    }
}

impl From<Problem> for ApiError {
    fn from(p: Problem) -> Self {
        Self::Problem(p)
    }
}

/// Passport's OAuth error body: `error`, `error_description` and Laravel's `message`.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "error": error,
        "error_description": description,
        "message": description,
    }))
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::InvalidClient => StatusCode::UNAUTHORIZED,
            Self::UnsupportedGrantType => StatusCode::BAD_REQUEST,
            other => other
                .problem()
                .map_or(StatusCode::INTERNAL_SERVER_ERROR, |p| p.status()),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Invalid(errors) => errors.response(),
            Self::InvalidClient => oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Client authentication failed",
            ),
            Self::UnsupportedGrantType => oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server.",
            ),
            other => problem_response::<Shape>(&other.problem().unwrap_or(Problem::Internal)),
        }
    }
}
