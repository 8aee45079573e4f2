//! First credentials from `BOOTSTRAP_*`, applied idempotently at start. What it creates or
//! changes is recorded in the audit trail (actor `operator`), with the change; a start that
//! changes nothing records nothing.

use crate::config::Config;
use crate::state::AppState;
use crate::wire::{AgencyJson, GroupJson};
use crate::{admin, audit, db};
use anyhow::{bail, Context};
use diesel_async::AsyncConnection;
use user_core::db::{Conn, DbError};
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
    let group = ensure_group(&mut conn, group_name).await?;
    for name in config
        .bootstrap_agencies
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        ensure_agency(&mut conn, group, name).await?;
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
                    match admin::create_client(&mut conn, id, group, "bootstrap", &hash).await {
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
                        set_client_secret(&mut conn, id, client.agency_group_id, &hash).await?;
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

/// The group named `name`, and `group.created` if this call created it.
async fn ensure_group(conn: &mut Conn, name: &str) -> Result<i64, DbError> {
    conn.transaction::<_, DbError, _>(async |conn| {
        let (id, created) = db::ensure_group(conn, name).await?;
        if created {
            let group = GroupJson {
                id,
                name: name.to_owned(),
            };
            audit::group_created(conn, &group).await?;
        }
        Ok(id)
    })
    .await
}

/// The agency `name` of `group`, and `agency.created` if this call created it.
async fn ensure_agency(conn: &mut Conn, group: i64, name: &str) -> Result<i64, DbError> {
    conn.transaction::<_, DbError, _>(async |conn| {
        let (id, created) = db::ensure_agency(conn, group, name).await?;
        if created {
            let agency = AgencyJson {
                id,
                name: name.to_owned(),
                agency_group_id: group,
            };
            audit::agency_created(conn, &agency).await?;
        }
        Ok(id)
    })
    .await
}

/// The client's new secret hash and `client.updated` (`"secret": {"changed": true}`).
async fn set_client_secret(
    conn: &mut Conn,
    id: &str,
    group: i64,
    secret_hash: &str,
) -> Result<(), DbError> {
    conn.transaction::<_, DbError, _>(async |conn| {
        db::set_client_secret(conn, id, secret_hash).await?;
        audit::client_secret_changed(conn, id, group).await
    })
    .await
}
