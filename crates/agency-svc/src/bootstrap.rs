//! First credentials from `BOOTSTRAP_*`, applied idempotently at start.

use crate::config::Config;
use crate::db;
use crate::state::AppState;
use anyhow::{bail, Context};
use user_core::values::Password;

pub async fn apply(state: &AppState, config: &Config) -> anyhow::Result<()> {
    let Some(group_name) = config.bootstrap_agency_group.as_deref().map(str::trim) else {
        if config.bootstrap_client_id.is_some() || config.bootstrap_agencies.is_some() {
            bail!(
                "BOOTSTRAP_AGENCY_GROUP is required with BOOTSTRAP_AGENCIES or BOOTSTRAP_CLIENT_ID"
            );
        }
        return Ok(());
    };
    if group_name.is_empty() {
        bail!("BOOTSTRAP_AGENCY_GROUP must not be empty");
    }
    let mut conn = state.core.db.conn().await?;
    let group = db::ensure_group(&mut conn, group_name).await?;
    for name in config
        .bootstrap_agencies
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        db::ensure_agency(&mut conn, group, name).await?;
    }
    match (&config.bootstrap_client_id, &config.bootstrap_client_secret) {
        (Some(id), Some(secret)) => {
            let secret = Password::new(secret.expose(), 8)
                .ok()
                .context("BOOTSTRAP_CLIENT_SECRET must be 8 to 72 bytes")?;
            let existing = db::find_client(&mut conn, id).await?;
            match existing {
                None => {
                    let hash = state.core.hasher.hash(&secret).await?;
                    match db::create_client(&mut conn, id, group, "bootstrap", &hash).await {
                        Err(e) if !e.is_unique_violation() => return Err(e.into()),
                        _ => {}
                    }
                }
                Some(client) => {
                    if !state
                        .core
                        .hasher
                        .verify(secret.expose(), Some(&client.secret_hash))
                        .await
                    {
                        let hash = state.core.hasher.hash(&secret).await?;
                        db::set_client_secret(&mut conn, id, &hash).await?;
                    }
                }
            }
        }
        (None, None) => {}
        _ => bail!("BOOTSTRAP_CLIENT_ID and BOOTSTRAP_CLIENT_SECRET go together"),
    }
    tracing::info!(group = group_name, "bootstrap applied");
    Ok(())
}
