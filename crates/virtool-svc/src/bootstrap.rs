//! The first administrator from `BOOTSTRAP_ADMIN_USER` / `BOOTSTRAP_ADMIN_PASSWORD`, created
//! at start if missing (an existing user is left exactly as it is); its creation is recorded
//! as `user.created` by the operator.

use crate::config::Config;
use crate::state::AppState;
use crate::{audit, db, wire};
use anyhow::{anyhow, bail};
use diesel_async::AsyncConnection;
use user_core::audit::Context;
use user_core::db::DbError;
use user_core::values::Password;

pub async fn apply(state: &AppState, config: &Config) -> anyhow::Result<()> {
    let (user, password) = match (
        &config.bootstrap_admin_user,
        &config.bootstrap_admin_password,
    ) {
        (None, None) => return Ok(()),
        (Some(u), Some(p)) => (u.trim(), p),
        _ => bail!("BOOTSTRAP_ADMIN_USER and BOOTSTRAP_ADMIN_PASSWORD go together"),
    };
    if !wire::plausible_id(user) {
        bail!("BOOTSTRAP_ADMIN_USER must be 1 to 64 characters without whitespace or '/'");
    }
    let password =
        Password::new(password.expose(), config.minimum_password_length).map_err(|_| {
            anyhow!(
                "BOOTSTRAP_ADMIN_PASSWORD must be {} characters to 72 bytes",
                config.minimum_password_length
            )
        })?;
    let exists = {
        let mut conn = state.core.db.conn().await?;
        db::user_exists(&mut conn, user).await?
    };
    if exists {
        tracing::info!(user, "bootstrap administrator exists");
        return Ok(());
    }
    let hash = state.core.hasher.hash(&password).await?;
    let mut conn = state.core.db.conn().await?;
    let created = conn
        .transaction::<_, DbError, _>(async |conn| {
            let admin = db::insert_administrator(conn, user, &hash).await?;
            audit::user_created(conn, &Context::operator(), &admin).await
        })
        .await;
    match created {
        Ok(()) => tracing::info!(user, "bootstrap administrator created"),
        // another replica created it meanwhile
        Err(e) if e.is_unique_violation() => {}
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
