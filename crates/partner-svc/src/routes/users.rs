//! The user calls of a partner.

use crate::audit;
use crate::auth::{path_id, Caller};
use crate::db::{self, Detached, NewUser, UserChanges};
use crate::error::{ApiError, DELETE_SELF};
use crate::page::PageQuery;
use crate::permissions::{from_names, names, Permission, Permissions};
use crate::state::AppState;
use crate::wire::{
    CreateBody, NewUserInput, PartnerJson, PartnersData, UpdateBody, UserChangesInput, UserData,
    UserJson, UserPage,
};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use diesel_async::AsyncConnection;
use serde_json::{json, Value};
use std::collections::HashMap;
use user_core::db::DbError;
use user_core::http::conditional::{tagged, ETag, Precondition};
use user_core::http::{Failure, Problem};
use user_core::idempotency::{self, Answer};
use user_core::laravel::{MessageJson, ValidationJson};
use user_core::openapi::{IdempotencyKey, IfMatch, IfNoneMatch};

/// The identity of user `id` in its ETags. A user is one resource whichever partner it is seen
/// through, so its tag is the same in all of them.
fn identity(id: i64) -> String {
    format!("user/{id}")
}

/// What a GET of `user` answers, `{"data": user}`: nothing in it depends on the partner of the
/// path.
fn representation(user: db::User) -> UserData {
    UserData {
        data: UserJson::from(user),
    }
}

/// The current tag of `user`: that of what a GET of it would answer.
fn etag(user: &db::User) -> ETag {
    ETag::of(&identity(user.id), &representation(user.clone()))
}

/// The answer of a create (or attach) about `user`, with the user's tag.
fn created(status: StatusCode, user: db::User) -> Answer {
    let tag = etag(&user);
    Answer::json(status, &representation(user)).with_etag(&tag)
}

/// `{}`, the answer of an update or delete, with the user's tag when it still exists.
fn empty(tag: Option<&ETag>) -> HttpResponse {
    let mut response = HttpResponse::Ok().json(json!({}));
    if let Some(tag) = tag {
        tag.set_on(&mut response);
    }
    response
}

/// A unique violation on a user write is the email index: another request took the email.
fn or_email_taken(e: DbError) -> ApiError {
    if e.is_unique_violation() {
        ApiError::taken("email")
    } else {
        e.into()
    }
}

fn is_unique_violation(e: &ApiError) -> bool {
    matches!(e, ApiError::Failure(Failure::Db(e)) if e.is_unique_violation())
}

/// The users of a partner, a Laravel page at a time, optionally searched.
#[utoipa::path(get, path = "/api/internal/v1/partners/{partner_id}/users", tag = "users",
    security(("bearer" = [])),
    params(
        ("partner_id" = i64, Path, description = "The id of the partner"),
        ("page" = Option<i64>, Query, description = "The page (below 1 or not a number: 1)"),
        ("per_page" = Option<i64>, Query, description = "1..=100, default 20"),
        ("search" = Option<String>, Query,
            description = "Keeps users whose first name, last name, email or \"first last\" contains it (case-insensitive)"),
    ),
    responses(
        (status = 200, body = UserPage),
        (status = 401, body = MessageJson),
        (status = 403, body = MessageJson),
        (status = 404, body = MessageJson),
        (status = 422, body = ValidationJson),
        (status = 503, body = MessageJson),
    ))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    // The page's own statement says whether the partner exists (no query of its own); only a
    // bad query string asks first, so that an unknown partner is a 404 before a 422, as ever.
    let partner = caller.access(&path, Permission::UsersRead)?;
    let query = match PageQuery::parse(&query) {
        Ok(query) => query,
        Err(errors) => {
            caller.enter(&state, &path, Permission::UsersRead).await?;
            return Err(ApiError::Invalid(errors));
        }
    };
    let search = query.search.as_deref().map(|term| state.search(term));
    let (rows, total) = {
        let mut conn = state.core.db.conn().await?;
        db::users_page(
            &mut conn,
            partner,
            search.as_ref(),
            query.per_page,
            query.offset(),
        )
        .await?
        .ok_or(ApiError::NOT_FOUND)?
    };
    let url = format!("{}{}", state.core.base_url(&req), req.path());
    let items = rows.into_iter().map(UserJson::from).collect();
    Ok(HttpResponse::Ok().json(query.render(items, total, &url)))
}

/// Creates a user in the partner, or attaches the existing user with that email. With an
/// `Idempotency-Key`, at most once per caller and key: the answer is stored in the transaction
/// of the insert (or attach) it reports, and replayed to a repeat.
#[utoipa::path(post, path = "/api/internal/v1/partners/{partner_id}/users", tag = "users",
    security(("bearer" = [])),
    params(("partner_id" = i64, Path, description = "The id of the partner"), IdempotencyKey),
    request_body = CreateBody,
    responses(
        (status = 201, description = "A new user (or the replay of that answer, with `Idempotent-Replayed: true`)", body = UserData,
            headers(("ETag" = String, description = "The user's current tag"))),
        (status = 200, description = "An existing user (by email) attached, unchanged (or the replay of that answer)", body = UserData,
            headers(("ETag" = String, description = "The user's current tag"))),
        (status = 400, description = "Malformed JSON or `Idempotency-Key`", body = MessageJson),
        (status = 401, body = MessageJson),
        (status = 403, body = MessageJson),
        (status = 404, body = MessageJson),
        (status = 409, description = "A request with this `Idempotency-Key` is still running (`Retry-After: 1`)", body = MessageJson),
        (status = 413, body = MessageJson),
        (status = 415, body = MessageJson),
        (status = 422, description = "Invalid data, or the `Idempotency-Key` reused with a different request", body = ValidationJson),
        (status = 503, body = MessageJson),
    ))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let partner = caller.enter(&state, &path, Permission::UsersCreate).await?;
    let context = audit::of_caller(&req, &state.core, &caller, partner);
    let keyed = idempotency::key_of(&req).map_err(Problem::from)?;
    let ttl = state.core.settings.idempotency_ttl_seconds;
    idempotency::run(
        &state.core.db,
        &caller.user_id.to_string(),
        keyed,
        ttl,
        async |ticket| {
            let input = NewUserInput::parse(&body).map_err(ApiError::Invalid)?;
            caller.may_change(&Permissions::new(), &input.permissions)?;
            let mut hash: Option<String> = None;
            // A racing create of the same email makes the insert fail on the unique index, and a
            // racing delete of the user found makes the attach find nothing; the next round
            // then answers as a sequential request would.
            for _ in 0..3 {
                let existing = {
                    let mut conn = state.core.db.conn().await?;
                    db::user_by_email(&mut conn, input.email.as_str()).await?
                };
                if let Some(user) = existing {
                    let id = user.id;
                    let mut conn = state.core.db.conn().await?;
                    let attached = conn
                        .transaction::<_, ApiError, _>(async |conn| {
                            match db::attach(conn, partner, id).await? {
                                // deleted since it was found: the next round creates it
                                None => return Ok(None),
                                Some(false) => return Err(ApiError::taken("email")),
                                Some(true) => {}
                            }
                            audit::user_attached(conn, &context, id, partner).await?;
                            let answer = created(StatusCode::OK, user);
                            idempotency::complete(ticket, conn, &answer).await?;
                            Ok(Some(answer))
                        })
                        .await?;
                    let Some(answer) = attached else {
                        continue;
                    };
                    state.forget(id);
                    tracing::info!(user = id, partner, "existing user attached");
                    return Ok(answer.response());
                }
                let password_hash = match &hash {
                    Some(h) => h.clone(),
                    None => {
                        let h = state.core.hasher.hash(&input.password).await?;
                        hash = Some(h.clone());
                        h
                    }
                };
                let permissions = names(&input.permissions);
                let new = NewUser {
                    first_name: input.first_name.clone(),
                    last_name: input.last_name.clone(),
                    email: input.email.as_str().to_owned(),
                    password_hash,
                    permissions: permissions.clone(),
                };
                let mut conn = state.core.db.conn().await?;
                let inserted = conn
                    .transaction::<_, ApiError, _>(async |conn| {
                        let user = db::add_member(conn, partner, new).await?;
                        let id = user.id;
                        audit::user_created(conn, &context, &user, &permissions).await?;
                        let answer = created(StatusCode::CREATED, user);
                        idempotency::complete(ticket, conn, &answer).await?;
                        Ok((id, answer))
                    })
                    .await;
                match inserted {
                    Ok((id, answer)) => {
                        tracing::info!(user = id, partner, "user created");
                        return Ok(answer.response());
                    }
                    Err(e) if is_unique_violation(&e) => continue,
                    Err(e) => return Err(e),
                }
            }
            Err(ApiError::taken("email"))
        },
    )
    .await
}

/// The member `raw_user` of `partner`, or 404 (412 instead for a write whose `If-Match` names a
/// tag of the user: it was there when the caller read it, [`Precondition::gone`]).
async fn find_member(
    state: &AppState,
    partner: i64,
    raw_user: &str,
    precondition: &Precondition,
) -> Result<db::User, ApiError> {
    let user = path_id(raw_user).ok_or(ApiError::NOT_FOUND)?;
    let mut conn = state.core.db.conn().await?;
    db::member(&mut conn, partner, user)
        .await?
        .ok_or_else(|| precondition.gone(&identity(user), ApiError::NOT_FOUND))
}

/// One user of the partner.
#[utoipa::path(get, path = "/api/internal/v1/partners/{partner_id}/users/{user_id}", tag = "users",
    security(("bearer" = [])),
    params(("partner_id" = i64, Path), ("user_id" = i64, Path), IfNoneMatch),
    responses(
        (status = 200, body = UserData,
            headers(("ETag" = String, description = "The user's current tag, the same in every partner"))),
        (status = 304, description = "Not modified: `If-None-Match` names the current tag",
            headers(("ETag" = String))),
        (status = 401, body = MessageJson),
        (status = 403, body = MessageJson),
        (status = 404, body = MessageJson),
        (status = 503, body = MessageJson),
    ))]
pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (raw_partner, raw_user) = path.into_inner();
    let partner = caller.access(&raw_partner, Permission::UsersRead)?;
    let user = find_member(&state, partner, &raw_user, &Precondition::none()).await?;
    Ok(tagged(
        &req,
        StatusCode::OK,
        &identity(user.id),
        &representation(user),
    ))
}

/// Updates the fields present. The user is shared: the change shows in every partner. With
/// `If-Match`, only if the user is still as the caller saw it (checked under the row lock).
#[utoipa::path(put, path = "/api/internal/v1/partners/{partner_id}/users/{user_id}", tag = "users",
    security(("bearer" = [])),
    params(("partner_id" = i64, Path), ("user_id" = i64, Path), IfMatch),
    request_body = UpdateBody,
    responses(
        (status = 200, description = "Updated: `{}`", body = Object,
            headers(("ETag" = String, description = "The user's new tag"))),
        (status = 412, description = "`If-Match` names no current tag of the user: nothing changed", body = MessageJson),
        (status = 400, body = MessageJson),
        (status = 401, body = MessageJson),
        (status = 403, body = MessageJson),
        (status = 404, body = MessageJson),
        (status = 413, body = MessageJson),
        (status = 415, body = MessageJson),
        (status = 422, body = ValidationJson),
        (status = 503, body = MessageJson),
    ))]
pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let (raw_partner, raw_user) = path.into_inner();
    let precondition = Precondition::of(&req);
    let partner = caller
        .enter(&state, &raw_partner, Permission::UsersUpdate)
        .await?;
    let user = find_member(&state, partner, &raw_user, &precondition).await?;
    let current: Permissions = {
        let mut conn = state.core.db.conn().await?;
        from_names(
            &db::permissions_of(&mut conn, user.id)
                .await?
                .unwrap_or_default(),
        )
    };
    // Managing a user who holds more than the caller (e.g. setting a super admin's password)
    // would be an escalation too.
    if !current.is_subset(&caller.principal.permissions) {
        return Err(ApiError::UNAUTHORIZED);
    }
    let input = UserChangesInput::parse(&body);
    let mut input = match input {
        Ok(input) => input,
        Err(errors) => return Err(ApiError::Invalid(errors)),
    };
    if let Some(email) = &input.email {
        let mut conn = state.core.db.conn().await?;
        if db::email_taken(&mut conn, email.as_str(), user.id).await? {
            return Err(ApiError::taken("email"));
        }
    }
    if let Some(after) = &input.permissions {
        caller.may_change(&current, after)?;
    }
    let password_hash = match input.password.take() {
        Some(p) => Some(state.core.hasher.hash(&p).await?),
        None => None,
    };
    let changes = UserChanges {
        first_name: input.first_name,
        last_name: input.last_name,
        email: input.email.map(|e| e.into_inner()),
        password_hash,
        permissions: input.permissions.as_ref().map(names),
        updated_at: Some(chrono::Utc::now()),
    };
    let id = user.id;
    let context = audit::of_caller(&req, &state.core, &caller, partner);
    let password_set = changes.password_hash.is_some();
    let new_permissions = changes.permissions.clone();
    let mut conn = state.core.db.conn().await?;
    let updated = conn
        .transaction::<_, ApiError, _>(async |conn| {
            // still a member, as it is now: the tag If-Match is compared with, and the "before"
            // of the audit event
            let current = db::lock_member(conn, partner, id)
                .await?
                .ok_or_else(|| precondition.gone(&identity(id), ApiError::NOT_FOUND))?;
            precondition.check(&etag(&current.user))?;
            let updated = db::update_user(conn, id, changes)
                .await
                .map_err(or_email_taken)?
                .ok_or(ApiError::NOT_FOUND)?;
            let permissions = new_permissions.as_deref().unwrap_or(&current.permissions);
            audit::user_updated(
                conn,
                &context,
                &current,
                &updated,
                permissions,
                password_set,
            )
            .await?;
            Ok(updated)
        })
        .await?;
    state.forget(id);
    tracing::info!(user = id, partner, "user updated");
    Ok(empty(Some(&etag(&updated))))
}

/// Removes the user from the partner; a user left in no partner is deleted. With `If-Match`,
/// only if the user is still as the caller saw it (checked under the row lock).
#[utoipa::path(delete, path = "/api/internal/v1/partners/{partner_id}/users/{user_id}", tag = "users",
    security(("bearer" = [])),
    params(("partner_id" = i64, Path), ("user_id" = i64, Path), IfMatch),
    responses(
        (status = 200, description = "Removed: `{}`; `ETag` when the user still exists (in other partners)", body = Object,
            headers(("ETag" = String, description = "The user's tag, when it still exists"))),
        (status = 412, description = "`If-Match` names no current tag of the user: nothing changed", body = MessageJson),
        (status = 401, body = MessageJson),
        (status = 403, description = "No permission or access, or the caller itself", body = MessageJson),
        (status = 404, body = MessageJson),
        (status = 503, body = MessageJson),
    ))]
pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (raw_partner, raw_user) = path.into_inner();
    let precondition = Precondition::of(&req);
    let partner = caller
        .enter(&state, &raw_partner, Permission::UsersDelete)
        .await?;
    let user = path_id(&raw_user).ok_or(ApiError::NOT_FOUND)?;
    if user == caller.user_id {
        return Err(ApiError::Forbidden(DELETE_SELF));
    }
    let context = audit::of_caller(&req, &state.core, &caller, partner);
    let mut conn = state.core.db.conn().await?;
    // The user row is locked first, so a concurrent attach cannot be lost, and the tag
    // If-Match is compared with is the user's as it is now.
    let (outcome, tag) = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let current = db::lock_member(conn, partner, user)
                .await?
                .ok_or_else(|| precondition.gone(&identity(user), ApiError::NOT_FOUND))?;
            let tag = etag(&current.user);
            precondition.check(&tag)?;
            let outcome = db::remove_member(conn, partner, &current).await?;
            match outcome {
                Detached::NotMember => return Err(ApiError::NOT_FOUND),
                Detached::Removed => audit::user_detached(conn, &context, user, partner).await?,
                Detached::Deleted => audit::user_deleted(conn, &context, &current).await?,
            }
            Ok((outcome, tag))
        })
        .await?;
    state.forget(user);
    tracing::info!(user, partner, ?outcome, "user removed from partner");
    // a detach leaves the user as it was: its tag is unchanged
    Ok(empty((outcome == Detached::Removed).then_some(&tag)))
}

/// The partners the user belongs to, limited to those the caller has access to.
#[utoipa::path(get, path = "/api/internal/v1/partners/{partner_id}/users/{user_id}/partners",
    tag = "users", security(("bearer" = [])),
    params(("partner_id" = i64, Path), ("user_id" = i64, Path)),
    responses(
        (status = 200, body = PartnersData),
        (status = 401, body = MessageJson),
        (status = 403, body = MessageJson),
        (status = 404, body = MessageJson),
        (status = 503, body = MessageJson),
    ))]
pub async fn partners(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (raw_partner, raw_user) = path.into_inner();
    let partner = caller
        .enter(&state, &raw_partner, Permission::UsersRead)
        .await?;
    let user = find_member(&state, partner, &raw_user, &Precondition::none()).await?;
    let only = (!caller.all_partners()).then(|| {
        caller
            .principal
            .partners
            .iter()
            .copied()
            .collect::<Vec<_>>()
    });
    let mut conn = state.core.db.conn().await?;
    let found = db::partners_of(&mut conn, user.id, only).await?;
    Ok(HttpResponse::Ok().json(PartnersData {
        data: found.into_iter().map(PartnerJson::from).collect(),
    }))
}
