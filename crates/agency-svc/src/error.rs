//! This API's errors, in Laravel's shape (`user_core::laravel`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;
use user_core::http::{problem_response, ErrorShape, Failure, Problem};
use user_core::laravel::{Errors, LaravelShape};

pub type Shape = LaravelShape;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("validation failed")]
    Invalid(Errors),
    #[error("client authentication failed")]
    InvalidClient,
    #[error("unsupported grant type")]
    UnsupportedGrantType,
    /// The failures every service shares (the plumbing's 4xx, 404, 500, 503).
    #[error(transparent)]
    Failure(Failure),
}

impl ApiError {
    pub const NOT_FOUND: Self = Self::Failure(Failure::Problem(Problem::NotFound));
    pub const UNAUTHENTICATED: Self = Self::Failure(Failure::Problem(Problem::Unauthenticated));
    pub const INTERNAL: Self = Self::Failure(Failure::Problem(Problem::Internal));
}

user_core::shared_failures!(ApiError);

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
            Self::Failure(f) => Shape::status(&f.problem()),
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
            Self::Failure(f) => problem_response::<Shape>(&f.problem()),
        }
    }
}
