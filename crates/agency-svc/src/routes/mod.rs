//! The API's routes, one file per resource.

pub mod agencies;
pub mod token;
pub mod users;

use crate::error::Shape;
use actix_web::web;
use user_core::http::{resource, Resource};

/// Every route of the API. `openapi.rs` documents the same handlers; a test below checks that
/// the two agree.
pub fn all() -> Vec<Resource<Shape>> {
    vec![
        resource("/oauth/token").post(token::issue),
        resource("/agencies").get(agencies::list),
        resource("/agency/{agency}/users").get(users::list),
        resource("/agency/{agency}/user").post(users::create),
        resource("/agency/{agency}/user/{user}")
            .get(users::get)
            .patch(users::update)
            .post(users::update)
            .delete(users::delete),
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
