//! First partners and the super admin from `BOOTSTRAP_*`, applied idempotently at start.

use crate::audit;
use crate::config::{Config, INFO};
use crate::db::{self, NewUser};
use crate::permissions::{names, Permission};
use crate::state::AppState;
use anyhow::{bail, Context};
use diesel_async::AsyncConnection;
use user_core::db::DbError;
use user_core::values::{Email, Password, DEFAULT_MIN_PASSWORD_CHARS};

pub async fn apply(state: &AppState, config: &Config) -> anyhow::Result<()> {
    let mut conn = state.core.db.conn().await?;
    let partners: Vec<&str> = config
        .bootstrap_partners
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    for name in &partners {
        conn.transaction::<_, DbError, _>(async |conn| {
            if let Some(id) = db::create_partner_if_missing(conn, name).await? {
                audit::partner_created(conn, id, name).await?;
            }
            Ok(())
        })
        .await?;
    }
    match (
        &config.bootstrap_admin_email,
        &config.bootstrap_admin_password,
    ) {
        (Some(email), Some(password)) => {
            let email = Email::parse(email)
                .ok()
                .context("BOOTSTRAP_ADMIN_EMAIL is not a valid email address")?;
            let password = Password::new(password.expose(), DEFAULT_MIN_PASSWORD_CHARS)
                .ok()
                .context("BOOTSTRAP_ADMIN_PASSWORD must be 8 characters to 72 bytes")?;
            if db::user_by_email(&mut conn, email.as_str())
                .await?
                .is_none()
            {
                let hash = state.core.hasher.hash(&password).await?;
                let all = Permission::ALL.into_iter().collect();
                let permissions = names(&all);
                let new = NewUser {
                    first_name: "Super".to_owned(),
                    last_name: "Admin".to_owned(),
                    email: email.as_str().to_owned(),
                    password_hash: hash,
                    permissions: permissions.clone(),
                };
                // The admin belongs to no partner: its user.created has no tenant.
                let created = conn
                    .transaction::<_, DbError, _>(async |conn| {
                        let Some(user) = db::insert_unattached(conn, new).await? else {
                            return Ok(false);
                        };
                        audit::user_created(conn, &audit::operator(), &user, &permissions).await?;
                        Ok(true)
                    })
                    .await?;
                if created {
                    tracing::info!(service = INFO.name, "bootstrap admin created");
                }
            }
        }
        (None, None) => {}
        _ => bail!("BOOTSTRAP_ADMIN_EMAIL and BOOTSTRAP_ADMIN_PASSWORD go together"),
    }
    tracing::info!(partners = partners.len(), "bootstrap applied");
    Ok(())
}
