//! Logging: JSON lines (production) or pretty (local), filtered by `RUST_LOG`, written to
//! stdout by a thread of their own.

use crate::config::LogFormat;
use std::sync::Mutex;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

/// The log writer's guard: dropping it writes out the lines still queued ([`flush`]).
static WRITER: Mutex<Option<WorkerGuard>> = Mutex::new(None);

/// The filter actually used: tokio-postgres logs every statement's parameters at DEBUG (as
/// byte lists: password hashes, access keys, emails), so it is capped at INFO unless the
/// filter names it explicitly. Found by the secrets scan (`scripts/scan-secrets`).
pub fn effective_filter(filter: &str) -> String {
    let filter = filter.trim();
    if filter.contains("tokio_postgres") {
        filter.to_owned()
    } else if filter.is_empty() {
        "tokio_postgres=info".to_owned()
    } else {
        format!("{filter},tokio_postgres=info")
    }
}

/// Installs the global subscriber. Safe to call more than once (later calls do nothing).
///
/// Lines go through a queue to a writer thread that writes them to a buffered stdout and flushes
/// whenever the queue runs empty: under load one `write(2)` carries many lines instead of one
/// system call, under the stdout lock, in every request (docs/performance.md). Nothing is
/// dropped: a full queue (128 000 lines) makes logging wait. Call [`flush`] before exiting.
pub fn init(format: LogFormat, filter: &str) {
    let mut writer = WRITER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if writer.is_some() {
        return;
    }
    let filter = EnvFilter::try_new(effective_filter(filter))
        .unwrap_or_else(|_| EnvFilter::new(effective_filter("info")));
    let (stdout, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("log-writer")
        .finish(std::io::BufWriter::with_capacity(
            64 * 1024,
            std::io::stdout(),
        ));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(stdout);
    let installed = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    if installed.is_ok() {
        *writer = Some(guard);
    }
}

/// Writes out the log lines still queued and stops the writer thread. Later lines are lost, so
/// this is the last thing a binary does ([`crate::startup::exit_code`]).
pub fn flush() {
    let guard = WRITER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    drop(guard);
}

#[cfg(test)]
mod tests {
    use super::effective_filter;

    #[test]
    fn the_database_driver_never_logs_parameters_unless_asked_to() {
        assert_eq!(effective_filter("debug"), "debug,tokio_postgres=info");
        assert_eq!(
            effective_filter(" info,actix_web=debug "),
            "info,actix_web=debug,tokio_postgres=info"
        );
        assert_eq!(effective_filter(""), "tokio_postgres=info");
        assert_eq!(
            effective_filter("debug,tokio_postgres=debug"),
            "debug,tokio_postgres=debug"
        );
        assert!(tracing_subscriber::EnvFilter::try_new(effective_filter("trace")).is_ok());
    }
}
