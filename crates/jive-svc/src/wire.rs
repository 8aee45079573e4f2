//! The API's JSON: what it sends, and the checked form of what it receives.

use crate::db::{Principal, User};
use crate::permissions::sees_access_key;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;
use user_core::audit::{FeedQuery, QueryError};
use user_core::values::{Email, Password, PasswordError, DEFAULT_MIN_PASSWORD_CHARS};
use utoipa::ToSchema;

/// The longest first or last name, in characters.
pub const MAX_NAME_CHARS: usize = 255;

/// The values a `user_permissions` entry may take.
pub const PERMISSION_VALUES: [&str; 4] = ["read", "write", "deny", "admin"];

/// A user as the document shows it, plus `user_permissions`. `password` is always `""`;
/// `access_key` is `""` unless the caller is an org admin or the user itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserJson {
    #[schema(value_type = Object)]
    pub api_model: Value,
    pub first_name: String,
    pub last_name: String,
    pub email_address: String,
    #[schema(example = "")]
    pub password: &'static str,
    #[schema(example = "54b53d3aeba6db5c35000002")]
    pub org_id: String,
    pub active: bool,
    #[schema(example = "54bd0ad9ff4329b88985aafb")]
    pub id: String,
    #[schema(example = "f81ee6f0c8f2467d539c132c8a422346")]
    pub access_key: String,
    #[schema(value_type = Object, example = json!({"users": "read"}))]
    pub user_permissions: Value,
}

impl UserJson {
    /// `user` as `viewer` may see it.
    pub fn new(user: User, viewer: &Principal) -> Self {
        let shown = sees_access_key(viewer.access, &viewer.user_id, &user.id);
        let mut json = Self::audited(user);
        if !shown {
            json.access_key = String::new();
        }
        json
    }

    /// `user` as an org admin sees it, whoever asks: the representation the audit trail
    /// records and diffs (one for every viewer; its `access_key` and `password` are secret
    /// fields there, never written out).
    pub fn audited(user: User) -> Self {
        Self {
            api_model: Value::Object(Map::new()),
            first_name: user.first_name,
            last_name: user.last_name,
            email_address: user.email_address,
            password: "",
            org_id: user.org_id,
            active: user.active,
            id: user.id,
            access_key: user.access_key,
            user_permissions: user.user_permissions,
        }
    }
}

/// An organisation as the audit trail records it (`org.created`; the API has no org call).
#[derive(Debug, Serialize)]
pub struct OrgJson<'a> {
    pub id: &'a str,
    pub name: &'a str,
}

/// `GET /api/users`: the org's users and the page count (0 when not paged).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserListJson {
    pub users: Vec<UserJson>,
    pub pages: u64,
}

/// Tyk's envelope: `Status` `"OK"` with `Meta` `""`, or `"Error"` with `Meta` `null`.
#[derive(Debug, Serialize, ToSchema)]
#[allow(non_snake_case)]
pub struct StatusJson {
    #[schema(example = "OK")]
    pub Status: String,
    pub Message: String,
    #[schema(value_type = Option<String>)]
    pub Meta: Value,
}

impl StatusJson {
    pub fn ok(message: &str) -> Self {
        Self {
            Status: "OK".to_owned(),
            Message: message.to_owned(),
            Meta: Value::String(String::new()),
        }
    }
}

/// The body of create and update (documentation; the handlers read JSON and check each rule).
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct UserBody {
    /// ≤ 255 characters, trimmed.
    #[schema(max_length = 255)]
    pub first_name: Option<String>,
    #[schema(max_length = 255)]
    pub last_name: Option<String>,
    /// Required on create; a valid email, unique in the org (case-insensitive).
    #[schema(format = Email, max_length = 255)]
    pub email_address: Option<String>,
    /// Default `true`.
    pub active: Option<bool>,
    /// Only an admin may set or change it. Values: read, write, deny, admin.
    #[schema(value_type = Option<Object>)]
    pub user_permissions: Option<Value>,
    /// Create only: 8 characters to 72 bytes; without it the user gets a random password.
    #[schema(min_length = 8, max_length = 72)]
    pub password: Option<String>,
}

/// The body of the reset action.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct PasswordBody {
    /// 8 characters to 72 bytes.
    #[schema(min_length = 8, max_length = 72)]
    pub new_password: String,
}

/// A checked create or update body: each `Some` is a field to set.
#[derive(Debug, Default)]
pub struct UserInput {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email_address: Option<Email>,
    pub active: Option<bool>,
    pub user_permissions: Option<Value>,
    pub password: Option<Password>,
}

fn invalid(rule: &str) -> String {
    format!("User object validation failed: {rule}")
}

/// The message for a password that breaks a rule.
pub fn password_message(error: PasswordError) -> String {
    match error {
        PasswordError::TooShort { min } => format!("Password must be at least {min} characters"),
        PasswordError::TooLong { max_bytes } => {
            format!("Password must be at most {max_bytes} bytes")
        }
    }
}

fn name(body: &Map<String, Value>, field: &str) -> Result<Option<String>, String> {
    match body.get(field) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(String::new())),
        Some(Value::String(s)) => {
            let trimmed = s.trim();
            if trimmed.chars().any(char::is_control) {
                // Postgres cannot store NUL, and no name needs a control character.
                Err(invalid(&format!(
                    "{field} must not contain control characters"
                )))
            } else if trimmed.chars().count() > MAX_NAME_CHARS {
                Err(invalid(&format!(
                    "{field} must be at most {MAX_NAME_CHARS} characters"
                )))
            } else {
                Ok(Some(trimmed.to_owned()))
            }
        }
        Some(_) => Err(invalid(&format!("{field} must be a string"))),
    }
}

/// A checked `user_permissions`: an object whose values are [`PERMISSION_VALUES`]; `null` is `{}`.
pub fn permissions(value: &Value) -> Result<Value, String> {
    match value {
        Value::Null => Ok(Value::Object(Map::new())),
        Value::Object(map) => {
            for (key, v) in map {
                if !v.as_str().is_some_and(|s| PERMISSION_VALUES.contains(&s)) {
                    return Err(invalid(&format!(
                        "user_permissions.{key} must be one of read, write, deny, admin"
                    )));
                }
            }
            Ok(value.clone())
        }
        _ => Err(invalid("user_permissions must be an object")),
    }
}

impl UserInput {
    /// Applies the rules of `jive.md` to `body`. `email_address` is required on create;
    /// `password` is read on create only; `id`, `org_id`, `access_key` and `api_model` (and
    /// any other field) are ignored. The first failing rule is reported.
    pub fn parse(body: &Value, create: bool) -> Result<Self, String> {
        let Value::Object(body) = body else {
            return Err(invalid("the body must be a JSON object"));
        };
        let (input, errors) = Self::check(body, create);
        match errors.into_iter().next() {
            Some((_, message)) => Err(message),
            None => Ok(input),
        }
    }

    /// Every failing rule of [`UserInput::parse`] with the field it concerns, in the order
    /// `parse` reports the first (`admin import` names them all), and the fields that passed.
    pub fn check(body: &Map<String, Value>, create: bool) -> (Self, Vec<(&'static str, String)>) {
        fn rule<T>(
            errors: &mut Vec<(&'static str, String)>,
            field: &'static str,
            checked: Result<Option<T>, String>,
        ) -> Option<T> {
            checked.unwrap_or_else(|message| {
                errors.push((field, message));
                None
            })
        }
        let mut errors = Vec::new();
        let email_address = rule(
            &mut errors,
            "email_address",
            match body.get("email_address") {
                None | Some(Value::Null) if create => Err(invalid("email_address is required")),
                None => Ok(None),
                Some(Value::String(s)) => Email::parse(s)
                    .map(Some)
                    .map_err(|_| invalid("email_address is not a valid email address")),
                Some(_) => Err(invalid("email_address is not a valid email address")),
            },
        );
        let active = rule(
            &mut errors,
            "active",
            match body.get("active") {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Bool(b)) => Ok(Some(*b)),
                Some(_) => Err(invalid("active must be true or false")),
            },
        );
        let user_permissions = rule(
            &mut errors,
            "user_permissions",
            body.get("user_permissions").map(permissions).transpose(),
        );
        let password = rule(
            &mut errors,
            "password",
            match body.get("password") {
                Some(Value::String(s)) if create => create_password(s),
                Some(Value::String(_) | Value::Null) | None => Ok(None),
                Some(_) if create => Err(invalid("password must be a string")),
                Some(_) => Ok(None),
            },
        );
        let first_name = rule(&mut errors, "first_name", name(body, "first_name"));
        let last_name = rule(&mut errors, "last_name", name(body, "last_name"));
        let input = Self {
            first_name,
            last_name,
            email_address,
            active,
            user_permissions,
            password,
        };
        (input, errors)
    }
}

/// A create's `password`: `""` is none (the user gets a random one), anything else must be 8
/// characters to 72 bytes.
pub fn create_password(password: &str) -> Result<Option<Password>, String> {
    if password.is_empty() {
        return Ok(None);
    }
    Password::new(password, DEFAULT_MIN_PASSWORD_CHARS)
        .map(Some)
        .map_err(password_message)
}

/// The shortest access key taken from outside (bootstrap, import); the service makes 32
/// lowercase hex characters, as Tyk does.
pub const MIN_ACCESS_KEY_CHARS: usize = 32;

/// The longest key authentication reads (`auth::access_key`).
pub const MAX_ACCESS_KEY_BYTES: usize = 256;

/// Whether `key` can be given to a user as its access key: [`MIN_ACCESS_KEY_CHARS`] to
/// [`MAX_ACCESS_KEY_BYTES`] printable ASCII characters without spaces (what a header carries
/// and authentication reads back).
pub fn usable_access_key(key: &str) -> bool {
    key.len() >= MIN_ACCESS_KEY_CHARS
        && key.len() <= MAX_ACCESS_KEY_BYTES
        && key.bytes().all(|b| b.is_ascii_graphic())
}

/// The change feed's query (`after`, `limit`, `wait`, `action`, `target`;
/// [`FeedQuery::parse`]), or the message of its first refusal in that order (one message per
/// answer, as for bodies). `action` and `target` must not hold control characters (Postgres
/// cannot compare text with NUL, and no action or id has one). A parameter given twice counts
/// with its last value; others are ignored.
pub fn feed_query(query: &str) -> Result<FeedQuery, String> {
    const ORDER: [&str; 5] = ["after", "limit", "wait", "action", "target"];
    let pairs: HashMap<String, String> = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .map_err(|_| "The query string is malformed.".to_owned())?
        .into_iter()
        .collect();
    let parsed = FeedQuery::parse(&pairs);
    let mut errors = parsed.clone().err().unwrap_or_default();
    for field in ["action", "target"] {
        if pairs
            .get(field)
            .is_some_and(|v| v.chars().any(char::is_control))
            && !errors.iter().any(|e| e.field == field)
        {
            errors.push(QueryError {
                field,
                message: format!("The {field} must not contain control characters."),
            });
        }
    }
    match errors
        .into_iter()
        .min_by_key(|e| ORDER.iter().position(|f| *f == e.field))
    {
        Some(first) => Err(first.message),
        None => parsed.map_err(|_| "Bad request".to_owned()),
    }
}

/// The checked body of the reset action.
pub fn new_password(body: &Value) -> Result<Password, String> {
    match body.get("new_password") {
        Some(Value::String(s)) => {
            Password::new(s, DEFAULT_MIN_PASSWORD_CHARS).map_err(password_message)
        }
        Some(_) => Err("new_password must be a string".to_owned()),
        None => Err("new_password is required".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn create_needs_a_valid_email() {
        assert_eq!(
            UserInput::parse(&json!({"first_name":"A"}), true).unwrap_err(),
            "User object validation failed: email_address is required"
        );
        assert_eq!(
            UserInput::parse(&json!({"email_address":"nope"}), true).unwrap_err(),
            "User object validation failed: email_address is not a valid email address"
        );
        let ok = UserInput::parse(
            &json!({"email_address":" A@b.co ","first_name":"  Jo ","id":"x","org_id":"y"}),
            true,
        )
        .unwrap();
        assert_eq!(ok.email_address.unwrap().as_str(), "A@b.co");
        assert_eq!(ok.first_name.as_deref(), Some("Jo"));
        assert!(ok.last_name.is_none());
    }

    #[test]
    fn update_ignores_password_and_reads_only_present_fields() {
        let input = UserInput::parse(&json!({"active":null}), false).unwrap();
        assert_eq!(input.active, None, "null is absent");
        let input = UserInput::parse(&json!({"password":"x","active":false}), false).unwrap();
        assert!(input.password.is_none());
        assert_eq!(input.active, Some(false));
        assert!(input.email_address.is_none());
        assert_eq!(
            UserInput::parse(&json!([]), false).unwrap_err(),
            "User object validation failed: the body must be a JSON object"
        );
    }

    #[test]
    fn field_types_and_permission_values_are_checked() {
        for (body, message) in [
            (json!({"active":"yes"}), "active must be true or false"),
            (json!({"first_name":3}), "first_name must be a string"),
            (
                json!({"first_name":"a\u{0}b"}),
                "first_name must not contain control characters",
            ),
            (
                json!({"user_permissions":[]}),
                "user_permissions must be an object",
            ),
            (
                json!({"user_permissions":{"users":"all"}}),
                "user_permissions.users must be one of read, write, deny, admin",
            ),
            (
                json!({"last_name":"x".repeat(256)}),
                "last_name must be at most 255 characters",
            ),
        ] {
            assert_eq!(
                UserInput::parse(&body, false).unwrap_err(),
                format!("User object validation failed: {message}")
            );
        }
    }

    #[test]
    fn feed_query_refusals_name_the_first_parameter() {
        let q = feed_query("after=5&limit=2&wait=1.5&action=user.created&target=abc&x=y").unwrap();
        assert_eq!((q.after, q.limit), (5, 2));
        assert_eq!(q.wait, std::time::Duration::from_millis(1500));
        assert_eq!(q.action.as_deref(), Some("user.created"));
        assert_eq!(q.target.as_deref(), Some("abc"));
        assert_eq!(feed_query("").unwrap(), FeedQuery::default());
        assert_eq!(feed_query("limit=1&limit=7").unwrap().limit, 7);
        assert_eq!(
            feed_query("limit=0&after=-1").unwrap_err(),
            "The after must be an integer of at least 0."
        );
        assert_eq!(
            feed_query("wait=31").unwrap_err(),
            "The wait must be a number of seconds between 0 and 30."
        );
        assert_eq!(
            feed_query("target=&action=a%00").unwrap_err(),
            "The action must not contain control characters."
        );
        assert_eq!(
            feed_query("target=%01&limit=1").unwrap_err(),
            "The target must not contain control characters."
        );
    }

    #[test]
    fn password_rules() {
        assert_eq!(
            new_password(&json!({"new_password":"short"})).unwrap_err(),
            "Password must be at least 8 characters"
        );
        assert_eq!(
            new_password(&json!({"new_password":"a".repeat(73)})).unwrap_err(),
            "Password must be at most 72 bytes"
        );
        assert!(new_password(&json!({"new_password":"a".repeat(72)})).is_ok());
        assert_eq!(
            UserInput::parse(&json!({"email_address":"a@b.co","password":"short"}), true)
                .unwrap_err(),
            "Password must be at least 8 characters"
        );
    }
}
