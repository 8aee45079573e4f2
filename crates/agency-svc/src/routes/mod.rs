//! The API's routes, one file per resource.

pub mod agencies;
pub mod token;
pub mod users;

use crate::error::Shape;
use actix_web::web;
use user_core::http::resource;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource::<Shape>("/oauth/token").route(web::post().to(token::issue)))
        .service(resource::<Shape>("/agencies").route(web::get().to(agencies::list)))
        .service(resource::<Shape>("/agency/{agency}/users").route(web::get().to(users::list)))
        .service(resource::<Shape>("/agency/{agency}/user").route(web::post().to(users::create)))
        .service(
            resource::<Shape>("/agency/{agency}/user/{user}")
                .route(web::get().to(users::get))
                .route(web::patch().to(users::update))
                .route(web::post().to(users::update))
                .route(web::delete().to(users::delete)),
        );
}
