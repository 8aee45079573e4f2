//! The audit trail of the caller's org, as a change feed (`../shared/api/audit.md`).

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::wire::{self, StatusJson};
use actix_web::{web, HttpRequest, HttpResponse};
use user_core::audit::{FeedPage, FeedParams};

/// The org's events after `after`, in id order; with `wait`, held until one arrives. Org
/// admins only.
#[utoipa::path(get, path = "/api/events", tag = "events", security(("access_key" = [])),
    params(
        FeedParams,
    ),
    responses(
        (status = 200, description = "`{\"events\":[…],\"next_after\":n}`: `next_after` is the id of the last event returned, or `after`", body = FeedPage),
        (status = 400, description = "A query parameter out of range, e.g. `The limit must be an integer between 1 and 1000.`", body = StatusJson),
        (status = 401, body = StatusJson),
        (status = 403, description = "Not an org admin: `access denied: You do not have permission to access /api/events`", body = StatusJson),
        (status = 503, body = StatusJson),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    caller.access.may_read_events()?;
    let query = wire::feed_query(req.query_string()).map_err(ApiError::BadRequest)?;
    let page = state.core.audit.feed(Some(&caller.org_id), &query).await?;
    Ok(HttpResponse::Ok().json(page))
}
