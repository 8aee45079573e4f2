//! Failed-login throttling (`common.md`): per account and client address, and per address.
//!
//! Counts live in this process. With several replicas each keeps its own counts, so the
//! effective limit is at most `replicas ×` the configured one; nginx's `limit_req` on the login
//! routes is the second line.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct ThrottleConfig {
    pub max_failures: u32,
    pub max_failures_per_address: u32,
    pub window: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

/// Refused: retry after this many seconds (for the `Retry-After` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

pub struct LoginThrottle {
    config: ThrottleConfig,
    by_account: Mutex<HashMap<(String, IpAddr), Window>>,
    by_address: Mutex<HashMap<IpAddr, Window>>,
}

/// Entries kept before expired ones are swept.
const SWEEP_AT: usize = 10_000;

impl LoginThrottle {
    pub fn new(config: ThrottleConfig) -> Self {
        Self {
            config,
            by_account: Mutex::new(HashMap::new()),
            by_address: Mutex::new(HashMap::new()),
        }
    }

    /// Whether another attempt for `account` from `addr` may be tried now.
    /// Account names are compared case-insensitively.
    pub fn check(&self, account: &str, addr: IpAddr) -> Result<(), RetryAfter> {
        let key = (account.to_lowercase(), addr);
        let window = self.config.window;
        let accounts = self.by_account.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = accounts.get(&key) {
            if let Some(wait) = blocked(w, self.config.max_failures, window) {
                return Err(wait);
            }
        }
        drop(accounts);
        let addresses = self.by_address.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = addresses.get(&addr) {
            if let Some(wait) = blocked(w, self.config.max_failures_per_address, window) {
                return Err(wait);
            }
        }
        Ok(())
    }

    pub fn record_failure(&self, account: &str, addr: IpAddr) {
        let window = self.config.window;
        {
            let mut accounts = self.by_account.lock().unwrap_or_else(|p| p.into_inner());
            sweep(&mut accounts, window);
            bump(accounts.entry((account.to_lowercase(), addr)), window);
        }
        let mut addresses = self.by_address.lock().unwrap_or_else(|p| p.into_inner());
        sweep(&mut addresses, window);
        bump(addresses.entry(addr), window);
    }

    /// A success resets that account's count for that address (not the address's total).
    pub fn record_success(&self, account: &str, addr: IpAddr) {
        self.by_account
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(account.to_lowercase(), addr));
    }
}

fn blocked(w: &Window, max: u32, window: Duration) -> Option<RetryAfter> {
    let age = w.started.elapsed();
    if age < window && w.failures >= max {
        let left = window - age;
        Some(RetryAfter(
            left.as_secs() + u64::from(left.subsec_nanos() > 0),
        ))
    } else {
        None
    }
}

fn bump<K>(entry: std::collections::hash_map::Entry<'_, K, Window>, window: Duration) {
    let w = entry.or_insert(Window {
        started: Instant::now(),
        failures: 0,
    });
    if w.started.elapsed() >= window {
        *w = Window {
            started: Instant::now(),
            failures: 0,
        };
    }
    w.failures = w.failures.saturating_add(1);
}

fn sweep<K: Eq + std::hash::Hash>(map: &mut HashMap<K, Window>, window: Duration) {
    if map.len() >= SWEEP_AT {
        map.retain(|_, w| w.started.elapsed() < window);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(max: u32, per_addr: u32, window_ms: u64) -> LoginThrottle {
        LoginThrottle::new(ThrottleConfig {
            max_failures: max,
            max_failures_per_address: per_addr,
            window: Duration::from_millis(window_ms),
        })
    }

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn the_eleventh_attempt_after_ten_failures_is_refused() {
        let t = throttle(10, 100, 60_000);
        for _ in 0..10 {
            assert!(t.check("kari@example.no", A).is_ok());
            t.record_failure("kari@example.no", A);
        }
        let RetryAfter(secs) = t.check("KARI@example.no", A).unwrap_err();
        assert!((59..=60).contains(&secs), "{secs}");
        assert!(
            t.check("kari@example.no", B).is_ok(),
            "another address is not blocked"
        );
        assert!(
            t.check("ola@example.no", A).is_ok(),
            "another account is not blocked"
        );
    }

    #[test]
    fn the_window_passes() {
        let t = throttle(2, 100, 50);
        t.record_failure("x", A);
        t.record_failure("x", A);
        assert!(t.check("x", A).is_err());
        std::thread::sleep(Duration::from_millis(60));
        assert!(t.check("x", A).is_ok());
    }

    #[test]
    fn success_resets_the_account_count() {
        let t = throttle(2, 100, 60_000);
        t.record_failure("x", A);
        t.record_success("x", A);
        t.record_failure("x", A);
        assert!(t.check("x", A).is_ok());
    }

    #[test]
    fn per_address_limit_spans_accounts() {
        let t = throttle(10, 3, 60_000);
        t.record_failure("a", A);
        t.record_failure("b", A);
        t.record_failure("c", A);
        assert!(t.check("d", A).is_err());
        assert!(t.check("d", B).is_ok());
    }
}
