//! The application: the `App` that `main` and the tests both serve.

use crate::error::Shape;
use crate::routes;
use crate::state::AppState;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{web, App};
use user_core::http;

pub fn build(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let core = state.core.clone();
    http::app::<Shape>(&core, move |cfg| {
        cfg.app_data(web::Data::new(state));
        routes::configure(cfg);
    })
}
