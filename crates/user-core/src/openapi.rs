//! OpenAPI pieces every service's document shares.

use crate::http::Resource;
use std::collections::BTreeSet;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::Modify;

/// Declares the `bearer` security scheme (`Authorization: Bearer <jwt>`).
pub struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Declares the `access_key` security scheme (the raw key in the `authorization` header).
pub struct AccessKeyAuth;

impl Modify for AccessKeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "access_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("authorization"))),
        );
    }
}

/// An optional header parameter of type string.
fn header(name: &str, description: &str) -> utoipa::openapi::path::Parameter {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(utoipa::openapi::Required::False)
        .description(Some(description))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build()
}

/// `params(IfMatch)`: the `If-Match` header of a conditional write.
pub struct IfMatch;

impl utoipa::IntoParams for IfMatch {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        vec![header(
            "If-Match",
            "ETags (or `*`): the write happens only if one of them is the resource's current \
             tag (strong comparison), else 412",
        )]
    }
}

/// `params(IfNoneMatch)`: the `If-None-Match` header of a conditional GET.
pub struct IfNoneMatch;

impl utoipa::IntoParams for IfNoneMatch {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        vec![header(
            "If-None-Match",
            "ETags (or `*`): 304 without a body when one of them is the current tag",
        )]
    }
}

/// `params(IdempotencyKey)`: the `Idempotency-Key` header of a create.
pub struct IdempotencyKey;

impl utoipa::IntoParams for IdempotencyKey {
    fn into_params(
        _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        vec![header(
            "Idempotency-Key",
            "1 to 255 visible ASCII characters: the create runs at most once per caller and \
             key; a repeat with the same request gets the first answer again \
             (`Idempotent-Replayed: true`), with another request 422, while the first runs 409",
        )]
    }
}

/// Where a service's routes and its OpenAPI document `doc` disagree, as lines
/// `"routed, not documented: POST /x"` and `"documented, not routed: GET /y"`; empty when they
/// agree. HEAD is left aside (every GET route serves it). Each service's routes module tests
/// that this is empty, so a route cannot be added or removed without its documentation.
pub fn route_mismatches<S>(routes: &[Resource<S>], doc: &serde_json::Value) -> Vec<String> {
    let routed: BTreeSet<(String, String)> = routes
        .iter()
        .flat_map(|r| {
            r.methods()
                .iter()
                .map(|m| (r.path().to_owned(), (*m).to_owned()))
        })
        .filter(|(_, method)| method != "HEAD")
        .collect();
    let documented: BTreeSet<(String, String)> = doc
        .get("paths")
        .and_then(serde_json::Value::as_object)
        .into_iter()
        .flatten()
        .flat_map(|(path, item)| {
            item.as_object()
                .into_iter()
                .flat_map(|ops| ops.keys())
                .filter(|k| {
                    [
                        "get", "put", "post", "delete", "patch", "head", "options", "trace",
                    ]
                    .contains(&k.as_str())
                })
                .map(move |method| (path.clone(), method.to_uppercase()))
        })
        .collect();
    let routed_only = routed
        .difference(&documented)
        .map(|(path, method)| format!("routed, not documented: {method} {path}"));
    let documented_only = documented
        .difference(&routed)
        .map(|(path, method)| format!("documented, not routed: {method} {path}"));
    routed_only.chain(documented_only).collect()
}

/// Panics, listing them, when `routes` and `doc` disagree ([`route_mismatches`]).
pub fn assert_routes_documented<S>(routes: &[Resource<S>], doc: &serde_json::Value) {
    let mismatches = route_mismatches(routes, doc);
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{resource, ErrorShape, Problem};
    use serde_json::json;

    struct Plain;
    impl ErrorShape for Plain {
        fn body(_: &Problem) -> serde_json::Value {
            json!({})
        }
    }

    async fn ok() -> &'static str {
        "ok"
    }

    #[test]
    fn routes_and_documents_are_compared_both_ways() {
        let routes = vec![
            resource::<Plain>("/a").get(ok).post(ok),
            resource::<Plain>("/a/{id}").delete(ok),
        ];
        let agreeing = json!({"paths": {
            "/a": {"get": {}, "post": {}, "parameters": []},
            "/a/{id}": {"delete": {}},
        }});
        assert!(route_mismatches(&routes, &agreeing).is_empty());
        let drifted = json!({"paths": {
            "/a": {"get": {}},
            "/a/{id}": {"delete": {}, "put": {}},
        }});
        assert_eq!(
            route_mismatches(&routes, &drifted),
            vec![
                "routed, not documented: POST /a".to_owned(),
                "documented, not routed: PUT /a/{id}".to_owned(),
            ]
        );
    }
}
