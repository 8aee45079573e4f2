//! `partner-svc admin …`: the operators' commands.

use crate::audit;
use crate::db;
use anyhow::{anyhow, bail};
use diesel_async::AsyncConnection;
use user_core::db::{Db, DbError};
use user_core::password::PasswordHasher;

const USAGE: &str = "usage: partner-svc admin partner-create <name> | events [--after N] [--follow] | import [--dry-run] [--on-conflict error|skip|update] FILE|- | export [--tenant ID] [FILE]";

/// Runs one admin command and prints its result on stdout.
pub async fn run(database: &Db, hasher: &PasswordHasher, args: &[String]) -> anyhow::Result<()> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["import", rest @ ..] => {
            user_core::import::import(database, hasher, crate::import::Import, rest).await
        }
        ["export", rest @ ..] => {
            user_core::import::export(database, crate::import::Export, rest).await
        }
        ["partner-create", name] => {
            let id = create_partner(database, name).await?;
            println!("{id}");
            Ok(())
        }
        ["events", rest @ ..] => user_core::audit::cli(database, rest).await,
        _ => bail!(USAGE),
    }
}

/// A new partner named `name` (trimmed, not empty, not taken); its id. Records
/// `partner.created` (an operator's, in the new partner) in the same transaction.
pub async fn create_partner(database: &Db, name: &str) -> anyhow::Result<i64> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 255 {
        bail!("a partner name is 1 to 255 characters");
    }
    let mut conn = database.conn().await?;
    conn.transaction::<_, DbError, _>(async |conn| {
        let id = db::create_partner(conn, name).await?;
        audit::partner_created(conn, id, name).await?;
        Ok(id)
    })
    .await
    .map_err(|e| {
        if e.is_unique_violation() {
            anyhow!("a partner named {name:?} exists already")
        } else {
            e.into()
        }
    })
}
