//! Failed-login throttling (`common.md`, "Users, passwords and secrets"): per account and
//! client address, per address, and optionally per account over all addresses.
//!
//! The counts live in Postgres (each service's `login_attempts` table, the same migration in
//! every service with a sign-in), so every replica of a service shares them: with N replicas the
//! limits are the configured ones, not N times them, and a restart keeps them.
//!
//! Counting is atomic with the check (the bug of ZITADEL's GHSA-7h8m-vrxx-vr4m, where parallel
//! requests passed the check before any failure was counted): [`LoginThrottle::attempt`] counts
//! the attempt *before* the password is checked, in one statement that upserts the counters
//! (row locks serialise concurrent attempts on the same counter) and returns them; an attempt
//! that makes a counter pass its limit is refused without reaching the password check. So of any
//! number of simultaneous attempts, at most the limit reach it. A successful sign-in then
//! gives its attempt back ([`Attempt::succeeded`]: the account's count for that address is
//! reset, the address's and the account's totals lose this attempt), after the answer, off the
//! request's path. Expired windows are pruned, 20 at a time, by later attempts.

use crate::db::{Db, DbError};
use diesel::sql_types::{BigInt, Bool, Double, Integer, SmallInt, Text};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use std::net::IpAddr;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct ThrottleConfig {
    /// `LOGIN_MAX_FAILURES`: per account and address.
    pub max_failures: u32,
    /// `LOGIN_MAX_FAILURES_PER_ADDRESS`: per address, over all accounts.
    pub max_failures_per_address: u32,
    /// `LOGIN_MAX_FAILURES_PER_ACCOUNT`: per account, over all addresses; 0 is off.
    pub max_failures_per_account: u32,
    pub window: Duration,
}

/// Refused: retry after this many seconds (for the `Retry-After` header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

/// Why an attempt may not go on.
#[derive(Debug, thiserror::Error)]
pub enum Throttled {
    #[error("too many failed attempts; retry after {} s", .0 .0)]
    Refused(RetryAfter),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The counters, by scope.
const ACCOUNT_AT_ADDRESS: i16 = 1;
const ADDRESS: i16 = 2;
const ACCOUNT: i16 = 3;

pub struct LoginThrottle {
    config: ThrottleConfig,
    db: Db,
}

/// An attempt that was counted and may check its password.
#[derive(Debug)]
#[must_use = "a successful sign-in gives its attempt back with `succeeded`"]
pub struct Attempt {
    account: String,
    address: String,
    db: Db,
}

#[derive(QueryableByName)]
struct Counter {
    #[diesel(sql_type = SmallInt)]
    scope: i16,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = BigInt)]
    retry_after: i64,
}

impl LoginThrottle {
    pub fn new(config: ThrottleConfig, db: Db) -> Self {
        Self { config, db }
    }

    /// Counts an attempt for `account` (compared case-insensitively) from `address`, before the
    /// password is checked: [`Throttled::Refused`] when a limit is reached (the password must
    /// then not be checked), else the [`Attempt`]. A failed attempt needs nothing more.
    pub async fn attempt(&self, account: &str, address: IpAddr) -> Result<Attempt, Throttled> {
        let account = counter_key(account);
        let address = address.to_string();
        let window = self.config.window.as_secs_f64();
        let mut conn = self.db.conn().await?;
        let counters: Vec<Counter> = diesel::sql_query(
            "WITH expired AS ( \
                 SELECT scope, key FROM login_attempts \
                 WHERE window_start < now() - make_interval(secs => $4) \
                   AND (scope, key) NOT IN ((1, $1 || ' ' || $2), (2, $2), (3, $1)) \
                 ORDER BY window_start LIMIT 20 FOR UPDATE SKIP LOCKED), \
             pruned AS ( \
                 DELETE FROM login_attempts a USING expired e \
                 WHERE a.scope = e.scope AND a.key = e.key), \
             counted AS ( \
                 INSERT INTO login_attempts AS a (scope, key, window_start, attempts) \
                 SELECT v.scope, v.key, now(), 1 FROM (VALUES \
                     (1::smallint, $1 || ' ' || $2), (2::smallint, $2), (3::smallint, $1)) \
                     AS v(scope, key) \
                 WHERE v.scope <> 3 OR $3 \
                 ON CONFLICT (scope, key) DO UPDATE SET \
                     window_start = CASE WHEN a.window_start < now() - make_interval(secs => $4) \
                                    THEN now() ELSE a.window_start END, \
                     attempts = CASE WHEN a.window_start < now() - make_interval(secs => $4) \
                                THEN 1 ELSE a.attempts + 1 END \
                 RETURNING a.scope, a.attempts, a.window_start) \
             SELECT scope, attempts, \
                    ceil(extract(epoch FROM window_start + make_interval(secs => $4) - now()))::bigint \
                        AS retry_after \
             FROM counted",
        )
        .bind::<Text, _>(&account)
        .bind::<Text, _>(&address)
        .bind::<Bool, _>(self.config.max_failures_per_account > 0)
        .bind::<Double, _>(window)
        .load(&mut conn)
        .await
        .map_err(DbError::from)?;
        let refused = counters
            .iter()
            .filter(|c| {
                let limit = match c.scope {
                    ACCOUNT_AT_ADDRESS => self.config.max_failures,
                    ADDRESS => self.config.max_failures_per_address,
                    ACCOUNT => self.config.max_failures_per_account,
                    _ => u32::MAX,
                };
                i64::from(c.attempts) > i64::from(limit)
            })
            .map(|c| u64::try_from(c.retry_after).unwrap_or(0).max(1))
            .max();
        match refused {
            Some(wait) => Err(Throttled::Refused(RetryAfter(wait))),
            None => Ok(Attempt {
                account,
                address,
                db: self.db.clone(),
            }),
        }
    }
}

/// The account's name in its counters: lower-cased; a name that Postgres could not store as
/// text (a NUL) or whose index entry would be too large (over 200 bytes) is replaced by its
/// SHA-256 (a failed login must stay a 401, never become a 500).
fn counter_key(account: &str) -> String {
    let account = account.to_lowercase();
    if account.len() <= 200 && !account.contains('\0') {
        return account;
    }
    use sha2::{Digest, Sha256};
    format!("sha256:{}", hex::encode(Sha256::digest(account.as_bytes())))
}

impl Attempt {
    /// The password was right: the account's count for this address is reset, and this attempt
    /// is taken off the address's and the account's totals. Runs after the answer (spawned): a
    /// successful sign-in waits for no more than the one statement of [`LoginThrottle::attempt`].
    pub fn succeeded(self) {
        crate::db::spawn_background(async move {
            if let Err(e) = self.give_back().await {
                tracing::warn!(error = %e, "login throttle: a success was not given back");
            }
        });
    }

    /// [`Attempt::succeeded`], awaited (tests).
    pub async fn give_back(self) -> Result<(), DbError> {
        let mut conn = self.db.conn().await?;
        diesel::sql_query(
            "WITH reset AS ( \
                 DELETE FROM login_attempts WHERE scope = 1 AND key = $1 || ' ' || $2) \
             UPDATE login_attempts SET attempts = greatest(attempts - 1, 0) \
             WHERE (scope = 2 AND key = $2) OR (scope = 3 AND key = $1)",
        )
        .bind::<Text, _>(&self.account)
        .bind::<Text, _>(&self.address)
        .execute(&mut conn)
        .await?;
        Ok(())
    }
}
