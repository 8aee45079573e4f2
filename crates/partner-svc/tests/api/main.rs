//! partner-svc integration tests: the real app over HTTP, each test on its own database.

mod auth;
mod helpers;
mod pages;
mod plumbing;
mod search;
mod users;
