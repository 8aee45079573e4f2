//! The API's routes, one file per resource.

pub mod users;

use crate::error::Shape;
use actix_web::web;
use user_core::http::resource;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource::<Shape>("/api/users")
            .route(web::get().to(users::list))
            .route(web::post().to(users::create)),
    )
    .service(
        resource::<Shape>("/api/users/{id}")
            .route(web::get().to(users::get))
            .route(web::put().to(users::update))
            .route(web::delete().to(users::delete)),
    )
    .service(
        resource::<Shape>("/api/users/{id}/actions/reset").route(web::post().to(users::reset)),
    );
}
