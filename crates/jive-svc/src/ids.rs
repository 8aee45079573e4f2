//! Ids made like a Mongo ObjectId: 4 bytes of seconds since the epoch, 5 random bytes chosen
//! once per process, and a 3-byte counter that starts at a random value, as 24 lowercase hex
//! characters. Ids sort by creation time (to the second, and exactly within one process).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

struct Process {
    random: u64,
    counter: AtomicU32,
}

fn process() -> &'static Process {
    static PROCESS: OnceLock<Process> = OnceLock::new();
    PROCESS.get_or_init(|| {
        let seed = u64::from_str_radix(&user_core::secret::random_hex(8), 16).unwrap_or(0);
        Process {
            random: seed & 0xff_ffff_ffff,
            counter: AtomicU32::new((seed >> 40) as u32 & 0xff_ffff),
        }
    })
}

/// The id for `seconds` (since the epoch), the process's random bytes and `counter`.
fn format_id(seconds: u32, random: u64, counter: u32) -> String {
    format!(
        "{seconds:08x}{:010x}{:06x}",
        random & 0xff_ffff_ffff,
        counter & 0xff_ffff
    )
}

/// A new id, unique and time-ordered.
pub fn object_id() -> String {
    let p = process();
    let seconds = u32::try_from(chrono::Utc::now().timestamp()).unwrap_or(u32::MAX);
    let counter = p.counter.fetch_add(1, Ordering::Relaxed);
    format_id(seconds, p.random, counter)
}

/// Whether `s` has the shape of an id: 24 lowercase hex characters.
pub fn is_object_id(s: &str) -> bool {
    s.len() == 24
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_object_id_layout() {
        assert_eq!(
            format_id(0x54bd_0ad9, 0x00ff_4329_b889, 0x0085_aafb),
            "54bd0ad9ff4329b88985aafb"
        );
        assert_eq!(format_id(1, 2, 0x0100_0003), "000000010000000002000003");
    }

    #[test]
    fn ids_are_unique_valid_and_start_with_the_time() {
        let ids: Vec<String> = (0..1000).map(|_| object_id()).collect();
        assert!(ids.iter().all(|id| is_object_id(id)), "{ids:?}");
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
        let now = u32::try_from(chrono::Utc::now().timestamp()).unwrap();
        let secs = u32::from_str_radix(&ids[0][..8], 16).unwrap();
        assert!(now - secs <= 1);
        // Same random part for the whole process.
        assert!(ids.iter().all(|id| id[8..18] == ids[0][8..18]));
    }

    #[test]
    fn id_shape_is_checked() {
        assert!(is_object_id("54bd0ad9ff4329b88985aafb"));
        assert!(!is_object_id("54BD0AD9FF4329B88985AAFB"));
        assert!(!is_object_id("54bd0ad9ff4329b88985aaf"));
        assert!(!is_object_id("54bd0ad9ff4329b88985aafg"));
        assert!(!is_object_id(""));
    }
}
