//! The shared parts of `<svc> admin import` and `admin export` (`../shared/api/migration.md`):
//! the command lines, NDJSON read a line at a time (memory stays flat however large the file),
//! the password fields of a line (`password_hash` in one of the accepted bcrypt formats, or
//! `password`, or neither), and the error report (`line N: <field>: <message>`, every one, as it
//! is found, counted rather than kept).
//!
//! The services' import commands (reading their own fields, the batched insert in one
//! transaction, the sequence moves) are not built yet; these pieces are what they will share.

use serde_json::{Map, Value};
use std::io::{BufRead, Write};

/// The longest line read, in bytes: a user is a few hundred; a longer line is an error of its
/// own, not a reason to hold the file in memory.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// What to do with a line whose key or unique email exists already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnConflict {
    /// The line is an error (the default).
    #[default]
    Error,
    /// The existing user is left as it is.
    Skip,
    /// The existing user's fields and password are overwritten.
    Update,
}

/// Where the lines come from: a file, or standard input (`-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    File(std::path::PathBuf),
    Stdin,
}

/// `admin import [--dry-run] [--on-conflict error|skip|update] FILE|-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportArgs {
    pub dry_run: bool,
    pub on_conflict: OnConflict,
    pub input: Input,
}

pub const IMPORT_USAGE: &str = "import [--dry-run] [--on-conflict error|skip|update] FILE|-";
pub const EXPORT_USAGE: &str = "export [--tenant ID] [FILE]";

impl ImportArgs {
    pub fn parse(args: &[&str]) -> Result<Self, String> {
        let mut dry_run = false;
        let mut on_conflict = OnConflict::Error;
        let mut input = None;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match *arg {
                "--dry-run" => dry_run = true,
                "--on-conflict" => {
                    on_conflict = match args.next().copied() {
                        Some("error") => OnConflict::Error,
                        Some("skip") => OnConflict::Skip,
                        Some("update") => OnConflict::Update,
                        _ => {
                            return Err(format!(
                                "--on-conflict takes error, skip or update; usage: {IMPORT_USAGE}"
                            ))
                        }
                    };
                }
                "-" if input.is_none() => input = Some(Input::Stdin),
                other if !other.starts_with("--") && input.is_none() => {
                    input = Some(Input::File(other.into()));
                }
                other => {
                    return Err(format!(
                        "import: unexpected argument {other:?}; usage: {IMPORT_USAGE}"
                    ))
                }
            }
        }
        let input = input.ok_or_else(|| format!("import: which file? usage: {IMPORT_USAGE}"))?;
        Ok(Self {
            dry_run,
            on_conflict,
            input,
        })
    }
}

/// `admin export [--tenant ID] [FILE]` (no FILE: standard output).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportArgs {
    pub tenant: Option<String>,
    pub output: Option<std::path::PathBuf>,
}

impl ExportArgs {
    pub fn parse(args: &[&str]) -> Result<Self, String> {
        let mut tenant = None;
        let mut output = None;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match *arg {
                "--tenant" => {
                    tenant =
                        Some(args.next().map(|t| (*t).to_owned()).ok_or_else(|| {
                            format!("--tenant takes an id; usage: {EXPORT_USAGE}")
                        })?);
                }
                other if !other.starts_with("--") && output.is_none() => {
                    output = Some(other.into())
                }
                other => {
                    return Err(format!(
                        "export: unexpected argument {other:?}; usage: {EXPORT_USAGE}"
                    ))
                }
            }
        }
        Ok(Self { tenant, output })
    }
}

/// One line's problem, reported as `line N: <field>: <message>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: u64,
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.field, self.message)
    }
}

/// The NDJSON objects of `reader`, one a line, numbered from 1; blank lines are skipped (and
/// counted). A line that is not a JSON object, or longer than [`MAX_LINE_BYTES`], is a
/// [`LineError`] for field `line`. Reads a line at a time.
pub fn lines<R: BufRead>(
    reader: R,
) -> impl Iterator<Item = Result<(u64, Map<String, Value>), LineError>> {
    let mut reader = reader;
    let mut number = 0u64;
    let mut buf = Vec::new();
    std::iter::from_fn(move || loop {
        buf.clear();
        number += 1;
        let mut limited = std::io::Read::take(&mut reader, MAX_LINE_BYTES as u64 + 1);
        let read = limited.read_until(b'\n', &mut buf);
        match read {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) => {
                return Some(Err(LineError {
                    line: number,
                    field: "line".to_owned(),
                    message: format!("cannot be read: {e}"),
                }))
            }
        }
        if buf.len() > MAX_LINE_BYTES && !buf.ends_with(b"\n") {
            // skip the rest of the over-long line
            let mut rest = Vec::new();
            let _ = reader.read_until(b'\n', &mut rest);
            return Some(Err(LineError {
                line: number,
                field: "line".to_owned(),
                message: format!("is longer than {MAX_LINE_BYTES} bytes"),
            }));
        }
        let text = buf.trim_ascii();
        if text.is_empty() {
            continue;
        }
        return Some(match serde_json::from_slice::<Value>(text) {
            Ok(Value::Object(map)) => Ok((number, map)),
            Ok(_) => Err(LineError {
                line: number,
                field: "line".to_owned(),
                message: "must be a JSON object".to_owned(),
            }),
            Err(e) => Err(LineError {
                line: number,
                field: "line".to_owned(),
                message: format!("is not JSON ({e})"),
            }),
        });
    })
}

/// Why a `password_hash` is refused, if it is.
pub fn hash_problem(hash: &str) -> Option<&'static str> {
    const ALPHABET: &[u8] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let bytes = hash.as_bytes();
    if bytes.len() != 60 {
        return Some("must be a bcrypt hash of exactly 60 characters");
    }
    if !(hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$")) {
        return Some("must start with $2a$, $2b$ or $2y$");
    }
    let cost = hash.get(4..6).and_then(|c| c.parse::<u32>().ok());
    if bytes[6] != b'$' || !cost.is_some_and(|c| (4..=31).contains(&c)) {
        return Some("must have a cost of 04 to 31");
    }
    if !bytes[7..].iter().all(|b| ALPHABET.contains(b)) {
        return Some("must hold bcrypt's base64 after the cost");
    }
    None
}

/// A line's password.
#[derive(Clone, PartialEq, Eq)]
pub enum PasswordField {
    /// `password_hash`: stored as it is (checked by [`hash_problem`]).
    Hash(String),
    /// `password`: hashed at `BCRYPT_COST` (checked by the service's password rule).
    Plain(crate::Secret),
    /// Neither: the user has no usable password.
    None,
}

impl std::fmt::Debug for PasswordField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Hash(_) => "Hash(…)",
            Self::Plain(_) => "Plain(…)",
            Self::None => "None",
        })
    }
}

/// The password fields of `line` (taken out of it): exactly one of `password_hash` and
/// `password`, or neither. The messages never hold the value.
pub fn password_field(
    number: u64,
    line: &mut Map<String, Value>,
) -> Result<PasswordField, LineError> {
    let error = |field: &str, message: &str| LineError {
        line: number,
        field: field.to_owned(),
        message: message.to_owned(),
    };
    let hash = line.remove("password_hash");
    let plain = line.remove("password");
    match (hash, plain) {
        (Some(_), Some(_)) => Err(error(
            "password_hash",
            "give password_hash or password, not both",
        )),
        (Some(Value::String(h)), None) => match hash_problem(&h) {
            Some(problem) => Err(error("password_hash", problem)),
            None => Ok(PasswordField::Hash(h)),
        },
        (Some(Value::Null), None) | (None, Some(Value::Null)) | (None, None) => {
            Ok(PasswordField::None)
        }
        (Some(_), None) => Err(error("password_hash", "must be a string")),
        (None, Some(Value::String(p))) => Ok(PasswordField::Plain(crate::Secret::new(p))),
        (None, Some(_)) => Err(error("password", "must be a string")),
    }
}

/// The errors of an import, written as they are found (one a line) and counted, never kept: a
/// file of a million bad lines costs no memory.
pub struct Report<W: Write> {
    out: W,
    errors: u64,
}

impl<W: Write> Report<W> {
    pub fn new(out: W) -> Self {
        Self { out, errors: 0 }
    }

    pub fn error(&mut self, e: &LineError) {
        self.errors += 1;
        let _ = writeln!(self.out, "{e}");
    }

    pub fn errors(&self) -> u64 {
        self.errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$2b$04$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234";

    #[test]
    fn command_lines() {
        assert_eq!(
            ImportArgs::parse(&["--dry-run", "--on-conflict", "skip", "users.ndjson"]),
            Ok(ImportArgs {
                dry_run: true,
                on_conflict: OnConflict::Skip,
                input: Input::File("users.ndjson".into()),
            })
        );
        assert_eq!(ImportArgs::parse(&["-"]).map(|a| a.input), Ok(Input::Stdin));
        assert_eq!(
            ImportArgs::parse(&["-"]).map(|a| a.on_conflict),
            Ok(OnConflict::Error)
        );
        assert!(ImportArgs::parse(&[]).is_err());
        assert!(ImportArgs::parse(&["--on-conflict", "merge", "f"]).is_err());
        assert!(ImportArgs::parse(&["a", "b"]).is_err());
        assert_eq!(
            ExportArgs::parse(&["--tenant", "3", "out.ndjson"]),
            Ok(ExportArgs {
                tenant: Some("3".into()),
                output: Some("out.ndjson".into())
            })
        );
        assert_eq!(
            ExportArgs::parse(&[]),
            Ok(ExportArgs {
                tenant: None,
                output: None
            })
        );
        assert!(ExportArgs::parse(&["--tenant"]).is_err());
    }

    #[test]
    fn lines_are_numbered_blank_ones_skipped_and_bad_ones_named() {
        let text = "{\"a\":1}\n\n  \n[1]\nnot json\n{\"b\":2}";
        let got: Vec<_> = lines(text.as_bytes()).collect();
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].as_ref().map(|(n, _)| *n), Ok(1));
        assert_eq!(
            got[1].as_ref().unwrap_err().to_string(),
            "line 4: line: must be a JSON object"
        );
        assert!(got[2]
            .as_ref()
            .unwrap_err()
            .to_string()
            .starts_with("line 5: line: is not JSON"));
        assert_eq!(
            got[3].as_ref().map(|(n, m)| (*n, m["b"].clone())),
            Ok((6, Value::from(2)))
        );
    }

    #[test]
    fn an_over_long_line_is_an_error_and_the_next_line_is_read() {
        let mut text = "x".repeat(MAX_LINE_BYTES + 10);
        text.push_str("\n{\"ok\":true}\n");
        let got: Vec<_> = lines(text.as_bytes()).collect();
        assert_eq!(got.len(), 2);
        assert!(got[0].as_ref().unwrap_err().message.contains("longer than"));
        assert_eq!(got[1].as_ref().map(|(n, _)| *n), Ok(2));
    }

    #[test]
    fn hash_formats() {
        assert_eq!(hash_problem(HASH), None);
        for ok in [
            HASH.replacen("$2b$", "$2a$", 1),
            HASH.replacen("$2b$", "$2y$", 1),
            HASH.replacen("$04$", "$31$", 1),
        ] {
            assert_eq!(hash_problem(&ok), None, "{ok}");
        }
        for bad in [
            HASH.replacen("$2b$", "$2x$", 1),
            HASH.replacen("$04$", "$03$", 1),
            HASH.replacen("$04$", "$32$", 1),
            HASH[..59].to_owned(),
            format!("{HASH}x"),
            HASH.replacen('a', "!", 1),
            "plain text password".to_owned(),
        ] {
            assert!(hash_problem(&bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn the_password_fields_of_a_line() {
        let mut line: Map<String, Value> =
            serde_json::from_str(&format!(r#"{{"id":1,"password_hash":"{HASH}"}}"#)).unwrap();
        assert_eq!(
            password_field(1, &mut line).unwrap(),
            PasswordField::Hash(HASH.to_owned())
        );
        assert!(!line.contains_key("password_hash"), "taken out of the line");
        let mut both: Map<String, Value> =
            serde_json::from_str(&format!(r#"{{"password_hash":"{HASH}","password":"x"}}"#))
                .unwrap();
        assert_eq!(
            password_field(7, &mut both).unwrap_err().to_string(),
            "line 7: password_hash: give password_hash or password, not both"
        );
        let mut neither = Map::new();
        assert_eq!(
            password_field(1, &mut neither).unwrap(),
            PasswordField::None
        );
        let mut bad: Map<String, Value> =
            serde_json::from_str(r#"{"password_hash":"$2b$04$secret-looking-but-short"}"#).unwrap();
        let e = password_field(3, &mut bad).unwrap_err().to_string();
        assert!(e.starts_with("line 3: password_hash: "), "{e}");
        assert!(
            !e.contains("secret-looking"),
            "the value is never printed: {e}"
        );
        let mut plain: Map<String, Value> =
            serde_json::from_str(r#"{"password":"hunter2-hunter2"}"#).unwrap();
        let p = password_field(1, &mut plain).unwrap();
        assert!(matches!(p, PasswordField::Plain(_)));
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn the_report_counts_and_writes_every_error() {
        let mut out = Vec::new();
        let mut report = Report::new(&mut out);
        for line in [2, 5, 9] {
            report.error(&LineError {
                line,
                field: "email".into(),
                message: "is taken".into(),
            });
        }
        assert_eq!(report.errors(), 3);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "line 2: email: is taken\nline 5: email: is taken\nline 9: email: is taken\n"
        );
    }
}
