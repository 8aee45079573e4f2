//! `agency-svc admin …`: the operators' commands. Each change is recorded in the audit trail
//! (actor `operator`, tenant the group) in the change's own transaction; an import records one
//! `user.imported` without a tenant (its file may hold users of any group; `crate::import`).

use crate::audit;
use crate::db::{self, Revoked};
use crate::wire::{AgencyJson, ClientJson, GroupJson};
use anyhow::{anyhow, bail, Context};
use diesel_async::AsyncConnection;
use user_core::db::{Conn, Db, DbError};
use user_core::password::PasswordHasher;
use user_core::values::Password;

const USAGE: &str = "usage: agency-svc admin group-create <name> | agency-create <group-id> <name> | client-create <group-id> <name> | client-revoke <client-id> | events [--after N] [--follow] | import [--dry-run] [--on-conflict error|skip|update] FILE|- | export [--tenant ID] [FILE]";

fn group_id(raw: &str) -> anyhow::Result<i64> {
    raw.parse()
        .with_context(|| format!("group id must be an integer, got {raw:?}"))
}

/// Runs one admin command and prints its result on stdout.
pub async fn run(database: &Db, hasher: &PasswordHasher, args: &[String]) -> anyhow::Result<()> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["events", rest @ ..] => return user_core::audit::cli(database, rest).await,
        ["import", rest @ ..] => {
            return user_core::import::import(database, hasher, crate::import::Import, rest).await
        }
        ["export", rest @ ..] => {
            return user_core::import::export(database, crate::import::Export, rest).await
        }
        _ => {}
    }
    let mut conn = database.conn().await?;
    match args.as_slice() {
        ["group-create", name] => {
            let id = create_group(&mut conn, name.trim()).await.map_err(|e| {
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
            let id = create_agency(&mut conn, group, name.trim())
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
        ["client-revoke", id] => match revoke_client(&mut conn, id).await? {
            Revoked::Unknown => bail!("no client {id:?}"),
            Revoked::Now { .. } | Revoked::Already => println!("revoked {id}"),
        },
        _ => bail!(USAGE),
    }
    Ok(())
}

/// A new agency group and its `group.created` event, in one transaction.
pub async fn create_group(conn: &mut Conn, name: &str) -> Result<i64, DbError> {
    conn.transaction::<_, DbError, _>(async |conn| {
        let id = db::create_group(conn, name).await?;
        let group = GroupJson {
            id,
            name: name.to_owned(),
        };
        audit::group_created(conn, &group).await?;
        Ok(id)
    })
    .await
}

/// A new agency of `group` and its `agency.created` event, in one transaction.
pub async fn create_agency(conn: &mut Conn, group: i64, name: &str) -> Result<i64, DbError> {
    conn.transaction::<_, DbError, _>(async |conn| {
        let id = db::create_agency(conn, group, name).await?;
        let agency = AgencyJson {
            id,
            name: name.to_owned(),
            agency_group_id: group,
        };
        audit::agency_created(conn, &agency).await?;
        Ok(id)
    })
    .await
}

/// A new client with a random id and a random 40-character secret (stored only as a hash),
/// and its `client.created` event (without the secret), in one transaction.
pub async fn new_client(
    conn: &mut Conn,
    hasher: &PasswordHasher,
    group: i64,
    name: &str,
) -> anyhow::Result<(String, String)> {
    let id = uuid::Uuid::new_v4().to_string();
    let secret = user_core::secret::random_token(40);
    let hash = hasher
        .hash(&Password::new(&secret, 32).map_err(|e| anyhow!("{e:?}"))?)
        .await?;
    create_client(conn, &id, group, name, &hash).await?;
    Ok((id, secret))
}

/// The client `id` of `group` and its `client.created` event, in one transaction.
pub async fn create_client(
    conn: &mut Conn,
    id: &str,
    group: i64,
    name: &str,
    secret_hash: &str,
) -> Result<(), DbError> {
    conn.transaction::<_, DbError, _>(async |conn| {
        db::create_client(conn, id, group, name, secret_hash).await?;
        let client = ClientJson {
            id: id.to_owned(),
            agency_group_id: group,
            name: name.to_owned(),
        };
        audit::client_created(conn, &client).await
    })
    .await
}

/// Revokes the client `id` and records `client.revoked`, in one transaction; a client revoked
/// already changes nothing and records nothing.
pub async fn revoke_client(conn: &mut Conn, id: &str) -> Result<Revoked, DbError> {
    conn.transaction::<_, DbError, _>(async |conn| {
        let revoked = db::revoke_client(conn, id).await?;
        if let Revoked::Now { group } = revoked {
            audit::client_revoked(conn, id, group).await?;
        }
        Ok(revoked)
    })
    .await
}
