//! Configuration from the environment (envy), read once and validated at start.
//!
//! A service reads [`CommonConfig`] (the variables of `common.md`) and, separately, its own
//! struct with [`from_env`]; any problem becomes one line naming the variable.

use crate::jwt::{JwtKeys, MIN_SECRET_BYTES};
use crate::password::{PasswordHasher, MIN_STRONG_COST};
use crate::Secret;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::time::Duration;

/// What makes one service itself: its name (also JWT `iss`/`aud`), schema and port.
#[derive(Debug, Clone, Copy)]
pub struct ServiceInfo {
    pub name: &'static str,
    pub schema: &'static str,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

/// Reads `T` from the process environment; field `db_pool_size` is variable `DB_POOL_SIZE`.
pub fn from_env<T: DeserializeOwned>() -> Result<T, ConfigError> {
    from_iter(std::env::vars())
}

/// Reads `T` from the given variables (tests pass their own).
pub fn from_iter<T, I>(vars: I) -> Result<T, ConfigError>
where
    T: DeserializeOwned,
    I: IntoIterator<Item = (String, String)>,
{
    envy::from_iter(vars).map_err(|e| match e {
        envy::Error::MissingValue(field) => ConfigError(format!(
            "{} is required but not set",
            field.to_ascii_uppercase()
        )),
        // envy names the variable: "... while parsing value 'x' provided by DB_POOL_SIZE".
        envy::Error::Custom(msg) => ConfigError(msg),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

fn default_pool_size() -> usize {
    16
}
fn default_timeout_ms() -> u64 {
    5000
}
fn default_ttl() -> u64 {
    3600
}
fn default_cost() -> u32 {
    12
}
fn default_log_format() -> String {
    "json".to_owned()
}
fn default_rust_log() -> String {
    "info".to_owned()
}
fn default_max_failures() -> u32 {
    10
}
fn default_max_failures_per_address() -> u32 {
    100
}
fn default_idempotency_ttl() -> u64 {
    86_400
}

fn default_audit_retention_days() -> u32 {
    365
}

fn default_window() -> u64 {
    900
}

/// The variables every service shares (`common.md`).
#[derive(Debug, Clone, Deserialize)]
pub struct CommonConfig {
    pub database_url: Secret,
    pub db_schema: Option<String>,
    #[serde(default = "default_pool_size")]
    pub db_pool_size: usize,
    #[serde(default = "default_timeout_ms")]
    pub db_timeout_ms: u64,
    pub bind_addr: Option<String>,
    pub jwt_secret: Option<Secret>,
    pub jwt_previous_secrets: Option<Secret>,
    #[serde(default = "default_ttl")]
    pub jwt_ttl_seconds: u64,
    #[serde(default = "default_cost")]
    pub bcrypt_cost: u32,
    pub allow_weak_bcrypt: Option<String>,
    pub public_base_url: Option<String>,
    #[serde(default = "default_log_format")]
    pub log_format: String,
    #[serde(default = "default_rust_log")]
    pub rust_log: String,
    #[serde(default = "default_max_failures")]
    pub login_max_failures: u32,
    #[serde(default = "default_max_failures_per_address")]
    pub login_max_failures_per_address: u32,
    #[serde(default)]
    pub login_max_failures_per_account: u32,
    #[serde(default = "default_window")]
    pub login_window_seconds: u64,
    pub trusted_proxies: Option<String>,
    #[serde(default = "default_idempotency_ttl")]
    pub idempotency_ttl_seconds: u64,
    #[serde(default = "default_audit_retention_days")]
    pub audit_retention_days: u32,
}

/// [`CommonConfig`] checked and resolved against the service's defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    pub service: ServiceInfo,
    pub database_url: Secret,
    pub schema: String,
    pub pool_size: usize,
    pub db_timeout: Duration,
    pub bind_addr: String,
    pub jwt_secret: Option<Secret>,
    /// `JWT_PREVIOUS_SECRETS`: keys that verify tokens but sign none (rotation).
    pub jwt_previous_secrets: Option<Secret>,
    pub jwt_ttl_seconds: u64,
    pub bcrypt_cost: u32,
    pub public_base_url: Option<String>,
    pub log_format: LogFormat,
    pub rust_log: String,
    pub throttle: crate::throttle::ThrottleConfig,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How long an `Idempotency-Key`'s answer is kept (`IDEMPOTENCY_TTL_SECONDS`).
    pub idempotency_ttl_seconds: i64,
    /// How long audit events are kept, in days; 0 keeps them all (`AUDIT_RETENTION_DAYS`).
    pub audit_retention_days: u32,
}

impl CommonConfig {
    /// Validates every variable and fills in the service's defaults.
    pub fn resolve(self, service: ServiceInfo) -> Result<Settings, ConfigError> {
        let schema = self.db_schema.unwrap_or_else(|| service.schema.to_owned());
        if !is_identifier(&schema) {
            return Err(ConfigError(format!(
                "DB_SCHEMA must be a lowercase SQL identifier ([a-z_][a-z0-9_]*), got {schema:?}"
            )));
        }
        if !(self.database_url.expose().starts_with("postgres://")
            || self.database_url.expose().starts_with("postgresql://"))
        {
            return Err(ConfigError(
                "DATABASE_URL must be a postgres:// or postgresql:// URL".to_owned(),
            ));
        }
        if self.db_pool_size == 0 {
            return Err(ConfigError("DB_POOL_SIZE must be at least 1".to_owned()));
        }
        if self.db_timeout_ms == 0 {
            return Err(ConfigError("DB_TIMEOUT_MS must be at least 1".to_owned()));
        }
        if self.jwt_ttl_seconds == 0 {
            return Err(ConfigError("JWT_TTL_SECONDS must be at least 1".to_owned()));
        }
        let weak_allowed = matches!(
            self.allow_weak_bcrypt.as_deref().map(str::trim),
            Some("1" | "true" | "yes")
        );
        if !(4..=31).contains(&self.bcrypt_cost) {
            return Err(ConfigError(format!(
                "BCRYPT_COST must be between 4 and 31, got {}",
                self.bcrypt_cost
            )));
        }
        if self.bcrypt_cost < MIN_STRONG_COST && !weak_allowed {
            return Err(ConfigError(format!(
                "BCRYPT_COST {} is below {MIN_STRONG_COST}; set ALLOW_WEAK_BCRYPT=1 to allow it (tests only)",
                self.bcrypt_cost
            )));
        }
        let bind_addr = self
            .bind_addr
            .unwrap_or_else(|| format!("0.0.0.0:{}", service.port));
        if bind_addr.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError(format!(
                "BIND_ADDR must be host:port with an IP address, got {bind_addr:?}"
            )));
        }
        let public_base_url = match self.public_base_url.filter(|u| !u.trim().is_empty()) {
            None => None,
            Some(raw) => {
                let parsed = url::Url::parse(raw.trim()).map_err(|e| {
                    ConfigError(format!("PUBLIC_BASE_URL is not an absolute URL: {e}"))
                })?;
                if !matches!(parsed.scheme(), "http" | "https") {
                    return Err(ConfigError("PUBLIC_BASE_URL must be http(s)".to_owned()));
                }
                Some(raw.trim().trim_end_matches('/').to_owned())
            }
        };
        let trusted_proxies = parse_proxies(
            self.trusted_proxies
                .as_deref()
                .unwrap_or("127.0.0.0/8,::1/128"),
        )?;
        let log_format = match self.log_format.trim() {
            "json" => LogFormat::Json,
            "pretty" => LogFormat::Pretty,
            other => {
                return Err(ConfigError(format!(
                    "LOG_FORMAT must be json or pretty, got {other:?}"
                )))
            }
        };
        let idempotency_ttl_seconds = i64::try_from(self.idempotency_ttl_seconds)
            .ok()
            .filter(|t| (1..=31_536_000).contains(t))
            .ok_or_else(|| {
                ConfigError(format!(
                    "IDEMPOTENCY_TTL_SECONDS must be between 1 and 31536000 (a year), got {}",
                    self.idempotency_ttl_seconds
                ))
            })?;
        if self.login_window_seconds == 0 {
            return Err(ConfigError(
                "LOGIN_WINDOW_SECONDS must be at least 1".to_owned(),
            ));
        }
        Ok(Settings {
            service,
            database_url: self.database_url,
            schema,
            pool_size: self.db_pool_size,
            db_timeout: Duration::from_millis(self.db_timeout_ms),
            bind_addr,
            jwt_secret: self.jwt_secret,
            jwt_previous_secrets: self.jwt_previous_secrets,
            jwt_ttl_seconds: self.jwt_ttl_seconds,
            bcrypt_cost: self.bcrypt_cost,
            public_base_url,
            log_format,
            rust_log: self.rust_log,
            throttle: crate::throttle::ThrottleConfig {
                max_failures: self.login_max_failures,
                max_failures_per_address: self.login_max_failures_per_address,
                max_failures_per_account: self.login_max_failures_per_account,
                window: Duration::from_secs(self.login_window_seconds),
            },
            trusted_proxies,
            idempotency_ttl_seconds,
            audit_retention_days: self.audit_retention_days,
        })
    }
}

impl Settings {
    /// The JWT keys; refuses a missing or short `JWT_SECRET` (services that use JWT call this at start).
    pub fn jwt_keys(&self) -> Result<JwtKeys, ConfigError> {
        let secret = self
            .jwt_secret
            .as_ref()
            .ok_or_else(|| ConfigError("JWT_SECRET is required but not set".to_owned()))?;
        if secret.len() < MIN_SECRET_BYTES {
            return Err(ConfigError(format!(
                "JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes, got {}",
                secret.len()
            )));
        }
        // Comma-separated; empty entries (a trailing comma, an empty variable) are ignored.
        let previous: Vec<&str> = self
            .jwt_previous_secrets
            .as_ref()
            .map(|all| all.expose().split(',').filter(|k| !k.is_empty()).collect())
            .unwrap_or_default();
        for (n, key) in previous.iter().enumerate() {
            if key.len() < MIN_SECRET_BYTES {
                return Err(ConfigError(format!(
                    "JWT_PREVIOUS_SECRETS: key {} of {} must be at least {MIN_SECRET_BYTES} bytes, got {}",
                    n + 1,
                    previous.len(),
                    key.len()
                )));
            }
        }
        Ok(JwtKeys::new(
            self.service.name,
            secret.expose().as_bytes(),
            self.jwt_ttl_seconds,
        )
        .with_previous(previous.iter().map(|k| k.as_bytes())))
    }

    pub fn hasher(&self) -> PasswordHasher {
        PasswordHasher::new(self.bcrypt_cost)
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && s.len() <= 63
}

fn parse_proxies(raw: &str) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    ConfigError(format!(
                        "TRUSTED_PROXIES must be comma-separated IPs or CIDRs, got {s:?}"
                    ))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: ServiceInfo = ServiceInfo {
        name: "agency-svc",
        schema: "agency",
        port: 8081,
    };

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn load(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        from_iter::<CommonConfig, _>(vars(pairs))?.resolve(INFO)
    }

    #[test]
    fn defaults_apply() {
        let s = load(&[("DATABASE_URL", "postgres://u@h/db")]).unwrap();
        assert_eq!(s.schema, "agency");
        assert_eq!(s.pool_size, 16);
        assert_eq!(s.db_timeout, Duration::from_secs(5));
        assert_eq!(s.bind_addr, "0.0.0.0:8081");
        assert_eq!(s.bcrypt_cost, 12);
        assert_eq!(s.jwt_ttl_seconds, 3600);
        assert_eq!(s.log_format, LogFormat::Json);
        assert_eq!(s.throttle.max_failures, 10);
        assert_eq!(s.throttle.max_failures_per_address, 100);
        assert_eq!(s.throttle.window, Duration::from_secs(900));
        assert_eq!(s.trusted_proxies.len(), 2);
    }

    #[test]
    fn a_missing_variable_is_named() {
        let e = load(&[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "configuration error: DATABASE_URL is required but not set"
        );
    }

    #[test]
    fn a_bad_number_is_named() {
        let e = load(&[
            ("DATABASE_URL", "postgres://u@h/db"),
            ("DB_POOL_SIZE", "lots"),
        ])
        .unwrap_err();
        assert!(e.0.contains("DB_POOL_SIZE"), "{e}");
    }

    #[test]
    fn weak_bcrypt_needs_the_switch() {
        let e = load(&[("DATABASE_URL", "postgres://u@h/db"), ("BCRYPT_COST", "4")]).unwrap_err();
        assert!(e.0.contains("ALLOW_WEAK_BCRYPT"), "{e}");
        let s = load(&[
            ("DATABASE_URL", "postgres://u@h/db"),
            ("BCRYPT_COST", "4"),
            ("ALLOW_WEAK_BCRYPT", "1"),
        ])
        .unwrap();
        assert_eq!(s.bcrypt_cost, 4);
        let e = load(&[("DATABASE_URL", "postgres://u@h/db"), ("BCRYPT_COST", "32")]).unwrap_err();
        assert!(e.0.contains("BCRYPT_COST"), "{e}");
    }

    #[test]
    fn jwt_secret_is_required_and_long_enough() {
        let s = load(&[("DATABASE_URL", "postgres://u@h/db")]).unwrap();
        assert!(s
            .jwt_keys()
            .unwrap_err()
            .0
            .contains("JWT_SECRET is required"));
        let s = load(&[
            ("DATABASE_URL", "postgres://u@h/db"),
            ("JWT_SECRET", "short"),
        ])
        .unwrap();
        assert!(s.jwt_keys().unwrap_err().0.contains("at least 32 bytes"));
        let s = load(&[
            ("DATABASE_URL", "postgres://u@h/db"),
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ])
        .unwrap();
        assert!(s.jwt_keys().is_ok());
    }

    #[test]
    fn previous_jwt_secrets_are_a_comma_separated_list_of_long_keys() {
        let base = [
            ("DATABASE_URL", "postgres://u@h/db"),
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
        ];
        let with = |previous: &str| {
            let mut vars = base.to_vec();
            vars.push(("JWT_PREVIOUS_SECRETS", previous));
            load(&vars).unwrap().jwt_keys()
        };
        assert!(with("").is_ok());
        assert!(
            with("old-key-0123456789abcdef0123456789,other-key-0123456789abcdef012345,").is_ok()
        );
        let e = with("old-key-0123456789abcdef0123456789,short-key").unwrap_err();
        assert!(e.0.contains("key 2 of 2 must be at least 32 bytes"), "{e}");
        assert!(
            !e.0.contains("short-key"),
            "the key itself is never printed: {e}"
        );
    }

    #[test]
    fn other_values_are_checked() {
        let base = ("DATABASE_URL", "postgres://u@h/db");
        for (k, v, needle) in [
            ("DB_SCHEMA", "Bad-Name", "DB_SCHEMA"),
            ("BIND_ADDR", "nowhere", "BIND_ADDR"),
            ("PUBLIC_BASE_URL", "not a url", "PUBLIC_BASE_URL"),
            ("TRUSTED_PROXIES", "10.0.0.0/8,banana", "TRUSTED_PROXIES"),
            ("LOG_FORMAT", "xml", "xml"),
            ("DB_POOL_SIZE", "0", "DB_POOL_SIZE"),
        ] {
            let e = load(&[base, (k, v)]).unwrap_err();
            assert!(e.0.contains(needle), "{k}={v}: {e}");
        }
        let e = load(&[("DATABASE_URL", "mysql://x")]).unwrap_err();
        assert!(e.0.contains("DATABASE_URL"));
        let s = load(&[base, ("PUBLIC_BASE_URL", "http://gw:8080/agency/")]).unwrap();
        assert_eq!(s.public_base_url.as_deref(), Some("http://gw:8080/agency"));
    }
}
