//! Logging: JSON lines (production) or pretty (local), filtered by `RUST_LOG`.

use crate::config::LogFormat;
use tracing_subscriber::EnvFilter;

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
pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(effective_filter(filter))
        .unwrap_or_else(|_| EnvFilter::new(effective_filter("info")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
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
