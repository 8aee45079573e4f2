//! Prometheus metrics: requests by route template and status, latency, pool and bcrypt gauges.

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool_max: IntGauge,
    pool_size: IntGauge,
    pool_idle: IntGauge,
    pool_waiting: IntGauge,
    bcrypt_in_flight: IntGauge,
    events: IntCounterVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route template and status",
            ),
            &["method", "route", "status"],
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(
                vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ],
            ),
            &["method", "route"],
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let events = IntCounterVec::new(
            Opts::new(
                "audit_events_total",
                "Audit events committed, by action (counted by the replica that numbered them)",
            ),
            &["action"],
        )
        .unwrap_or_else(|e| unreachable!("static metric definition: {e}"));
        let gauge = |name: &str, help: &str| {
            IntGauge::new(name, help).unwrap_or_else(|e| unreachable!("static metric: {e}"))
        };
        let m = Self {
            pool_max: gauge("db_pool_max_connections", "Pool maximum size"),
            pool_size: gauge("db_pool_connections", "Connections open in the pool"),
            pool_idle: gauge("db_pool_idle_connections", "Idle connections in the pool"),
            pool_waiting: gauge("db_pool_waiting", "Requests waiting for a connection"),
            bcrypt_in_flight: gauge("bcrypt_jobs_in_flight", "bcrypt jobs running or queued"),
            registry,
            requests,
            events,
            latency,
        };
        let collectors: [Box<dyn prometheus::core::Collector>; 8] = [
            Box::new(m.events.clone()),
            Box::new(m.requests.clone()),
            Box::new(m.latency.clone()),
            Box::new(m.pool_max.clone()),
            Box::new(m.pool_size.clone()),
            Box::new(m.pool_idle.clone()),
            Box::new(m.pool_waiting.clone()),
            Box::new(m.bcrypt_in_flight.clone()),
        ];
        for c in collectors {
            let _ = m.registry.register(c);
        }
        m
    }

    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(seconds);
    }

    /// `n` audit events of `action` committed (and numbered by this replica).
    pub fn events_written(&self, action: &str, n: i64) {
        self.events
            .with_label_values(&[action])
            .inc_by(u64::try_from(n).unwrap_or(0));
    }

    /// The text exposition, with the gauges read now.
    pub fn render(&self, pool: crate::db::PoolStatus, bcrypt_in_flight: i64) -> String {
        let as_i64 = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.pool_max.set(as_i64(pool.max_size));
        self.pool_size.set(as_i64(pool.size));
        self.pool_idle.set(as_i64(pool.available));
        self.pool_waiting.set(as_i64(pool.waiting));
        self.bcrypt_in_flight.set(bcrypt_in_flight);
        let mut buf = Vec::new();
        let _ = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_requests_by_route_template() {
        let m = Metrics::new();
        m.observe("GET", "/agency/{agency}/users", 200, 0.003);
        let text = m.render(
            crate::db::PoolStatus {
                max_size: 16,
                size: 2,
                available: 1,
                waiting: 0,
            },
            3,
        );
        assert!(
            text.contains(
                r#"http_requests_total{method="GET",route="/agency/{agency}/users",status="200"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains("db_pool_max_connections 16"));
        assert!(text.contains("bcrypt_jobs_in_flight 3"));
        m.events_written("user.updated", 2);
        let text = m.render(
            crate::db::PoolStatus {
                max_size: 1,
                size: 0,
                available: 0,
                waiting: 0,
            },
            0,
        );
        assert!(
            text.contains(r#"audit_events_total{action="user.updated"} 2"#),
            "{text}"
        );
        assert!(text.contains("http_request_duration_seconds_bucket"));
    }
}
