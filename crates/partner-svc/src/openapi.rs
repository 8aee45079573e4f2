//! The OpenAPI document, generated from the handlers' annotations.

use crate::routes::{auth, events, users};
use crate::wire;
use user_core::openapi::BearerAuth;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "partner-svc: Venuzle partner users API"),
    paths(
        auth::login,
        users::list,
        users::create,
        users::get,
        users::update,
        users::delete,
        users::partners,
        events::feed,
    ),
    components(schemas(
        wire::UserJson,
        wire::UserData,
        wire::PartnerJson,
        wire::PartnersData,
        wire::PageMeta,
        wire::PageLinks,
        wire::UserPage,
        wire::CreateBody,
        wire::UpdateBody,
        wire::LoginBody,
        wire::TokenJson,
        wire::TokenData,
        user_core::audit::FeedPage,
        user_core::audit::Event,
        user_core::audit::Actor,
        user_core::audit::Target,
        user_core::laravel::MessageJson,
        user_core::laravel::ValidationJson,
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
