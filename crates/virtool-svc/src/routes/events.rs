//! `/api/events`: the audit trail and change feed (`../shared/api/audit.md`), for callers
//! holding `manage_users` (administrators hold every permission). Virtool has one tenant: the
//! feed shows every event.

use crate::auth::Manager;
use crate::cerberus::Errors;
use crate::error::ApiError;
use crate::state::AppState;
use crate::wire::{ErrorJson, InvalidJson};
use actix_web::{web, HttpResponse};
use std::collections::HashMap;
use user_core::audit::{FeedPage, FeedParams, FeedQuery};

/// The events after `after`, in id order; with `wait`, held (without a database connection)
/// until one arrives or `wait` seconds pass. Pass `next_after` back as `after` to follow.
#[utoipa::path(get, path = "/api/events", tag = "events", security(("bearer" = [])),
    params(FeedParams),
    responses(
        (status = 200, body = FeedPage),
        (status = 401, body = ErrorJson),
        (status = 403, body = ErrorJson),
        (status = 422, body = InvalidJson, description = "A query parameter out of range, e.g. `{\"limit\": [\"The limit must be an integer between 1 and 1000.\"]}`"),
        (status = 503, body = ErrorJson),
    ))]
pub async fn feed(
    state: web::Data<AppState>,
    _manager: Manager,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let query = FeedQuery::parse(&query).map_err(|refused| {
        let mut errors = Errors::new();
        for e in refused {
            errors.add(e.field, e.message);
        }
        ApiError::Invalid(errors)
    })?;
    let page = state.core.audit.feed(None, &query).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(page))
}
