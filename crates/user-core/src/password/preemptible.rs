//! bcrypt, computed as the `bcrypt` crate computes it (same `$2b$` strings, same answers when
//! verifying), with a point between two rounds of the cost loop where the thread yields its core.
//!
//! Why: the hashing threads run at `SCHED_IDLE`, so a request thread that wakes up should take
//! their core at once. The kernel honours that only between threads of one scheduling group.
//! A woken thread of another group (another session's autogroup, as Postgres and nginx are on a
//! machine with `kernel.sched_autogroup_enabled=1`; another container's cgroup, as in
//! Kubernetes) is compared with the hashing thread's *group*, which is not idle, so it waits
//! until the hash's time slice ends, up to a scheduler tick (4 ms at `HZ=250`). Measured on the
//! bench machine: GET p99 beside password work 2-4 x its idle p99. A `sched_yield` between two
//! rounds ends the slice there and then: one round takes ~60 us at any cost (cost 12 runs
//! 4 096 of them in ~240 ms), so a woken thread waits at most about that long (p99 beside
//! password work ~1.1 x idle), and the yields cost ~1 % of a hash
//! (docs/performance.md, "Yields between bcrypt's rounds").
//!
//! Only the loop is ours: the Blowfish primitives are the `blowfish` crate's (the ones the
//! `bcrypt` crate calls), and parsing and the radix-64 alphabet are the `bcrypt` crate's. Tests
//! compare every output with the `bcrypt` crate's own.

use bcrypt::{BcryptError, HashParts};
use blowfish::Blowfish;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// The costs the `bcrypt` crate accepts.
const COSTS: std::ops::RangeInclusive<u32> = 4..=31;

/// Where the salt starts in a hash string: after `$2b$12$`.
const SALT_AT: usize = 7;

/// The `$2b$` hash of `password` with a fresh random salt; like `bcrypt::hash`, only the first
/// 72 bytes of the password count.
pub(super) fn hash(password: &[u8], cost: u32) -> Result<String, BcryptError> {
    let mut salt = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt);
    hash_with_salt(password, cost, salt, &mut std::thread::yield_now)
}

/// Whether `password` matches `hash` (`$2a$`, `$2b$`, `$2x$` or `$2y$`, as `bcrypt::verify`
/// accepts), compared in constant time.
pub(super) fn verify(password: &[u8], hash: &str) -> Result<bool, BcryptError> {
    let parts: HashParts = hash.parse()?;
    let ours = hash_with_salt(
        password,
        parts.get_cost(),
        parts.get_salt_raw(),
        &mut std::thread::yield_now,
    )?;
    // Both strings are 60 ASCII bytes (the parse checked the stored one): salt and hash compared.
    Ok(ours.as_bytes()[SALT_AT..]
        .ct_eq(&hash.as_bytes()[SALT_AT..])
        .into())
}

/// The `$2b$` string for `password`, `cost` and `salt`; `between_rounds` runs after every round.
fn hash_with_salt(
    password: &[u8],
    cost: u32,
    salt: [u8; 16],
    between_rounds: &mut dyn FnMut(),
) -> Result<String, BcryptError> {
    use base64::Engine;
    if !COSTS.contains(&cost) {
        return Err(BcryptError::CostNotAllowed(cost));
    }
    // As the bcrypt crate does: the password NUL-terminated, then cut at 72 bytes.
    let mut key = Vec::with_capacity(password.len() + 1);
    key.extend_from_slice(password);
    key.push(0);
    let output = raw(cost, &salt, &key[..key.len().min(72)], between_rounds);
    key.zeroize();
    Ok(format!(
        "$2b${cost:02}${}{}",
        bcrypt::BASE_64.encode(salt),
        bcrypt::BASE_64.encode(&output[..23])
    ))
}

/// EksBlowfish (`bcrypt::bcrypt`'s setup and encryption), with `between_rounds` after each of
/// the `2^cost` rounds. `key` holds 1 to 72 bytes.
fn raw(cost: u32, salt: &[u8; 16], key: &[u8], between_rounds: &mut dyn FnMut()) -> [u8; 24] {
    let mut state = Blowfish::bc_init_state();
    state.salted_expand_key(salt, key);
    for _ in 0..1u64 << cost {
        state.bc_expand_key(key);
        state.bc_expand_key(salt);
        between_rounds();
    }
    // "OrpheanBeholderScryDoubt", encrypted 64 times.
    let ctext: [u32; 6] = [
        0x4f72_7068,
        0x6561_6e42,
        0x6568_6f6c,
        0x6465_7253,
        0x6372_7944,
        0x6f75_6274,
    ];
    let mut output = [0u8; 24];
    for (words, out) in ctext.chunks_exact(2).zip(output.chunks_exact_mut(8)) {
        let mut lr = [words[0], words[1]];
        for _ in 0..64 {
            lr = state.bc_encrypt(lr);
        }
        out[..4].copy_from_slice(&lr[0].to_be_bytes());
        out[4..].copy_from_slice(&lr[1].to_be_bytes());
    }
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crate_hash(password: &[u8], cost: u32, salt: [u8; 16]) -> String {
        bcrypt::hash_with_salt(password, cost, salt)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoB)
    }

    fn ours(password: &[u8], cost: u32, salt: [u8; 16]) -> String {
        hash_with_salt(password, cost, salt, &mut || {}).unwrap()
    }

    /// Passwords around every edge the bcrypt crate has: empty, NUL bytes, multi-byte UTF-8,
    /// 71/72/73 bytes (the NUL terminator and the 72-byte cut), and far longer.
    fn passwords() -> Vec<Vec<u8>> {
        let mut all: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\0".to_vec(),
            b"a\0b".to_vec(),
            b"correct horse battery staple".to_vec(),
            "pässwörd ✓ 密码".as_bytes().to_vec(),
            vec![0xff; 5],
        ];
        for len in [70, 71, 72, 73, 100, 500] {
            all.push((0..len).map(|i| b'a' + (i % 26) as u8).collect());
        }
        all
    }

    #[test]
    fn hashes_equal_the_bcrypt_crates() {
        for (n, password) in passwords().iter().enumerate() {
            for cost in [4, 5] {
                let salt: [u8; 16] = rand::random();
                assert_eq!(
                    ours(password, cost, salt),
                    crate_hash(password, cost, salt),
                    "password #{n}, cost {cost}"
                );
            }
        }
    }

    #[test]
    fn a_known_vector() {
        // jBCrypt's test vector (also in the bcrypt crate's tests), re-encoded as $2b$.
        let parts: HashParts = "$2a$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s."
            .parse()
            .unwrap();
        assert_eq!(
            ours(b"", 6, parts.get_salt_raw()),
            "$2b$06$DCq7YPn5Rq63x1Lad4cll.TV4S6ytwfsfvkgY8jIucDrjc8deX1s."
        );
    }

    #[test]
    fn verifies_what_the_bcrypt_crate_hashed_and_the_reverse() {
        for (n, password) in passwords().iter().enumerate() {
            let theirs = bcrypt::hash(password, 4).unwrap();
            assert!(verify(password, &theirs).unwrap(), "password #{n}");
            let mine = hash(password, 4).unwrap();
            assert!(bcrypt::verify(password, &mine).unwrap(), "password #{n}");
            for prefix in ["$2a$", "$2x$", "$2y$"] {
                let other = format!("{prefix}{}", &mine[4..]);
                assert!(verify(password, &other).unwrap(), "{other}");
            }
            let mut wrong = password.clone();
            wrong.insert(0, b'x');
            assert_eq!(
                verify(&wrong, &mine).unwrap(),
                bcrypt::verify(&wrong, &mine).unwrap(),
                "password #{n}: a changed password answers as the crate does (false, unless \
                 only bytes past 72 changed)"
            );
        }
        assert!(!verify(b"a", &bcrypt::hash("b", 4).unwrap()).unwrap());
    }

    #[test]
    fn salts_are_fresh() {
        let a = hash(b"same", 4).unwrap();
        let b = hash(b"same", 4).unwrap();
        assert_ne!(a[SALT_AT..29], b[SALT_AT..29]);
        assert!(a.starts_with("$2b$04$") && a.len() == 60, "{a}");
    }

    #[test]
    fn refuses_what_the_bcrypt_crate_refuses() {
        assert!(matches!(hash(b"x", 3), Err(BcryptError::CostNotAllowed(3))));
        assert!(matches!(
            hash(b"x", 32),
            Err(BcryptError::CostNotAllowed(32))
        ));
        let good = bcrypt::hash("x", 4).unwrap();
        for bad in [
            "",
            "not a hash",
            &good[..59],
            &format!("{good}x"),
            &good.replacen("$2b$", "$2c$", 1),
            &good.replacen("$04$", "$ab$", 1),
            &good.replacen("$04$", "$03$", 1),
            &format!("{}é{}", &good[..40], &good[42..]),
        ] {
            assert!(verify(b"x", bad).is_err(), "{bad:?}");
            assert!(bcrypt::verify("x", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn yields_once_a_round() {
        let mut rounds = 0u32;
        hash_with_salt(b"pw", 5, [7; 16], &mut || rounds += 1).unwrap();
        assert_eq!(rounds, 1 << 5);
    }
}
