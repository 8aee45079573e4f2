//! `/api/users`: list, get, create, edit, group membership and removal (`manage_users`).

use crate::audit;
use crate::auth::Manager;
use crate::db::{self, NewUser, StoreError, UserPatch, UserView};
use crate::error::ApiError;
use crate::permissions::ADMINISTRATOR;
use crate::state::AppState;
use crate::wire::{
    self, CreateUserBody, CreateUserInput, ErrorJson, GroupIdBody, InvalidJson,
    InvalidOrReusedJson, PatchUserBody, PatchUserInput, UserJson,
};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use diesel_async::AsyncConnection;
use serde::Deserialize;
use serde_json::Value;
use user_core::audit::{Actor, Context};
use user_core::http::conditional::{tagged, ETag, Precondition};
use user_core::http::{stream, Problem};
use user_core::idempotency::{self, Answer};
use user_core::openapi::{IdempotencyKey, IfMatch, IfNoneMatch};

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

/// The identity of user `id` in its ETags.
fn identity(id: &str) -> String {
    format!("user/{id}")
}

/// The current tag of `user`: that of what a GET of it answers (its groups' permissions
/// included, so a change of one of them moves it).
fn etag(user: &UserView) -> ETag {
    ETag::of(&identity(&user.user.id), &UserJson::from(user.clone()))
}

/// The `check` a write of a user passes to `db`: `If-Match` against the user as it is under
/// its row lock (none without the header).
fn check(precondition: &Precondition) -> Option<impl FnOnce(&UserView) -> bool + Send + '_> {
    precondition
        .is_set()
        .then_some(|user: &UserView| precondition.holds(&etag(user)))
}

/// A write's refusal from `db`; a user missing under the lock is 412 when `If-Match` names one
/// of its tags (deleted since the caller saw it), else 404 as without the header.
fn refused<'a>(
    precondition: &'a Precondition,
    id: &str,
) -> impl FnOnce(StoreError) -> ApiError + 'a {
    let identity = identity(id);
    move |e| match e {
        StoreError::UserNotFound => precondition.gone(&identity, ApiError::USER_NOT_FOUND),
        other => other.into(),
    }
}

/// The user `id` answered with its tag (or 304 for a GET naming it).
fn answer(req: &HttpRequest, user: UserView) -> HttpResponse {
    let id = identity(&user.user.id);
    tagged(req, StatusCode::OK, &id, &UserJson::from(user))
}

/// The audit context of a write by `manager`.
fn by(req: &HttpRequest, state: &AppState, manager: &Manager) -> Context {
    Context::of(req, &state.core, Actor::user(&manager.0.id))
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
    params(("user_id" = String, Path), IfNoneMatch),
    responses(
        (status = 200, body = UserJson, headers(("ETag" = String, description = "The user's current tag"))),
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
    let id = user_path(&path)?;
    let mut conn = state.core.db.conn().await?;
    let user = db::find_user(&mut conn, id)
        .await?
        .ok_or(ApiError::USER_NOT_FOUND)?;
    Ok(answer(&req, user))
}

const USER_EXISTS: &str = "User already exists";

/// Creates a user (no groups, no primary group; `force_reset` defaults to true). With an
/// `Idempotency-Key`, at most once per caller and key.
#[utoipa::path(post, path = "/api/users", tag = "users", security(("bearer" = [])),
    params(IdempotencyKey),
    request_body = CreateUserBody,
    responses(
        (status = 201, body = UserJson, description = "Created (or replayed, with `Idempotent-Replayed: true`)", headers(
            ("Location" = String, description = "The new user's URL"),
            ("ETag" = String, description = "The new user's tag"),
        )),
        (status = 400, body = ErrorJson, description = "Malformed JSON, or a malformed `Idempotency-Key`"),
        (status = 401, body = ErrorJson),
        (status = 403, body = ErrorJson),
        (status = 409, body = ErrorJson, description = "User already exists, or a request with this `Idempotency-Key` is still running (`Retry-After: 1`)"),
        (status = 413, body = ErrorJson),
        (status = 415, body = ErrorJson),
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
        let input = CreateUserInput::parse(&body, state.min_password)?;
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
        let location = core.location(&req, &["api", "users", &input.id]);
        let context = by(&req, &state, &manager);
        let mut conn = core.db.conn().await?;
        let answer = conn
            .transaction::<_, ApiError, _>(async |conn| {
                db::insert_user_rows(conn, new, &[]).await.map_err(|e| {
                    if e.is_unique_violation() {
                        ApiError::Conflict(USER_EXISTS)
                    } else {
                        e.into()
                    }
                })?;
                let user = db::find_user(conn, &input.id)
                    .await?
                    .ok_or(ApiError::INTERNAL)?;
                audit::user_created(conn, &context, &user).await?;
                let answer = Answer::json(StatusCode::CREATED, &UserJson::from(user))
                    .tagged(&identity(&input.id))
                    .with_location(location);
                idempotency::complete(ticket, conn, &answer).await?;
                Ok(answer)
            })
            .await?;
        tracing::info!(user = %input.id, "user created");
        Ok(answer.response())
    })
    .await
}

/// Changes `force_reset`, the password or the primary group (`"none"` or `""` clears it).
#[utoipa::path(patch, path = "/api/users/{user_id}", tag = "users", security(("bearer" = [])),
    params(("user_id" = String, Path), IfMatch),
    request_body = PatchUserBody,
    responses(
        (status = 200, body = UserJson, headers(("ETag" = String, description = "The user's new tag"))),
        (status = 400, description = "Not a member of the group, or malformed JSON", body = ErrorJson),
        (status = 401, body = ErrorJson),
        (status = 403, body = ErrorJson),
        (status = 404, description = "User not found, or Group not found", body = ErrorJson),
        (status = 412, body = ErrorJson, description = "`If-Match` names no current tag of the user"),
        (status = 413, body = ErrorJson),
        (status = 415, body = ErrorJson),
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
    let input = PatchUserInput::parse(&body, state.min_password)?;
    let id = user_path(&path)?;
    let precondition = Precondition::of(&req);
    guard_administrator(&state, &manager, id).await?;
    let group = input.primary_group.as_ref().and_then(Option::as_deref);
    if let Some(group) = group {
        if !wire::plausible_id(group) {
            let mut conn = state.core.db.conn().await?;
            return Err(if db::user_exists(&mut conn, id).await? {
                ApiError::GROUP_NOT_FOUND
            } else {
                precondition.gone(&identity(id), ApiError::USER_NOT_FOUND)
            });
        }
    }
    if precondition.is_set() && input.password.is_some() {
        // Refuse a stale request before the bcrypt work (checked again under the lock), with
        // the same order of answers as there: the user, the group, the tag.
        let mut conn = state.core.db.conn().await?;
        let current = db::find_user(&mut conn, id)
            .await?
            .ok_or_else(|| precondition.gone(&identity(id), ApiError::USER_NOT_FOUND))?;
        if !precondition.holds(&etag(&current)) {
            if let Some(group) = group {
                if !db::group_exists(&mut conn, group).await? {
                    return Err(ApiError::GROUP_NOT_FOUND);
                }
            }
            return Err(Problem::PreconditionFailed.into());
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
    let context = by(&req, &state, &manager);
    let mut conn = state.core.db.conn().await?;
    let user = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let change = db::patch_user(conn, id, patch, check(&precondition))
                .await
                .map_err(refused(&precondition, id))?;
            let other = audit::user_changes(&change.before, &change.after);
            audit::user_updated(conn, &context, id, other, new_password).await?;
            Ok(change.after)
        })
        .await?;
    if new_password {
        // Tokens issued before the change stop counting (here at once, elsewhere within 2 s).
        state.principals.forget(&user.user.id);
    }
    Ok(answer(&req, user))
}

/// Adds the user to a group; the whole user, with its groups and permissions updated.
#[utoipa::path(post, path = "/api/users/{user_id}/groups", tag = "users", security(("bearer" = [])),
    params(("user_id" = String, Path), IfMatch),
    request_body = GroupIdBody,
    responses(
        (status = 200, body = UserJson, headers(("ETag" = String, description = "The user's new tag"))),
        (status = 400, body = ErrorJson),
        (status = 401, body = ErrorJson),
        (status = 403, body = ErrorJson),
        (status = 404, description = "User not found, or Group not found", body = ErrorJson),
        (status = 412, body = ErrorJson, description = "`If-Match` names no current tag of the user"),
        (status = 422, body = InvalidJson),
        (status = 503, body = ErrorJson),
    ))]
pub async fn add_group(
    req: HttpRequest,
    state: web::Data<AppState>,
    manager: Manager,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let group = wire::parse_group_ref(&body)?;
    let id = user_path(&path)?;
    let precondition = Precondition::of(&req);
    if group == ADMINISTRATOR {
        manager.0.require_administrator()?;
    }
    let context = by(&req, &state, &manager);
    let mut conn = state.core.db.conn().await?;
    let user = if wire::plausible_id(&group) {
        conn.transaction::<_, ApiError, _>(async |conn| {
            let change = db::add_group(conn, id, &group, check(&precondition))
                .await
                .map_err(refused(&precondition, id))?;
            audit::membership_changed(
                conn,
                &context,
                audit::USER_GROUP_ADDED,
                &change.before,
                &change.after,
            )
            .await?;
            Ok(change.after)
        })
        .await?
    } else if db::user_exists(&mut conn, id).await? {
        return Err(ApiError::GROUP_NOT_FOUND);
    } else {
        return Err(precondition.gone(&identity(id), ApiError::USER_NOT_FOUND));
    };
    state.principals.forget(&user.user.id);
    Ok(answer(&req, user))
}

/// `/group`, the other name the document gives [`add_group`]: the same call.
#[utoipa::path(post, path = "/api/users/{user_id}/group", tag = "users", security(("bearer" = [])),
    params(("user_id" = String, Path), IfMatch),
    request_body = GroupIdBody,
    responses(
        (status = 200, body = UserJson, headers(("ETag" = String, description = "The user's new tag"))),
        (status = 400, body = ErrorJson),
        (status = 401, body = ErrorJson),
        (status = 403, body = ErrorJson),
        (status = 404, description = "User not found, or Group not found", body = ErrorJson),
        (status = 412, body = ErrorJson, description = "`If-Match` names no current tag of the user"),
        (status = 422, body = InvalidJson),
        (status = 503, body = ErrorJson),
    ))]
pub async fn add_group_alias(
    req: HttpRequest,
    state: web::Data<AppState>,
    manager: Manager,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    add_group(req, state, manager, path, body).await
}

/// Removes the user from a group (clearing its primary group if it was that one); the
/// remaining group ids, with the user's new tag.
#[utoipa::path(delete, path = "/api/users/{user_id}/groups/{group_id}", tag = "users", security(("bearer" = [])),
    params(("user_id" = String, Path), ("group_id" = String, Path), IfMatch),
    responses(
        (status = 200, body = [String], headers(("ETag" = String, description = "The user's new tag"))),
        (status = 400, description = "Administrators cannot remove themselves from the administrator group", body = ErrorJson),
        (status = 401, body = ErrorJson),
        (status = 403, body = ErrorJson),
        (status = 404, description = "User not found, or Group not found", body = ErrorJson),
        (status = 412, body = ErrorJson, description = "`If-Match` names no current tag of the user"),
        (status = 503, body = ErrorJson),
    ))]
pub async fn remove_group(
    req: HttpRequest,
    state: web::Data<AppState>,
    manager: Manager,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (user, group) = path.into_inner();
    let id = user_path(&user)?;
    let precondition = Precondition::of(&req);
    if id == manager.0.id && group == ADMINISTRATOR {
        return Err(ApiError::BadRequest(
            "Administrators cannot remove themselves from the administrator group".to_owned(),
        ));
    }
    if group == ADMINISTRATOR {
        manager.0.require_administrator()?;
    }
    let context = by(&req, &state, &manager);
    let mut conn = state.core.db.conn().await?;
    let (remaining, user) = if wire::plausible_id(&group) {
        conn.transaction::<_, ApiError, _>(async |conn| {
            let (remaining, change) = db::remove_group(conn, id, &group, check(&precondition))
                .await
                .map_err(refused(&precondition, id))?;
            audit::membership_changed(
                conn,
                &context,
                audit::USER_GROUP_REMOVED,
                &change.before,
                &change.after,
            )
            .await?;
            Ok((remaining, change.after))
        })
        .await?
    } else if db::user_exists(&mut conn, id).await? {
        return Err(ApiError::GROUP_NOT_FOUND);
    } else {
        return Err(precondition.gone(&identity(id), ApiError::USER_NOT_FOUND));
    };
    state.principals.forget(&id.to_owned());
    let mut response = HttpResponse::Ok().json(remaining);
    etag(&user).set_on(&mut response);
    Ok(response)
}

/// Removes a user (never yourself).
#[utoipa::path(delete, path = "/api/users/{user_id}", tag = "users", security(("bearer" = [])),
    params(("user_id" = String, Path), IfMatch),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Cannot remove own account", body = ErrorJson),
        (status = 401, body = ErrorJson),
        (status = 403, body = ErrorJson),
        (status = 404, body = ErrorJson),
        (status = 412, body = ErrorJson, description = "`If-Match` names no current tag of the user"),
        (status = 503, body = ErrorJson),
    ))]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    manager: Manager,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = user_path(&path)?;
    let precondition = Precondition::of(&req);
    if id == manager.0.id {
        return Err(ApiError::BadRequest("Cannot remove own account".to_owned()));
    }
    guard_administrator(&state, &manager, id).await?;
    let context = by(&req, &state, &manager);
    let mut conn = state.core.db.conn().await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        let before = db::delete_user(conn, id, check(&precondition))
            .await
            .map_err(refused(&precondition, id))?;
        audit::user_deleted(conn, &context, &before).await?;
        Ok(())
    })
    .await?;
    state.principals.forget(&id.to_owned());
    tracing::info!(user = %id, "user removed");
    Ok(HttpResponse::NoContent().finish())
}
