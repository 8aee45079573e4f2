//! `/api/groups`: list, create, get, change permissions, remove (`manage_users`).

use crate::audit;
use crate::auth::Manager;
use crate::db::{self, Group, StoreError};
use crate::error::ApiError;
use crate::permissions::ADMINISTRATOR;
use crate::state::AppState;
use crate::wire::{
    self, ErrorJson, GroupJson, InvalidJson, InvalidOrReusedJson, NewGroupBody, PatchGroupBody,
};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use diesel_async::AsyncConnection;
use serde_json::Value;
use user_core::audit::{Actor, Context};
use user_core::http::conditional::{tagged, ETag, Precondition};
use user_core::http::Problem;
use user_core::idempotency::{self, Answer};
use user_core::openapi::{IdempotencyKey, IfMatch, IfNoneMatch};

fn group_path(id: &str) -> Result<&str, ApiError> {
    if wire::plausible_id(id) {
        Ok(id)
    } else {
        Err(ApiError::GROUP_NOT_FOUND)
    }
}

/// The identity of group `id` in its ETags.
fn identity(id: &str) -> String {
    format!("group/{id}")
}

/// The current tag of `group`: that of what a GET of it answers.
fn etag(group: &Group) -> ETag {
    ETag::of(&identity(&group.id), &GroupJson::from(group.clone()))
}

/// The `check` a write of a group passes to `db`: `If-Match` against the group as it is under
/// its row lock (none without the header).
fn check(precondition: &Precondition) -> Option<impl FnOnce(&Group) -> bool + Send + '_> {
    precondition
        .is_set()
        .then_some(|group: &Group| precondition.holds(&etag(group)))
}

/// A write's refusal from `db`; a group missing under the lock is 412 when `If-Match` names one
/// of its tags (deleted since the caller saw it), else 404 as without the header.
fn refused<'a>(
    precondition: &'a Precondition,
    id: &str,
) -> impl FnOnce(StoreError) -> ApiError + 'a {
    let identity = identity(id);
    move |e| match e {
        StoreError::GroupNotFound => precondition.gone(&identity, ApiError::GROUP_NOT_FOUND),
        other => other.into(),
    }
}

/// The audit context of a write by `manager`.
fn by(req: &HttpRequest, state: &AppState, manager: &Manager) -> Context {
    Context::of(req, &state.core, Actor::user(&manager.0.id))
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

/// Creates a group (id lower-cased) with every permission false. With an `Idempotency-Key`, at
/// most once per caller and key.
#[utoipa::path(post, path = "/api/groups", tag = "groups", security(("bearer" = [])),
    params(IdempotencyKey),
    request_body = NewGroupBody,
    responses(
        (status = 201, body = GroupJson, description = "Created (or replayed, with `Idempotent-Replayed: true`)", headers(
            ("Location" = String, description = "The new group's URL"),
            ("ETag" = String, description = "The new group's tag"),
        )),
        (status = 400, body = ErrorJson, description = "Malformed JSON, or a malformed `Idempotency-Key`"),
        (status = 401, body = ErrorJson),
        (status = 403, body = ErrorJson),
        (status = 409, body = ErrorJson, description = "Group already exists, or a request with this `Idempotency-Key` is still running (`Retry-After: 1`)"),
        (status = 422, body = InvalidOrReusedJson, description = "Invalid input, or the `Idempotency-Key` was used with another request"),
        (status = 503, body = ErrorJson),
    ))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    manager: Manager,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let keyed = idempotency::key_of(&req).map_err(Problem::from)?;
    let core = &state.core;
    let ttl = core.settings.idempotency_ttl_seconds;
    idempotency::run(&core.db, &manager.0.id, keyed, ttl, async |ticket| {
        let id = wire::parse_new_group(&body)?;
        let location = core.location(&req, &["api", "groups", &id]);
        let context = by(&req, &state, &manager);
        let mut conn = core.db.conn().await?;
        let answer = conn
            .transaction::<_, ApiError, _>(async |conn| {
                let group = db::insert_group(conn, &id).await.map_err(|e| {
                    if e.is_unique_violation() {
                        ApiError::Conflict("Group already exists")
                    } else {
                        e.into()
                    }
                })?;
                audit::group_created(conn, &context, &group).await?;
                let answer = Answer::json(StatusCode::CREATED, &GroupJson::from(group))
                    .tagged(&identity(&id))
                    .with_location(location);
                idempotency::complete(ticket, conn, &answer).await?;
                Ok(answer)
            })
            .await?;
        tracing::info!(group = %id, "group created");
        Ok(answer.response())
    })
    .await
}

/// One group.
#[utoipa::path(get, path = "/api/groups/{group_id}", tag = "groups", security(("bearer" = [])),
    params(("group_id" = String, Path), IfNoneMatch),
    responses(
        (status = 200, body = GroupJson, headers(("ETag" = String, description = "The group's current tag"))),
        (status = 304, description = "Not modified: `If-None-Match` names the current tag", headers(("ETag" = String))),
        (status = 401, body = ErrorJson),
        (status = 403, body = ErrorJson),
        (status = 404, body = ErrorJson),
        (status = 503, body = ErrorJson),
    ))]
pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    _manager: Manager,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = group_path(&path)?;
    let mut conn = state.core.db.conn().await?;
    let group = db::find_group(&mut conn, id)
        .await?
        .ok_or(ApiError::GROUP_NOT_FOUND)?;
    Ok(tagged(
        &req,
        StatusCode::OK,
        &identity(&group.id),
        &GroupJson::from(group),
    ))
}

const ADMINISTRATOR_FIXED: &str = "The administrator group cannot be changed or removed";

/// Changes the named permissions (the others stay); every member's permissions follow (and so
/// their tags).
#[utoipa::path(patch, path = "/api/groups/{group_id}", tag = "groups", security(("bearer" = [])),
    params(("group_id" = String, Path), IfMatch),
    request_body = PatchGroupBody,
    responses(
        (status = 200, body = GroupJson, headers(("ETag" = String, description = "The group's new tag"))),
        (status = 400, description = "The administrator group, or malformed JSON", body = ErrorJson),
        (status = 401, body = ErrorJson),
        (status = 403, body = ErrorJson),
        (status = 404, body = ErrorJson),
        (status = 412, body = ErrorJson, description = "`If-Match` names no current tag of the group"),
        (status = 422, body = InvalidJson),
        (status = 503, body = ErrorJson),
    ))]
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    manager: Manager,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let changes = wire::parse_group_patch(&body)?;
    let id = group_path(&path)?;
    if id == ADMINISTRATOR {
        return Err(ApiError::BadRequest(ADMINISTRATOR_FIXED.to_owned()));
    }
    let precondition = Precondition::of(&req);
    let context = by(&req, &state, &manager);
    let mut conn = state.core.db.conn().await?;
    let group = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let (before, after) = db::update_group(conn, id, &changes, check(&precondition))
                .await
                .map_err(refused(&precondition, id))?;
            audit::group_updated(conn, &context, &before, &after).await?;
            Ok(after)
        })
        .await?;
    state.principals.clear();
    tracing::info!(group = %id, "group permissions changed");
    Ok(tagged(
        &req,
        StatusCode::OK,
        &identity(id),
        &GroupJson::from(group),
    ))
}

/// Removes a group: its members lose it, primary groups naming it are cleared.
#[utoipa::path(delete, path = "/api/groups/{group_id}", tag = "groups", security(("bearer" = [])),
    params(("group_id" = String, Path), IfMatch),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "The administrator group", body = ErrorJson),
        (status = 401, body = ErrorJson),
        (status = 403, body = ErrorJson),
        (status = 404, body = ErrorJson),
        (status = 412, body = ErrorJson, description = "`If-Match` names no current tag of the group"),
        (status = 503, body = ErrorJson),
    ))]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    manager: Manager,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = group_path(&path)?;
    if id == ADMINISTRATOR {
        return Err(ApiError::BadRequest(ADMINISTRATOR_FIXED.to_owned()));
    }
    let precondition = Precondition::of(&req);
    let context = by(&req, &state, &manager);
    let mut conn = state.core.db.conn().await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        let (before, members) = db::delete_group(conn, id, check(&precondition))
            .await
            .map_err(refused(&precondition, id))?;
        audit::group_deleted(conn, &context, &before, &members).await?;
        Ok(())
    })
    .await?;
    state.principals.clear();
    tracing::info!(group = %id, "group removed");
    Ok(HttpResponse::NoContent().finish())
}
