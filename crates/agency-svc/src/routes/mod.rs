//! The API's routes, one file per resource.

pub mod agencies;
pub mod token;
pub mod users;

use crate::error::Shape;
use actix_web::web;
use user_core::http::resource;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource::<Shape>("/oauth/token").post(token::issue))
        .service(resource::<Shape>("/agencies").get(agencies::list))
        .service(resource::<Shape>("/agency/{agency}/users").get(users::list))
        .service(resource::<Shape>("/agency/{agency}/user").post(users::create))
        .service(
            resource::<Shape>("/agency/{agency}/user/{user}")
                .get(users::get)
                .patch(users::update)
                .post(users::update)
                .delete(users::delete),
        );
}
