//! `GET /api/internal/v1/partners/{partner_id}/events`: the partner's audit trail, read as a
//! change feed (`../shared/api/audit.md`).

use crate::auth::Caller;
use crate::error::ApiError;
use crate::permissions::Permission;
use crate::state::AppState;
use actix_web::{web, HttpResponse};
use std::collections::HashMap;
use user_core::audit::{FeedPage, FeedParams, FeedQuery};
use user_core::laravel::{Errors, MessageJson, ValidationJson};

/// The events of changes made through the partner, in id order, after `after`. Pass the
/// answer's `next_after` back as `after` to see every event once; with `wait`, a request with
/// nothing newer is held until an event arrives or `wait` passes.
#[utoipa::path(get, path = "/api/internal/v1/partners/{partner_id}/events", tag = "events",
    security(("bearer" = [])),
    params(
        ("partner_id" = i64, Path, description = "The id of the partner"),
        FeedParams,
    ),
    responses(
        (status = 200, description = "`{\"events\": [...], \"next_after\": n}`", body = FeedPage),
        (status = 401, body = MessageJson),
        (status = 403, description = "No `users.read`, or no access to the partner", body = MessageJson),
        (status = 404, description = "No such partner (a `partners.all` caller)", body = MessageJson),
        (status = 422, body = ValidationJson),
        (status = 503, body = MessageJson),
    ))]
pub async fn feed(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let partner = caller.enter(&state, &path, Permission::UsersRead).await?;
    let query = FeedQuery::parse(&query).map_err(|refused| {
        let mut errors = Errors::new();
        for e in refused {
            errors.add(e.field, e.message);
        }
        ApiError::Invalid(errors)
    })?;
    let page = state
        .core
        .audit
        .feed(Some(&partner.to_string()), &query)
        .await?;
    Ok(HttpResponse::Ok().json(page))
}
