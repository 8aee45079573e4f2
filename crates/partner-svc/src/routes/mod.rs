//! The API's routes, one file per resource.

pub mod auth;
pub mod users;

use crate::error::Shape;
use actix_web::web;
use user_core::http::resource;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource::<Shape>("/api/internal/v1/auth/login").route(web::post().to(auth::login)),
    )
    .service(
        resource::<Shape>("/api/internal/v1/partners/{partner_id}/users")
            .route(web::get().to(users::list))
            .route(web::post().to(users::create)),
    )
    .service(
        resource::<Shape>("/api/internal/v1/partners/{partner_id}/users/{user_id}")
            .route(web::get().to(users::get))
            .route(web::put().to(users::update))
            .route(web::delete().to(users::delete)),
    )
    .service(
        resource::<Shape>("/api/internal/v1/partners/{partner_id}/users/{user_id}/partners")
            .route(web::get().to(users::partners)),
    );
}
