//! The audit trail and the change feed (`../shared/api/audit.md`), one implementation for the
//! four services; each supplies its actions, its tenant and the `audit_events` table (the same
//! migration in every schema).
//!
//! **Writing.** [`record`] inserts an event with the connection of the change's own
//! transaction: a change that rolls back leaves no event. The event has no public id yet.
//!
//! **The feed rule.** A follower that passes back `next_after` must see every event exactly
//! once, in id order, although transactions commit in another order than they began. Ids are
//! therefore not taken when an event is written but when it is already committed, by the
//! *sequencer* ([`sequence`]): one transaction that takes a transaction-level advisory lock
//! (per schema), then gives every committed event still without an id the next ids of the
//! `audit_event_ids` sequence, and commits. The lock makes sequencer runs take turns, and a run
//! reads (after taking the lock) everything committed before it: so every id a run gives is
//! larger than every id given before, and all of a run's ids become visible at once, when it
//! commits. A reader's snapshot thus always sees a prefix of the id order, and an id it has
//! not seen yet can only be larger than every id it has seen. An event of a transaction still
//! open is invisible to the sequencer and is numbered by a later run, after all those already
//! read. No transaction id horizon is involved, so a long transaction elsewhere in the cluster
//! does not hold the feed back.
//!
//! **Waking readers.** Every replica runs one background task (the hub, started at its first
//! write or wait) that runs the sequencer when a write of this process asks for it ([`Audit::kick`],
//! called by the request middleware after every unsafe request) and once a second, and one
//! connection of its own that `LISTEN`s on `audit_<schema>`: a sequencer run that numbered
//! events sends `NOTIFY audit_<schema>, '<last id>'`, so readers waiting on any replica wake
//! within milliseconds. A waiting reader holds no database connection: it waits on a
//! [`tokio::sync::watch`] of the last id known to its process.

use crate::db::{Conn, Db, DbError};
use crate::http::Metrics;
use chrono::{DateTime, SecondsFormat, Utc};
use diesel::sql_types::{BigInt, Bool, Integer, Jsonb, Nullable, Text, Timestamptz};
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, RunQueryDsl, SimpleAsyncConnection};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// Field names whose values never appear in an event, at any depth: a change of one is
/// `{"changed": true}`.
pub const SECRET_FIELDS: &[&str] = &[
    "password",
    "password_hash",
    "hash",
    "secret",
    "client_secret",
    "secret_hash",
    "access_key",
    "access_key_hash",
    "reset_code",
    "reset_token",
    "token",
    "api_key",
];

/// The most events one feed answer holds.
pub const MAX_LIMIT: i64 = 1000;
/// The longest `wait`, in seconds.
pub const MAX_WAIT_SECONDS: f64 = 30.0;
/// How many committed events one sequencer run numbers at most.
const SEQUENCE_BATCH: i64 = 10_000;
/// How many old events one retention statement deletes.
const PRUNE_BATCH: i64 = 1000;
/// How often the hub sequences without being asked (events written by another process that
/// did not get to sequence them, e.g. an admin command) and how often a waiting reader's
/// process looks at the last id if no notification came.
const TICK: Duration = Duration::from_secs(1);
/// The pause of the hub after a sequencer run that numbered events (see [`hub`]).
const BATCH_GAP: Duration = Duration::from_millis(20);
/// How often the hub deletes events older than `AUDIT_RETENTION_DAYS`.
const PRUNE_EVERY: Duration = Duration::from_secs(600);
/// The second half of the advisory lock keys (the first is `hashtext(current_schema())`).
const SEQUENCER_LOCK: i32 = 0x6175_6401;
const PRUNE_LOCK: i32 = 0x6175_6402;

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Actor {
    /// `client` (an API client), `user` (a logged-in user or an access key's user) or
    /// `operator` (the `admin` subcommand or bootstrap).
    #[serde(rename = "type")]
    pub kind: String,
    /// The client's or user's id; null for an operator.
    pub id: Option<String>,
}

impl Actor {
    pub fn client(id: impl ToString) -> Self {
        Self {
            kind: "client".to_owned(),
            id: Some(id.to_string()),
        }
    }

    pub fn user(id: impl ToString) -> Self {
        Self {
            kind: "user".to_owned(),
            id: Some(id.to_string()),
        }
    }

    pub fn operator() -> Self {
        Self {
            kind: "operator".to_owned(),
            id: None,
        }
    }

    /// A `kind` nobody has identified yet (a failed or throttled sign-in): `id` null.
    pub fn anonymous(kind: &str) -> Self {
        Self {
            kind: kind.to_owned(),
            id: None,
        }
    }
}

/// What a change was made to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Target {
    /// `user`, `group`, `client`, `agency`, `org`, `partner`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

impl Target {
    pub fn new(kind: &str, id: impl ToString) -> Self {
        Self {
            kind: kind.to_owned(),
            id: id.to_string(),
        }
    }

    pub fn user(id: impl ToString) -> Self {
        Self::new("user", id)
    }

    /// The account of a sign-in as it was typed, whether or not it exists: a NUL (which
    /// Postgres cannot store in text) becomes U+FFFD, and a name over
    /// [`MAX_TARGET_ID_BYTES`] is cut visibly, ending in `…`.
    pub fn typed(kind: &str, account: &str) -> Self {
        let id = account.replace('\0', "\u{fffd}");
        if id.len() <= MAX_TARGET_ID_BYTES {
            return Self::new(kind, id);
        }
        let mut end = MAX_TARGET_ID_BYTES - '…'.len_utf8();
        while !id.is_char_boundary(end) {
            end -= 1;
        }
        Self::new(kind, format!("{}…", &id[..end]))
    }
}

/// Who, from where, in which request and tenant: what every event of one request shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub actor: Actor,
    pub tenant: Option<String>,
    pub request_id: Option<String>,
    pub address: Option<String>,
}

impl Context {
    /// The context of an HTTP request: its request id and the client's address as the login
    /// throttle sees it (gateway-aware).
    pub fn of(req: &actix_web::HttpRequest, core: &crate::http::Core, actor: Actor) -> Self {
        use actix_web::HttpMessage;
        let request_id = req
            .extensions()
            .get::<crate::http::RequestId>()
            .map(|id| id.0.clone())
            .filter(|id| !id.is_empty());
        Self {
            actor,
            tenant: None,
            request_id,
            address: Some(core.client_ip(req).to_string()),
        }
    }

    /// An operator's change (the `admin` subcommand, bootstrap): no request, no address.
    pub fn operator() -> Self {
        Self {
            actor: Actor::operator(),
            tenant: None,
            request_id: None,
            address: None,
        }
    }

    /// The same context in `tenant`.
    #[must_use]
    pub fn in_tenant(mut self, tenant: impl ToString) -> Self {
        self.tenant = Some(tenant.to_string());
        self
    }
}

/// The `changes` of an event: field → `{"from", "to"}` (or `{"changed": true}` for a secret).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Changes(Map<String, Value>);

fn is_secret(name: &str) -> bool {
    SECRET_FIELDS.contains(&name)
}

/// `value` without any secret field, at any depth.
fn scrub(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !is_secret(k))
                .map(|(k, v)| (k.clone(), scrub(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(scrub).collect()),
        other => other.clone(),
    }
}

fn fields(value: &impl Serialize) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

const CHANGED: fn() -> Value = || json!({"changed": true});

impl Changes {
    pub fn new() -> Self {
        Self::default()
    }

    /// A create: every field of `after` as `{"to"}` (a secret as `{"changed": true}`).
    pub fn created(after: &impl Serialize) -> Self {
        Self(
            fields(after)
                .into_iter()
                .map(|(k, v)| {
                    let change = if is_secret(&k) {
                        CHANGED()
                    } else {
                        json!({"to": scrub(&v)})
                    };
                    (k, change)
                })
                .collect(),
        )
    }

    /// A delete: every field of `before` as `{"from"}` (secrets left out).
    pub fn deleted(before: &impl Serialize) -> Self {
        Self(
            fields(before)
                .into_iter()
                .filter(|(k, _)| !is_secret(k))
                .map(|(k, v)| (k, json!({"from": scrub(&v)})))
                .collect(),
        )
    }

    /// An update: the fields whose values differ between `before` and `after` (a field
    /// missing on one side counts as null), each `{"from", "to"}` (a secret as
    /// `{"changed": true}`).
    pub fn updated(before: &impl Serialize, after: &impl Serialize) -> Self {
        let before = fields(before);
        let after = fields(after);
        let mut changes = Map::new();
        let names = before
            .keys()
            .chain(after.keys().filter(|k| !before.contains_key(*k)));
        for name in names {
            let from = before.get(name).unwrap_or(&Value::Null);
            let to = after.get(name).unwrap_or(&Value::Null);
            if from == to {
                continue;
            }
            let change = if is_secret(name) {
                CHANGED()
            } else {
                json!({"from": scrub(from), "to": scrub(to)})
            };
            changes.insert(name.clone(), change);
        }
        Self(changes)
    }

    /// With `"password": {"changed": true}`.
    #[must_use]
    pub fn password_changed(self) -> Self {
        self.secret_changed("password")
    }

    /// With `"<name>": {"changed": true}` (a new access key, secret, …).
    #[must_use]
    pub fn secret_changed(mut self, name: &str) -> Self {
        self.0.insert(name.to_owned(), CHANGED());
        self
    }

    /// With one field's change: `from` and/or `to` (scrubbed; a secret's name gives
    /// `{"changed": true}`).
    #[must_use]
    pub fn with(mut self, name: &str, from: Option<Value>, to: Option<Value>) -> Self {
        if is_secret(name) {
            return self.secret_changed(name);
        }
        let mut change = Map::new();
        if let Some(from) = from {
            change.insert("from".to_owned(), scrub(&from));
        }
        if let Some(to) = to {
            change.insert("to".to_owned(), scrub(&to));
        }
        self.0.insert(name.to_owned(), Value::Object(change));
        self
    }

    /// Only the fields named in `keep` (e.g. a delete that reports a few fields).
    #[must_use]
    pub fn only(mut self, keep: &[&str]) -> Self {
        self.0.retain(|k, _| keep.contains(&k.as_str()));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    pub fn into_value(self) -> Value {
        Value::Object(self.0)
    }
}

/// The columns [`record`] writes (the table is each service's migration's).
mod table {
    diesel::table! {
        audit_events (seq) {
            seq -> BigInt,
            action -> Text,
            actor_type -> Text,
            actor_id -> Nullable<Text>,
            target_type -> Text,
            target_id -> Text,
            tenant -> Nullable<Text>,
            request_id -> Nullable<Text>,
            address -> Nullable<Text>,
            changes -> Jsonb,
        }
    }
}

/// The longest target id stored, in bytes: a login's target is the account as typed, and a
/// btree entry cannot exceed about 2.7 kB (the insert, and with it the login, would fail).
pub const MAX_TARGET_ID_BYTES: usize = 255;

/// `id` cut to at most [`MAX_TARGET_ID_BYTES`] bytes, at a character boundary.
fn capped(id: &str) -> &str {
    if id.len() <= MAX_TARGET_ID_BYTES {
        return id;
    }
    let mut end = MAX_TARGET_ID_BYTES;
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    &id[..end]
}

/// Records one event in the transaction of `conn` (call it inside the change's transaction:
/// the event commits, or rolls back, with the change).
pub async fn record(
    conn: &mut Conn,
    context: &Context,
    action: &str,
    target: &Target,
    changes: Changes,
) -> Result<(), DbError> {
    // scripts/bench's comparison build: what a write costs without its event.
    if cfg!(feature = "bench-no-audit") {
        return Ok(());
    }
    use diesel::ExpressionMethods;
    use table::audit_events as e;
    // The query builder's form, not SQL text: its statement is prepared once per connection.
    diesel::insert_into(e::table)
        .values((
            e::action.eq(action),
            e::actor_type.eq(&context.actor.kind),
            e::actor_id.eq(context.actor.id.as_deref()),
            e::target_type.eq(&target.kind),
            e::target_id.eq(capped(&target.id)),
            e::tenant.eq(context.tenant.as_deref()),
            e::request_id.eq(context.request_id.as_deref()),
            e::address.eq(context.address.as_deref()),
            e::changes.eq(changes.into_value()),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The events of an update of a user (every service's rule): `user.updated` when a field
/// other than the password changed (`fields`; with `"password": {"changed": true}` too when a
/// password was set), then `user.password_changed` when a password was set. Nothing for an
/// update that changed nothing.
pub async fn record_user_update(
    conn: &mut Conn,
    context: &Context,
    target: &Target,
    fields: Changes,
    password_set: bool,
) -> Result<(), DbError> {
    if !fields.is_empty() {
        let changes = if password_set {
            fields.password_changed()
        } else {
            fields
        };
        record(conn, context, "user.updated", target, changes).await?;
    }
    if password_set {
        let changes = Changes::new().password_changed();
        record(conn, context, "user.password_changed", target, changes).await?;
    }
    Ok(())
}

/// One event as the feed answers it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Event {
    pub id: i64,
    /// RFC 3339, UTC, microseconds.
    pub time: String,
    pub action: String,
    pub actor: Actor,
    pub target: Target,
    /// The tenant through which the change was made (null in a one-tenant service).
    pub tenant: Option<String>,
    pub request_id: Option<String>,
    pub address: Option<String>,
    /// Field → `{"from", "to"}`; for creates `{"to"}`, for deletes `{"from"}`; a secret as
    /// `{"changed": true}`.
    #[schema(value_type = Object)]
    pub changes: Value,
}

#[derive(QueryableByName)]
struct EventRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Timestamptz)]
    time: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    action: String,
    #[diesel(sql_type = Text)]
    actor_type: String,
    #[diesel(sql_type = Nullable<Text>)]
    actor_id: Option<String>,
    #[diesel(sql_type = Text)]
    target_type: String,
    #[diesel(sql_type = Text)]
    target_id: String,
    #[diesel(sql_type = Nullable<Text>)]
    tenant: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    request_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    address: Option<String>,
    #[diesel(sql_type = Jsonb)]
    changes: Value,
}

impl From<EventRow> for Event {
    fn from(row: EventRow) -> Self {
        Self {
            id: row.id,
            time: row.time.to_rfc3339_opts(SecondsFormat::Micros, true),
            action: row.action,
            actor: Actor {
                kind: row.actor_type,
                id: row.actor_id,
            },
            target: Target {
                kind: row.target_type,
                id: row.target_id,
            },
            tenant: row.tenant,
            request_id: row.request_id,
            address: row.address,
            changes: row.changes,
        }
    }
}

/// What a sequencer run numbered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sequenced {
    /// The last id given out so far (by this run or an earlier one); 0 if none.
    pub last: i64,
    /// How many events of each action this run numbered.
    pub by_action: Vec<(String, i64)>,
}

impl Sequenced {
    pub fn count(&self) -> i64 {
        self.by_action.iter().map(|(_, n)| n).sum()
    }
}

#[derive(QueryableByName)]
struct Pending {
    #[diesel(sql_type = Bool)]
    pending: bool,
    #[diesel(sql_type = BigInt)]
    last: i64,
}

#[derive(QueryableByName)]
struct Numbered {
    #[diesel(sql_type = Text)]
    action: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = BigInt)]
    last: i64,
}

/// The sequencer (see the module doc): numbers the committed events that have no id yet, in
/// one transaction under the schema's sequencer lock, and notifies `audit_<schema>` with the
/// last id when it numbered any. Cheap when there is nothing to number (one indexed statement,
/// no transaction).
pub async fn sequence(conn: &mut Conn) -> Result<Sequenced, DbError> {
    let pending: Pending = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM audit_events WHERE id IS NULL) AS pending, \
                coalesce((SELECT max(id) FROM audit_events), 0) AS last",
    )
    .get_result(conn)
    .await?;
    if !pending.pending {
        return Ok(Sequenced {
            last: pending.last,
            by_action: Vec::new(),
        });
    }
    number(conn).await
}

/// [`sequence`] without its first look: one transaction (the lock, then one statement that
/// numbers, counts and notifies). For the hub after a write, when there is something to number.
pub async fn number(conn: &mut Conn) -> Result<Sequenced, DbError> {
    conn.transaction::<_, DbError, _>(async |conn| {
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext(current_schema()), $1)")
            .bind::<Integer, _>(SEQUENCER_LOCK)
            .execute(conn)
            .await?;
        // A statement of its own, after the lock: its snapshot sees every run before it.
        // Numbers the batch, counts it by action and notifies the last id, in one statement.
        let numbered: Vec<Numbered> = diesel::sql_query(
            "WITH batch AS ( \
                 SELECT seq FROM audit_events WHERE id IS NULL ORDER BY seq LIMIT $1), \
             numbered AS ( \
                 SELECT seq, nextval('audit_event_ids') AS id FROM batch ORDER BY seq), \
             done AS ( \
                 UPDATE audit_events e SET id = numbered.id FROM numbered \
                 WHERE e.seq = numbered.seq RETURNING e.id, e.action), \
             counted AS ( \
                 SELECT action, count(*) AS n, max(id) AS last FROM done GROUP BY action) \
             SELECT action, n, last, \
                    pg_notify('audit_' || current_schema(), (SELECT max(last) FROM counted)::text) \
                        IS NULL AS notified \
             FROM counted",
        )
        .bind::<BigInt, _>(SEQUENCE_BATCH)
        .load(conn)
        .await?;
        let last = match numbered.iter().map(|n| n.last).max() {
            Some(last) => last,
            None => {
                let max: Pending = diesel::sql_query(
                    "SELECT false AS pending, coalesce(max(id), 0) AS last FROM audit_events",
                )
                .get_result(conn)
                .await?;
                max.last
            }
        };
        Ok(Sequenced {
            last,
            by_action: numbered.into_iter().map(|n| (n.action, n.n)).collect(),
        })
    })
    .await
}

/// Deletes the events older than `days` days, [`PRUNE_BATCH`] at a time (each batch its own
/// transaction), oldest first, unless another process is pruning this schema now (a
/// session-level advisory lock): so one replica at a time. `days` 0 keeps everything. The
/// number deleted.
pub async fn prune(db: &Db, days: u32) -> Result<u64, DbError> {
    if days == 0 {
        return Ok(0);
    }
    #[derive(QueryableByName)]
    struct Got {
        #[diesel(sql_type = Bool)]
        got: bool,
    }
    let mut conn = db.conn().await?;
    let got: Got =
        diesel::sql_query("SELECT pg_try_advisory_lock(hashtext(current_schema()), $1) AS got")
            .bind::<Integer, _>(PRUNE_LOCK)
            .get_result(&mut conn)
            .await?;
    if !got.got {
        return Ok(0);
    }
    let mut deleted = 0u64;
    let outcome = loop {
        // Only the oldest rows by write order are looked at: old events are at the head, and
        // without one the statement stops after PRUNE_BATCH rows, never scanning the table.
        let batch = diesel::sql_query(
            "DELETE FROM audit_events WHERE seq IN ( \
                 SELECT seq FROM ( \
                     SELECT seq, time FROM audit_events ORDER BY seq LIMIT $1) head \
                 WHERE time < now() - make_interval(days => $2))",
        )
        .bind::<BigInt, _>(PRUNE_BATCH)
        .bind::<Integer, _>(i32::try_from(days).unwrap_or(i32::MAX))
        .execute(&mut conn)
        .await;
        match batch {
            Ok(n) => {
                deleted += n as u64;
                if (n as i64) < PRUNE_BATCH {
                    break Ok(deleted);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => break Err(DbError::from(e)),
        }
    };
    let _ = diesel::sql_query("SELECT pg_advisory_unlock(hashtext(current_schema()), $1)")
        .bind::<Integer, _>(PRUNE_LOCK)
        .execute(&mut conn)
        .await;
    outcome
}

/// A feed request's query (`after`, `limit`, `wait`, `action`, `target`).
#[derive(Debug, Clone, PartialEq)]
pub struct FeedQuery {
    pub after: i64,
    pub limit: i64,
    pub wait: Duration,
    pub action: Option<String>,
    pub target: Option<String>,
}

impl Default for FeedQuery {
    fn default() -> Self {
        Self {
            after: 0,
            limit: 100,
            wait: Duration::ZERO,
            action: None,
            target: None,
        }
    }
}

/// A query parameter the feed refuses, and why (in English; each service words its error in
/// its own shape).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub field: &'static str,
    pub message: String,
}

impl FeedQuery {
    /// Reads the query string's parameters; all refusals at once.
    pub fn parse(query: &HashMap<String, String>) -> Result<Self, Vec<QueryError>> {
        let mut errors = Vec::new();
        let mut feed = Self::default();
        let mut integer = |field: &'static str, range: std::ops::RangeInclusive<i64>| {
            let raw = query.get(field)?;
            match raw.trim().parse::<i64>() {
                Ok(n) if range.contains(&n) => Some(n),
                _ => {
                    errors.push(QueryError {
                        field,
                        message: if *range.end() == i64::MAX {
                            format!(
                                "The {field} must be an integer of at least {}.",
                                range.start()
                            )
                        } else {
                            format!(
                                "The {field} must be an integer between {} and {}.",
                                range.start(),
                                range.end()
                            )
                        },
                    });
                    None
                }
            }
        };
        if let Some(after) = integer("after", 0..=i64::MAX) {
            feed.after = after;
        }
        if let Some(limit) = integer("limit", 1..=MAX_LIMIT) {
            feed.limit = limit;
        }
        if let Some(raw) = query.get("wait") {
            match raw.trim().parse::<f64>() {
                Ok(s) if (0.0..=MAX_WAIT_SECONDS).contains(&s) => {
                    feed.wait = Duration::from_secs_f64(s);
                }
                _ => errors.push(QueryError {
                    field: "wait",
                    message: "The wait must be a number of seconds between 0 and 30.".to_owned(),
                }),
            }
        }
        for field in ["action", "target"] {
            if let Some(raw) = query.get(field) {
                if raw.is_empty() || raw.len() > 255 {
                    errors.push(QueryError {
                        field,
                        message: format!("The {field} must be 1 to 255 characters."),
                    });
                } else if raw.chars().any(char::is_control) {
                    // Postgres refuses NUL in text: a 500 otherwise.
                    errors.push(QueryError {
                        field,
                        message: format!("The {field} must not contain control characters."),
                    });
                } else if field == "action" {
                    feed.action = Some(raw.clone());
                } else {
                    feed.target = Some(raw.clone());
                }
            }
        }
        if errors.is_empty() {
            Ok(feed)
        } else {
            Err(errors)
        }
    }
}

/// `params(FeedParams)`: the feed's query, for the OpenAPI documents (the handler reads it
/// with [`FeedQuery::parse`]).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation only
pub struct FeedParams {
    /// Return events with ids above this one (default 0): the `next_after` of the last answer.
    #[param(minimum = 0)]
    after: Option<i64>,
    /// At most this many events (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
    /// With nothing newer than `after`, hold the request up to this many seconds (0 to 30,
    /// default 0) for an event.
    #[param(minimum = 0, maximum = 30)]
    wait: Option<f64>,
    /// Only this action (exact), e.g. `user.updated`.
    action: Option<String>,
    /// Only events whose target has this id.
    target: Option<String>,
}

/// A feed answer: `{"events": [...], "next_after": n}`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FeedPage {
    pub events: Vec<Event>,
    /// The id of the last event returned, or the `after` given: pass it back as `after`.
    pub next_after: i64,
}

/// The numbered events after `query.after` (of `tenant`, when given), in id order.
pub async fn read(
    conn: &mut Conn,
    tenant: Option<&str>,
    query: &FeedQuery,
) -> Result<FeedPage, DbError> {
    let mut sql = String::from(
        "SELECT id, time, action, actor_type, actor_id, target_type, target_id, tenant, \
         request_id, address, changes FROM audit_events WHERE id > $1",
    );
    let mut n = 1;
    for (present, column) in [
        (tenant.is_some(), "tenant"),
        (query.action.is_some(), "action"),
        (query.target.is_some(), "target_id"),
    ] {
        if present {
            n += 1;
            sql.push_str(&format!(" AND {column} = ${n}"));
        }
    }
    sql.push_str(&format!(" ORDER BY id LIMIT ${}", n + 1));
    let mut q = diesel::sql_query(sql)
        .into_boxed()
        .bind::<BigInt, _>(query.after);
    for value in [tenant, query.action.as_deref(), query.target.as_deref()]
        .into_iter()
        .flatten()
    {
        q = q.bind::<Text, _>(value.to_owned());
    }
    let rows: Vec<EventRow> = q.bind::<BigInt, _>(query.limit).load(conn).await?;
    let events: Vec<Event> = rows.into_iter().map(Event::from).collect();
    let next_after = events.last().map_or(query.after, |e| e.id);
    Ok(FeedPage { events, next_after })
}

/// `<svc> admin events [--after N] [--follow]`: prints the events after N (default 0) as
/// NDJSON, one per line, in id order; with `--follow`, keeps waiting for more.
pub async fn cli(db: &Db, args: &[&str]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut after = 0i64;
    let mut follow = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match *arg {
            "--follow" => follow = true,
            "--after" => {
                after = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n: &i64| *n >= 0)
                    .ok_or_else(|| anyhow::anyhow!("--after takes an event id (0 or more)"))?;
            }
            other => anyhow::bail!(
                "events: unknown argument {other:?}; usage: events [--after N] [--follow]"
            ),
        }
    }
    let audit = Audit::new(db.clone(), Arc::new(Metrics::new()), 0);
    let mut out = std::io::stdout().lock();
    loop {
        let query = FeedQuery {
            after,
            limit: MAX_LIMIT,
            wait: if follow {
                Duration::from_secs(30)
            } else {
                Duration::ZERO
            },
            ..FeedQuery::default()
        };
        let page = audit.feed(None, &query).await?;
        for event in &page.events {
            serde_json::to_writer(&mut out, event)?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
        let full = page.events.len() as i64 == MAX_LIMIT;
        after = page.next_after;
        if !follow && !full {
            return Ok(());
        }
    }
}

struct Inner {
    db: Db,
    metrics: Arc<Metrics>,
    retention_days: u32,
    kick: Notify,
    /// The last event id this process knows to be visible.
    last: watch::Sender<i64>,
    started: AtomicBool,
    /// The login throttle's window: `login.throttled` is recorded at most once per account and
    /// address in it.
    login_window: Duration,
    /// (account, address) → when this process last recorded `login.throttled` for it.
    throttled: std::sync::Mutex<HashMap<(String, String), std::time::Instant>>,
}

/// A replica's side of the trail: the hub that sequences and wakes readers, and the feed.
#[derive(Clone)]
pub struct Audit(Arc<Inner>);

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit").finish_non_exhaustive()
    }
}

impl Audit {
    pub fn new(db: Db, metrics: Arc<Metrics>, retention_days: u32) -> Self {
        Self(Arc::new(Inner {
            db,
            metrics,
            retention_days,
            kick: Notify::new(),
            last: watch::channel(0).0,
            started: AtomicBool::new(false),
            login_window: Duration::from_secs(900),
            throttled: std::sync::Mutex::new(HashMap::new()),
        }))
    }

    /// With the login throttle's window (`LOGIN_WINDOW_SECONDS`), for [`Audit::login_throttled`].
    #[must_use]
    pub fn with_login_window(self, window: Duration) -> Self {
        match Arc::try_unwrap(self.0) {
            Ok(mut inner) => {
                inner.login_window = window;
                Self(Arc::new(inner))
            }
            Err(shared) => Self(shared),
        }
    }

    /// Records a sign-in event (`login.succeeded`, `login.failed`) in a statement of its own.
    pub async fn login(
        &self,
        context: &Context,
        action: &str,
        target: &Target,
    ) -> Result<(), DbError> {
        let mut conn = self.0.db.conn().await?;
        record(&mut conn, context, action, target, Changes::new()).await
    }

    /// Records `login.throttled` for `target` (the account as typed) from the context's
    /// address, at most once per account and address per login window, whichever replica
    /// refuses: first this process's memory (so an attack costs no database work per attempt),
    /// then, under a transaction-level advisory lock on the pair, the trail itself.
    pub async fn login_throttled(&self, context: &Context, target: &Target) -> Result<(), DbError> {
        let window = self.0.login_window;
        let address = context.address.clone().unwrap_or_default();
        let key = (target.id.to_lowercase(), address.clone());
        {
            let mut seen = self
                .0
                .throttled
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if seen.get(&key).is_some_and(|at| at.elapsed() < window) {
                return Ok(());
            }
            if seen.len() >= 10_000 {
                seen.retain(|_, at| at.elapsed() < window);
            }
            seen.insert(key.clone(), std::time::Instant::now());
        }
        let mut conn = self.0.db.conn().await?;
        conn.transaction::<_, DbError, _>(async |conn| {
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))")
                .bind::<Text, _>(&key.0)
                .bind::<Text, _>(&key.1)
                .execute(conn)
                .await?;
            #[derive(QueryableByName)]
            struct Found {
                #[diesel(sql_type = Bool)]
                found: bool,
            }
            let found: Found = diesel::sql_query(
                "SELECT EXISTS (SELECT 1 FROM audit_events \
                 WHERE target_id = $1 AND action = 'login.throttled' AND address = $2 \
                 AND time > now() - make_interval(secs => $3)) AS found",
            )
            .bind::<Text, _>(capped(&target.id))
            .bind::<Text, _>(&address)
            .bind::<diesel::sql_types::Double, _>(window.as_secs_f64())
            .get_result(conn)
            .await?;
            if !found.found {
                record(conn, context, "login.throttled", target, Changes::new()).await?;
            }
            Ok(())
        })
        .await
    }

    /// Asks the hub to number what was just committed (after a write; cheap: no database
    /// work on this call).
    pub fn kick(&self) {
        self.start();
        self.0.kick.notify_one();
    }

    /// Starts the hub and the listener (once; they stop when the last `Audit` clone is gone).
    pub fn start(&self) {
        if self.0.started.swap(true, Ordering::AcqRel) {
            return;
        }
        crate::db::spawn_background(hub(Arc::downgrade(&self.0)));
        crate::db::spawn_background(listen(Arc::downgrade(&self.0)));
    }

    /// Numbers what is committed (this request's own write included), counts it in the
    /// metrics and tells this process's waiting readers.
    pub async fn sequence(&self) -> Result<i64, DbError> {
        let mut conn = self.0.db.conn().await?;
        let done = sequence(&mut conn).await?;
        drop(conn);
        self.0.note(&done);
        Ok(done.last)
    }

    /// One feed answer: the events after `query.after` (of `tenant`, when given); with
    /// `query.wait` and none yet, waits for one (holding no connection) until `wait` passes.
    pub async fn feed(&self, tenant: Option<&str>, query: &FeedQuery) -> Result<FeedPage, DbError> {
        let deadline = tokio::time::Instant::now() + query.wait;
        let mut known = self.0.last.subscribe();
        if !query.wait.is_zero() {
            self.start();
        }
        self.sequence().await?;
        loop {
            known.borrow_and_update();
            let page = {
                let mut conn = self.0.db.conn().await?;
                read(&mut conn, tenant, query).await?
            };
            if !page.events.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(page);
            }
            // Wait for a larger last id than `after` (another tenant's event wakes us too: we
            // read again and find nothing of ours).
            loop {
                match tokio::time::timeout_at(deadline, known.changed()).await {
                    Ok(Ok(())) if *known.borrow_and_update() > query.after => break,
                    Ok(Ok(())) => continue,
                    Ok(Err(_)) | Err(_) => return Ok(page),
                }
            }
        }
    }
}

impl Inner {
    fn note(&self, done: &Sequenced) {
        for (action, n) in &done.by_action {
            self.metrics.events_written(action, *n);
        }
        self.learn(done.last);
    }

    fn learn(&self, last: i64) {
        self.last.send_if_modified(|known| {
            if last > *known {
                *known = last;
                true
            } else {
                false
            }
        });
    }
}

/// The hub: sequences when kicked and once a [`TICK`]; prunes every [`PRUNE_EVERY`].
async fn hub(audit: Weak<Inner>) {
    let mut pruned_at: Option<tokio::time::Instant> = None;
    let mut failures = 0u32;
    loop {
        let Some(inner) = audit.upgrade() else { return };
        let kicked = tokio::time::timeout(TICK, inner.kick.notified())
            .await
            .is_ok();
        let outcome = async {
            let mut conn = inner.db.conn().await?;
            // kicked after a write: there is something to number; on the tick, look first
            if kicked {
                number(&mut conn).await
            } else {
                sequence(&mut conn).await
            }
        }
        .await;
        match outcome {
            Ok(done) => {
                failures = 0;
                inner.note(&done);
                // Under a steady stream of writes, numbered in batches at most every BATCH_GAP:
                // one sequencer transaction (and its commit) for many events.
                if done.count() > 0 {
                    tokio::time::sleep(BATCH_GAP).await;
                }
            }
            Err(e) => {
                failures += 1;
                if failures == 1 || failures.is_multiple_of(60) {
                    tracing::warn!(error = %e, "audit: sequencing failed; retrying");
                }
                tokio::time::sleep(TICK).await;
            }
        }
        if pruned_at.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) && inner.retention_days > 0 {
            pruned_at = Some(tokio::time::Instant::now());
            match prune(&inner.db, inner.retention_days).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "audit: old events deleted"),
                Err(e) => tracing::warn!(error = %e, "audit: pruning failed"),
            }
        }
    }
}

/// The listener: a connection of its own `LISTEN`ing on `audit_<schema>`; every notification
/// carries the last id a sequencer run (of any replica) gave out.
async fn listen(audit: Weak<Inner>) {
    loop {
        let Some(inner) = audit.upgrade() else { return };
        let channel = format!("audit_{}", inner.db.schema());
        let db = inner.db.clone();
        drop(inner);
        let mut conn = match db.dedicated().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "audit: cannot listen; retrying");
                tokio::time::sleep(TICK).await;
                continue;
            }
        };
        if let Err(e) = conn.batch_execute(&format!("LISTEN \"{channel}\"")).await {
            tracing::warn!(error = %e, "audit: LISTEN failed; retrying");
            tokio::time::sleep(TICK).await;
            continue;
        }
        let mut notifications = std::pin::pin!(conn.notifications_stream());
        loop {
            match tokio::time::timeout(Duration::from_secs(5), notifications.next()).await {
                Ok(Some(Ok(n))) => {
                    let Some(inner) = audit.upgrade() else { return };
                    if let Ok(last) = n.payload.parse::<i64>() {
                        inner.learn(last);
                    }
                }
                Ok(Some(Err(_)) | None) => break,
                Err(_) => {
                    if audit.strong_count() == 0 {
                        return;
                    }
                }
            }
        }
        tokio::time::sleep(TICK).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct User {
        id: i64,
        email: String,
        password_hash: String,
        profile: Value,
    }

    fn user(email: &str, hash: &str) -> User {
        User {
            id: 7,
            email: email.to_owned(),
            password_hash: hash.to_owned(),
            profile: json!({"name": "A", "access_key": "k1", "keys": [{"secret": "s"}]}),
        }
    }

    #[test]
    fn an_update_lists_only_what_changed_and_hides_secrets() {
        let before = user("a@x.no", "$2b$04$aaa");
        let after = user("b@x.no", "$2b$04$bbb");
        let changes = Changes::updated(&before, &after).into_value();
        assert_eq!(
            changes,
            json!({"email": {"from": "a@x.no", "to": "b@x.no"},
                   "password_hash": {"changed": true}})
        );
    }

    #[test]
    fn creates_and_deletes_never_carry_a_secret_at_any_depth() {
        let u = user("a@x.no", "$2b$04$aaa");
        let created = serde_json::to_string(&Changes::created(&u)).unwrap_or_default();
        let deleted = serde_json::to_string(&Changes::deleted(&u)).unwrap_or_default();
        for text in [&created, &deleted] {
            assert!(!text.contains("$2b$"), "{text}");
            assert!(!text.contains("k1"), "{text}");
            assert!(!text.contains("\"s\""), "{text}");
        }
        assert!(
            created.contains(r#""password_hash":{"changed":true}"#),
            "{created}"
        );
        assert!(created.contains(r#""email":{"to":"a@x.no"}"#), "{created}");
        assert!(
            deleted.contains(r#""email":{"from":"a@x.no"}"#),
            "{deleted}"
        );
        assert!(!deleted.contains("password_hash"), "{deleted}");
    }

    #[test]
    fn a_typed_account_is_stored_whatever_was_typed() {
        assert_eq!(Target::typed("user", "Kari").id, "Kari");
        assert_eq!(Target::typed("user", "a\0b").id, "a\u{fffd}b");
        let fits = "y".repeat(MAX_TARGET_ID_BYTES);
        assert_eq!(Target::typed("user", &fits).id, fits);
        for long in [
            "x".repeat(300),
            "ø".repeat(200),
            format!("{}\0", "z".repeat(254)),
        ] {
            let id = Target::typed("user", &long).id;
            assert!(id.len() <= MAX_TARGET_ID_BYTES, "{}", id.len());
            assert!(id.len() > MAX_TARGET_ID_BYTES - 6, "{}", id.len());
            assert!(id.ends_with('…'), "{id}");
            assert!(long.starts_with(id.trim_end_matches('…')), "{id}");
        }
        assert_eq!(
            Actor::anonymous("user"),
            Actor {
                kind: "user".into(),
                id: None
            }
        );
    }

    #[test]
    fn long_target_ids_are_cut_at_a_character_boundary() {
        assert_eq!(capped("abc"), "abc");
        let long = "é".repeat(200); // 400 bytes
        let cut = capped(&long);
        assert!(cut.len() <= MAX_TARGET_ID_BYTES && cut.len() >= MAX_TARGET_ID_BYTES - 1);
        assert!(long.starts_with(cut));
    }

    #[test]
    fn with_and_password_changed() {
        let c = Changes::new()
            .with("group", None, Some(json!("admins")))
            .with("access_key", Some(json!("old")), Some(json!("new")))
            .password_changed()
            .into_value();
        assert_eq!(
            c,
            json!({"group": {"to": "admins"}, "access_key": {"changed": true},
                   "password": {"changed": true}})
        );
    }

    fn q(pairs: &[(&str, &str)]) -> Result<FeedQuery, Vec<QueryError>> {
        FeedQuery::parse(
            &pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn feed_query_bounds() {
        assert_eq!(q(&[]), Ok(FeedQuery::default()));
        let ok = q(&[
            ("after", "5"),
            ("limit", "1000"),
            ("wait", "2.5"),
            ("action", "user.updated"),
            ("target", "17"),
        ]);
        assert_eq!(
            ok,
            Ok(FeedQuery {
                after: 5,
                limit: 1000,
                wait: Duration::from_millis(2500),
                action: Some("user.updated".to_owned()),
                target: Some("17".to_owned()),
            })
        );
        let bad = q(&[
            ("after", "-1"),
            ("limit", "0"),
            ("wait", "31"),
            ("action", ""),
        ])
        .unwrap_err();
        let fields: Vec<_> = bad.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["after", "limit", "wait", "action"]);
        assert!(q(&[("limit", "1001")]).is_err());
        assert!(q(&[("after", "x")]).is_err());
        assert!(q(&[("wait", "NaN")]).is_err());
        assert!(
            q(&[("action", "a\0b")]).is_err(),
            "Postgres refuses NUL in text"
        );
        assert!(q(&[("target", "\n")]).is_err());
    }
}
