//! jive-svc integration tests: the real app over HTTP, each test on its own database.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: failing loudly is the point

mod audit;
mod auth;
mod concurrency;
mod counts;
mod helpers;
mod import;
mod list;
mod plumbing;
mod users;
