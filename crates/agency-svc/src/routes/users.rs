//! The five user calls of an agency.

use crate::auth::Caller;
use crate::db::{self, NewUser, UserChanges};
use crate::error::ApiError;
use crate::permissions::require_agency;
use crate::state::AppState;
use crate::wire::{UserBody, UserInput, UserJson};
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};
use user_core::http::stream;
use user_core::laravel::{MessageJson, ValidationJson};

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

/// Creates a user in the agency.
#[utoipa::path(post, path = "/agency/{agency}/user", tag = "users", security(("bearer" = [])),
    params(("agency" = i64, Path, description = "Agency id")),
    request_body = UserBody,
    responses(
        (status = 201, body = UserJson),
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
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let agency = path.into_inner();
    require_agency(&state.core.db, caller.group_id, agency).await?;
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
    let mut conn = state.core.db.conn().await?;
    match db::insert_user(&mut conn, new).await {
        Ok(user) => Ok(HttpResponse::Created().json(UserJson::from(user))),
        Err(e) if e.is_unique_violation() => Err(email_taken()),
        Err(e) => Err(e.into()),
    }
}

/// One user of the agency.
#[utoipa::path(get, path = "/agency/{agency}/user/{user}", tag = "users", security(("bearer" = [])),
    params(("agency" = i64, Path), ("user" = i64, Path)),
    responses(
        (status = 200, body = UserJson),
        (status = 401, body = MessageJson),
        (status = 404, body = MessageJson),
        (status = 503, body = MessageJson),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (agency, id) = path.into_inner();
    let mut conn = state.core.db.conn().await?;
    let user = db::find_user(&mut conn, caller.group_id, agency, id)
        .await?
        .ok_or(ApiError::NOT_FOUND)?;
    Ok(HttpResponse::Ok().json(UserJson::from(user)))
}

/// Updates the fields present (PATCH, or POST as upstream's newer documents use).
#[utoipa::path(method(patch, post), path = "/agency/{agency}/user/{user}", tag = "users", security(("bearer" = [])),
    params(("agency" = i64, Path), ("user" = i64, Path)),
    request_body = UserBody,
    responses(
        (status = 200, body = UserJson),
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
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let (agency, id) = path.into_inner();
    let existing = {
        let mut conn = state.core.db.conn().await?;
        db::find_user(&mut conn, caller.group_id, agency, id)
            .await?
            .ok_or(ApiError::NOT_FOUND)?
    };
    let input = check_input(&state, &body, false, Some(existing.id)).await?;
    let password_hash = match input.password {
        Some(Some(p)) => Some(Some(state.core.hasher.hash(&p).await?)),
        _ => None,
    };
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
        return Ok(HttpResponse::Ok().json(UserJson::from(existing)));
    }
    changes.updated_at = Some(chrono::Utc::now());
    let mut conn = state.core.db.conn().await?;
    match db::update_user(&mut conn, agency, id, changes).await {
        Ok(Some(user)) => Ok(HttpResponse::Ok().json(UserJson::from(user))),
        Ok(None) => Err(ApiError::NOT_FOUND),
        Err(e) if e.is_unique_violation() => Err(email_taken()),
        Err(e) => Err(e.into()),
    }
}

/// Deletes the user.
#[utoipa::path(delete, path = "/agency/{agency}/user/{user}", tag = "users", security(("bearer" = [])),
    params(("agency" = i64, Path), ("user" = i64, Path)),
    responses(
        (status = 200, description = "Deleted: `{}`", body = Object),
        (status = 401, body = MessageJson),
        (status = 404, body = MessageJson),
        (status = 503, body = MessageJson),
    ))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (agency, id) = path.into_inner();
    require_agency(&state.core.db, caller.group_id, agency).await?;
    let mut conn = state.core.db.conn().await?;
    if db::delete_user(&mut conn, agency, id).await? {
        Ok(HttpResponse::Ok().json(json!({})))
    } else {
        Err(ApiError::NOT_FOUND)
    }
}
