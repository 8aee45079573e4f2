//! The OpenAPI document, generated from the handlers' annotations.

use crate::permissions::Permissions;
use crate::routes::{account, events, groups, users};
use crate::wire;
use user_core::openapi::BearerAuth;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "virtool-svc: Virtool users API"),
    paths(
        account::login,
        account::reset,
        account::get,
        users::list,
        users::get,
        users::create,
        users::update,
        users::add_group,
        users::add_group_alias,
        users::remove_group,
        users::delete,
        groups::list,
        groups::create,
        groups::get,
        groups::update,
        groups::delete,
        events::feed,
    ),
    components(schemas(
        Permissions,
        wire::UserJson,
        wire::GroupJson,
        wire::TokenJson,
        wire::ResetJson,
        wire::ErrorJson,
        wire::InvalidJson,
        wire::InvalidOrReusedJson,
        wire::LoginBody,
        wire::ResetBody,
        wire::CreateUserBody,
        wire::PatchUserBody,
        wire::GroupIdBody,
        wire::NewGroupBody,
        wire::PermissionChanges,
        wire::PatchGroupBody,
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
