//! The API's routes, one file per resource.

pub mod users;

use crate::error::Shape;
use actix_web::web;
use user_core::http::{resource, Resource};

/// Every route of the API. `openapi.rs` documents the same handlers; a test below checks that
/// the two agree.
pub fn all() -> Vec<Resource<Shape>> {
    vec![
        resource("/api/users").get(users::list).post(users::create),
        resource("/api/users/{id}")
            .get(users::get)
            .put(users::update)
            .delete(users::delete),
        resource("/api/users/{id}/actions/reset").post(users::reset),
    ]
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    for route in all() {
        cfg.service(route);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_route_is_documented_and_every_documented_route_exists() {
        let mismatches =
            user_core::openapi::route_mismatches(&super::all(), &crate::openapi::document());
        assert!(mismatches.is_empty(), "{mismatches:#?}");
    }
}
