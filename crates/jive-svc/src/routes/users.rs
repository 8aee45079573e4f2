//! The user calls of an org: list, create, get, update, reset, delete.

use crate::audit;
use crate::auth::Caller;
use crate::db::{self, NewUser, Principal, User, UserChanges};
use crate::error::ApiError;
use crate::ids;
use crate::permissions::{self, Access};
use crate::state::AppState;
use crate::wire::{self, PasswordBody, StatusJson, UserBody, UserInput, UserJson, UserListJson};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use diesel_async::AsyncConnection;
use serde_json::{Map, Value};
use user_core::http::conditional::{tagged, ETag, Precondition};
use user_core::http::{stream, Problem};
use user_core::idempotency::{self, Answer};
use user_core::openapi::{IdempotencyKey, IfMatch, IfNoneMatch};
use user_core::values::Password;

/// Users per page with `?p=N`.
pub const PAGE_SIZE: u64 = 10;

/// The page asked for: `p` as a number ≥ 1; anything else (absent, ≤ 0, not a number) is none.
/// A number too large for 64 bits is a page past the end.
pub fn requested_page(query: &str) -> Option<u64> {
    let (_, raw) = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == "p")?;
    let digits = raw.trim().strip_prefix('+').unwrap_or(raw.trim());
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match digits.parse::<u64>() {
        Ok(0) => None,
        Ok(p) => Some(p),
        Err(_) => Some(u64::MAX),
    }
}

/// ceil(total / PAGE_SIZE).
pub fn page_count(total: i64) -> u64 {
    u64::try_from(total).unwrap_or(0).div_ceil(PAGE_SIZE)
}

/// The user `id` of the caller's org; a malformed id is as unknown as a foreign one. A user
/// that is missing where a write's `If-Match` names one of its tags (it was deleted since the
/// caller read it) is 412 rather than 404 ([`Precondition::gone`]).
async fn target(
    state: &AppState,
    caller: &Caller,
    id: &str,
    precondition: &Precondition,
) -> Result<User, ApiError> {
    if !ids::is_object_id(id) {
        return Err(ApiError::UserNotFound);
    }
    let mut conn = state.core.db.conn().await?;
    db::find_user(&mut conn, &caller.org_id, id)
        .await?
        .ok_or_else(|| precondition.gone(&identity(id), ApiError::UserNotFound))
}

/// The user `id` of the caller's org, its row locked until the transaction ends, read again
/// under the lock: a write checks `If-Match` against it, and a concurrent writer waits.
async fn locked(
    conn: &mut user_core::db::Conn,
    caller: &Caller,
    id: &str,
    precondition: &Precondition,
) -> Result<User, ApiError> {
    let current = db::lock_user(conn, &caller.org_id, id)
        .await?
        .ok_or_else(|| precondition.gone(&identity(id), ApiError::UserNotFound))?;
    precondition.check(&etag(current.clone(), caller))?;
    Ok(current)
}

/// The identity of user `id` in its ETags.
fn identity(id: &str) -> String {
    format!("user/{id}")
}

/// The current tag of `user` for `viewer`: the tag of what a GET of it by `viewer` answers
/// (`access_key` is `""` for some viewers, so the tag depends on who asks).
fn etag(user: User, viewer: &Principal) -> ETag {
    ETag::of(&identity(&user.id), &UserJson::new(user, viewer))
}

/// `Vary: Authorization` on an answer that carries an `ETag`: the representation, and so its
/// tag, depends on the caller's access key.
fn vary(mut response: HttpResponse) -> HttpResponse {
    if response.headers().contains_key(header::ETAG) {
        response
            .headers_mut()
            .append(header::VARY, HeaderValue::from_static("Authorization"));
    }
    response
}

/// 403 when the caller may not act on `user` ([`permissions::may_modify`]).
fn check_may_modify(caller: &Caller, user: &User) -> Result<(), ApiError> {
    permissions::may_modify(
        caller.access,
        &caller.user_id,
        &user.id,
        &user.user_permissions,
    )
}

fn email_taken_or(e: user_core::db::DbError) -> ApiError {
    match &e {
        user_core::db::DbError::UniqueViolation { constraint }
            if constraint.as_deref() == Some(db::EMAIL_INDEX) =>
        {
            ApiError::EmailTaken
        }
        _ => e.into(),
    }
}

/// The org's users by id: all of them streamed (`pages` 0), or page `p` of 10.
#[utoipa::path(get, path = "/api/users", tag = "users", security(("access_key" = [])),
    params(("p" = Option<String>, Query, description = "Page (from 1) of 10 users; absent, ≤ 0 or not an integer: every user and `pages` 0")),
    responses(
        (status = 200, body = UserListJson),
        (status = 401, body = StatusJson),
        (status = 403, body = StatusJson),
        (status = 503, body = StatusJson),
    ))]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    caller.require(Access::Read)?;
    if let Some(page) = requested_page(req.query_string()) {
        let mut conn = state.core.db.conn().await?;
        let (rows, total) = db::users_page(&mut conn, &caller.org_id, page, PAGE_SIZE).await?;
        let users = rows
            .into_iter()
            .map(|u| UserJson::new(u, &caller))
            .collect();
        return Ok(HttpResponse::Ok().json(UserListJson {
            users,
            pages: page_count(total),
        }));
    }
    let database = state.core.db.clone();
    let response = stream::json_array(
        r#"{"users":["#,
        r#"],"pages":0}"#,
        |u: &UserJson| u.id.clone(),
        move |after| {
            let database = database.clone();
            let caller = caller.clone();
            async move {
                let mut conn = database.conn().await?;
                let rows = db::users_after(&mut conn, &caller.org_id, after, stream::BATCH).await?;
                Ok(rows
                    .into_iter()
                    .map(|u| UserJson::new(u, &caller))
                    .collect())
            }
        },
    )
    .await?;
    Ok(response)
}

/// Creates a user with a new access key and a random password (or the `password` given).
/// With `Idempotency-Key`, at most once per (caller, key).
#[utoipa::path(post, path = "/api/users", tag = "users", security(("access_key" = [])),
    params(IdempotencyKey),
    request_body = UserBody,
    responses(
        (status = 200, description = "`{\"Status\":\"OK\",\"Message\":\"User created\",\"Meta\":\"\"}`; `Location` is the new user's URL; `ETag` is the tag of the new user's GET as the caller sees it (or replayed, with `Idempotent-Replayed: true`)", body = StatusJson,
            headers(
                ("Location" = String, description = "The new user's URL"),
                ("ETag" = String, description = "The new user's current tag"),
                ("Vary" = String, description = "`Authorization`: the tag depends on the caller"),
            )),
        (status = 400, description = "A failed rule; a malformed `Idempotency-Key`; the key reused with a different request", body = StatusJson),
        (status = 409, description = "A request with this `Idempotency-Key` is still running (`Retry-After: 1`)", body = StatusJson),
        (status = 401, body = StatusJson),
        (status = 403, description = "No write permission, permissions granted by a non-admin, or the email exists in the org", body = StatusJson),
        (status = 413, body = StatusJson),
        (status = 415, body = StatusJson),
        (status = 503, body = StatusJson),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Access::Write)?;
    let keyed = idempotency::key_of(&req).map_err(Problem::from)?;
    let ttl = state.core.settings.idempotency_ttl_seconds;
    let response = idempotency::run(
        &state.core.db,
        &caller.user_id,
        keyed,
        ttl,
        async |ticket| {
            let input = UserInput::parse(&body, true).map_err(ApiError::BadRequest)?;
            let user_permissions = input
                .user_permissions
                .unwrap_or_else(|| Value::Object(Map::new()));
            if !caller.access.may_grant()
                && user_permissions.as_object().is_some_and(|m| !m.is_empty())
            {
                return Err(ApiError::Forbidden);
            }
            let email = input.email_address.ok_or_else(|| {
                ApiError::invalid("User object validation failed: email_address is required")
            })?;
            {
                let mut conn = state.core.db.conn().await?;
                if db::email_taken(&mut conn, &caller.org_id, email.as_str(), None).await? {
                    return Err(ApiError::EmailTaken);
                }
            }
            let password = input.password.unwrap_or_else(Password::random);
            let password_hash = state.core.hasher.hash(&password).await?;
            let new = NewUser {
                id: ids::object_id(),
                org_id: caller.org_id.clone(),
                first_name: input.first_name.unwrap_or_default(),
                last_name: input.last_name.unwrap_or_default(),
                email_address: email.into_inner(),
                password_hash,
                active: input.active.unwrap_or(true),
                access_key: user_core::secret::random_hex(16),
                user_permissions,
            };
            let id = new.id.clone();
            let location = state.core.location(&req, &["api", "users", &id]);
            let ctx = audit::of_caller(&req, &state.core, &caller);
            let mut conn = state.core.db.conn().await?;
            let answer = conn
                .transaction::<_, ApiError, _>(async |conn| {
                    let user = db::insert_user(conn, new).await.map_err(email_taken_or)?;
                    audit::user_created(conn, &ctx, &user).await?;
                    let answer = Answer::json(StatusCode::OK, &StatusJson::ok("User created"))
                        .with_location(location)
                        .with_etag(&etag(user, &caller));
                    idempotency::complete(ticket, conn, &answer).await?;
                    Ok(answer)
                })
                .await?;
            tracing::info!(user_id = %id, org_id = %caller.org_id, "user created");
            Ok(answer.response())
        },
    )
    .await?;
    Ok(vary(response))
}

/// One user of the caller's org.
#[utoipa::path(get, path = "/api/users/{id}", tag = "users", security(("access_key" = [])),
    params(("id" = String, Path, description = "24 hex characters"), IfNoneMatch),
    responses(
        (status = 200, body = UserJson, headers(
            ("ETag" = String, description = "The user's current tag, as this caller sees it"),
            ("Vary" = String, description = "`Authorization`: the tag depends on the caller"),
        )),
        (status = 304, description = "Not modified: `If-None-Match` names the current tag", headers(("ETag" = String))),
        (status = 401, body = StatusJson),
        (status = 403, body = StatusJson),
        (status = 404, description = "`Could not retrieve user detail.`", body = StatusJson),
        (status = 503, body = StatusJson),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    caller.require(Access::Read)?;
    let user = target(&state, &caller, &path, &Precondition::none()).await?;
    Ok(vary(tagged(
        &req,
        StatusCode::OK,
        &identity(&user.id),
        &UserJson::new(user, &caller),
    )))
}

/// Updates the fields present; `id`, `org_id`, `access_key`, `password` and `api_model` are ignored.
#[utoipa::path(put, path = "/api/users/{id}", tag = "users", security(("access_key" = [])),
    params(("id" = String, Path, description = "24 hex characters"), IfMatch),
    request_body = UserBody,
    responses(
        (status = 200, body = UserJson, headers(
            ("ETag" = String, description = "The user's new tag, as this caller sees it"),
            ("Vary" = String, description = "`Authorization`: the tag depends on the caller"),
        )),
        (status = 412, description = "`If-Match` names no current tag of the user", body = StatusJson),
        (status = 400, description = "A failed rule, or deactivating oneself or changing one's own permissions", body = StatusJson),
        (status = 401, body = StatusJson),
        (status = 403, description = "No write permission, permissions changed by a non-admin, or the email exists in the org", body = StatusJson),
        (status = 404, body = StatusJson),
        (status = 413, body = StatusJson),
        (status = 415, body = StatusJson),
        (status = 503, body = StatusJson),
    ))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Access::Write)?;
    let precondition = Precondition::of(&req);
    let existing = target(&state, &caller, &path, &precondition).await?;
    let input = UserInput::parse(&body, false).map_err(ApiError::BadRequest)?;
    check_may_modify(&caller, &existing)?;
    let user_permissions = input
        .user_permissions
        .filter(|p| *p != existing.user_permissions);
    if user_permissions.is_some() && !caller.access.may_grant() {
        return Err(ApiError::Forbidden);
    }
    if user_permissions.is_some() && existing.id == caller.user_id {
        // An admin demoting itself could leave the org without one.
        return Err(ApiError::invalid("You cannot change your own permissions"));
    }
    if input.active == Some(false) && existing.id == caller.user_id {
        return Err(ApiError::invalid("You cannot deactivate your own user"));
    }
    if let Some(email) = &input.email_address {
        let mut conn = state.core.db.conn().await?;
        if db::email_taken(
            &mut conn,
            &caller.org_id,
            email.as_str(),
            Some(&existing.id),
        )
        .await?
        {
            return Err(ApiError::EmailTaken);
        }
    }
    let mut changes = UserChanges {
        first_name: input.first_name,
        last_name: input.last_name,
        email_address: input.email_address.map(|e| e.into_inner()),
        active: input.active,
        user_permissions,
        updated_at: None,
    };
    if changes.is_empty() {
        // nothing is written: the tag is checked against the user as read
        precondition.check(&etag(existing.clone(), &caller))?;
        return Ok(vary(tagged(
            &req,
            StatusCode::OK,
            &identity(&existing.id),
            &UserJson::new(existing, &caller),
        )));
    }
    changes.updated_at = Some(chrono::Utc::now());
    let ctx = audit::of_caller(&req, &state.core, &caller);
    let mut conn = state.core.db.conn().await?;
    let user = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let before = locked(conn, &caller, &existing.id, &precondition).await?;
            let after = db::update_user(conn, &caller.org_id, &existing.id, changes)
                .await
                .map_err(email_taken_or)?
                .ok_or(ApiError::UserNotFound)?;
            audit::user_updated(conn, &ctx, &before, &after).await?;
            Ok(after)
        })
        .await?;
    state.forget_key(&existing.access_key);
    Ok(vary(tagged(
        &req,
        StatusCode::OK,
        &identity(&user.id),
        &UserJson::new(user, &caller),
    )))
}

/// Sets the user's password.
#[utoipa::path(post, path = "/api/users/{id}/actions/reset", tag = "users", security(("access_key" = [])),
    params(("id" = String, Path, description = "24 hex characters"), IfMatch),
    request_body = PasswordBody,
    responses(
        (status = 200, description = "`{\"Status\":\"OK\",\"Message\":\"User password updated\",\"Meta\":\"\"}`", body = StatusJson, headers(
            ("ETag" = String, description = "The user's current tag, as this caller sees it (the password is not part of it)"),
            ("Vary" = String, description = "`Authorization`: the tag depends on the caller"),
        )),
        (status = 412, description = "`If-Match` names no current tag of the user", body = StatusJson),
        (status = 400, description = "`Password must be at least 8 characters` / `Password must be at most 72 bytes`", body = StatusJson),
        (status = 401, body = StatusJson),
        (status = 403, body = StatusJson),
        (status = 404, body = StatusJson),
        (status = 413, body = StatusJson),
        (status = 415, body = StatusJson),
        (status = 503, body = StatusJson),
    ))]
pub async fn reset(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    caller.require(Access::Write)?;
    let precondition = Precondition::of(&req);
    let existing = target(&state, &caller, &path, &precondition).await?;
    let password = wire::new_password(&body).map_err(ApiError::BadRequest)?;
    check_may_modify(&caller, &existing)?;
    let hash = state.core.hasher.hash(&password).await?;
    let ctx = audit::of_caller(&req, &state.core, &caller);
    let mut conn = state.core.db.conn().await?;
    let user = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let current = locked(conn, &caller, &existing.id, &precondition).await?;
            if !db::set_password(conn, &caller.org_id, &existing.id, &hash).await? {
                return Err(ApiError::UserNotFound);
            }
            audit::password_changed(conn, &ctx, &current).await?;
            Ok(current)
        })
        .await?;
    let mut response = HttpResponse::Ok().json(StatusJson::ok("User password updated"));
    // the password is not part of the user's representation: its tag is unchanged
    etag(user, &caller).set_on(&mut response);
    Ok(vary(response))
}

/// Deletes the user; its key stops working at once here and within 2 s on other replicas.
#[utoipa::path(delete, path = "/api/users/{id}", tag = "users", security(("access_key" = [])),
    params(("id" = String, Path, description = "24 hex characters"), IfMatch),
    responses(
        (status = 200, description = "`{\"Status\":\"OK\",\"Message\":\"User deleted\",\"Meta\":\"\"}` (no `ETag`: the user no longer exists)", body = StatusJson),
        (status = 412, description = "`If-Match` names no current tag of the user (or a tag of a user deleted since)", body = StatusJson),
        (status = 400, description = "Deleting oneself", body = StatusJson),
        (status = 401, body = StatusJson),
        (status = 403, body = StatusJson),
        (status = 404, body = StatusJson),
        (status = 503, body = StatusJson),
    ))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    caller.require(Access::Write)?;
    let precondition = Precondition::of(&req);
    let existing = target(&state, &caller, &path, &precondition).await?;
    if existing.id == caller.user_id {
        return Err(ApiError::invalid("You cannot delete your own user"));
    }
    check_may_modify(&caller, &existing)?;
    let ctx = audit::of_caller(&req, &state.core, &caller);
    let mut conn = state.core.db.conn().await?;
    let key = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let before = locked(conn, &caller, &existing.id, &precondition).await?;
            let key = db::delete_user(conn, &caller.org_id, &existing.id)
                .await?
                .ok_or(ApiError::UserNotFound)?;
            audit::user_deleted(conn, &ctx, &before).await?;
            Ok(key)
        })
        .await?;
    state.forget_key(&key);
    tracing::info!(user_id = %existing.id, org_id = %caller.org_id, "user deleted");
    Ok(HttpResponse::Ok().json(StatusJson::ok("User deleted")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_read_leniently() {
        assert_eq!(requested_page(""), None);
        assert_eq!(requested_page("p=1"), Some(1));
        assert_eq!(requested_page("x=2&p=3"), Some(3));
        assert_eq!(requested_page("p=0"), None);
        assert_eq!(requested_page("p=-2"), None);
        assert_eq!(requested_page("p=x"), None);
        assert_eq!(requested_page("p="), None);
        assert_eq!(requested_page("%zz"), None);
        assert_eq!(requested_page("p=1.5"), None);
        assert_eq!(requested_page("p=%2B2"), Some(2));
        assert_eq!(
            requested_page("p=9223372036854775808"),
            Some(9_223_372_036_854_775_808)
        );
        assert_eq!(requested_page("p=99999999999999999999999"), Some(u64::MAX));
    }

    #[test]
    fn page_count_rounds_up() {
        assert_eq!(page_count(0), 0);
        assert_eq!(page_count(1), 1);
        assert_eq!(page_count(10), 1);
        assert_eq!(page_count(11), 2);
        assert_eq!(page_count(23), 3);
    }
}
