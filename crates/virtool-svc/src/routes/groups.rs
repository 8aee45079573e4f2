//! `/api/groups`: list, create, get, change permissions, remove (`manage_users`).

use crate::auth::Manager;
use crate::db;
use crate::error::ApiError;
use crate::permissions::ADMINISTRATOR;
use crate::state::AppState;
use crate::wire::{self, ErrorJson, GroupJson, InvalidJson, NewGroupBody, PatchGroupBody};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

fn group_path(id: &str) -> Result<&str, ApiError> {
    if wire::plausible_id(id) {
        Ok(id)
    } else {
        Err(ApiError::GROUP_NOT_FOUND)
    }
}

/// Every group, ordered by id.
#[utoipa::path(get, path = "/api/groups", tag = "groups", security(("bearer" = [])),
    responses(
        (status = 200, body = [GroupJson]),
        (status = 401, body = ErrorJson),
        (status = 403, body = ErrorJson),
        (status = 503, body = ErrorJson),
    ))]
pub async fn list(state: web::Data<AppState>, _manager: Manager) -> Result<HttpResponse, ApiError> {
    let mut conn = state.core.db.conn().await?;
    let groups: Vec<GroupJson> = db::list_groups(&mut conn)
        .await?
        .into_iter()
        .map(GroupJson::from)
        .collect();
    Ok(HttpResponse::Ok().json(groups))
}

/// Creates a group (id lower-cased) with every permission false.
#[utoipa::path(post, path = "/api/groups", tag = "groups", security(("bearer" = [])),
    request_body = NewGroupBody,
    responses(
        (status = 201, body = GroupJson, headers(("Location" = String, description = "The new group's URL"))),
        (status = 400, body = ErrorJson),
        (status = 401, body = ErrorJson),
        (status = 403, body = ErrorJson),
        (status = 409, body = ErrorJson),
        (status = 422, body = InvalidJson),
        (status = 503, body = ErrorJson),
    ))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    _manager: Manager,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let id = wire::parse_new_group(&body)?;
    let mut conn = state.core.db.conn().await?;
    let group = match db::insert_group(&mut conn, &id).await {
        Ok(g) => g,
        Err(e) if e.is_unique_violation() => {
            return Err(ApiError::Conflict("Group already exists"))
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(group = %id, "group created");
    Ok(HttpResponse::Created()
        .insert_header((
            "Location",
            state.core.location(&req, &["api", "groups", &id]),
        ))
        .json(GroupJson::from(group)))
}

/// One group.
#[utoipa::path(get, path = "/api/groups/{group_id}", tag = "groups", security(("bearer" = [])),
    params(("group_id" = String, Path)),
    responses(
        (status = 200, body = GroupJson),
        (status = 401, body = ErrorJson),
        (status = 403, body = ErrorJson),
        (status = 404, body = ErrorJson),
        (status = 503, body = ErrorJson),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    _manager: Manager,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = group_path(&path)?;
    let mut conn = state.core.db.conn().await?;
    let group = db::find_group(&mut conn, id)
        .await?
        .ok_or(ApiError::GROUP_NOT_FOUND)?;
    Ok(HttpResponse::Ok().json(GroupJson::from(group)))
}

const ADMINISTRATOR_FIXED: &str = "The administrator group cannot be changed or removed";

/// Changes the named permissions (the others stay); every member's permissions follow.
#[utoipa::path(patch, path = "/api/groups/{group_id}", tag = "groups", security(("bearer" = [])),
    params(("group_id" = String, Path)),
    request_body = PatchGroupBody,
    responses(
        (status = 200, body = GroupJson),
        (status = 400, description = "The administrator group, or malformed JSON", body = ErrorJson),
        (status = 401, body = ErrorJson),
        (status = 403, body = ErrorJson),
        (status = 404, body = ErrorJson),
        (status = 422, body = InvalidJson),
        (status = 503, body = ErrorJson),
    ))]
pub async fn update(
    state: web::Data<AppState>,
    _manager: Manager,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let changes = wire::parse_group_patch(&body)?;
    let id = group_path(&path)?;
    if id == ADMINISTRATOR {
        return Err(ApiError::BadRequest(ADMINISTRATOR_FIXED.to_owned()));
    }
    let mut conn = state.core.db.conn().await?;
    let group = db::update_group(&mut conn, id, &changes)
        .await?
        .ok_or(ApiError::GROUP_NOT_FOUND)?;
    state.principals.clear();
    tracing::info!(group = %id, "group permissions changed");
    Ok(HttpResponse::Ok().json(GroupJson::from(group)))
}

/// Removes a group: its members lose it, primary groups naming it are cleared.
#[utoipa::path(delete, path = "/api/groups/{group_id}", tag = "groups", security(("bearer" = [])),
    params(("group_id" = String, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "The administrator group", body = ErrorJson),
        (status = 401, body = ErrorJson),
        (status = 403, body = ErrorJson),
        (status = 404, body = ErrorJson),
        (status = 503, body = ErrorJson),
    ))]
pub async fn delete(
    state: web::Data<AppState>,
    _manager: Manager,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = group_path(&path)?;
    if id == ADMINISTRATOR {
        return Err(ApiError::BadRequest(ADMINISTRATOR_FIXED.to_owned()));
    }
    let mut conn = state.core.db.conn().await?;
    if !db::delete_group(&mut conn, id).await? {
        return Err(ApiError::GROUP_NOT_FOUND);
    }
    state.principals.clear();
    tracing::info!(group = %id, "group removed");
    Ok(HttpResponse::NoContent().finish())
}
