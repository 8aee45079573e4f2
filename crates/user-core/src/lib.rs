//! The shared domain and plumbing of the four user services.
//!
//! Everything here is service-agnostic: validated user values, password hashing, JWTs,
//! configuration, telemetry, the database layer, login throttling, and the HTTP plumbing
//! every service needs, parameterised by the service's own error shape ([`http::ErrorShape`]).
//! No module knows a service's tables or wire format.

pub mod audit;
pub mod cache;
pub mod cli;
pub mod config;
pub mod db;
pub mod http;
pub mod idempotency;
pub mod import;
pub mod jwt;
pub mod laravel;
pub mod openapi;
pub mod password;
pub mod search;
pub mod secret;
pub mod startup;
pub mod telemetry;
pub mod throttle;
pub mod values;

pub use secret::Secret;
