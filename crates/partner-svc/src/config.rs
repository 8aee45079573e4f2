//! The service's identity and its own variables (the shared ones are `user_core::config`).

use user_core::config::ServiceInfo;

pub const INFO: ServiceInfo = ServiceInfo {
    name: "partner-svc",
    schema: "partner",
    port: 8083,
};

/// The service's own variables (`BOOTSTRAP_*`).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Config {
    pub bootstrap_partners: Option<String>,
    pub bootstrap_admin_email: Option<String>,
    pub bootstrap_admin_password: Option<user_core::Secret>,
}
