//! This API's errors, in Laravel's shape (`user_core::laravel`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use user_core::http::{problem_response, ErrorShape, Failure, Problem};
use user_core::laravel::{self, Errors, LaravelShape};

pub type Shape = LaravelShape;

/// The 403 message for a missing permission or partner access.
pub const UNAUTHORIZED_ACTION: &str = "This action is unauthorized.";
/// The 403 message for deleting oneself.
pub const DELETE_SELF: &str = "You cannot delete your own account.";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("validation failed")]
    Invalid(Errors),
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The failures every service shares (the plumbing's 4xx, 404, 500, 503).
    #[error(transparent)]
    Failure(Failure),
}

impl ApiError {
    pub const NOT_FOUND: Self = Self::Failure(Failure::Problem(Problem::NotFound));
    pub const UNAUTHENTICATED: Self = Self::Failure(Failure::Problem(Problem::Unauthenticated));
    pub const INTERNAL: Self = Self::Failure(Failure::Problem(Problem::Internal));
    pub const UNAUTHORIZED: Self = Self::Forbidden(UNAUTHORIZED_ACTION);

    /// 422 with one message on `field`.
    pub fn taken(field: &str) -> Self {
        let mut errors = Errors::new();
        errors.taken(field);
        Self::Invalid(errors)
    }
}

user_core::shared_failures!(ApiError);

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            Self::Failure(f) => Shape::status(&f.problem()),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Invalid(errors) => errors.response(),
            Self::Forbidden(text) => laravel::message(StatusCode::FORBIDDEN, text),
            Self::InvalidCredentials => {
                laravel::message(StatusCode::UNAUTHORIZED, "Invalid credentials.")
            }
            Self::Failure(f) => problem_response::<Shape>(&f.problem()),
        }
    }
}
