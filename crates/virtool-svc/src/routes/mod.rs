//! The API's routes, one file per resource.

pub mod account;
pub mod groups;
pub mod users;

use crate::error::Shape;
use actix_web::web;
use user_core::http::{resource, Resource};

/// Every route of the API. `openapi.rs` documents the same handlers; a test below checks that
/// the two agree.
pub fn all() -> Vec<Resource<Shape>> {
    vec![
        resource("/api/account/login").post(account::login),
        resource("/api/account/reset").post(account::reset),
        resource("/api/account").get(account::get),
        resource("/api/users").get(users::list).post(users::create),
        resource("/api/users/{user_id}")
            .get(users::get)
            .patch(users::update)
            .delete(users::delete),
        resource("/api/users/{user_id}/groups").post(users::add_group),
        resource("/api/users/{user_id}/group").post(users::add_group_alias),
        resource("/api/users/{user_id}/groups/{group_id}").delete(users::remove_group),
        resource("/api/groups")
            .get(groups::list)
            .post(groups::create),
        resource("/api/groups/{group_id}")
            .get(groups::get)
            .patch(groups::update)
            .delete(groups::delete),
    ]
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    for route in all() {
        cfg.service(route);
    }
}

/// `base` + `/api/<collection>/<id>` with the id percent-encoded as one path segment.
pub fn location(base: &str, collection: &str, id: &str) -> String {
    match url::Url::parse(base) {
        Ok(mut url) => {
            if let Ok(mut segments) = url.path_segments_mut() {
                segments.pop_if_empty().extend(["api", collection, id]);
            }
            url.to_string()
        }
        Err(_) => format!("{base}/api/{collection}/{id}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_route_is_documented_and_every_documented_route_exists() {
        let mismatches =
            user_core::openapi::route_mismatches(&super::all(), &crate::openapi::document());
        assert!(mismatches.is_empty(), "{mismatches:#?}");
    }

    #[test]
    fn locations_keep_the_prefix_and_encode_the_id() {
        assert_eq!(
            super::location("http://127.0.0.1:8080/virtool", "users", "bill"),
            "http://127.0.0.1:8080/virtool/api/users/bill"
        );
        assert_eq!(
            super::location("http://h:1", "users", "a?b#c%d"),
            "http://h:1/api/users/a%3Fb%23c%25d"
        );
    }
}
