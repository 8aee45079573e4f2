//! virtool-svc integration tests: the real app over HTTP, each test on its own database.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: failing loudly is the point

mod account;
mod audit;
mod concurrency;
mod groups;
mod helpers;
mod import;
mod patch;
mod plumbing;
mod rehash;
mod users;
