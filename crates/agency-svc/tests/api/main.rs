//! agency-svc integration tests: the real app over HTTP, each test on its own database.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: failing loudly is the point

mod audit;
mod concurrency;
mod helpers;
mod import;
mod plumbing;
mod rehash;
mod token;
mod users;
