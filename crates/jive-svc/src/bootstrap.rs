//! First credentials from `BOOTSTRAP_*`, applied idempotently at start.

use crate::config::Config;
use crate::state::AppState;
use crate::{audit, db, ids};
use anyhow::bail;
use diesel_async::AsyncConnection;
use serde_json::json;
use user_core::db::DbError;
use user_core::values::{Email, Password};

/// The name given to the bootstrap org when it is created.
pub const BOOTSTRAP_ORG_NAME: &str = "Bootstrap";

/// The shortest bootstrap access key accepted.
pub const MIN_BOOTSTRAP_KEY_CHARS: usize = crate::wire::MIN_ACCESS_KEY_CHARS;

/// The checked bootstrap variables: the org, and the admin's email and key if given.
#[derive(Debug)]
pub struct Plan {
    pub org_id: String,
    pub admin: Option<(Email, user_core::Secret)>,
}

/// Checks the variables; `None` when there is nothing to bootstrap.
pub fn check(config: &Config) -> anyhow::Result<Option<Plan>> {
    let email = config.bootstrap_admin_email.as_deref().map(str::trim);
    let key = config.bootstrap_admin_access_key.as_ref();
    let Some(org_id) = config.bootstrap_org_id.as_deref().map(str::trim) else {
        if email.is_some() || key.is_some() {
            bail!("BOOTSTRAP_ORG_ID is required with BOOTSTRAP_ADMIN_EMAIL or BOOTSTRAP_ADMIN_ACCESS_KEY");
        }
        return Ok(None);
    };
    if !ids::is_object_id(org_id) {
        bail!("BOOTSTRAP_ORG_ID must be 24 lowercase hex characters, got {org_id:?}");
    }
    let admin = match (email, key) {
        (None, None) => None,
        (Some(email), Some(key)) => {
            let Ok(email) = Email::parse(email) else {
                bail!("BOOTSTRAP_ADMIN_EMAIL is not a valid email address");
            };
            let k = key.expose();
            if !crate::wire::usable_access_key(k) {
                bail!("BOOTSTRAP_ADMIN_ACCESS_KEY must be {MIN_BOOTSTRAP_KEY_CHARS} to 256 printable characters without spaces");
            }
            Some((email, key.clone()))
        }
        _ => bail!("BOOTSTRAP_ADMIN_EMAIL and BOOTSTRAP_ADMIN_ACCESS_KEY go together"),
    };
    Ok(Some(Plan {
        org_id: org_id.to_owned(),
        admin,
    }))
}

/// Creates the org if missing and, if no user has the key, an admin of the org with that key.
/// An existing user with the key is left as it is; if the email is taken in the org by a user
/// with another key, nothing is created and a warning is logged. What it creates is recorded
/// in the audit trail as the operator's (`org.created`, `user.created`).
pub async fn apply(state: &AppState, config: &Config) -> anyhow::Result<()> {
    let Some(plan) = check(config)? else {
        return Ok(());
    };
    let recorded = create(state, plan).await;
    // number what was recorded now (the hub would within a second)
    state.core.audit.kick();
    recorded
}

async fn create(state: &AppState, plan: Plan) -> anyhow::Result<()> {
    let ctx = audit::operator(&plan.org_id);
    let mut conn = state.core.db.conn().await?;
    conn.transaction::<_, DbError, _>(async |conn| {
        if db::ensure_org(conn, &plan.org_id, BOOTSTRAP_ORG_NAME).await? {
            audit::org_created(conn, &ctx, &plan.org_id, BOOTSTRAP_ORG_NAME).await?;
        }
        Ok(())
    })
    .await?;
    if let Some((email, key)) = plan.admin {
        if db::key_taken(&mut conn, key.expose()).await? {
            tracing::info!(org_id = %plan.org_id, "bootstrap admin exists");
            return Ok(());
        }
        if db::email_taken(&mut conn, &plan.org_id, email.as_str(), None).await? {
            tracing::warn!(
                org_id = %plan.org_id,
                "BOOTSTRAP_ADMIN_EMAIL belongs to a user with another key; no bootstrap admin created"
            );
            return Ok(());
        }
        let password_hash = state.core.hasher.hash(&Password::random()).await?;
        let new = db::NewUser {
            id: ids::object_id(),
            org_id: plan.org_id.clone(),
            first_name: "Admin".to_owned(),
            last_name: String::new(),
            email_address: email.into_inner(),
            password_hash,
            active: true,
            access_key: key.expose().to_owned(),
            user_permissions: json!({"IsAdmin": "admin"}),
        };
        let created = conn
            .transaction::<_, DbError, _>(async |conn| {
                let user = db::insert_user(conn, new).await?;
                audit::user_created(conn, &ctx, &user).await?;
                Ok(user)
            })
            .await;
        match created {
            Ok(user) => {
                tracing::info!(org_id = %plan.org_id, user_id = %user.id, "bootstrap admin created")
            }
            // Another replica created it at the same moment.
            Err(e) if e.is_unique_violation() => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(org: Option<&str>, email: Option<&str>, key: Option<&str>) -> Config {
        Config {
            bootstrap_org_id: org.map(str::to_owned),
            bootstrap_admin_email: email.map(str::to_owned),
            bootstrap_admin_access_key: key.map(user_core::Secret::new),
        }
    }

    #[test]
    fn variables_are_checked() {
        let org = "54b53d3aeba6db5c35000002";
        let key = "0123456789abcdef0123456789abcdef";
        assert!(check(&config(None, None, None)).unwrap().is_none());
        assert!(check(&config(Some(org), None, None))
            .unwrap()
            .unwrap()
            .admin
            .is_none());
        assert!(check(&config(Some(org), Some("a@b.co"), Some(key)))
            .unwrap()
            .unwrap()
            .admin
            .is_some());
        for (c, needle) in [
            (
                config(None, Some("a@b.co"), Some(key)),
                "BOOTSTRAP_ORG_ID is required",
            ),
            (config(Some("xyz"), None, None), "BOOTSTRAP_ORG_ID must be"),
            (config(Some(org), Some("a@b.co"), None), "go together"),
            (
                config(Some(org), Some("nope"), Some(key)),
                "BOOTSTRAP_ADMIN_EMAIL",
            ),
            (
                config(Some(org), Some("a@b.co"), Some("short")),
                "BOOTSTRAP_ADMIN_ACCESS_KEY",
            ),
        ] {
            let e = check(&c).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
    }
}
