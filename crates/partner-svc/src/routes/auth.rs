//! `POST /api/internal/v1/auth/login`: a bearer token for a user's email and password.

use crate::audit;
use crate::auth::TokenClaims;
use crate::db;
use crate::error::ApiError;
use crate::state::AppState;
use crate::wire::{LoginBody, LoginInput, TokenData, TokenJson};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;
use user_core::http::Problem;
use user_core::laravel::{MessageJson, ValidationJson};
use user_core::throttle::Throttled;

/// Logs a user in (failed attempts are throttled per account and address).
#[utoipa::path(post, path = "/api/internal/v1/auth/login", tag = "auth",
    request_body = LoginBody,
    responses(
        (status = 200, body = TokenData),
        (status = 400, body = MessageJson),
        (status = 401, description = "`Invalid credentials.`", body = MessageJson),
        (status = 413, body = MessageJson),
        (status = 415, body = MessageJson),
        (status = 422, body = ValidationJson),
        (status = 429, description = "`Too Many Attempts.`", body = MessageJson),
        (status = 503, body = MessageJson),
    ))]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let input = LoginInput::parse(&body).map_err(ApiError::Invalid)?;
    let core = &state.core;
    let account = input.email.to_lowercase();
    let address = core.client_ip(&req);
    // Sign-in events belong to no partner (tenant null): see docs/partner.md.
    let anonymous = audit::anonymous(&req, core);
    let typed = audit::typed_account(&input.email);
    let attempt = match core.throttle.attempt(&account, address).await {
        Ok(attempt) => attempt,
        Err(Throttled::Db(e)) => return Err(e.into()),
        Err(Throttled::Refused(wait)) => {
            // Recorded at most once per account and address per window; a failure to record
            // does not turn the refusal into a 503.
            if let Err(e) = core.audit.login_throttled(&anonymous, &typed).await {
                tracing::warn!(error = %e, "login.throttled not recorded");
            }
            return Err(Problem::TooManyRequests {
                retry_after: wait.0,
            }
            .into());
        }
    };
    let found = {
        let mut conn = core.db.conn().await?;
        db::credentials(&mut conn, &input.email).await?
    };
    let matched = core
        .hasher
        .verify(
            &input.password,
            found.as_ref().map(|c| c.password_hash.as_str()),
        )
        .await;
    match found {
        Some(user) if matched => {
            attempt.succeeded();
            let issued = state
                .jwt
                .issue(&user.id.to_string(), TokenClaims {})
                .map_err(|e| {
                    tracing::error!(error = %e, "token signing failed");
                    ApiError::INTERNAL
                })?;
            // An imported hash ($2a$/$2y$, or another cost) is stored again as $2b$ at
            // BCRYPT_COST, off the answer's path, unless it changed meanwhile. The principal
            // cache holds no hash, so there is nothing to forget.
            let store_db = core.db.clone();
            let id = user.id;
            core.hasher.upgrade_later(
                &input.password,
                &user.password_hash,
                move |old, new| async move {
                    let mut conn = store_db.conn().await?;
                    db::upgrade_password_hash(&mut conn, id, &old, &new).await
                },
            );
            let (context, target) = audit::signed_in(&req, core, user.id);
            core.audit
                .login(&context, "login.succeeded", &target)
                .await?;
            tracing::info!(user = user.id, "login succeeded");
            Ok(HttpResponse::Ok()
                .insert_header(("Cache-Control", "no-store"))
                .json(TokenData {
                    data: TokenJson {
                        access_token: issued.token,
                        token_type: "Bearer",
                        expires_in: issued.expires_in,
                    },
                }))
        }
        _ => {
            core.audit.login(&anonymous, "login.failed", &typed).await?;
            tracing::info!("login failed");
            Err(ApiError::InvalidCredentials)
        }
    }
}
