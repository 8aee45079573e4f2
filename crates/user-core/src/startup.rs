//! The start of every binary: command line, configuration, logging, database and migrations.

use crate::cli::Command;
use crate::config::{self, CommonConfig, ServiceInfo, Settings};
use crate::db::{Db, DbError};
use diesel_migrations::EmbeddedMigrations;
use std::time::{Duration, Instant};

/// How long `serve` and `migrate` keep retrying while the database is not reachable yet.
const DB_WAIT: Duration = Duration::from_secs(60);

pub struct Started {
    pub command: Command,
    pub settings: Settings,
    pub db: Db,
}

/// Parses the command line, reads and checks the common configuration, starts logging, builds
/// the pool and applies pending migrations under the advisory lock (waiting up to a minute for
/// the database to come up). `migrations` is `|| MIGRATIONS` (the embedded set is not `Clone`).
pub async fn prepare(
    info: ServiceInfo,
    migrations: fn() -> EmbeddedMigrations,
) -> anyhow::Result<Started> {
    let command = Command::parse(std::env::args().skip(1)).map_err(anyhow::Error::msg)?;
    let settings = config::from_env::<CommonConfig>()?.resolve(info)?;
    // An admin command's stdout is its output: its log lines go to stderr.
    if matches!(command, Command::Admin(_)) {
        crate::telemetry::init_on_stderr(settings.log_format, &settings.rust_log);
    } else {
        crate::telemetry::init(settings.log_format, &settings.rust_log);
    }
    let db = Db::new(&settings)?;
    let started = Instant::now();
    loop {
        match db.migrate(migrations()).await {
            Ok(applied) => {
                if !applied.is_empty() {
                    tracing::info!(schema = db.schema(), ?applied, "migrations applied");
                }
                break;
            }
            Err(DbError::Unavailable(cause)) if started.elapsed() < DB_WAIT => {
                tracing::warn!(%cause, "database not reachable yet; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(anyhow::anyhow!("migrations failed: {e}")),
        }
    }
    Ok(Started {
        command,
        settings,
        db,
    })
}

/// Serves the app built by `factory` on `BIND_ADDR` until SIGTERM/SIGINT (30 s graceful stop).
pub async fn serve<F, I, S, B>(settings: &Settings, factory: F) -> anyhow::Result<()>
where
    F: Fn() -> I + Send + Clone + 'static,
    I: actix_service::IntoServiceFactory<S, actix_http::Request>,
    S: actix_web::dev::ServiceFactory<actix_http::Request, Config = actix_web::dev::AppConfig>
        + 'static,
    S::Error: Into<actix_web::Error> + 'static,
    S::InitError: std::fmt::Debug,
    S::Response: Into<actix_http::Response<B>> + 'static,
    <S::Service as actix_web::dev::Service<actix_http::Request>>::Future: 'static,
    S::Service: 'static,
    B: actix_web::body::MessageBody + 'static,
{
    let listener = std::net::TcpListener::bind(&settings.bind_addr)
        .map_err(|e| anyhow::anyhow!("cannot listen on BIND_ADDR {}: {e}", settings.bind_addr))?;
    tracing::info!(
        service = settings.service.name,
        addr = %settings.bind_addr,
        schema = %settings.schema,
        "serving"
    );
    crate::http::server(listener, factory)?.await?;
    tracing::info!("stopped");
    Ok(())
}

/// Turns the outcome of a binary's `run` into its exit code, printing a failure as one line.
/// Queued log lines are written out first.
pub fn exit_code(outcome: anyhow::Result<()>) -> std::process::ExitCode {
    crate::telemetry::flush();
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
