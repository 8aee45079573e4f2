//! The five user calls of an agency.

use crate::audit;
use crate::auth::Caller;
use crate::db::{self, NewUser, UserChanges};
use crate::error::ApiError;
use crate::permissions::require_agency;
use crate::state::AppState;
use crate::wire::{UserBody, UserInput, UserJson};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use diesel_async::AsyncConnection;
use serde_json::{json, Value};
use user_core::http::conditional::{tagged, ETag, Precondition};
use user_core::http::{stream, Problem};
use user_core::idempotency::{self, Answer};
use user_core::laravel::{MessageJson, ValidationJson};
use user_core::openapi::{IdempotencyKey, IfMatch, IfNoneMatch};

/// The users of an agency, by id, streamed (memory stays flat however many there are).
#[utoipa::path(get, path = "/agency/{agency}/users", tag = "users", security(("bearer" = [])),
    params(("agency" = i64, Path, description = "Agency id")),
    responses(
        (status = 200, body = [UserJson]),
        (status = 401, body = MessageJson),
        (status = 404, body = MessageJson),
        (status = 503, body = MessageJson),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let agency = path.into_inner();
    require_agency(&state.core.db, caller.group_id, agency).await?;
    let database = state.core.db.clone();
    let response = stream::json_array(
        "[",
        "]",
        |u: &UserJson| u.id,
        move |after| {
            let database = database.clone();
            async move {
                let mut conn = database.conn().await?;
                let rows = db::users_page(&mut conn, agency, after, stream::BATCH).await?;
                Ok(rows.into_iter().map(UserJson::from).collect())
            }
        },
    )
    .await?;
    Ok(response)
}

/// Lists the taken email next to the other failures (a racing insert is caught by the index).
async fn check_input(
    state: &AppState,
    body: &Value,
    create: bool,
    except: Option<i64>,
) -> Result<UserInput, ApiError> {
    let (input, mut errors) = UserInput::parse(body, create);
    if let Some(email) = &input.email {
        let mut conn = state.core.db.conn().await?;
        if db::email_taken(&mut conn, email.as_str(), except).await? {
            errors.taken("email");
        }
    }
    if errors.is_empty() {
        Ok(input)
    } else {
        Err(ApiError::Invalid(errors))
    }
}

fn email_taken() -> ApiError {
    let mut errors = user_core::laravel::Errors::new();
    errors.taken("email");
    ApiError::Invalid(errors)
}

/// A unique violation is the email index: another request took the email meanwhile.
fn or_email_taken(e: user_core::db::DbError) -> ApiError {
    if e.is_unique_violation() {
        email_taken()
    } else {
        e.into()
    }
}

/// The identity of user `id` in its ETags.
fn identity(id: i64) -> String {
    format!("user/{id}")
}

/// The current tag of `user`: what a GET of it would answer.
fn etag(user: db::User) -> ETag {
    ETag::of(&identity(user.id), &UserJson::from(user))
}

/// Creates a user in the agency.
#[utoipa::path(post, path = "/agency/{agency}/user", tag = "users", security(("bearer" = [])),
    params(("agency" = i64, Path, description = "Agency id"), IdempotencyKey),
    request_body = UserBody,
    responses(
        (status = 201, body = UserJson, headers(("ETag" = String, description = "The user's current tag")), description = "Created (or replayed, with `Idempotent-Replayed: true`)"),
        (status = 409, body = MessageJson, description = "A request with this Idempotency-Key is still running (`Retry-After: 1`)"),
        (status = 400, body = MessageJson),
        (status = 401, body = MessageJson),
        (status = 404, body = MessageJson),
        (status = 413, body = MessageJson),
        (status = 415, body = MessageJson),
        (status = 422, body = ValidationJson),
        (status = 503, body = MessageJson),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<i64>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let agency = path.into_inner();
    require_agency(&state.core.db, caller.group_id, agency).await?;
    let keyed = idempotency::key_of(&req).map_err(Problem::from)?;
    let ttl = state.core.settings.idempotency_ttl_seconds;
    idempotency::run(
        &state.core.db,
        &caller.client_id,
        keyed,
        ttl,
        async |ticket| {
            let input = check_input(&state, &body, true, None).await?;
            let (Some(firstname), Some(email)) = (input.firstname, input.email) else {
                return Err(ApiError::INTERNAL);
            };
            let password_hash = match input.password.flatten() {
                Some(p) => Some(state.core.hasher.hash(&p).await?),
                None => None,
            };
            let new = NewUser {
                agency_id: agency,
                firstname,
                lastname: input.lastname.flatten(),
                email: email.into_inner(),
                phone: input.phone.flatten(),
                password_hash,
            };
            let ctx = audit::of_caller(&req, &state.core, &caller);
            let mut conn = state.core.db.conn().await?;
            let answer = conn
                .transaction::<_, ApiError, _>(async |conn| {
                    let user = db::insert_user(conn, new).await.map_err(or_email_taken)?;
                    let id = identity(user.id);
                    let user = UserJson::from(user);
                    audit::user_created(conn, &ctx, &user).await?;
                    let answer = Answer::json(StatusCode::CREATED, &user).tagged(&id);
                    idempotency::complete(ticket, conn, &answer).await?;
                    Ok(answer)
                })
                .await?;
            Ok(answer.response())
        },
    )
    .await
}

/// One user of the agency.
#[utoipa::path(get, path = "/agency/{agency}/user/{user}", tag = "users", security(("bearer" = [])),
    params(("agency" = i64, Path), ("user" = i64, Path), IfNoneMatch),
    responses(
        (status = 200, body = UserJson, headers(("ETag" = String, description = "The user's current tag"))),
        (status = 304, description = "Not modified: `If-None-Match` names the current tag", headers(("ETag" = String))),
        (status = 401, body = MessageJson),
        (status = 404, body = MessageJson),
        (status = 503, body = MessageJson),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (agency, id) = path.into_inner();
    let mut conn = state.core.db.conn().await?;
    let user = db::find_user(&mut conn, caller.group_id, agency, id)
        .await?
        .ok_or(ApiError::NOT_FOUND)?;
    Ok(tagged(
        &req,
        StatusCode::OK,
        &identity(id),
        &UserJson::from(user),
    ))
}

/// Updates the fields present (PATCH, or POST as upstream's newer documents use).
#[utoipa::path(method(patch, post), path = "/agency/{agency}/user/{user}", tag = "users", security(("bearer" = [])),
    params(("agency" = i64, Path), ("user" = i64, Path), IfMatch),
    request_body = UserBody,
    responses(
        (status = 200, body = UserJson, headers(("ETag" = String, description = "The user's new tag"))),
        (status = 412, body = MessageJson, description = "`If-Match` names no current tag of the user"),
        (status = 400, body = MessageJson),
        (status = 401, body = MessageJson),
        (status = 404, body = MessageJson),
        (status = 413, body = MessageJson),
        (status = 415, body = MessageJson),
        (status = 422, body = ValidationJson),
        (status = 503, body = MessageJson),
    ))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let (agency, id) = path.into_inner();
    let precondition = Precondition::of(&req);
    let existing = {
        let mut conn = state.core.db.conn().await?;
        db::find_user(&mut conn, caller.group_id, agency, id)
            .await?
            .ok_or_else(|| precondition.gone(&identity(id), ApiError::NOT_FOUND))?
    };
    let input = check_input(&state, &body, false, Some(existing.id)).await?;
    let password_hash = match input.password {
        Some(Some(p)) => Some(Some(state.core.hasher.hash(&p).await?)),
        _ => None,
    };
    let password_set = password_hash.is_some();
    let mut changes = UserChanges {
        firstname: input.firstname,
        lastname: input.lastname,
        email: input.email.map(|e| e.into_inner()),
        phone: input.phone,
        password_hash,
        updated_at: None,
    };
    let touched = changes.firstname.is_some()
        || changes.lastname.is_some()
        || changes.email.is_some()
        || changes.phone.is_some()
        || changes.password_hash.is_some();
    if !touched {
        precondition.check(&etag(existing.clone()))?;
        return Ok(tagged(
            &req,
            StatusCode::OK,
            &identity(id),
            &UserJson::from(existing),
        ));
    }
    changes.updated_at = Some(chrono::Utc::now());
    let ctx = audit::of_caller(&req, &state.core, &caller);
    let mut conn = state.core.db.conn().await?;
    let user = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let current = db::lock_user(conn, agency, id)
                .await?
                .ok_or_else(|| precondition.gone(&identity(id), ApiError::NOT_FOUND))?;
            let before = UserJson::from(current);
            precondition.check(&ETag::of(&identity(id), &before))?;
            let after = db::update_user(conn, agency, id, changes)
                .await
                .map_err(or_email_taken)?
                .map(UserJson::from)
                .ok_or(ApiError::NOT_FOUND)?;
            audit::user_updated(conn, &ctx, &before, &after, password_set).await?;
            Ok(after)
        })
        .await?;
    Ok(tagged(&req, StatusCode::OK, &identity(id), &user))
}

/// Deletes the user.
#[utoipa::path(delete, path = "/agency/{agency}/user/{user}", tag = "users", security(("bearer" = [])),
    params(("agency" = i64, Path), ("user" = i64, Path), IfMatch),
    responses(
        (status = 200, description = "Deleted: `{}`", body = Object),
        (status = 412, body = MessageJson, description = "`If-Match` names no current tag of the user"),
        (status = 401, body = MessageJson),
        (status = 404, body = MessageJson),
        (status = 503, body = MessageJson),
    ))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (agency, id) = path.into_inner();
    let precondition = Precondition::of(&req);
    require_agency(&state.core.db, caller.group_id, agency).await?;
    let ctx = audit::of_caller(&req, &state.core, &caller);
    let mut conn = state.core.db.conn().await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        let current = db::lock_user(conn, agency, id)
            .await?
            .ok_or_else(|| precondition.gone(&identity(id), ApiError::NOT_FOUND))?;
        let before = UserJson::from(current);
        precondition.check(&ETag::of(&identity(id), &before))?;
        if !db::delete_user(conn, agency, id).await? {
            return Err(ApiError::NOT_FOUND);
        }
        audit::user_deleted(conn, &ctx, &before).await?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({})))
}
