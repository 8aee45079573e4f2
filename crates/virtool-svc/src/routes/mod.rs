//! The API's routes, one file per resource.

pub mod account;
pub mod groups;
pub mod users;

use crate::error::Shape;
use actix_web::web;
use user_core::http::resource;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource::<Shape>("/api/account/login").post(account::login))
        .service(resource::<Shape>("/api/account/reset").post(account::reset))
        .service(resource::<Shape>("/api/account").get(account::get))
        .service(
            resource::<Shape>("/api/users")
                .get(users::list)
                .post(users::create),
        )
        .service(
            resource::<Shape>("/api/users/{user_id}")
                .get(users::get)
                .patch(users::update)
                .delete(users::delete),
        )
        .service(resource::<Shape>("/api/users/{user_id}/groups").post(users::add_group))
        .service(resource::<Shape>("/api/users/{user_id}/group").post(users::add_group))
        .service(
            resource::<Shape>("/api/users/{user_id}/groups/{group_id}").delete(users::remove_group),
        )
        .service(
            resource::<Shape>("/api/groups")
                .get(groups::list)
                .post(groups::create),
        )
        .service(
            resource::<Shape>("/api/groups/{group_id}")
                .get(groups::get)
                .patch(groups::update)
                .delete(groups::delete),
        );
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
