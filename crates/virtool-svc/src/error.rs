//! This API's errors: always `{"id","message"}` (plus `errors` for 422), as Virtool words them.

use crate::cerberus::Errors;
use crate::db::StoreError;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{json, Value};
use user_core::http::{problem_response, ErrorShape, Failure, Problem};

/// Virtool's `{"id": …, "message": …}` for the shared failures.
pub struct Shape;

impl ErrorShape for Shape {
    fn body(problem: &Problem) -> Value {
        let (id, message) = match problem {
            Problem::MalformedJson => ("invalid_json", "Invalid JSON"),
            Problem::BadRequest => ("bad_request", "Bad request"),
            Problem::Unauthenticated => ("requires_authorization", "Requires authorization"),
            Problem::NotFound => ("not_found", "Not found"),
            Problem::MethodNotAllowed => ("method_not_allowed", "Method not allowed"),
            Problem::PayloadTooLarge => ("payload_too_large", "Payload too large"),
            Problem::UnsupportedMediaType => ("unsupported_media_type", "Unsupported media type"),
            Problem::TooManyRequests { .. } => ("too_many_requests", "Too many requests"),
            Problem::PreconditionFailed => ("precondition_failed", "Precondition failed"),
            Problem::IdempotencyKeyMalformed => ("bad_request", "Invalid Idempotency-Key header"),
            Problem::IdempotencyKeyReused => (
                "idempotency_key_reused",
                user_core::idempotency::REUSED_MESSAGE,
            ),
            Problem::IdempotencyKeyInUse => (
                "conflict",
                "A request with this Idempotency-Key is in progress",
            ),
            Problem::Internal => ("internal_error", "Internal server error"),
            Problem::Unavailable => ("service_unavailable", "Service unavailable"),
        };
        json!({ "id": id, "message": message })
    }
}

pub const USER_NOT_FOUND: &str = "User not found";
pub const GROUP_NOT_FOUND: &str = "Group not found";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 403: the caller lacks the permission.
    #[error("not permitted")]
    Forbidden,
    /// 422 with Cerberus's errors.
    #[error("invalid input")]
    Invalid(Errors),
    /// 400 `bad_request` with this message.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 404 `not_found` with this message.
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// 409 `conflict` with this message.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The failures every service shares (the plumbing's 4xx, 404, 500, 503).
    #[error(transparent)]
    Failure(Failure),
}

impl ApiError {
    pub const UNAUTHENTICATED: Self = Self::Failure(Failure::Problem(Problem::Unauthenticated));
    pub const INTERNAL: Self = Self::Failure(Failure::Problem(Problem::Internal));
    pub const USER_NOT_FOUND: Self = Self::NotFound(USER_NOT_FOUND);
    pub const GROUP_NOT_FOUND: Self = Self::NotFound(GROUP_NOT_FOUND);
}

user_core::shared_failures!(ApiError);

impl From<Errors> for ApiError {
    fn from(e: Errors) -> Self {
        Self::Invalid(e)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UserNotFound => Self::USER_NOT_FOUND,
            StoreError::GroupNotFound => Self::GROUP_NOT_FOUND,
            StoreError::NotMember(group) => {
                Self::BadRequest(format!("User is not member of group: {group}"))
            }
            StoreError::Changed => Problem::PreconditionFailed.into(),
            StoreError::Db(e) => Self::from(e),
        }
    }
}

fn shaped(status: StatusCode, id: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "id": id, "message": message }))
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Failure(f) => Shape::status(&f.problem()),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            Self::Forbidden => shaped(status, "not_permitted", "Not permitted"),
            Self::Invalid(errors) => HttpResponse::build(status).json(json!({
                "id": "invalid_input",
                "message": "Invalid input",
                "errors": errors.to_json(),
            })),
            Self::BadRequest(message) => shaped(status, "bad_request", message),
            Self::NotFound(message) => shaped(status, "not_found", message),
            Self::Conflict(message) => shaped(status, "conflict", message),
            Self::Failure(f) => problem_response::<Shape>(&f.problem()),
        }
    }
}
