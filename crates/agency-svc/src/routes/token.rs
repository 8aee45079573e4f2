//! `POST /oauth/token`: Passport's client-credentials grant, as JSON or a form.

use crate::audit;
use crate::auth::TokenClaims;
use crate::db;
use crate::error::ApiError;
use crate::state::AppState;
use crate::wire::{OAuthErrorJson, TokenBadRequestJson, TokenBody, TokenJson};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;
use user_core::http::{read_body, Problem};
use user_core::laravel::MessageJson;
use user_core::throttle::Throttled;

struct Grant {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn as_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn parse(req: &HttpRequest, body: &[u8]) -> Result<Grant, ApiError> {
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    match content_type.as_deref() {
        Some("application/x-www-form-urlencoded") => {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_bytes(body).map_err(|_| Problem::MalformedJson)?;
            let get = |k: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.clone())
            };
            Ok(Grant {
                grant_type: get("grant_type"),
                client_id: get("client_id"),
                client_secret: get("client_secret"),
            })
        }
        None | Some("application/json") => {
            let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
                Value::Null
            } else {
                serde_json::from_slice(body).map_err(|_| Problem::MalformedJson)?
            };
            Ok(Grant {
                grant_type: as_text(value.get("grant_type")),
                client_id: as_text(value.get("client_id")),
                client_secret: as_text(value.get("client_secret")),
            })
        }
        Some(t) if t.ends_with("+json") => Err(Problem::MalformedJson.into()),
        Some(_) => Err(Problem::UnsupportedMediaType.into()),
    }
}

/// A bearer token for an API client (client-credentials grant; JSON or form body).
#[utoipa::path(post, path = "/oauth/token", tag = "auth",
    request_body(content = TokenBody, content_type = "application/json"),
    responses(
        (status = 200, body = TokenJson),
        (status = 400, description = "Unsupported grant type (OAuth shape) or malformed body (message only)", body = TokenBadRequestJson),
        (status = 401, body = OAuthErrorJson),
        (status = 413, body = MessageJson),
        (status = 415, body = MessageJson),
        (status = 429, body = MessageJson),
        (status = 503, body = MessageJson),
    ))]
pub async fn issue(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(payload).await?;
    let grant = parse(&req, &body)?;
    if grant.grant_type.as_deref() != Some("client_credentials") {
        return Err(ApiError::UnsupportedGrantType);
    }
    let (Some(client_id), Some(secret)) = (grant.client_id, grant.client_secret) else {
        return Err(ApiError::InvalidClient);
    };
    let core = &state.core;
    let address = core.client_ip(&req);
    let account = audit::typed_client(&client_id);
    let attempt = match core.throttle.attempt(&client_id, address).await {
        Ok(attempt) => attempt,
        Err(Throttled::Db(e)) => return Err(e.into()),
        Err(Throttled::Refused(wait)) => {
            // Recorded once per client id and address per window (the attempts are not: an
            // attack must not fill the trail). A failure to record does not change the 429.
            let ctx = audit::sign_in(&req, core, &account, None);
            if let Err(e) = core.audit.login_throttled(&ctx, &account).await {
                tracing::warn!(error = %e, "login.throttled not recorded");
            }
            return Err(Problem::TooManyRequests {
                retry_after: wait.0,
            }
            .into());
        }
    };
    let client = {
        let mut conn = core.db.conn().await?;
        db::find_client(&mut conn, &client_id).await?
    };
    let matched = core
        .hasher
        .verify(&secret, client.as_ref().map(|c| c.secret_hash.as_str()))
        .await;
    let group = client.as_ref().map(|c| c.agency_group_id);
    let ctx = audit::sign_in(&req, core, &account, group);
    match client {
        Some(c) if matched && !c.revoked => {
            attempt.succeeded();
            let issued = state
                .jwt
                .issue(
                    &c.id,
                    TokenClaims {
                        grp: c.agency_group_id,
                    },
                )
                .map_err(|e| {
                    tracing::error!(error = %e, "token signing failed");
                    ApiError::INTERNAL
                })?;
            core.audit.login(&ctx, "login.succeeded", &account).await?;
            tracing::info!(client = %c.id, "token issued");
            // A secret hash of another cost or an old prefix is replaced after the answer, if
            // it is still the one just verified. The client cache holds only the group, not
            // the hash: nothing to forget. Bootstrap leaves an upgraded hash alone (it still
            // verifies the bootstrap secret).
            let db = core.db.clone();
            let id = c.id.clone();
            core.hasher
                .upgrade_later(&secret, &c.secret_hash, move |old, new| async move {
                    let mut conn = db.conn().await?;
                    db::upgrade_client_secret_hash(&mut conn, &id, &old, &new).await
                });
            Ok(HttpResponse::Ok()
                .insert_header(("Cache-Control", "no-store"))
                .json(TokenJson {
                    token_type: "Bearer",
                    expires_in: issued.expires_in,
                    access_token: issued.token,
                }))
        }
        _ => {
            tracing::info!(client = %client_id, "client authentication failed");
            core.audit.login(&ctx, "login.failed", &account).await?;
            Err(ApiError::InvalidClient)
        }
    }
}
