//! `GET /events`: the audit trail of the caller's agency group, as a feed
//! (`../shared/api/audit.md`).

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;
use crate::wire;
use actix_web::{web, HttpResponse};
use std::collections::HashMap;
use user_core::audit::{FeedPage, FeedParams};
use user_core::laravel::{MessageJson, ValidationJson};

/// The events of the caller's agency group after `after`, in id order; with `wait`, held until
/// one arrives or `wait` passes. Pass `next_after` back as `after` to follow the feed.
#[utoipa::path(get, path = "/events", tag = "events", security(("bearer" = [])),
    params(
        FeedParams,
    ),
    responses(
        (status = 200, body = FeedPage),
        (status = 401, body = MessageJson),
        (status = 422, body = ValidationJson),
        (status = 503, body = MessageJson),
    ))]
pub async fn feed(
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let query = wire::feed_query(&query).map_err(ApiError::Invalid)?;
    let tenant = caller.group_id.to_string();
    let page = state.core.audit.feed(Some(&tenant), &query).await?;
    Ok(HttpResponse::Ok().json(page))
}
