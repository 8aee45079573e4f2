//! The API's routes, one file per resource.

pub mod auth;
pub mod events;
pub mod users;

use crate::error::Shape;
use actix_web::web;
use user_core::http::{resource, Resource};

/// Every route of the API. `openapi.rs` documents the same handlers; its test checks that the
/// two agree.
pub fn all() -> Vec<Resource<Shape>> {
    vec![
        resource("/api/internal/v1/auth/login").post(auth::login),
        resource("/api/internal/v1/partners/{partner_id}/users")
            .get(users::list)
            .post(users::create),
        resource("/api/internal/v1/partners/{partner_id}/users/{user_id}")
            .get(users::get)
            .put(users::update)
            .delete(users::delete),
        resource("/api/internal/v1/partners/{partner_id}/users/{user_id}/partners")
            .get(users::partners),
        resource("/api/internal/v1/partners/{partner_id}/events").get(events::feed),
    ]
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    for route in all() {
        cfg.service(route);
    }
}
