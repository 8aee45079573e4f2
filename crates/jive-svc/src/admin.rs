//! `jive-svc admin …`: the operators' commands. Their changes are recorded in the audit trail
//! as the operator's ([`audit::operator`]), in the org they concern.

use crate::{audit, db, ids};
use anyhow::{anyhow, bail};
use diesel_async::AsyncConnection;
use serde_json::{json, Value};
use user_core::db::{Db, DbError};
use user_core::password::PasswordHasher;
use user_core::values::{Email, Password};

const USAGE: &str = "usage: jive-svc admin org-create <name> [--id <org-id>] | user-create <org-id> <email> [--admin|--write|--read] | events [--after N] [--follow] | import [--dry-run] [--on-conflict error|skip|update] FILE|- | export [--tenant ORG-ID] [FILE]";

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
    match args.as_slice() {
        ["events", rest @ ..] => return user_core::audit::cli(database, rest).await,
        ["import", rest @ ..] => {
            user_core::import::import(database, hasher, crate::import::Import, rest).await?;
            number_events(&mut database.conn().await?).await;
            return Ok(());
        }
        ["export", rest @ ..] => {
            return user_core::import::export(database, crate::import::Export, rest).await
        }
        _ => {}
    }
    let mut conn = database.conn().await?;
    match args.as_slice() {
        ["org-create", name, rest @ ..] => {
            let name = name.trim();
            if name.is_empty() {
                bail!("the org name must not be empty");
            }
            // `--id`: the org's id kept from elsewhere (its users' lines name it: `import`)
            let id = match rest {
                [] => ids::object_id(),
                ["--id", id] if ids::is_object_id(id) => (*id).to_owned(),
                ["--id", id] => bail!("--id takes 24 lowercase hex characters, got {id:?}"),
                _ => bail!(USAGE),
            };
            let ctx = audit::operator(&id);
            conn.transaction::<_, DbError, _>(async |conn| {
                db::create_org(conn, &id, name).await?;
                audit::org_created(conn, &ctx, &id, name).await
            })
            .await
            .map_err(|e| {
                if e.is_unique_violation() {
                    anyhow!("org {id} exists already")
                } else {
                    e.into()
                }
            })?;
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
    number_events(&mut conn).await;
    Ok(())
}

/// Numbers the command's new event now, so that followers see it at once (a running
/// service's hub would within a second).
async fn number_events(conn: &mut user_core::db::Conn) {
    if let Err(e) = user_core::audit::sequence(conn).await {
        tracing::warn!(error = %e, "audit: the event is numbered by the service later");
    }
}
