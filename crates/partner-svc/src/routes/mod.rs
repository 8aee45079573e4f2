//! The API's routes, one file per resource.

pub mod auth;
pub mod users;

use crate::error::Shape;
use actix_web::web;
use user_core::http::resource;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource::<Shape>("/api/internal/v1/auth/login").post(auth::login))
        .service(
            resource::<Shape>("/api/internal/v1/partners/{partner_id}/users")
                .get(users::list)
                .post(users::create),
        )
        .service(
            resource::<Shape>("/api/internal/v1/partners/{partner_id}/users/{user_id}")
                .get(users::get)
                .put(users::update)
                .delete(users::delete),
        )
        .service(
            resource::<Shape>("/api/internal/v1/partners/{partner_id}/users/{user_id}/partners")
                .get(users::partners),
        );
}
