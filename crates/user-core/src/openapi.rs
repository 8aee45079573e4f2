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
