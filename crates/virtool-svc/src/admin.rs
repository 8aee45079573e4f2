//! `virtool-svc admin …`: the operators' commands. The first administrator comes from
//! `BOOTSTRAP_ADMIN_USER` (`bootstrap.rs`), everything else through the API; the admin
//! commands read the audit trail and bring users in and out (`import.rs`).

use anyhow::bail;
use user_core::db::Db;
use user_core::password::PasswordHasher;

const USAGE: &str = "usage: virtool-svc admin events [--after N] [--follow] | import [--dry-run] [--on-conflict error|skip|update] FILE|- | export [--tenant GROUP] [FILE]";

/// Runs one admin command: `events [--after N] [--follow]` prints the audit events after N
/// (default 0) as NDJSON, one per line in id order; `--follow` keeps waiting for more.
/// `import` and `export` are `user_core::import`'s, with virtool's lines (`import.rs`).
pub async fn run(database: &Db, hasher: &PasswordHasher, args: &[String]) -> anyhow::Result<()> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["events", rest @ ..] => user_core::audit::cli(database, rest).await,
        ["import", rest @ ..] => {
            // the password rule of the API: MINIMUM_PASSWORD_LENGTH
            let config = crate::config::Config::from_env()?;
            let importer = crate::import::Import {
                minimum_password_length: config.minimum_password_length,
            };
            user_core::import::import(database, hasher, importer, rest).await
        }
        ["export", rest @ ..] => {
            user_core::import::export(database, crate::import::Export, rest).await
        }
        _ => bail!(USAGE),
    }
}
