//! The OpenAPI document, generated from the handlers' annotations.

use crate::routes::{agencies, events, token, users};
use crate::wire;
use user_core::openapi::BearerAuth;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "agency-svc: IM4 agency users API"),
    paths(
        token::issue,
        agencies::list,
        users::list,
        users::create,
        users::get,
        users::update,
        users::delete,
        events::feed,
    ),
    components(schemas(
        wire::AgencyJson,
        wire::UserJson,
        wire::UserBody,
        wire::TokenJson,
        wire::TokenBody,
        wire::TokenBadRequestJson,
        user_core::laravel::MessageJson,
        user_core::laravel::ValidationJson,
        wire::OAuthErrorJson,
        user_core::audit::FeedPage,
        user_core::audit::Event,
        user_core::audit::Actor,
        user_core::audit::Target,
    )),
    modifiers(&BearerAuth)
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
