//! The API's JSON: what it sends, and the checked form of what it receives.

use crate::db::{Agency, User};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use user_core::audit::FeedQuery;
use user_core::laravel::{confirmed_password_rule, email_rule, text_rule, Errors};
use user_core::values::{Email, Password, DEFAULT_MIN_PASSWORD_CHARS};
use utoipa::ToSchema;

pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgencyJson {
    pub id: i64,
    pub name: String,
    pub agency_group_id: i64,
}

impl From<Agency> for AgencyJson {
    fn from(a: Agency) -> Self {
        Self {
            id: a.id,
            name: a.name,
            agency_group_id: a.agency_group_id,
        }
    }
}

/// An agency group as its `group.created` event shows it (no API answers it).
#[derive(Debug, Serialize)]
pub struct GroupJson {
    pub id: i64,
    pub name: String,
}

/// An API client as its events show it (no API answers it; the secret is never in it).
#[derive(Debug, Serialize)]
pub struct ClientJson {
    pub id: String,
    pub agency_group_id: i64,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserJson {
    pub id: i64,
    pub agency_id: i64,
    pub firstname: String,
    pub lastname: Option<String>,
    pub email: String,
    pub phone: Option<String>,
    /// `firstname` and `lastname` joined by a space, trimmed.
    pub name: String,
    #[schema(example = "2026-11-23T10:00:00.000000Z")]
    pub created_at: String,
    pub updated_at: String,
}

impl From<User> for UserJson {
    fn from(u: User) -> Self {
        let name = format!("{} {}", u.firstname, u.lastname.as_deref().unwrap_or(""))
            .trim()
            .to_owned();
        Self {
            id: u.id,
            agency_id: u.agency_id,
            firstname: u.firstname,
            lastname: u.lastname,
            email: u.email,
            phone: u.phone,
            name,
            created_at: timestamp(u.created_at),
            updated_at: timestamp(u.updated_at),
        }
    }
}

/// The body of create and update (documentation; the handler reads JSON and checks each rule).
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct UserBody {
    /// Required on create; ≤ 255 characters.
    #[schema(min_length = 1, max_length = 255)]
    pub firstname: Option<String>,
    #[schema(max_length = 255)]
    pub lastname: Option<String>,
    /// Required on create; valid; unique (case-insensitive).
    #[schema(format = Email, max_length = 255)]
    pub email: Option<String>,
    /// ≤ 32 characters.
    #[schema(max_length = 32)]
    pub phone: Option<String>,
    /// ≥ 8 characters, ≤ 72 bytes; needs `new_password_confirmation`.
    #[schema(min_length = 8, max_length = 72)]
    pub new_password: Option<String>,
    #[schema(min_length = 8, max_length = 72)]
    pub new_password_confirmation: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenJson {
    pub token_type: &'static str,
    pub expires_in: u64,
    pub access_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct TokenBody {
    #[schema(example = "client_credentials")]
    pub grant_type: String,
    pub client_id: String,
    pub client_secret: String,
}

/// The token endpoint's errors.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct OAuthErrorJson {
    pub error: String,
    pub error_description: String,
    pub message: String,
}

/// The token endpoint's 400: OAuth's `unsupported_grant_type` (all three fields), or a body that
/// is neither JSON nor a form (`{"message": "Malformed JSON."}` only).
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct TokenBadRequestJson {
    pub error: Option<String>,
    pub error_description: Option<String>,
    pub message: String,
}

/// A checked create or update: each `Some` is a field to set.
#[derive(Debug, Default)]
pub struct UserInput {
    pub firstname: Option<String>,
    pub lastname: Option<Option<String>>,
    pub email: Option<Email>,
    pub phone: Option<Option<String>>,
    /// `Some(None)`: `new_password` was null, the password stays.
    pub password: Option<Option<Password>>,
}

impl UserInput {
    /// Applies the rules of `agency.md` to `body`; `firstname` and `email` are required on create
    /// and may not be emptied on update.
    /// Every failing field is reported (the uniqueness of the email is checked by the caller).
    pub fn parse(body: &Value, create: bool) -> (Self, Errors) {
        let mut errors = Errors::new();
        // Laravel's `sometimes|required` on update: absent is fine, present must not be empty.
        let needed = |field: &str| create || body.get(field).is_some();
        let input = Self {
            firstname: text_rule(&mut errors, body, "firstname", needed("firstname"), 255)
                .flatten(),
            lastname: text_rule(&mut errors, body, "lastname", false, 255),
            email: email_rule(&mut errors, body, "email", needed("email")),
            phone: text_rule(&mut errors, body, "phone", false, 32),
            password: confirmed_password_rule(
                &mut errors,
                body,
                "new_password",
                DEFAULT_MIN_PASSWORD_CHARS,
            ),
        };
        (input, errors)
    }
}

/// The feed's query (`after`, `limit`, `wait`, `action`, `target`), checked: every refused
/// parameter listed, in Laravel's shape like the other input errors.
pub fn feed_query(raw: &HashMap<String, String>) -> Result<FeedQuery, Errors> {
    FeedQuery::parse(raw).map_err(|refused| {
        let mut errors = Errors::new();
        for e in refused {
            errors.add(e.field, e.message);
        }
        errors
    })
}
