//! The service's identity and its own variables (the shared ones are `user_core::config`).

use user_core::config::ServiceInfo;

pub const INFO: ServiceInfo = ServiceInfo {
    name: "jive-svc",
    schema: "jive",
    port: 8082,
};

/// The service's own variables (`BOOTSTRAP_*`).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Config {
    pub bootstrap_org_id: Option<String>,
    pub bootstrap_admin_email: Option<String>,
    pub bootstrap_admin_access_key: Option<user_core::Secret>,
}
