//! This API's errors, in Laravel's shape (`user_core::laravel`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use user_core::db::DbError;
use user_core::http::{problem_response, Problem};
use user_core::laravel::{self, Errors, LaravelShape};
use user_core::password::HashError;

pub type Shape = LaravelShape;

/// The 403 message for a missing permission or partner access.
pub const UNAUTHORIZED_ACTION: &str = "This action is unauthorized.";
/// The 403 message for deleting oneself.
pub const DELETE_SELF: &str = "You cannot delete your own account.";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0:?}")]
    Problem(Problem),
    #[error("validation failed")]
    Invalid(Errors),
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Hash(#[from] HashError),
}

impl ApiError {
    pub const NOT_FOUND: Self = Self::Problem(Problem::NotFound);
    pub const UNAUTHENTICATED: Self = Self::Problem(Problem::Unauthenticated);
    pub const INTERNAL: Self = Self::Problem(Problem::Internal);
    pub const UNAUTHORIZED: Self = Self::Forbidden(UNAUTHORIZED_ACTION);

    /// 422 with one message on `field`.
    pub fn taken(field: &str) -> Self {
        let mut errors = Errors::new();
        errors.taken(field);
        Self::Invalid(errors)
    }

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

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::InvalidCredentials => StatusCode::UNAUTHORIZED,
            other => other
                .problem()
                .map_or(StatusCode::INTERNAL_SERVER_ERROR, |p| p.status()),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Invalid(errors) => errors.response(),
            Self::Forbidden(text) => laravel::message(StatusCode::FORBIDDEN, text),
            Self::InvalidCredentials => {
                laravel::message(StatusCode::UNAUTHORIZED, "Invalid credentials.")
            }
            other => problem_response::<Shape>(&other.problem().unwrap_or(Problem::Internal)),
        }
    }
}
