//! The API's routes, one file per resource.

pub mod users;

use crate::error::Shape;
use actix_web::web;
use user_core::http::resource;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource::<Shape>("/api/users")
            .get(users::list)
            .post(users::create),
    )
    .service(
        resource::<Shape>("/api/users/{id}")
            .get(users::get)
            .put(users::update)
            .delete(users::delete),
    )
    .service(resource::<Shape>("/api/users/{id}/actions/reset").post(users::reset));
}
