//! The user calls of a partner.

use crate::auth::Caller;
use crate::db::{self, Detached, NewUser, UserChanges};
use crate::error::{ApiError, DELETE_SELF};
use crate::page::PageQuery;
use crate::permissions::{from_names, names, Permission, Permissions};
use crate::state::AppState;
use crate::wire::{
    CreateBody, NewUserInput, PartnerJson, PartnersData, UpdateBody, UserChangesInput, UserData,
    UserJson, UserPage,
};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};
use std::collections::HashMap;
use user_core::laravel::{MessageJson, ValidationJson};

/// An id from the path; anything but a positive integer cannot exist.
fn id(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|id| *id > 0)
}

/// The partner of the path, once the caller may act there with `permission`: 403 without the
/// permission or access (whether or not the partner exists); 404 only for a `partners.all`
/// caller and a partner that does not exist.
async fn enter(
    state: &AppState,
    caller: &Caller,
    raw_partner: &str,
    permission: Permission,
) -> Result<i64, ApiError> {
    let partner = access(caller, raw_partner, permission)?;
    if !caller.all_partners() {
        return Ok(partner);
    }
    let mut conn = state.core.db.conn().await?;
    if db::partner_exists(&mut conn, partner).await? {
        Ok(partner)
    } else {
        Err(ApiError::NOT_FOUND)
    }
}

/// [`enter`] without the existence check: for calls that look up a member of the partner,
/// whose "not a member" answer (404) is the same as "no such partner" — the membership
/// query answers both, which saves a round trip per request.
fn access(caller: &Caller, raw_partner: &str, permission: Permission) -> Result<i64, ApiError> {
    if !caller.has(permission) {
        return Err(ApiError::UNAUTHORIZED);
    }
    let partner = id(raw_partner);
    if !caller.all_partners() {
        return match partner {
            Some(p) if caller.can_access(p) => Ok(p),
            _ => Err(ApiError::UNAUTHORIZED),
        };
    }
    partner.ok_or(ApiError::NOT_FOUND)
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
    let partner = enter(&state, &caller, &path, Permission::UsersRead).await?;
    let query = PageQuery::parse(&query).map_err(ApiError::Invalid)?;
    let (rows, total) = {
        let mut conn = state.core.db.conn().await?;
        db::users_page(
            &mut conn,
            partner,
            query.search.as_deref(),
            query.per_page,
            query.offset(),
        )
        .await?
    };
    let url = format!("{}{}", state.core.base_url(&req), req.path());
    let items = rows.into_iter().map(UserJson::from).collect();
    Ok(HttpResponse::Ok().json(query.render(items, total, &url)))
}

/// Creates a user in the partner, or attaches the existing user with that email.
#[utoipa::path(post, path = "/api/internal/v1/partners/{partner_id}/users", tag = "users",
    security(("bearer" = [])),
    params(("partner_id" = i64, Path, description = "The id of the partner")),
    request_body = CreateBody,
    responses(
        (status = 201, description = "A new user", body = UserData),
        (status = 200, description = "An existing user (by email) attached, unchanged", body = UserData),
        (status = 400, body = MessageJson),
        (status = 401, body = MessageJson),
        (status = 403, body = MessageJson),
        (status = 404, body = MessageJson),
        (status = 413, body = MessageJson),
        (status = 415, body = MessageJson),
        (status = 422, body = ValidationJson),
        (status = 503, body = MessageJson),
    ))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let partner = enter(&state, &caller, &path, Permission::UsersCreate).await?;
    let input = NewUserInput::parse(&body).map_err(ApiError::Invalid)?;
    caller.may_change(&Permissions::new(), &input.permissions)?;
    let mut hash: Option<String> = None;
    // A racing create of the same email makes the insert fail on the unique index; the next
    // round then finds the user and answers as a sequential request would.
    for _ in 0..3 {
        let existing = {
            let mut conn = state.core.db.conn().await?;
            db::user_by_email(&mut conn, input.email.as_str()).await?
        };
        if let Some(user) = existing {
            let mut conn = state.core.db.conn().await?;
            return if db::attach(&mut conn, partner, user.id).await? {
                state.forget(user.id);
                tracing::info!(user = user.id, partner, "existing user attached");
                Ok(HttpResponse::Ok().json(UserData {
                    data: UserJson::from(user),
                }))
            } else {
                Err(ApiError::taken("email"))
            };
        }
        let password_hash = match &hash {
            Some(h) => h.clone(),
            None => {
                let h = state.core.hasher.hash(&input.password).await?;
                hash = Some(h.clone());
                h
            }
        };
        let new = NewUser {
            first_name: input.first_name.clone(),
            last_name: input.last_name.clone(),
            email: input.email.as_str().to_owned(),
            password_hash,
            permissions: names(&input.permissions),
        };
        let mut conn = state.core.db.conn().await?;
        match db::insert_member(&mut conn, partner, new).await {
            Ok(user) => {
                tracing::info!(user = user.id, partner, "user created");
                return Ok(HttpResponse::Created().json(UserData {
                    data: UserJson::from(user),
                }));
            }
            Err(e) if e.is_unique_violation() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::taken("email"))
}

/// The member `raw_user` of `partner`, or 404.
async fn find_member(state: &AppState, partner: i64, raw_user: &str) -> Result<db::User, ApiError> {
    let user = id(raw_user).ok_or(ApiError::NOT_FOUND)?;
    let mut conn = state.core.db.conn().await?;
    db::member(&mut conn, partner, user)
        .await?
        .ok_or(ApiError::NOT_FOUND)
}

/// One user of the partner.
#[utoipa::path(get, path = "/api/internal/v1/partners/{partner_id}/users/{user_id}", tag = "users",
    security(("bearer" = [])),
    params(("partner_id" = i64, Path), ("user_id" = i64, Path)),
    responses(
        (status = 200, body = UserData),
        (status = 401, body = MessageJson),
        (status = 403, body = MessageJson),
        (status = 404, body = MessageJson),
        (status = 503, body = MessageJson),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (raw_partner, raw_user) = path.into_inner();
    let partner = access(&caller, &raw_partner, Permission::UsersRead)?;
    let user = find_member(&state, partner, &raw_user).await?;
    Ok(HttpResponse::Ok().json(UserData {
        data: UserJson::from(user),
    }))
}

/// Updates the fields present. The user is shared: the change shows in every partner.
#[utoipa::path(put, path = "/api/internal/v1/partners/{partner_id}/users/{user_id}", tag = "users",
    security(("bearer" = [])),
    params(("partner_id" = i64, Path), ("user_id" = i64, Path)),
    request_body = UpdateBody,
    responses(
        (status = 200, description = "Updated: `{}`", body = Object),
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
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let (raw_partner, raw_user) = path.into_inner();
    let partner = enter(&state, &caller, &raw_partner, Permission::UsersUpdate).await?;
    let user = find_member(&state, partner, &raw_user).await?;
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
    let mut conn = state.core.db.conn().await?;
    match db::update_user(&mut conn, user.id, changes).await {
        Ok(true) => {
            state.forget(user.id);
            tracing::info!(user = user.id, partner, "user updated");
            Ok(HttpResponse::Ok().json(json!({})))
        }
        Ok(false) => Err(ApiError::NOT_FOUND),
        Err(e) if e.is_unique_violation() => Err(ApiError::taken("email")),
        Err(e) => Err(e.into()),
    }
}

/// Removes the user from the partner; a user left in no partner is deleted.
#[utoipa::path(delete, path = "/api/internal/v1/partners/{partner_id}/users/{user_id}", tag = "users",
    security(("bearer" = [])),
    params(("partner_id" = i64, Path), ("user_id" = i64, Path)),
    responses(
        (status = 200, description = "Removed: `{}`", body = Object),
        (status = 401, body = MessageJson),
        (status = 403, description = "No permission or access, or the caller itself", body = MessageJson),
        (status = 404, body = MessageJson),
        (status = 503, body = MessageJson),
    ))]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (raw_partner, raw_user) = path.into_inner();
    let partner = enter(&state, &caller, &raw_partner, Permission::UsersDelete).await?;
    let user = id(&raw_user).ok_or(ApiError::NOT_FOUND)?;
    if user == caller.user_id {
        return Err(ApiError::Forbidden(DELETE_SELF));
    }
    let mut conn = state.core.db.conn().await?;
    let outcome = db::detach(&mut conn, partner, user).await?;
    if outcome == Detached::NotMember {
        return Err(ApiError::NOT_FOUND);
    }
    state.forget(user);
    tracing::info!(user, partner, ?outcome, "user removed from partner");
    Ok(HttpResponse::Ok().json(json!({})))
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
    let partner = enter(&state, &caller, &raw_partner, Permission::UsersRead).await?;
    let user = find_member(&state, partner, &raw_user).await?;
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
