//! Values that validate on construction: once one exists, it is valid.
//!
//! The errors are plain enums; each service words them in its own API's language.

use crate::Secret;

/// bcrypt reads at most this many bytes of a password; longer ones are refused, never truncated.
pub const BCRYPT_MAX_BYTES: usize = 72;

/// The contract's default minimum password length, in characters.
pub const DEFAULT_MIN_PASSWORD_CHARS: usize = 8;

/// A trimmed, syntactically valid email address, stored as the caller wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailError {
    Invalid,
}

impl Email {
    /// Trims `raw` and checks its syntax: one `@`, a local part of at most 64 characters
    /// without spaces or control characters, and a domain of dot-separated labels
    /// (letters, digits, hyphens; no leading or trailing hyphen) with at least one dot.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let value = raw.trim();
        let (local, domain) = value.split_once('@').ok_or(EmailError::Invalid)?;
        let local_ok = !local.is_empty()
            && local.chars().count() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && !"@<>()[]\\,;:\"".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = domain.len() <= 253
            && labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if local_ok && domain_ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(EmailError::Invalid)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A trimmed, non-empty name of at most `max_chars` characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    Empty,
    TooLong { max: usize },
}

impl Name {
    pub fn parse(raw: &str, max_chars: usize) -> Result<Self, NameError> {
        let value = raw.trim();
        if value.is_empty() {
            Err(NameError::Empty)
        } else if value.chars().count() > max_chars {
            Err(NameError::TooLong { max: max_chars })
        } else {
            Ok(Self(value.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A password that bcrypt can hash faithfully: at least `min_chars` characters and at most
/// [`BCRYPT_MAX_BYTES`] bytes. Not trimmed: spaces are part of a password.
#[derive(Debug, Clone)]
pub struct Password(Secret);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordError {
    TooShort { min: usize },
    TooLong { max_bytes: usize },
}

impl Password {
    pub fn new(raw: &str, min_chars: usize) -> Result<Self, PasswordError> {
        if raw.chars().count() < min_chars {
            Err(PasswordError::TooShort { min: min_chars })
        } else if raw.len() > BCRYPT_MAX_BYTES {
            Err(PasswordError::TooLong {
                max_bytes: BCRYPT_MAX_BYTES,
            })
        } else {
            Ok(Self(Secret::new(raw)))
        }
    }

    /// A random password (for accounts created without one, e.g. Tyk's create).
    pub fn random() -> Self {
        Self(Secret::new(crate::secret::random_token(32)))
    }

    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_and_kept_as_written() {
        let e = Email::parse("  Kari.Nordmann@Example.NO ").unwrap();
        assert_eq!(e.as_str(), "Kari.Nordmann@Example.NO");
    }

    #[test]
    fn email_syntax_is_checked() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "kari@",
            "kari@localhost",
            "ka ri@example.com",
            "kari@exa mple.com",
            "kari@@example.com",
            "kari@-example.com",
            "kari@example..com",
            ".kari@example.com",
            "kari\u{0}@example.com",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Invalid), "{bad:?}");
        }
        for good in [
            "a@b.co",
            "first.last+tag@sub.example.org",
            "ÆØÅ@eksempel.no",
        ] {
            assert!(Email::parse(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn names_are_trimmed_non_empty_and_bounded() {
        assert_eq!(Name::parse("  Kari ", 255).unwrap().as_str(), "Kari");
        assert_eq!(Name::parse("   ", 255), Err(NameError::Empty));
        assert_eq!(
            Name::parse(&"x".repeat(256), 255),
            Err(NameError::TooLong { max: 255 })
        );
        assert!(
            Name::parse(&"ø".repeat(255), 255).is_ok(),
            "counts characters"
        );
    }

    #[test]
    fn password_length_rules() {
        assert_eq!(
            Password::new("short", 8).unwrap_err(),
            PasswordError::TooShort { min: 8 }
        );
        assert!(Password::new("12345678", 8).is_ok());
        assert!(Password::new(&"a".repeat(72), 8).is_ok());
        assert_eq!(
            Password::new(&"a".repeat(73), 8).unwrap_err(),
            PasswordError::TooLong { max_bytes: 72 }
        );
        // 25 three-byte characters: 25 characters but 75 bytes.
        assert_eq!(
            Password::new(&"€".repeat(25), 8).unwrap_err(),
            PasswordError::TooLong { max_bytes: 72 }
        );
        // Short in characters is reported before long in bytes.
        assert_eq!(
            Password::new("€€€", 8).unwrap_err(),
            PasswordError::TooShort { min: 8 }
        );
    }

    #[test]
    fn password_debug_hides_it() {
        let p = Password::new("correct horse", 8).unwrap();
        assert!(!format!("{p:?}").contains("horse"));
        assert_eq!(Password::random().expose().len(), 32);
    }
}
