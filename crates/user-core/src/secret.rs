//! A string that never shows itself in `Debug` or `Display`.

use serde::{Deserialize, Deserializer};
use std::fmt;

/// A secret value (password, client secret, access key, database URL with credentials).
///
/// `Debug` prints `Secret([redacted])`; there is no `Display` and no `Serialize`, so a secret
/// can only leave the process through an explicit [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret's text. Call sites of this are the places to audit.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// Random lowercase hex of `bytes` random bytes (`2 * bytes` characters), from the thread-local CSPRNG (ChaCha, seeded by the OS).
pub fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// Random URL-safe token of `len` characters (`[A-Za-z0-9]`), from the thread-local CSPRNG (ChaCha, seeded by the OS).
pub fn random_token(len: usize) -> String {
    use rand::distr::{Alphanumeric, SampleString};
    Alphanumeric.sample_string(&mut rand::rng(), len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_prints_nothing_of_the_value() {
        let s = Secret::new("hunter2-very-secret");
        let printed = format!("{s:?} {:?}", Some(&s));
        assert!(!printed.contains("hunter2"), "{printed}");
        assert_eq!(s.expose(), "hunter2-very-secret");
    }

    #[test]
    fn random_values_have_the_asked_shape_and_differ() {
        let a = random_hex(16);
        assert_eq!(a.len(), 32);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, random_hex(16));
        let t = random_token(40);
        assert_eq!(t.len(), 40);
        assert!(t.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
