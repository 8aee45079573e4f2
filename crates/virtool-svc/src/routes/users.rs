//! `/api/users`: list, get, create, edit, group membership and removal (`manage_users`).

use crate::auth::Manager;
use crate::db::{self, NewUser, UserPatch};
use crate::error::ApiError;
use crate::permissions::ADMINISTRATOR;
use crate::state::AppState;
use crate::wire::{
    self, CreateUserBody, CreateUserInput, ErrorJson, GroupIdBody, InvalidJson, PatchUserBody,
    PatchUserInput, UserJson,
};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::Value;
use user_core::http::stream;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Keep users whose id contains this term (case-insensitive).
    pub find: Option<String>,
}

/// A path id that cannot exist is answered like a missing one, without a query.
fn user_path(id: &str) -> Result<&str, ApiError> {
    if wire::plausible_id(id) {
        Ok(id)
    } else {
        Err(ApiError::USER_NOT_FOUND)
    }
}

/// Only administrators may change or remove an administrator (so `manage_users` alone cannot
/// take over an administrator account).
async fn guard_administrator(
    state: &AppState,
    caller: &Manager,
    target: &str,
) -> Result<(), ApiError> {
    if caller.0.administrator {
        return Ok(());
    }
    let mut conn = state.core.db.conn().await?;
    if db::is_administrator(&mut conn, target).await? {
        Err(ApiError::Forbidden)
    } else {
        Ok(())
    }
}

/// Every user, ordered by id (streamed in keyset batches).
#[utoipa::path(get, path = "/api/users", tag = "users", security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, body = [UserJson]),
        (status = 401, body = ErrorJson),
        (status = 403, body = ErrorJson),
        (status = 503, body = ErrorJson),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    _manager: Manager,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let find = query.into_inner().find;
    if find.as_deref().is_some_and(|t| t.contains('\0')) {
        // No id holds a NUL; Postgres text cannot either.
        return Ok(HttpResponse::Ok().json(Vec::<UserJson>::new()));
    }
    let database = state.core.db.clone();
    let response = stream::json_array(
        "[",
        "]",
        |u: &UserJson| u.id.clone(),
        move |after| {
            let database = database.clone();
            let find = find.clone();
            async move {
                let mut conn = database.conn().await?;
                let rows = db::users_page(&mut conn, find.as_deref(), after, stream::BATCH).await?;
                Ok(rows.into_iter().map(UserJson::from).collect())
            }
        },
    )
    .await?;
    Ok(response)
}

/// One user.
#[utoipa::path(get, path = "/api/users/{user_id}", tag = "users", security(("bearer" = [])),
    params(("user_id" = String, Path)),
    responses(
        (status = 200, body = UserJson),
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
    let id = user_path(&path)?;
    let mut conn = state.core.db.conn().await?;
    let user = db::find_user(&mut conn, id)
        .await?
        .ok_or(ApiError::USER_NOT_FOUND)?;
    Ok(HttpResponse::Ok().json(UserJson::from(user)))
}

const USER_EXISTS: &str = "User already exists";

/// Creates a user (no groups, no primary group; `force_reset` defaults to true).
#[utoipa::path(post, path = "/api/users", tag = "users", security(("bearer" = [])),
    request_body = CreateUserBody,
    responses(
        (status = 201, body = UserJson, headers(("Location" = String, description = "The new user's URL"))),
        (status = 400, body = ErrorJson),
        (status = 401, body = ErrorJson),
        (status = 403, body = ErrorJson),
        (status = 409, body = ErrorJson),
        (status = 413, body = ErrorJson),
        (status = 415, body = ErrorJson),
        (status = 422, body = InvalidJson),
        (status = 503, body = ErrorJson),
    ))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    _manager: Manager,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let input = CreateUserInput::parse(&body, state.min_password)?;
    let core = &state.core;
    {
        let mut conn = core.db.conn().await?;
        if db::user_exists(&mut conn, &input.id).await? {
            return Err(ApiError::Conflict(USER_EXISTS));
        }
    }
    let password_hash = core.hasher.hash(&input.password).await?;
    let new = NewUser {
        id: input.id.clone(),
        password_hash,
        force_reset: input.force_reset,
        primary_group: None,
    };
    let mut conn = core.db.conn().await?;
    match db::insert_user(&mut conn, new, &[]).await {
        Ok(()) => {}
        Err(e) if e.is_unique_violation() => return Err(ApiError::Conflict(USER_EXISTS)),
        Err(e) => return Err(e.into()),
    }
    let user = db::find_user(&mut conn, &input.id)
        .await?
        .ok_or(ApiError::INTERNAL)?;
    tracing::info!(user = %input.id, "user created");
    Ok(HttpResponse::Created()
        .insert_header((
            "Location",
            core.location(&req, &["api", "users", &input.id]),
        ))
        .json(UserJson::from(user)))
}

/// Changes `force_reset`, the password or the primary group (`"none"` or `""` clears it).
#[utoipa::path(patch, path = "/api/users/{user_id}", tag = "users", security(("bearer" = [])),
    params(("user_id" = String, Path)),
    request_body = PatchUserBody,
    responses(
        (status = 200, body = UserJson),
        (status = 400, description = "Not a member of the group, or malformed JSON", body = ErrorJson),
        (status = 401, body = ErrorJson),
        (status = 403, body = ErrorJson),
        (status = 404, description = "User not found, or Group not found", body = ErrorJson),
        (status = 413, body = ErrorJson),
        (status = 415, body = ErrorJson),
        (status = 422, body = InvalidJson),
        (status = 503, body = ErrorJson),
    ))]
pub async fn update(
    state: web::Data<AppState>,
    manager: Manager,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let input = PatchUserInput::parse(&body, state.min_password)?;
    let id = user_path(&path)?;
    guard_administrator(&state, &manager, id).await?;
    if let Some(Some(group)) = &input.primary_group {
        if !wire::plausible_id(group) {
            let mut conn = state.core.db.conn().await?;
            return Err(if db::user_exists(&mut conn, id).await? {
                ApiError::GROUP_NOT_FOUND
            } else {
                ApiError::USER_NOT_FOUND
            });
        }
    }
    let password_hash = match &input.password {
        Some(p) => Some(state.core.hasher.hash(p).await?),
        None => None,
    };
    let patch = UserPatch {
        force_reset: input.force_reset,
        password_hash,
        primary_group: input.primary_group,
    };
    let new_password = patch.password_hash.is_some();
    let mut conn = state.core.db.conn().await?;
    let user = db::patch_user(&mut conn, id, patch).await?;
    if new_password {
        // Tokens issued before the change stop counting (here at once, elsewhere within 2 s).
        state.principals.forget(&user.user.id);
    }
    Ok(HttpResponse::Ok().json(UserJson::from(user)))
}

/// Adds the user to a group; the whole user, with its groups and permissions updated.
#[utoipa::path(post, path = "/api/users/{user_id}/groups", tag = "users", security(("bearer" = [])),
    params(("user_id" = String, Path)),
    request_body = GroupIdBody,
    responses(
        (status = 200, body = UserJson),
        (status = 400, body = ErrorJson),
        (status = 401, body = ErrorJson),
        (status = 403, body = ErrorJson),
        (status = 404, description = "User not found, or Group not found", body = ErrorJson),
        (status = 422, body = InvalidJson),
        (status = 503, body = ErrorJson),
    ))]
pub async fn add_group(
    state: web::Data<AppState>,
    manager: Manager,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let group = wire::parse_group_ref(&body)?;
    let id = user_path(&path)?;
    if group == ADMINISTRATOR {
        manager.0.require_administrator()?;
    }
    let mut conn = state.core.db.conn().await?;
    let user = if wire::plausible_id(&group) {
        db::add_group(&mut conn, id, &group).await?
    } else if db::user_exists(&mut conn, id).await? {
        return Err(ApiError::GROUP_NOT_FOUND);
    } else {
        return Err(ApiError::USER_NOT_FOUND);
    };
    state.principals.forget(&user.user.id);
    Ok(HttpResponse::Ok().json(UserJson::from(user)))
}

/// `/group`, the other name the document gives [`add_group`]: the same call.
#[utoipa::path(post, path = "/api/users/{user_id}/group", tag = "users", security(("bearer" = [])),
    params(("user_id" = String, Path)),
    request_body = GroupIdBody,
    responses(
        (status = 200, body = UserJson),
        (status = 400, body = ErrorJson),
        (status = 401, body = ErrorJson),
        (status = 403, body = ErrorJson),
        (status = 404, description = "User not found, or Group not found", body = ErrorJson),
        (status = 422, body = InvalidJson),
        (status = 503, body = ErrorJson),
    ))]
pub async fn add_group_alias(
    state: web::Data<AppState>,
    manager: Manager,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    add_group(state, manager, path, body).await
}

/// Removes the user from a group (clearing its primary group if it was that one); the
/// remaining group ids.
#[utoipa::path(delete, path = "/api/users/{user_id}/groups/{group_id}", tag = "users", security(("bearer" = [])),
    params(("user_id" = String, Path), ("group_id" = String, Path)),
    responses(
        (status = 200, body = [String]),
        (status = 400, description = "Administrators cannot remove themselves from the administrator group", body = ErrorJson),
        (status = 401, body = ErrorJson),
        (status = 403, body = ErrorJson),
        (status = 404, description = "User not found, or Group not found", body = ErrorJson),
        (status = 503, body = ErrorJson),
    ))]
pub async fn remove_group(
    state: web::Data<AppState>,
    manager: Manager,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (user, group) = path.into_inner();
    let id = user_path(&user)?;
    if id == manager.0.id && group == ADMINISTRATOR {
        return Err(ApiError::BadRequest(
            "Administrators cannot remove themselves from the administrator group".to_owned(),
        ));
    }
    if group == ADMINISTRATOR {
        manager.0.require_administrator()?;
    }
    let mut conn = state.core.db.conn().await?;
    let remaining = if wire::plausible_id(&group) {
        db::remove_group(&mut conn, id, &group).await?
    } else if db::user_exists(&mut conn, id).await? {
        return Err(ApiError::GROUP_NOT_FOUND);
    } else {
        return Err(ApiError::USER_NOT_FOUND);
    };
    state.principals.forget(&id.to_owned());
    Ok(HttpResponse::Ok().json(remaining))
}

/// Removes a user (never yourself).
#[utoipa::path(delete, path = "/api/users/{user_id}", tag = "users", security(("bearer" = [])),
    params(("user_id" = String, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Cannot remove own account", body = ErrorJson),
        (status = 401, body = ErrorJson),
        (status = 403, body = ErrorJson),
        (status = 404, body = ErrorJson),
        (status = 503, body = ErrorJson),
    ))]
pub async fn delete(
    state: web::Data<AppState>,
    manager: Manager,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = user_path(&path)?;
    if id == manager.0.id {
        return Err(ApiError::BadRequest("Cannot remove own account".to_owned()));
    }
    guard_administrator(&state, &manager, id).await?;
    let mut conn = state.core.db.conn().await?;
    if !db::delete_user(&mut conn, id).await? {
        return Err(ApiError::USER_NOT_FOUND);
    }
    state.principals.forget(&id.to_owned());
    tracing::info!(user = %id, "user removed");
    Ok(HttpResponse::NoContent().finish())
}
