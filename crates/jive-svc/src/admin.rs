//! `jive-svc admin …`: the operators' commands. Their changes are recorded in the audit trail
//! as the operator's ([`audit::operator`]), in the org they concern.

use crate::{audit, db, ids};
use anyhow::{anyhow, bail};
use diesel_async::AsyncConnection;
use serde_json::{json, Value};
use user_core::db::{Db, DbError};
use user_core::password::PasswordHasher;
use user_core::values::{Email, Password};

const USAGE: &str = "usage: jive-svc admin org-create <name> | user-create <org-id> <email> [--admin|--write|--read] | events [--after N] [--follow]";

/// The permissions a `user-create` flag grants (none: `{}`, the user can call nothing).
fn permissions(flag: Option<&str>) -> anyhow::Result<Value> {
    Ok(match flag {
        None => json!({}),
        Some("--admin") => json!({"IsAdmin": "admin"}),
        Some("--write") => json!({"users": "write"}),
        Some("--read") => json!({"users": "read"}),
        Some(other) => bail!("unknown flag {other:?}; {USAGE}"),
    })
}

/// Runs one admin command and prints its result on stdout (`events`: the audit trail as
/// NDJSON, [`user_core::audit::cli`]).
pub async fn run(database: &Db, hasher: &PasswordHasher, args: &[String]) -> anyhow::Result<()> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if let ["events", rest @ ..] = args.as_slice() {
        return user_core::audit::cli(database, rest).await;
    }
    let mut conn = database.conn().await?;
    match args.as_slice() {
        ["org-create", name] => {
            let name = name.trim();
            if name.is_empty() {
                bail!("the org name must not be empty");
            }
            let id = ids::object_id();
            let ctx = audit::operator(&id);
            conn.transaction::<_, DbError, _>(async |conn| {
                db::create_org(conn, &id, name).await?;
                audit::org_created(conn, &ctx, &id, name).await
            })
            .await?;
            println!("{id}");
        }
        ["user-create", org, email, rest @ ..] if rest.len() <= 1 => {
            let user_permissions = permissions(rest.first().copied())?;
            if !ids::is_object_id(org) || !db::org_exists(&mut conn, org).await? {
                bail!("no org {org:?}");
            }
            let email = Email::parse(email)
                .map_err(|_| anyhow!("{email:?} is not a valid email address"))?;
            let access_key = user_core::secret::random_hex(16);
            let new = db::NewUser {
                id: ids::object_id(),
                org_id: (*org).to_owned(),
                first_name: String::new(),
                last_name: String::new(),
                email_address: email.into_inner(),
                password_hash: hasher.hash(&Password::random()).await?,
                active: true,
                access_key: access_key.clone(),
                user_permissions,
            };
            let ctx = audit::operator(org);
            let user = conn
                .transaction::<_, DbError, _>(async |conn| {
                    let user = db::insert_user(conn, new).await?;
                    audit::user_created(conn, &ctx, &user).await?;
                    Ok(user)
                })
                .await
                .map_err(|e| {
                    if e.is_unique_violation() {
                        anyhow!("org {org} has a user with that email already")
                    } else {
                        e.into()
                    }
                })?;
            println!("{} {access_key}", user.id);
        }
        _ => bail!(USAGE),
    }
    // Number the new event now, so that followers see it at once (a running service's hub
    // would within a second).
    if let Err(e) = user_core::audit::sequence(&mut conn).await {
        tracing::warn!(error = %e, "audit: the event is numbered by the service later");
    }
    Ok(())
}
