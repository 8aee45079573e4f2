//! Request validation worded like Cerberus, the Python validator upstream Virtool uses:
//! every failing field is reported at once, as `{"field": ["message", …]}`, with Cerberus's
//! messages (`unknown field`, `required field`, `null value not allowed`,
//! `must be of string type`, …). A dict field's own errors nest as `{"field": [{…}]}`.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Field → messages (strings, or one nested map for a dict field).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Errors(BTreeMap<String, Vec<Value>>);

impl Errors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_default()
            .push(Value::String(message.into()));
    }

    /// The errors of the fields inside the dict field `field`.
    pub fn nested(&mut self, field: &str, inner: Errors) {
        if !inner.is_empty() {
            self.0
                .entry(field.to_owned())
                .or_default()
                .push(inner.to_json());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn to_json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), Value::Array(v.clone())))
                .collect(),
        )
    }

    /// Every message with the field it belongs to, a nested dict field's as `field.inner`
    /// (the shape of a line's problems in `admin import`).
    pub fn into_fields(self) -> Vec<(String, Vec<String>)> {
        let mut fields = Vec::new();
        for (field, messages) in self.0 {
            flatten(&field, &messages, &mut fields);
        }
        fields
    }

    /// `Ok(value)` when nothing failed.
    pub fn result<T>(self, value: T) -> Result<T, Errors> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

fn flatten(field: &str, messages: &[Value], out: &mut Vec<(String, Vec<String>)>) {
    let mut own = Vec::new();
    for message in messages {
        match message {
            Value::String(m) => own.push(m.clone()),
            Value::Object(inner) => {
                for (name, inner_messages) in inner {
                    let inner_messages = match inner_messages {
                        Value::Array(items) => items.clone(),
                        other => vec![other.clone()],
                    };
                    flatten(&format!("{field}.{name}"), &inner_messages, out);
                }
            }
            other => own.push(other.to_string()),
        }
    }
    if !own.is_empty() {
        out.push((field.to_owned(), own));
    }
}

/// The field under which a body that is not a JSON object is reported.
pub const DOCUMENT: &str = "document";

/// A request document being checked against a schema, one field at a time; [`Document::finish`]
/// adds `unknown field` for every field no rule asked about.
pub struct Document<'a> {
    fields: Option<&'a Map<String, Value>>,
    known: Vec<&'static str>,
    pub errors: Errors,
}

impl<'a> Document<'a> {
    pub fn new(body: &'a Value) -> Self {
        let mut errors = Errors::new();
        let fields = body.as_object();
        if fields.is_none() {
            errors.add(DOCUMENT, "must be of dict type");
        }
        Self {
            fields,
            known: Vec::new(),
            errors,
        }
    }

    /// The field's value; `required field` when it is missing and required, `null value not
    /// allowed` for `null`.
    fn field(&mut self, name: &'static str, required: bool) -> Option<&'a Value> {
        self.known.push(name);
        let fields = self.fields?;
        match fields.get(name) {
            None => {
                if required {
                    self.errors.add(name, "required field");
                }
                None
            }
            Some(Value::Null) => {
                self.errors.add(name, "null value not allowed");
                None
            }
            Some(value) => Some(value),
        }
    }

    pub fn string(&mut self, name: &'static str, required: bool) -> Option<&'a str> {
        match self.field(name, required)? {
            Value::String(s) => Some(s),
            _ => {
                self.errors.add(name, "must be of string type");
                None
            }
        }
    }

    pub fn boolean(&mut self, name: &'static str, required: bool) -> Option<bool> {
        match self.field(name, required)? {
            Value::Bool(b) => Some(*b),
            _ => {
                self.errors.add(name, "must be of boolean type");
                None
            }
        }
    }

    pub fn dict(&mut self, name: &'static str, required: bool) -> Option<&'a Map<String, Value>> {
        match self.field(name, required)? {
            Value::Object(m) => Some(m),
            _ => {
                self.errors.add(name, "must be of dict type");
                None
            }
        }
    }

    /// A rule of the caller's failed for `name`.
    pub fn fail(&mut self, name: &str, message: impl Into<String>) {
        self.errors.add(name, message);
    }

    /// The errors, with `unknown field` for every field no rule read.
    pub fn finish(mut self) -> Errors {
        if let Some(fields) = self.fields {
            for name in fields.keys() {
                if !self.known.contains(&name.as_str()) {
                    self.errors.add(name, "unknown field");
                }
            }
        }
        self.errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_failing_field_is_reported_in_cerberus_words() {
        let body = json!({"a": 1, "b": "x", "c": null, "zz": true});
        let mut doc = Document::new(&body);
        assert_eq!(doc.string("a", true), None);
        assert_eq!(doc.boolean("b", false), None);
        assert_eq!(doc.string("c", false), None);
        assert_eq!(doc.string("d", true), None);
        assert_eq!(doc.string("e", false), None);
        assert_eq!(
            doc.finish().to_json(),
            json!({
                "a": ["must be of string type"],
                "b": ["must be of boolean type"],
                "c": ["null value not allowed"],
                "d": ["required field"],
                "zz": ["unknown field"],
            })
        );
    }

    #[test]
    fn a_body_that_is_not_an_object_is_reported_once() {
        let body = json!([1, 2]);
        let mut doc = Document::new(&body);
        assert_eq!(doc.string("a", true), None);
        assert_eq!(
            doc.finish().to_json(),
            json!({"document": ["must be of dict type"]})
        );
    }

    #[test]
    fn nested_errors_and_good_values() {
        let body = json!({"p": {"x": 1}, "s": "ok", "f": false});
        let mut doc = Document::new(&body);
        assert!(doc.dict("p", true).is_some());
        assert_eq!(doc.string("s", true), Some("ok"));
        assert_eq!(doc.boolean("f", true), Some(false));
        let mut inner = Errors::new();
        inner.add("x", "unknown field");
        doc.errors.nested("p", inner);
        let errors = doc.finish();
        assert_eq!(errors.to_json(), json!({"p": [{"x": ["unknown field"]}]}));
        assert_eq!(
            errors.into_fields(),
            [("p.x".to_owned(), vec!["unknown field".to_owned()])]
        );
    }
}
