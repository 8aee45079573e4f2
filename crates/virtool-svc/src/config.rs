//! The service's identity and its own variables (the shared ones are `user_core::config`).

use user_core::config::{ConfigError, ServiceInfo};
use user_core::values::{BCRYPT_MAX_BYTES, DEFAULT_MIN_PASSWORD_CHARS};

pub const INFO: ServiceInfo = ServiceInfo {
    name: "virtool-svc",
    schema: "virtool",
    port: 8084,
};

fn default_min_password() -> usize {
    DEFAULT_MIN_PASSWORD_CHARS
}

/// The service's own variables.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Config {
    /// The shortest password accepted, in characters (at least 8).
    #[serde(default = "default_min_password")]
    pub minimum_password_length: usize,
    pub bootstrap_admin_user: Option<String>,
    pub bootstrap_admin_password: Option<user_core::Secret>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            minimum_password_length: DEFAULT_MIN_PASSWORD_CHARS,
            bootstrap_admin_user: None,
            bootstrap_admin_password: None,
        }
    }
}

impl Config {
    /// Reads and checks the variables.
    pub fn from_env() -> Result<Self, ConfigError> {
        let config: Self = user_core::config::from_env()?;
        config.check()
    }

    pub fn check(self) -> Result<Self, ConfigError> {
        if !(DEFAULT_MIN_PASSWORD_CHARS..=BCRYPT_MAX_BYTES).contains(&self.minimum_password_length)
        {
            return Err(ConfigError(format!(
                "MINIMUM_PASSWORD_LENGTH must be between {DEFAULT_MIN_PASSWORD_CHARS} and {BCRYPT_MAX_BYTES}, got {}",
                self.minimum_password_length
            )));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        user_core::config::from_iter::<Config, _>(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        )?
        .check()
    }

    #[test]
    fn minimum_password_length_defaults_to_8_and_is_checked() {
        assert_eq!(load(&[]).unwrap().minimum_password_length, 8);
        assert_eq!(
            load(&[("MINIMUM_PASSWORD_LENGTH", "12")])
                .unwrap()
                .minimum_password_length,
            12
        );
        for bad in ["7", "73", "many"] {
            let e = load(&[("MINIMUM_PASSWORD_LENGTH", bad)]).unwrap_err();
            assert!(e.0.contains("MINIMUM_PASSWORD_LENGTH"), "{bad}: {e}");
        }
    }
}
