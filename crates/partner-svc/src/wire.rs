//! The API's JSON: what it sends, and the checked form of what it receives.

use crate::db::{Partner, User};
use crate::permissions::{Permission, Permissions};
use serde::Serialize;
use serde_json::Value;
use user_core::laravel::{confirmed_password_rule, email_rule, text_rule, Errors, Field};
use user_core::values::{Email, Password, PasswordError, DEFAULT_MIN_PASSWORD_CHARS};
use utoipa::ToSchema;

/// The longest first or last name, in characters.
pub const NAME_MAX: usize = 255;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserJson {
    #[schema(example = 1)]
    pub id: i64,
    #[schema(example = "John")]
    pub first_name: String,
    #[schema(example = "Doe")]
    pub last_name: String,
    #[schema(example = "john@example.com")]
    pub email: String,
}

impl From<User> for UserJson {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            first_name: u.first_name,
            last_name: u.last_name,
            email: u.email,
        }
    }
}

/// `{"data": user}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserData {
    pub data: UserJson,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PartnerJson {
    pub id: i64,
    pub name: String,
}

impl From<Partner> for PartnerJson {
    fn from(p: Partner) -> Self {
        Self {
            id: p.id,
            name: p.name,
        }
    }
}

/// `{"data": [partner, …]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartnersData {
    pub data: Vec<PartnerJson>,
}

/// Laravel's length-aware paginator metadata.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageMeta {
    pub current_page: i64,
    /// Position of the first item on the page (1-based); null on an empty page.
    pub from: Option<i64>,
    pub last_page: i64,
    /// The URL of the list without its query string.
    pub path: String,
    pub per_page: i64,
    pub to: Option<i64>,
    pub total: i64,
}

/// Absolute URLs that keep `search` and `per_page`, with `page` last.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageLinks {
    pub first: String,
    pub last: String,
    pub prev: Option<String>,
    pub next: Option<String>,
}

/// One page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    pub data: Vec<UserJson>,
    pub meta: PageMeta,
    pub links: PageLinks,
}

/// The body of create (documentation; the handler reads JSON and checks each rule).
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct CreateBody {
    /// Required; ≤ 255 characters.
    #[schema(min_length = 1, max_length = 255)]
    pub first_name: String,
    /// Required; ≤ 255 characters.
    #[schema(min_length = 1, max_length = 255)]
    pub last_name: String,
    /// Required; valid. An existing user with this email is attached instead.
    #[schema(format = Email, max_length = 255)]
    pub email: String,
    /// Required; ≥ 8 characters, ≤ 72 bytes.
    #[schema(min_length = 8, max_length = 72)]
    pub password: String,
    /// Optional; only permissions the caller holds itself.
    #[schema(example = json!(["users.read"]))]
    pub permissions: Option<Vec<String>>,
}

/// The body of update: every field optional.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct UpdateBody {
    #[schema(min_length = 1, max_length = 255)]
    pub first_name: Option<String>,
    #[schema(min_length = 1, max_length = 255)]
    pub last_name: Option<String>,
    /// Unique (case-insensitive), ignoring the user itself.
    #[schema(format = Email, max_length = 255)]
    pub email: Option<String>,
    /// ≥ 8 characters, ≤ 72 bytes; needs a matching `new_password_confirmation`.
    #[schema(min_length = 8, max_length = 72)]
    pub new_password: Option<String>,
    #[schema(min_length = 8, max_length = 72)]
    pub new_password_confirmation: Option<String>,
    /// Replaces the set; every permission added or removed must be held by the caller.
    pub permissions: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct LoginBody {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenJson {
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    #[schema(example = 3600)]
    pub expires_in: u64,
}

/// `{"data": token}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenData {
    pub data: TokenJson,
}

/// `permissions`: absent → `None`; null → `Some(None)`; an array of known names → the set.
/// Unknown names are reported per item (`permissions.0`), as Laravel's `in` rule does.
pub(crate) fn permissions_rule(errors: &mut Errors, body: &Value) -> Option<Option<Permissions>> {
    match body.get("permissions")? {
        Value::Null => Some(None),
        Value::Array(items) => {
            let mut set = Permissions::new();
            let mut ok = true;
            for (i, item) in items.iter().enumerate() {
                match item.as_str().and_then(Permission::parse) {
                    Some(p) => {
                        set.insert(p);
                    }
                    None => {
                        ok = false;
                        errors.invalid(&format!("permissions.{i}"));
                    }
                }
            }
            ok.then_some(Some(set))
        }
        _ => {
            errors.array("permissions");
            None
        }
    }
}

/// A required password: ≥ 8 characters, ≤ 72 bytes, not trimmed.
pub(crate) fn password_rule(errors: &mut Errors, body: &Value, field: &str) -> Option<Password> {
    match Field::read_untrimmed(body, field) {
        Field::Absent | Field::Null => {
            errors.required(field);
            None
        }
        Field::NotString => {
            errors.string(field);
            None
        }
        Field::Text(t) => match Password::new(&t, DEFAULT_MIN_PASSWORD_CHARS) {
            Ok(p) => Some(p),
            Err(PasswordError::TooShort { min }) => {
                errors.min_chars(field, min);
                None
            }
            Err(PasswordError::TooLong { max_bytes }) => {
                errors.max_bytes(field, max_bytes);
                None
            }
        },
    }
}

/// A checked create.
#[derive(Debug)]
pub struct NewUserInput {
    pub first_name: String,
    pub last_name: String,
    pub email: Email,
    pub password: Password,
    pub permissions: Permissions,
}

impl NewUserInput {
    /// Applies the create rules of `partner.md`; every failing field is reported.
    pub fn parse(body: &Value) -> Result<Self, Errors> {
        let mut errors = Errors::new();
        let first_name = text_rule(&mut errors, body, "first_name", true, NAME_MAX).flatten();
        let last_name = text_rule(&mut errors, body, "last_name", true, NAME_MAX).flatten();
        let email = email_rule(&mut errors, body, "email", true);
        let password = password_rule(&mut errors, body, "password");
        let permissions = permissions_rule(&mut errors, body);
        match (first_name, last_name, email, password) {
            (Some(first_name), Some(last_name), Some(email), Some(password))
                if errors.is_empty() =>
            {
                Ok(Self {
                    first_name,
                    last_name,
                    email,
                    password,
                    permissions: permissions.flatten().unwrap_or_default(),
                })
            }
            _ => Err(errors),
        }
    }
}

/// A checked update: each `Some` is a field to set.
#[derive(Debug, Default)]
pub struct UserChangesInput {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<Email>,
    pub password: Option<Password>,
    pub permissions: Option<Permissions>,
}

impl UserChangesInput {
    /// Applies the update rules: present names and email must not be empty (Laravel's
    /// `sometimes|required`); a null `new_password` or `permissions` changes nothing.
    pub fn parse(body: &Value) -> Result<Self, Errors> {
        let mut errors = Errors::new();
        let present = |field: &str| body.get(field).is_some();
        let input = Self {
            first_name: text_rule(
                &mut errors,
                body,
                "first_name",
                present("first_name"),
                NAME_MAX,
            )
            .flatten(),
            last_name: text_rule(
                &mut errors,
                body,
                "last_name",
                present("last_name"),
                NAME_MAX,
            )
            .flatten(),
            email: email_rule(&mut errors, body, "email", present("email")),
            password: confirmed_password_rule(
                &mut errors,
                body,
                "new_password",
                DEFAULT_MIN_PASSWORD_CHARS,
            )
            .flatten(),
            permissions: permissions_rule(&mut errors, body).flatten(),
        };
        if errors.is_empty() {
            Ok(input)
        } else {
            Err(errors)
        }
    }
}

/// A checked login: the email as given (matched case-insensitively) and the password.
#[derive(Debug)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
}

impl LoginInput {
    pub fn parse(body: &Value) -> Result<Self, Errors> {
        let mut errors = Errors::new();
        let email = text_rule(&mut errors, body, "email", true, usize::MAX).flatten();
        let password = match Field::read_untrimmed(body, "password") {
            Field::Text(t) => Some(t),
            Field::NotString => {
                errors.string("password");
                None
            }
            Field::Absent | Field::Null => {
                errors.required("password");
                None
            }
        };
        match (email, password) {
            (Some(email), Some(password)) if errors.is_empty() => Ok(Self { email, password }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn create_reports_every_field() {
        let e = NewUserInput::parse(
            &json!({"email":"nope","password":"short","permissions":["users.read","root"]}),
        )
        .unwrap_err();
        assert_eq!(
            e.to_json(),
            json!({"message":"The given data was invalid.","errors":{
                "first_name":["The first name field is required."],
                "last_name":["The last name field is required."],
                "email":["The email must be a valid email address."],
                "password":["The password must be at least 8 characters."],
                "permissions.1":["The selected permissions.1 is invalid."],
            }})
        );
    }

    #[test]
    fn update_keeps_absent_fields() {
        let c = UserChangesInput::parse(&json!({"first_name":" Jo ","new_password":null})).unwrap();
        assert_eq!(c.first_name.as_deref(), Some("Jo"));
        assert!(c.last_name.is_none() && c.email.is_none() && c.password.is_none());
        let e = UserChangesInput::parse(&json!({"last_name":"","permissions":"users.read"}))
            .unwrap_err();
        assert_eq!(
            e.to_json()["errors"],
            json!({"last_name":["The last name field is required."],
                   "permissions":["The permissions must be an array."]})
        );
    }
}
