//! The API's routes, one file per resource.

pub mod account;
pub mod events;
pub mod groups;
pub mod users;

use crate::error::Shape;
use actix_web::web;
use user_core::http::{resource, Resource};

/// Every route of the API. `openapi.rs` documents the same handlers; its test checks that the
/// two agree.
pub fn all() -> Vec<Resource<Shape>> {
    vec![
        resource("/api/account/login").post(account::login),
        resource("/api/account/reset").post(account::reset),
        resource("/api/account").get(account::get),
        resource("/api/users").get(users::list).post(users::create),
        resource("/api/users/{user_id}")
            .get(users::get)
            .patch(users::update)
            .delete(users::delete),
        resource("/api/users/{user_id}/groups").post(users::add_group),
        resource("/api/users/{user_id}/group").post(users::add_group_alias),
        resource("/api/users/{user_id}/groups/{group_id}").delete(users::remove_group),
        resource("/api/groups")
            .get(groups::list)
            .post(groups::create),
        resource("/api/groups/{group_id}")
            .get(groups::get)
            .patch(groups::update)
            .delete(groups::delete),
        resource("/api/events").get(events::feed),
    ]
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    for route in all() {
        cfg.service(route);
    }
}
