//! virtool-svc: the Virtool users API, with groups and accounts (`../shared/api/virtool.md`).

pub mod admin;
pub mod app;
pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod cerberus;
pub mod config;
pub mod db;
pub mod error;
pub mod import;
pub mod openapi;
pub mod permissions;
pub mod routes;
pub mod state;
pub mod wire;

pub use config::{Config, INFO};

use user_core::cli::Command;
use user_core::http::Core;

/// The state of a running service (also what the tests build).
pub async fn state(
    settings: user_core::config::Settings,
    db: user_core::db::Db,
    config: &Config,
) -> anyhow::Result<state::AppState> {
    let jwt = settings.jwt_keys()?;
    let core = Core::new(settings, db, openapi::document());
    Ok(state::AppState::new(
        core,
        jwt,
        config.minimum_password_length,
    ))
}

pub async fn run() -> anyhow::Result<()> {
    let started = user_core::startup::prepare(INFO, || db::MIGRATIONS).await?;
    let config = Config::from_env()?;
    match started.command {
        Command::Migrate => Ok(()),
        Command::Admin(args) => admin::run(&started.db, &started.settings.hasher(), &args).await,
        Command::Serve => {
            let state = state(started.settings.clone(), started.db, &config).await?;
            bootstrap::apply(&state, &config).await?;
            user_core::startup::serve(&started.settings, move || app::build(state.clone())).await
        }
    }
}
