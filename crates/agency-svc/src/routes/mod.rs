//! The API's routes, one file per resource.

pub mod agencies;
pub mod events;
pub mod token;
pub mod users;

use crate::error::Shape;
use actix_web::web;
use user_core::http::{resource, Resource};

/// Every route of the API. `openapi.rs` documents the same handlers; its test checks that the
/// two agree.
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
        resource("/events").get(events::feed),
    ]
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    for route in all() {
        cfg.service(route);
    }
}
