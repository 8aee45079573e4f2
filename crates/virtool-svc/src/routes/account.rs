//! `/api/account`: login, password reset, and the caller's own user.

use crate::audit;
use crate::auth::{Caller, TokenClaims};
use crate::db;
use crate::error::ApiError;
use crate::state::AppState;
use crate::wire::{
    self, ErrorJson, InvalidJson, LoginBody, LoginInput, ResetBody, ResetInput, ResetJson,
    TokenJson, UserJson,
};
use actix_web::{web, HttpRequest, HttpResponse};
use diesel_async::AsyncConnection;
use serde_json::Value;
use sha2::{Digest, Sha256};
use user_core::audit::{Actor, Changes, Context};
use user_core::http::Problem;
use user_core::throttle::Throttled;

/// How long a reset code may be used.
pub const RESET_CODE_TTL: chrono::Duration = chrono::Duration::minutes(10);

const BAD_CREDENTIALS: &str = "Invalid username or password";
const BAD_RESET_CODE: &str = "Invalid or expired reset code";

fn code_hash(code: &str) -> String {
    hex::encode(Sha256::digest(code.as_bytes()))
}

fn token_response(
    state: &AppState,
    user: &str,
    password_changed: chrono::DateTime<chrono::Utc>,
) -> Result<HttpResponse, ApiError> {
    let claims = TokenClaims {
        pwc: password_changed.timestamp_micros(),
    };
    let issued = state.jwt.issue(user, claims).map_err(|e| {
        tracing::error!(error = %e, "token signing failed");
        ApiError::INTERNAL
    })?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(TokenJson {
            token: issued.token,
            token_type: "Bearer",
            expires_in: issued.expires_in,
        }))
}

/// After a successful password check: an old hash (another cost than `BCRYPT_COST`, or a
/// `$2a$`/`$2x$`/`$2y$` one) is replaced by a `$2b$` hash of the same password at
/// `BCRYPT_COST`, in a task of its own after the answer, by compare-and-set
/// ([`db::upgrade_password_hash`]). Also when the answer is a reset code: the password was
/// right, and the user may never finish the reset. Nothing to forget: the principal cache holds
/// no hash, and `last_password_change` stays as it is (tokens stay valid).
fn upgrade_hash_later(state: &AppState, user: &str, password: &str, verified: &str) {
    let database = state.core.db.clone();
    let user = user.to_owned();
    state
        .core
        .hasher
        .upgrade_later(password, verified, move |old, new| async move {
            let mut conn = database.conn().await?;
            db::upgrade_password_hash(&mut conn, &user, &old, &new).await
        });
}

/// Logs in: a bearer token, or — when the user must choose a new password — a reset code.
///
/// Every attempt is recorded: `login.succeeded` (also when the answer is a reset code: the
/// password was right), `login.failed`, or `login.throttled` (once per account and address per
/// window). The target and the actor are the account as typed, whether or not it exists
/// ([`audit::typed_account`]).
#[utoipa::path(post, path = "/api/account/login", tag = "account",
    request_body = LoginBody,
    responses(
        (status = 200, description = "A token, or `{\"reset\":true,\"reset_code\"}` when a new password is due", body = TokenJson),
        (status = 400, description = "Invalid username or password, or malformed JSON", body = ErrorJson),
        (status = 413, body = ErrorJson),
        (status = 415, body = ErrorJson),
        (status = 422, body = InvalidJson),
        (status = 429, body = ErrorJson),
        (status = 503, body = ErrorJson),
    ))]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let input = LoginInput::parse(&body)?;
    let core = &state.core;
    let address = core.client_ip(&req);
    let target = audit::typed_account(&input.username);
    let context = Context::of(&req, core, Actor::user(&target.id));
    let attempt = match core.throttle.attempt(&input.username, address).await {
        Ok(attempt) => attempt,
        Err(Throttled::Db(e)) => return Err(e.into()),
        Err(Throttled::Refused(wait)) => {
            if let Err(e) = core.audit.login_throttled(&context, &target).await {
                // the refusal stands without its record
                tracing::warn!(error = %e, "login.throttled not recorded");
            }
            return Err(Problem::TooManyRequests {
                retry_after: wait.0,
            }
            .into());
        }
    };
    let account = if wire::plausible_id(&input.username) {
        let mut conn = core.db.conn().await?;
        db::credentials(&mut conn, &input.username).await?
    } else {
        None
    };
    let matched = core
        .hasher
        .verify(
            &input.password,
            account.as_ref().map(|a| a.password_hash.as_str()),
        )
        .await;
    let account = match account {
        Some(account) if matched => account,
        _ => {
            tracing::info!(user = %input.username, "login failed");
            core.audit
                .login(&context, audit::LOGIN_FAILED, &target)
                .await?;
            return Err(ApiError::BadRequest(BAD_CREDENTIALS.to_owned()));
        }
    };
    attempt.succeeded();
    core.audit
        .login(&context, audit::LOGIN_SUCCEEDED, &target)
        .await?;
    upgrade_hash_later(
        &state,
        &input.username,
        &input.password,
        &account.password_hash,
    );
    if account.force_reset {
        let code = user_core::secret::random_token(48);
        let expires_at = chrono::Utc::now() + RESET_CODE_TTL;
        let mut conn = core.db.conn().await?;
        db::store_reset_code(&mut conn, &input.username, &code_hash(&code), expires_at).await?;
        tracing::info!(user = %input.username, "login needs a password reset");
        return Ok(HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(ResetJson {
                reset: true,
                reset_code: code,
            }));
    }
    tracing::info!(user = %input.username, "logged in");
    token_response(&state, &input.username, account.last_password_change)
}

/// Sets a new password with the reset code from a login (single use, valid 10 minutes),
/// clears `force_reset` and answers like a login. Recorded as `user.password_changed` by the
/// user (and `user.updated` when `force_reset` was still set).
#[utoipa::path(post, path = "/api/account/reset", tag = "account",
    request_body = ResetBody,
    responses(
        (status = 200, body = TokenJson),
        (status = 400, description = "Unknown, used or expired reset code, or malformed JSON", body = ErrorJson),
        (status = 413, body = ErrorJson),
        (status = 415, body = ErrorJson),
        (status = 422, body = InvalidJson),
        (status = 503, body = ErrorJson),
    ))]
pub async fn reset(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let input = ResetInput::parse(&body, state.min_password)?;
    let hashed_code = code_hash(&input.reset_code);
    let core = &state.core;
    let valid = {
        let mut conn = core.db.conn().await?;
        db::reset_code_valid(&mut conn, &hashed_code).await?
    };
    if !valid {
        return Err(ApiError::BadRequest(BAD_RESET_CODE.to_owned()));
    }
    let password_hash = core.hasher.hash(&input.password).await?;
    // the actor is the code's user, known once the code is redeemed
    let request = Context::of(&req, core, Actor::operator());
    let mut conn = core.db.conn().await?;
    let redeemed = conn
        .transaction::<_, ApiError, _>(async |conn| {
            let Some(redeemed) = db::redeem_reset_code(conn, &hashed_code, &password_hash).await?
            else {
                return Ok(None);
            };
            let context = Context {
                actor: Actor::user(&redeemed.user),
                ..request.clone()
            };
            let other = if redeemed.force_reset_was {
                Changes::new().with("force_reset", Some(true.into()), Some(false.into()))
            } else {
                Changes::new()
            };
            audit::user_updated(conn, &context, &redeemed.user, other, true).await?;
            Ok(Some(redeemed))
        })
        .await?;
    drop(conn);
    let Some(redeemed) = redeemed else {
        return Err(ApiError::BadRequest(BAD_RESET_CODE.to_owned()));
    };
    state.principals.forget(&redeemed.user);
    tracing::info!(user = %redeemed.user, "password reset");
    token_response(&state, &redeemed.user, redeemed.password_changed)
}

/// The caller's own user (no permission needed).
#[utoipa::path(get, path = "/api/account", tag = "account", security(("bearer" = [])),
    responses(
        (status = 200, body = UserJson),
        (status = 401, body = ErrorJson),
        (status = 503, body = ErrorJson),
    ))]
pub async fn get(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let mut conn = state.core.db.conn().await?;
    let user = db::find_user(&mut conn, &caller.id)
        .await?
        .ok_or(ApiError::UNAUTHENTICATED)?;
    Ok(HttpResponse::Ok().json(UserJson::from(user)))
}
