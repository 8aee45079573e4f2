//! `virtool-svc admin …`: the operators' commands. The first administrator comes from
//! `BOOTSTRAP_ADMIN_USER` (`bootstrap.rs`), everything else through the API; the admin
//! command reads the audit trail.

use anyhow::bail;
use user_core::db::Db;

const USAGE: &str = "usage: virtool-svc admin events [--after N] [--follow]";

/// Runs one admin command: `events [--after N] [--follow]` prints the audit events after N
/// (default 0) as NDJSON, one per line in id order; `--follow` keeps waiting for more.
pub async fn run(database: &Db, args: &[String]) -> anyhow::Result<()> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["events", rest @ ..] => user_core::audit::cli(database, rest).await,
        _ => bail!(USAGE),
    }
}
