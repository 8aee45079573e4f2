//! `agency-svc admin …`: the operators' commands.

use crate::db;
use anyhow::{anyhow, bail, Context};
use user_core::db::Db;
use user_core::password::PasswordHasher;
use user_core::values::Password;

const USAGE: &str = "usage: agency-svc admin group-create <name> | agency-create <group-id> <name> | client-create <group-id> <name> | client-revoke <client-id>";

fn group_id(raw: &str) -> anyhow::Result<i64> {
    raw.parse()
        .with_context(|| format!("group id must be an integer, got {raw:?}"))
}

/// Runs one admin command and prints its result on stdout.
pub async fn run(database: &Db, hasher: &PasswordHasher, args: &[String]) -> anyhow::Result<()> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut conn = database.conn().await?;
    match args.as_slice() {
        ["group-create", name] => {
            let id = db::create_group(&mut conn, name.trim())
                .await
                .map_err(|e| {
                    if e.is_unique_violation() {
                        anyhow!("a group named {name:?} exists already")
                    } else {
                        e.into()
                    }
                })?;
            println!("{id}");
        }
        ["agency-create", group, name] => {
            let group = group_id(group)?;
            if !db::group_exists(&mut conn, group).await? {
                bail!("no agency group {group}");
            }
            let id = db::create_agency(&mut conn, group, name.trim())
                .await
                .map_err(|e| {
                    if e.is_unique_violation() {
                        anyhow!("group {group} has an agency named {name:?} already")
                    } else {
                        e.into()
                    }
                })?;
            println!("{id}");
        }
        ["client-create", group, name] => {
            let group = group_id(group)?;
            if !db::group_exists(&mut conn, group).await? {
                bail!("no agency group {group}");
            }
            let (id, secret) = new_client(&mut conn, hasher, group, name.trim()).await?;
            println!("{id} {secret}");
        }
        ["client-revoke", id] => {
            if !db::revoke_client(&mut conn, id).await? {
                bail!("no client {id:?}");
            }
            println!("revoked {id}");
        }
        _ => bail!(USAGE),
    }
    Ok(())
}

/// A new client with a random id and a random 40-character secret (stored only as a hash).
pub async fn new_client(
    conn: &mut diesel_async::AsyncPgConnection,
    hasher: &PasswordHasher,
    group: i64,
    name: &str,
) -> anyhow::Result<(String, String)> {
    let id = uuid::Uuid::new_v4().to_string();
    let secret = user_core::secret::random_token(40);
    let hash = hasher
        .hash(&Password::new(&secret, 32).map_err(|e| anyhow!("{e:?}"))?)
        .await?;
    db::create_client(conn, &id, group, name, &hash).await?;
    Ok((id, secret))
}
