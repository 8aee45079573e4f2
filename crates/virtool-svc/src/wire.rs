//! The API's JSON: what it sends, and the checked form of what it receives.

use crate::cerberus::{Document, Errors};
use crate::db::{Group, UserView};
use crate::permissions::Permissions;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use user_core::values::{Password, PasswordError};
use utoipa::ToSchema;

/// The longest user or group id, in characters.
pub const MAX_ID_CHARS: usize = 64;

pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The user's identicon: the sha256 hex of its id.
pub fn identicon(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// Whether `id` could be a user or group id: 1..=64 characters, no whitespace, no control
/// characters, no `/`. Path ids that are not are answered 404 without asking the database.
pub fn plausible_id(id: &str) -> bool {
    id_problem(id).is_none()
}

fn id_problem(id: &str) -> Option<String> {
    if id.is_empty() {
        Some("empty values not allowed".to_owned())
    } else if id.chars().count() > MAX_ID_CHARS {
        Some(format!("max length is {MAX_ID_CHARS}"))
    } else if id
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    {
        Some("must not contain whitespace, control characters or '/'".to_owned())
    } else {
        None
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserJson {
    #[schema(example = "fred")]
    pub id: String,
    /// The user's groups, by id.
    pub groups: Vec<String>,
    /// The union of the groups' permissions (every one for an administrator).
    pub permissions: Permissions,
    /// `""` when none.
    pub primary_group: String,
    pub force_reset: bool,
    #[schema(example = "2018-02-07T17:56:35.980000Z")]
    pub last_password_change: String,
    /// sha256 hex of the id.
    pub identicon: String,
}

impl From<UserView> for UserJson {
    fn from(v: UserView) -> Self {
        Self {
            identicon: identicon(&v.user.id),
            id: v.user.id,
            groups: v.groups,
            permissions: v.permissions,
            primary_group: v.user.primary_group.unwrap_or_default(),
            force_reset: v.user.force_reset,
            last_password_change: timestamp(v.user.last_password_change),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupJson {
    #[schema(example = "tech")]
    pub id: String,
    pub permissions: Permissions,
}

impl From<Group> for GroupJson {
    fn from(g: Group) -> Self {
        Self {
            id: g.id,
            permissions: g.permissions,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenJson {
    pub token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    pub expires_in: u64,
}

/// The login answer for a user who must choose a new password first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResetJson {
    pub reset: bool,
    pub reset_code: String,
}

/// Every error but 422.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct ErrorJson {
    #[schema(example = "not_found")]
    pub id: String,
    #[schema(example = "User not found")]
    pub message: String,
}

/// 422: each failing field with Cerberus's messages.
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct InvalidJson {
    #[schema(example = "invalid_input")]
    pub id: String,
    #[schema(example = "Invalid input")]
    pub message: String,
    #[schema(value_type = Object)]
    pub errors: Value,
}

/// 422 of a create: invalid input (`invalid_input`, with `errors`), or an `Idempotency-Key`
/// used before with another request (`idempotency_key_reused`, without `errors`).
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub struct InvalidOrReusedJson {
    #[schema(example = "invalid_input")]
    pub id: String,
    #[schema(example = "Invalid input")]
    pub message: String,
    /// Present for `invalid_input` only.
    #[schema(value_type = Object, required = false)]
    pub errors: Option<Value>,
}

// Request bodies (documentation; handlers read JSON and check each rule with `cerberus`).
// Unknown fields are refused (`additionalProperties: false`); optional fields may be left out
// but are never `null`.

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct LoginBody {
    pub username: String,
    pub password: String,
    /// Accepted and ignored (upstream's "remember me").
    #[schema(nullable = false)]
    pub remember: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ResetBody {
    /// At least `MINIMUM_PASSWORD_LENGTH` characters (default 8), at most 72 bytes.
    #[schema(min_length = 8)]
    pub password: String,
    pub reset_code: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CreateUserBody {
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\s/\x00-\x1f\x7f-\x9f]+$"
    )]
    pub user_id: String,
    /// At least `MINIMUM_PASSWORD_LENGTH` characters (default 8), at most 72 bytes.
    #[schema(min_length = 8)]
    pub password: String,
    /// Default true.
    #[schema(nullable = false)]
    pub force_reset: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct PatchUserBody {
    #[schema(nullable = false)]
    pub force_reset: Option<bool>,
    /// At least `MINIMUM_PASSWORD_LENGTH` characters (default 8), at most 72 bytes.
    #[schema(nullable = false, min_length = 8)]
    pub password: Option<String>,
    /// A group the user is in; `"none"` or `""` clears it.
    #[schema(nullable = false)]
    pub primary_group: Option<String>,
}

/// A group to add the user to.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct GroupIdBody {
    pub group_id: String,
}

/// A new group (the id is lower-cased).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct NewGroupBody {
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\s/\x00-\x1f\x7f-\x9f]+$"
    )]
    pub group_id: String,
}

/// The permissions to change; those left out stay as they are.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct PermissionChanges {
    #[schema(nullable = false)]
    pub cancel_job: Option<bool>,
    #[schema(nullable = false)]
    pub create_sample: Option<bool>,
    #[schema(nullable = false)]
    pub manage_users: Option<bool>,
    #[schema(nullable = false)]
    pub modify_hmm: Option<bool>,
    #[schema(nullable = false)]
    pub modify_settings: Option<bool>,
    #[schema(nullable = false)]
    pub modify_subtraction: Option<bool>,
    #[schema(nullable = false)]
    pub modify_virus: Option<bool>,
    #[schema(nullable = false)]
    pub rebuild_index: Option<bool>,
    #[schema(nullable = false)]
    pub remove_file: Option<bool>,
    #[schema(nullable = false)]
    pub remove_job: Option<bool>,
    #[schema(nullable = false)]
    pub remove_virus: Option<bool>,
    #[schema(nullable = false)]
    pub upload_file: Option<bool>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct PatchGroupBody {
    /// Only the named permissions change.
    #[schema(nullable = false)]
    pub permissions: Option<PermissionChanges>,
}

pub fn password_rule(
    doc: &mut Document<'_>,
    raw: Option<&str>,
    min_chars: usize,
) -> Option<Password> {
    match Password::new(raw?, min_chars) {
        Ok(p) => Some(p),
        Err(PasswordError::TooShort { min }) => {
            doc.fail("password", format!("min length is {min}"));
            None
        }
        Err(PasswordError::TooLong { max_bytes }) => {
            doc.fail("password", format!("max length is {max_bytes} bytes"));
            None
        }
    }
}

pub fn id_rule(doc: &mut Document<'_>, field: &'static str, raw: Option<&str>) -> Option<String> {
    let raw = raw?;
    match id_problem(raw) {
        None => Some(raw.to_owned()),
        Some(problem) => {
            doc.fail(field, problem);
            None
        }
    }
}

pub struct LoginInput {
    pub username: String,
    pub password: String,
}

impl LoginInput {
    pub fn parse(body: &Value) -> Result<Self, Errors> {
        let mut doc = Document::new(body);
        let username = doc.string("username", true);
        let password = doc.string("password", true);
        let _remember = doc.boolean("remember", false);
        let errors = doc.finish();
        match (username, password) {
            (Some(u), Some(p)) if errors.is_empty() => Ok(Self {
                username: u.to_owned(),
                password: p.to_owned(),
            }),
            _ => Err(errors),
        }
    }
}

pub struct ResetInput {
    pub password: Password,
    pub reset_code: String,
}

impl ResetInput {
    pub fn parse(body: &Value, min_chars: usize) -> Result<Self, Errors> {
        let mut doc = Document::new(body);
        let raw = doc.string("password", true);
        let password = password_rule(&mut doc, raw, min_chars);
        let reset_code = doc.string("reset_code", true);
        let errors = doc.finish();
        match (password, reset_code) {
            (Some(password), Some(code)) if errors.is_empty() => Ok(Self {
                password,
                reset_code: code.to_owned(),
            }),
            _ => Err(errors),
        }
    }
}

pub struct CreateUserInput {
    pub id: String,
    pub password: Password,
    pub force_reset: bool,
}

impl CreateUserInput {
    pub fn parse(body: &Value, min_chars: usize) -> Result<Self, Errors> {
        let mut doc = Document::new(body);
        let raw_id = doc.string("user_id", true);
        let id = id_rule(&mut doc, "user_id", raw_id);
        let raw = doc.string("password", true);
        let password = password_rule(&mut doc, raw, min_chars);
        let force_reset = doc.boolean("force_reset", false).unwrap_or(true);
        let errors = doc.finish();
        match (id, password) {
            (Some(id), Some(password)) if errors.is_empty() => Ok(Self {
                id,
                password,
                force_reset,
            }),
            _ => Err(errors),
        }
    }
}

#[derive(Default)]
pub struct PatchUserInput {
    pub force_reset: Option<bool>,
    pub password: Option<Password>,
    /// `Some(None)`: clear it (`"none"` or `""`).
    pub primary_group: Option<Option<String>>,
}

impl PatchUserInput {
    pub fn parse(body: &Value, min_chars: usize) -> Result<Self, Errors> {
        let mut doc = Document::new(body);
        let force_reset = doc.boolean("force_reset", false);
        let raw = doc.string("password", false);
        let password = password_rule(&mut doc, raw, min_chars);
        let primary_group = doc.string("primary_group", false).map(|g| match g {
            "" | "none" => None,
            group => Some(group.to_owned()),
        });
        doc.finish().result(Self {
            force_reset,
            password,
            primary_group,
        })
    }
}

/// `{"group_id"}` naming an existing group (add to a group).
pub fn parse_group_ref(body: &Value) -> Result<String, Errors> {
    let mut doc = Document::new(body);
    let group = doc.string("group_id", true).map(str::to_owned);
    let errors = doc.finish();
    match group {
        Some(g) if errors.is_empty() => Ok(g),
        _ => Err(errors),
    }
}

/// `{"group_id"}` of a new group: an id, lower-cased.
pub fn parse_new_group(body: &Value) -> Result<String, Errors> {
    let mut doc = Document::new(body);
    let raw = doc.string("group_id", true);
    let id = id_rule(&mut doc, "group_id", raw);
    let errors = doc.finish();
    match id {
        Some(id) if errors.is_empty() => Ok(id.to_lowercase()),
        _ => Err(errors),
    }
}

/// `{"permissions": {name: bool, …}}`: the changes, in the order given.
pub fn parse_group_patch(body: &Value) -> Result<Vec<(String, bool)>, Errors> {
    let mut doc = Document::new(body);
    let mut changes = Vec::new();
    if let Some(map) = doc.dict("permissions", false) {
        let mut inner = Errors::new();
        for (name, value) in map {
            if !Permissions::is_known(name) {
                inner.add(name, "unknown field");
            } else {
                match value {
                    Value::Bool(b) => changes.push((name.clone(), *b)),
                    Value::Null => inner.add(name, "null value not allowed"),
                    _ => inner.add(name, "must be of boolean type"),
                }
            }
        }
        doc.errors.nested("permissions", inner);
    }
    doc.finish().result(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identicons_match_the_upstream_document() {
        assert_eq!(
            identicon("fred"),
            "d0cfc2e5319b82cdc71a33873e826c93d7ee11363f8ac91c4fa3a2cfcd2286e5"
        );
        assert_eq!(
            identicon("igboyes"),
            "6be6d0a72a16cb633144ec03cdaef77804c6f94770184f83e0899fe6bdcb77ee"
        );
        assert_eq!(
            identicon("bill"),
            "623210167553939c87ed8c5f2bfe0b3e0684e12c3a3dd2513613c4e67263b5a1"
        );
    }

    #[test]
    fn ids_are_checked() {
        assert!(plausible_id("fred"));
        assert!(plausible_id(&"ø".repeat(64)));
        for bad in ["", "a b", "a/b", "a\u{0}b", "tab\t", &"x".repeat(65)] {
            assert!(!plausible_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn create_reports_every_field() {
        let e = CreateUserInput::parse(
            &json!({"user_id": 5, "password": "short", "force_reset": "yes", "x": 1}),
            8,
        )
        .err()
        .unwrap();
        assert_eq!(
            e.to_json(),
            json!({
                "user_id": ["must be of string type"],
                "password": ["min length is 8"],
                "force_reset": ["must be of boolean type"],
                "x": ["unknown field"],
            })
        );
        let ok = CreateUserInput::parse(&json!({"user_id": "bill", "password": "foobar12"}), 8)
            .ok()
            .unwrap();
        assert!(ok.force_reset);
    }

    #[test]
    fn primary_group_none_and_empty_clear() {
        for clear in ["none", ""] {
            let p = PatchUserInput::parse(&json!({ "primary_group": clear }), 8)
                .ok()
                .unwrap();
            assert_eq!(p.primary_group, Some(None));
        }
        let p = PatchUserInput::parse(&json!({}), 8).ok().unwrap();
        assert!(p.primary_group.is_none() && p.password.is_none() && p.force_reset.is_none());
    }

    #[test]
    fn group_patch_nests_the_permission_errors() {
        let e = parse_group_patch(&json!({"permissions": {"modify_user": true, "cancel_job": 1}}))
            .err()
            .unwrap();
        assert_eq!(
            e.to_json(),
            json!({"permissions": [{"cancel_job": ["must be of boolean type"], "modify_user": ["unknown field"]}]})
        );
        assert_eq!(
            parse_new_group(&json!({"group_id": "Tech"})).ok(),
            Some("tech".to_owned())
        );
    }
}
