//! The service's identity and its own variables (the shared ones are `user_core::config`).

use user_core::config::ServiceInfo;

pub const INFO: ServiceInfo = ServiceInfo {
    name: "agency-svc",
    schema: "agency",
    port: 8081,
};

/// The service's own variables (`BOOTSTRAP_*`).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Config {
    pub bootstrap_agency_group: Option<String>,
    pub bootstrap_agencies: Option<String>,
    pub bootstrap_client_id: Option<String>,
    pub bootstrap_client_secret: Option<user_core::Secret>,
}
