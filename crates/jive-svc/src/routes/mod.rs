//! The API's routes, one file per resource.

pub mod events;
pub mod users;

use crate::error::Shape;
use actix_web::web;
use user_core::http::{resource, Resource};

/// Every route of the API. `openapi.rs` documents the same handlers; its test checks that the
/// two agree.
pub fn all() -> Vec<Resource<Shape>> {
    vec![
        resource("/api/users").get(users::list).post(users::create),
        resource("/api/users/{id}")
            .get(users::get)
            .put(users::update)
            .delete(users::delete),
        resource("/api/users/{id}/actions/reset").post(users::reset),
        resource("/api/events").get(events::list),
    ]
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    for route in all() {
        cfg.service(route);
    }
}
