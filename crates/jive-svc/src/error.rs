//! This API's errors, in Tyk's envelope: `{"Status":"Error","Message":…,"Meta":null}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{json, Value};
use user_core::db::DbError;
use user_core::http::{problem_response, ErrorShape, Failure, Problem};

/// The message of every 403 for a missing permission (Tyk's wording).
pub const ACCESS_DENIED: &str = "access denied: You do not have permission to access /api/users";

/// The message of the 403 for a caller of the change feed who is not an org admin.
pub const EVENTS_ACCESS_DENIED: &str =
    "access denied: You do not have permission to access /api/events";

/// Tyk's envelope with `Status` `"Error"`.
pub fn envelope(message: &str) -> Value {
    json!({"Status": "Error", "Message": message, "Meta": null})
}

/// How the Tyk dashboard words the shared failures.
pub struct Shape;

impl ErrorShape for Shape {
    fn body(problem: &Problem) -> Value {
        envelope(match problem {
            Problem::MalformedJson => "Malformed request body: not valid JSON",
            Problem::BadRequest => "Bad request",
            Problem::Unauthenticated => "Not authorised",
            Problem::NotFound => "Not found",
            Problem::MethodNotAllowed => "Method not allowed",
            Problem::PayloadTooLarge => "Request body too large (limit 64 KiB)",
            Problem::UnsupportedMediaType => "Unsupported media type: send application/json",
            Problem::TooManyRequests { .. } => "Too many requests",
            Problem::PreconditionFailed => "Precondition failed: the user has changed",
            Problem::IdempotencyKeyMalformed => "Invalid Idempotency-Key header",
            Problem::IdempotencyKeyReused => user_core::idempotency::REUSED_MESSAGE,
            Problem::IdempotencyKeyInUse => "A request with this Idempotency-Key is in progress",
            Problem::Internal => "Internal server error",
            Problem::Unavailable => "Service unavailable",
        })
    }

    /// Tyk answers every refused request 400, a reused Idempotency-Key too.
    fn status(problem: &Problem) -> StatusCode {
        match problem {
            Problem::IdempotencyKeyReused => StatusCode::BAD_REQUEST,
            other => other.status(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 with this message (a failed rule, naming the field).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 403: the caller lacks the permission.
    #[error("access denied")]
    Forbidden,
    /// 403: the change feed is for org admins only.
    #[error("access to the events denied")]
    EventsForbidden,
    /// 403: another user of the org has this email.
    #[error("email taken")]
    EmailTaken,
    /// 404: no such user in the caller's org (or an id that cannot exist).
    #[error("user not found")]
    UserNotFound,
    /// The failures every service shares (the plumbing's 4xx, 404, 500, 503).
    #[error(transparent)]
    Failure(Failure),
}

impl ApiError {
    pub const UNAUTHENTICATED: Self = Self::Failure(Failure::Problem(Problem::Unauthenticated));
    pub const INTERNAL: Self = Self::Failure(Failure::Problem(Problem::Internal));

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::BadRequest(message.into())
    }

    /// The shared answer, in the envelope; `None` for this API's own errors. A missing row is
    /// this API's "user not found", not the plumbing's 404.
    fn problem(&self) -> Option<Problem> {
        match self {
            Self::Failure(Failure::Db(DbError::NotFound)) => None,
            Self::Failure(f) => Some(f.problem()),
            _ => None,
        }
    }

    fn message(&self) -> &str {
        match self {
            Self::BadRequest(m) => m,
            Self::Forbidden => ACCESS_DENIED,
            Self::EventsForbidden => EVENTS_ACCESS_DENIED,
            Self::EmailTaken => "User email already exists for this org.",
            _ => "Could not retrieve user detail.",
        }
    }
}

user_core::shared_failures!(ApiError);

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden | Self::EventsForbidden | Self::EmailTaken => StatusCode::FORBIDDEN,
            Self::UserNotFound | Self::Failure(Failure::Db(DbError::NotFound)) => {
                StatusCode::NOT_FOUND
            }
            Self::Failure(f) => Shape::status(&f.problem()),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self.problem() {
            Some(problem) => problem_response::<Shape>(&problem),
            None => HttpResponse::build(self.status_code()).json(envelope(self.message())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_is_the_envelope() {
        assert_eq!(
            Shape::body(&Problem::Unauthenticated),
            json!({"Status":"Error","Message":"Not authorised","Meta":null})
        );
        let e = ApiError::EmailTaken;
        assert_eq!(e.status_code(), StatusCode::FORBIDDEN);
        assert_eq!(e.message(), "User email already exists for this org.");
        assert_eq!(ApiError::UserNotFound.status_code(), StatusCode::NOT_FOUND);
        assert_eq!(
            ApiError::from(DbError::Unavailable("x".into())).status_code(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
