//! Logging: JSON lines (production) or pretty (local), filtered by `RUST_LOG`, written to
//! stdout by a thread of their own.

pub mod batch;

use crate::config::LogFormat;
use batch::BatchWriter;
use std::sync::Mutex;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::EnvFilter;

/// The log writer: [`flush`] writes out the lines still pending and stops it.
static WRITER: Mutex<Option<BatchWriter>> = Mutex::new(None);

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
/// Lines are gathered in memory and written to stdout by the `log-writer` thread a few
/// milliseconds at a time ([`batch`]): under load one `write(2)` carries many lines, and no
/// request pays a system call or a thread wakeup for its line (docs/performance.md). Nothing is
/// dropped: past 8 MiB pending, logging waits. Call [`flush`] before exiting.
pub fn init(format: LogFormat, filter: &str) {
    init_to(format, filter, false);
}

/// [`init`], the lines written to stderr: for the `admin` commands, whose stdout is their
/// output (`admin events` prints NDJSON that a pipe reads).
pub fn init_on_stderr(format: LogFormat, filter: &str) {
    init_to(format, filter, true);
}

fn init_to(format: LogFormat, filter: &str, stderr: bool) {
    let mut writer = WRITER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if writer.is_some() {
        return;
    }
    let filter = EnvFilter::try_new(effective_filter(filter))
        .unwrap_or_else(|_| EnvFilter::new(effective_filter("info")));
    // Without a thread for the writer, the calling threads write their lines themselves.
    let batch = if stderr {
        BatchWriter::start(std::io::stderr(), "log-writer").ok()
    } else {
        BatchWriter::start(std::io::stdout(), "log-writer").ok()
    };
    let sink = match &batch {
        Some(batch) => BoxMakeWriter::new(batch.line_sink()),
        None if stderr => BoxMakeWriter::new(std::io::stderr),
        None => BoxMakeWriter::new(std::io::stdout),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(sink);
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
        *writer = batch;
    }
}

/// Writes out the log lines still queued and stops the writer thread. Later lines are lost, so
/// this is the last thing a binary does ([`crate::startup::exit_code`]).
pub fn flush() {
    let writer = WRITER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let Some(writer) = writer {
        writer.finish();
    }
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
