//! The OpenAPI document, generated from the handlers' annotations.

use crate::routes::{events, users};
use crate::wire;
use user_core::openapi::AccessKeyAuth;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "jive-svc: Tyk dashboard users API"),
    paths(
        users::list,
        users::create,
        users::get,
        users::update,
        users::reset,
        users::delete,
        events::list,
    ),
    components(schemas(
        wire::UserJson,
        wire::UserListJson,
        wire::StatusJson,
        wire::UserBody,
        wire::PasswordBody,
        user_core::audit::FeedPage,
        user_core::audit::Event,
        user_core::audit::Actor,
        user_core::audit::Target,
    )),
    modifiers(&AccessKeyAuth)
)]
struct ApiDoc;

pub fn document() -> serde_json::Value {
    serde_json::to_value(ApiDoc::openapi()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    /// A route cannot be added, removed or given another method without its documentation.
    #[test]
    fn every_route_is_documented_and_every_documented_route_exists() {
        user_core::openapi::assert_routes_documented(&crate::routes::all(), &super::document());
    }
}
