//! `virtool-svc admin …`: the operators' commands. Virtool has none yet: the first
//! administrator comes from `BOOTSTRAP_ADMIN_USER` (`bootstrap.rs`), everything else through
//! the API.

use anyhow::bail;

const USAGE: &str = "virtool-svc has no admin commands; use BOOTSTRAP_ADMIN_USER and the API";

/// Runs one admin command (there are none: always the usage error).
pub fn run(_args: &[String]) -> anyhow::Result<()> {
    bail!(USAGE)
}
