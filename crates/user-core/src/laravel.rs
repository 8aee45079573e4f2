//! The error shape and validation messages of Laravel APIs (agency-svc and partner-svc both
//! imitate Laravel upstreams): `{"message": …}` for plain errors and
//! `{"message":"The given data was invalid.","errors":{field:[…]}}` for 422.
//!
//! Input follows Laravel's default middleware: strings are trimmed (`TrimStrings`) and empty
//! strings become null (`ConvertEmptyStringsToNull`) before the rules run.

use crate::http::{ErrorShape, Problem};
use actix_web::HttpResponse;
use serde_json::{json, Map, Value};

pub struct LaravelShape;

impl ErrorShape for LaravelShape {
    fn body(problem: &Problem) -> Value {
        let message = match problem {
            Problem::MalformedJson => "Malformed JSON.",
            Problem::BadRequest => "Bad request.",
            Problem::Unauthenticated => "Unauthenticated.",
            Problem::NotFound => "Not found.",
            Problem::MethodNotAllowed => "Method not allowed.",
            Problem::PayloadTooLarge => "Payload too large.",
            Problem::UnsupportedMediaType => "Unsupported media type.",
            Problem::TooManyRequests { .. } => "Too Many Attempts.",
            Problem::PreconditionFailed => "Precondition Failed.",
            Problem::IdempotencyKeyMalformed => "The Idempotency-Key header is invalid.",
            Problem::IdempotencyKeyReused => crate::idempotency::REUSED_MESSAGE,
            Problem::IdempotencyKeyInUse => {
                "A request with this Idempotency-Key is still being processed."
            }
            Problem::Internal => "Server Error",
            Problem::Unavailable => "Service Unavailable",
        };
        json!({ "message": message })
    }
}

/// `{"message": text}` with `status`.
pub fn message(status: actix_web::http::StatusCode, text: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "message": text }))
}

/// `{"message": …}`: every error but 422, in the OpenAPI documents.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct MessageJson {
    pub message: String,
}

/// 422: `errors` maps each failing field to its messages, in the OpenAPI documents. Without
/// `errors` when a create's `Idempotency-Key` was reused with another request.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ValidationJson {
    pub message: String,
    pub errors: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

/// A request field after Laravel's input normalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    /// Not in the body.
    Absent,
    /// `null`, `""` or only whitespace.
    Null,
    /// A non-empty trimmed string.
    Text(String),
    /// Present but not a string (number, boolean, array, object).
    NotString,
}

impl Field {
    /// Reads `name` from a JSON body (a non-object body has no fields).
    pub fn read(body: &Value, name: &str) -> Self {
        match body.get(name) {
            None => Self::Absent,
            Some(Value::Null) => Self::Null,
            Some(Value::String(s)) => {
                let t = s.trim();
                if t.is_empty() {
                    Self::Null
                } else {
                    Self::Text(t.to_owned())
                }
            }
            Some(_) => Self::NotString,
        }
    }

    /// Like [`Field::read`] but not trimmed (passwords keep their spaces; empty is still null).
    pub fn read_untrimmed(body: &Value, name: &str) -> Self {
        match body.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Self::Text(s.clone()),
            Some(Value::String(_)) => Self::Null,
            _ => Self::read(body, name),
        }
    }
}

/// Collects failures per field, in the order the rules ran, with Laravel's English messages.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Errors {
    fields: Vec<(String, Vec<String>)>,
}

/// How Laravel names a field in a message: `new_password` → `new password`.
pub fn attribute(field: &str) -> String {
    field.replace('_', " ")
}

impl Errors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    pub fn has(&self, field: &str) -> bool {
        self.fields.iter().any(|(f, _)| f == field)
    }

    pub fn add(&mut self, field: &str, message: String) {
        match self.fields.iter_mut().find(|(f, _)| f == field) {
            Some((_, messages)) => messages.push(message),
            None => self.fields.push((field.to_owned(), vec![message])),
        }
    }

    pub fn required(&mut self, field: &str) {
        self.add(
            field,
            format!("The {} field is required.", attribute(field)),
        );
    }

    pub fn string(&mut self, field: &str) {
        self.add(field, format!("The {} must be a string.", attribute(field)));
    }

    pub fn max_chars(&mut self, field: &str, max: usize) {
        self.add(
            field,
            format!(
                "The {} must not be greater than {max} characters.",
                attribute(field)
            ),
        );
    }

    pub fn min_chars(&mut self, field: &str, min: usize) {
        self.add(
            field,
            format!(
                "The {} must be at least {min} characters.",
                attribute(field)
            ),
        );
    }

    pub fn max_bytes(&mut self, field: &str, max: usize) {
        self.add(
            field,
            format!(
                "The {} must not be greater than {max} bytes.",
                attribute(field)
            ),
        );
    }

    pub fn email(&mut self, field: &str) {
        self.add(
            field,
            format!("The {} must be a valid email address.", attribute(field)),
        );
    }

    pub fn taken(&mut self, field: &str) {
        self.add(
            field,
            format!("The {} has already been taken.", attribute(field)),
        );
    }

    pub fn confirmed(&mut self, field: &str) {
        self.add(
            field,
            format!("The {} confirmation does not match.", attribute(field)),
        );
    }

    pub fn invalid(&mut self, field: &str) {
        self.add(
            field,
            format!("The selected {} is invalid.", attribute(field)),
        );
    }

    pub fn array(&mut self, field: &str) {
        self.add(field, format!("The {} must be an array.", attribute(field)));
    }

    /// Each field with its messages, in the order the rules ran (an import's line errors).
    pub fn into_fields(self) -> Vec<(String, Vec<String>)> {
        self.fields
    }

    /// The 422 body.
    pub fn to_json(&self) -> Value {
        let errors: Map<String, Value> = self
            .fields
            .iter()
            .map(|(f, m)| (f.clone(), json!(m)))
            .collect();
        json!({ "message": "The given data was invalid.", "errors": errors })
    }

    pub fn response(&self) -> HttpResponse {
        HttpResponse::UnprocessableEntity().json(self.to_json())
    }
}

/// The shared checks for a text field: required (when `required`), string, at most `max`
/// characters. Returns the trimmed value when it passed, `Some(None)` for an allowed null,
/// and `None` when absent or failed.
pub fn text_rule(
    errors: &mut Errors,
    body: &Value,
    field: &str,
    required: bool,
    max: usize,
) -> Option<Option<String>> {
    match Field::read(body, field) {
        Field::Absent if required => {
            errors.required(field);
            None
        }
        Field::Absent => None,
        Field::Null if required => {
            errors.required(field);
            None
        }
        Field::Null => Some(None),
        Field::NotString => {
            errors.string(field);
            None
        }
        // Postgres text cannot hold NUL; refuse it here rather than fail at the insert.
        Field::Text(t) if t.contains('\0') => {
            errors.add(
                field,
                format!("The {} must not contain null bytes.", attribute(field)),
            );
            None
        }
        Field::Text(t) if t.chars().count() > max => {
            errors.max_chars(field, max);
            None
        }
        Field::Text(t) => Some(Some(t)),
    }
}

/// A new password with confirmation: `field` and `field_confirmation`, at least `min`
/// characters, at most 72 bytes. `Some(None)` when null (no change).
pub fn confirmed_password_rule(
    errors: &mut Errors,
    body: &Value,
    field: &str,
    min: usize,
) -> Option<Option<crate::values::Password>> {
    use crate::values::{Password, PasswordError};
    let value = match Field::read_untrimmed(body, field) {
        Field::Absent => return None,
        Field::Null => return Some(None),
        Field::NotString => {
            errors.string(field);
            return None;
        }
        Field::Text(t) => t,
    };
    let confirmation = Field::read_untrimmed(body, &format!("{field}_confirmation"));
    let password = match Password::new(&value, min) {
        Ok(p) => Some(p),
        Err(PasswordError::TooShort { min }) => {
            errors.min_chars(field, min);
            None
        }
        Err(PasswordError::TooLong { max_bytes }) => {
            errors.max_bytes(field, max_bytes);
            None
        }
    };
    if confirmation != Field::Text(value) {
        errors.confirmed(field);
        return None;
    }
    password.map(Some)
}

/// An email field: required (when `required`), string, valid, at most 255 characters.
pub fn email_rule(
    errors: &mut Errors,
    body: &Value,
    field: &str,
    required: bool,
) -> Option<crate::values::Email> {
    let text = text_rule(errors, body, field, required, usize::MAX)??;
    if text.chars().count() > 255 {
        errors.max_chars(field, 255);
        return None;
    }
    match crate::values::Email::parse(&text) {
        Ok(email) => Some(email),
        Err(_) => {
            errors.email(field);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_normalised_like_laravel() {
        let body = json!({"a":"  x ","b":"","c":"   ","d":null,"e":5,"p":" pw "});
        assert_eq!(Field::read(&body, "a"), Field::Text("x".into()));
        assert_eq!(Field::read(&body, "b"), Field::Null);
        assert_eq!(Field::read(&body, "c"), Field::Null);
        assert_eq!(Field::read(&body, "d"), Field::Null);
        assert_eq!(Field::read(&body, "e"), Field::NotString);
        assert_eq!(Field::read(&body, "z"), Field::Absent);
        assert_eq!(
            Field::read_untrimmed(&body, "p"),
            Field::Text(" pw ".into())
        );
        assert_eq!(Field::read(&json!([1]), "a"), Field::Absent);
    }

    #[test]
    fn messages_and_shape() {
        let mut e = Errors::new();
        let body = json!({"firstname": 3, "email": "nope", "new_password": "short", "new_password_confirmation": "other"});
        assert_eq!(text_rule(&mut e, &body, "firstname", true, 255), None);
        assert_eq!(email_rule(&mut e, &body, "email", true), None);
        assert!(confirmed_password_rule(&mut e, &body, "new_password", 8).is_none());
        assert_eq!(text_rule(&mut e, &body, "lastname", false, 255), None);
        assert_eq!(
            e.to_json(),
            json!({"message":"The given data was invalid.","errors":{
                "firstname":["The firstname must be a string."],
                "email":["The email must be a valid email address."],
                "new_password":["The new password must be at least 8 characters.","The new password confirmation does not match."]
            }})
        );
    }

    #[test]
    fn nul_bytes_are_refused() {
        let mut e = Errors::new();
        assert_eq!(
            text_rule(
                &mut e,
                &json!({"first_name":"a\u{0}b"}),
                "first_name",
                true,
                255
            ),
            None
        );
        assert_eq!(
            e.to_json()["errors"]["first_name"],
            json!(["The first name must not contain null bytes."])
        );
    }

    #[test]
    fn passwords_over_72_bytes_and_good_ones() {
        let mut e = Errors::new();
        let long = "é".repeat(40);
        let body = json!({"new_password": long, "new_password_confirmation": long});
        assert!(confirmed_password_rule(&mut e, &body, "new_password", 8).is_none());
        assert_eq!(
            e.to_json()["errors"]["new_password"],
            json!(["The new password must not be greater than 72 bytes."])
        );
        let mut e = Errors::new();
        let body = json!({"new_password": "secret123", "new_password_confirmation": "secret123"});
        let p = confirmed_password_rule(&mut e, &body, "new_password", 8);
        assert!(matches!(p, Some(Some(_))) && e.is_empty());
        let body = json!({"first_name": "x".repeat(256)});
        text_rule(&mut e, &body, "first_name", true, 255);
        assert_eq!(
            e.to_json()["errors"]["first_name"],
            json!(["The first name must not be greater than 255 characters."])
        );
    }
}
