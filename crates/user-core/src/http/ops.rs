//! Operations endpoints every service serves: `/healthz`, `/readyz`, `/metrics`, `/openapi.json`.

use super::Core;
use actix_web::{web, HttpResponse};
use serde_json::json;

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn readyz(core: web::Data<Core>) -> HttpResponse {
    if core.db.ready().await {
        HttpResponse::Ok().json(json!({"status": "ok"}))
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", super::RETRY_AFTER_UNAVAILABLE.to_string()))
            .json(json!({"status": "unavailable"}))
    }
}

async fn metrics(core: web::Data<Core>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(
            core.metrics
                .render(core.db.status(), core.hasher.in_flight()),
        )
}

async fn openapi(core: web::Data<Core>) -> HttpResponse {
    HttpResponse::Ok().json(core.openapi.as_ref())
}

/// Registers the four operations routes (405 in shape `S` for other methods).
pub fn ops_routes<S: super::ErrorShape>(cfg: &mut web::ServiceConfig) {
    cfg.service(super::resource::<S>("/healthz").get(healthz))
        .service(super::resource::<S>("/readyz").get(readyz))
        .service(super::resource::<S>("/metrics").get(metrics))
        .service(super::resource::<S>("/openapi.json").get(openapi));
}
