//! `partner-svc admin …`: the operators' commands.

use crate::db;
use anyhow::{anyhow, bail};
use user_core::db::Db;

const USAGE: &str = "usage: partner-svc admin partner-create <name>";

/// Runs one admin command and prints its result on stdout.
pub async fn run(database: &Db, args: &[String]) -> anyhow::Result<()> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["partner-create", name] => {
            let id = create_partner(database, name).await?;
            println!("{id}");
            Ok(())
        }
        _ => bail!(USAGE),
    }
}

/// A new partner named `name` (trimmed, not empty, not taken); its id.
pub async fn create_partner(database: &Db, name: &str) -> anyhow::Result<i64> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 255 {
        bail!("a partner name is 1 to 255 characters");
    }
    let mut conn = database.conn().await?;
    db::create_partner(&mut conn, name).await.map_err(|e| {
        if e.is_unique_violation() {
            anyhow!("a partner named {name:?} exists already")
        } else {
            e.into()
        }
    })
}
