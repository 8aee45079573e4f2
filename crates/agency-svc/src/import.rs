//! `agency-svc admin import` and `admin export` (`../shared/api/migration.md`): what is
//! agency's own in them. The command, the streaming, the staging and the report are
//! `user_core::import`'s.
//!
//! A line: `id`?, `agency_id` (an existing agency), `firstname`, `lastname`?, `email`,
//! `phone`?, `created_at`?, `updated_at`?, and `password_hash` or `password` or neither (the
//! user then has no password: NULL, as a user created through the API without
//! `new_password`). Names, email and phone are checked by the create's own rules
//! (`wire::UserInput`), a `password` by the rule of `new_password` (reported as `password`).
//! A line meets an existing user by `id` or by email (case-insensitive, over all agencies, as
//! the unique index `users_email_key` has it); `update` overwrites that user's agency, names,
//! email, phone and `created_at` (when the line gives one), sets `updated_at` (the line's, or
//! now), and replaces the password hash only when the line gives a password.
//!
//! Agency users never sign in (only API clients do, with their secrets), so an imported hash
//! is stored byte for byte and only ever read again by `admin export`.

use crate::wire::{timestamp, UserInput};
use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use serde_json::{json, Map, Value};
use user_core::db::{Conn, DbError};
use user_core::import::{self, LineError, OnConflict, PasswordField, Staged};
use user_core::laravel::{confirmed_password_rule, Errors};
use user_core::values::DEFAULT_MIN_PASSWORD_CHARS;

/// The fields of a line (the password fields are taken out before).
const FIELDS: &[&str] = &[
    "id",
    "agency_id",
    "firstname",
    "lastname",
    "email",
    "phone",
    "created_at",
    "updated_at",
];

/// The fields the API's create rules check.
const USER_FIELDS: &[&str] = &["firstname", "lastname", "email", "phone"];

/// A checked line.
pub struct Row {
    id: Option<i64>,
    agency_id: i64,
    firstname: String,
    lastname: Option<String>,
    email: String,
    phone: Option<String>,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

pub struct Import;

/// `agency_id`: a positive integer (that the agency exists is checked in the database).
fn agency_field(
    number: u64,
    line: &mut Map<String, Value>,
    problems: &mut Vec<LineError>,
) -> Option<i64> {
    let problem = |message: &str| LineError {
        line: number,
        field: "agency_id".to_owned(),
        message: message.to_owned(),
    };
    match line.remove("agency_id") {
        None | Some(Value::Null) => {
            problems.push(problem("is required (the id of an existing agency)"));
            None
        }
        Some(v) => match v.as_i64().filter(|id| *id > 0) {
            Some(id) => Some(id),
            None => {
                problems.push(problem("must be a positive integer"));
                None
            }
        },
    }
}

/// A `password`, checked by the rule of the API's `new_password` (at least 8 characters, at
/// most 72 bytes), its messages naming `password`. An empty one is refused: the engine would
/// hash it, and a user without a password is a line without one.
fn password_rule(errors: &mut Errors, plain: &str) {
    if plain.is_empty() {
        errors.min_chars("password", DEFAULT_MIN_PASSWORD_CHARS);
        return;
    }
    // the confirmation is the line's own password: only the length rules can fail
    confirmed_password_rule(
        errors,
        &json!({ "password": plain, "password_confirmation": plain }),
        "password",
        DEFAULT_MIN_PASSWORD_CHARS,
    );
}

impl import::Importer for Import {
    type Row = Row;

    fn check(
        &self,
        number: u64,
        mut line: Map<String, Value>,
        password: &PasswordField,
    ) -> Result<Row, Vec<LineError>> {
        let mut problems = import::unknown_fields(number, &line, FIELDS);
        let id = import::integer_id_field(number, &mut line, &mut problems);
        let created_at = import::timestamp_field(number, &mut line, "created_at", &mut problems);
        let updated_at = import::timestamp_field(number, &mut line, "updated_at", &mut problems);
        let agency_id = agency_field(number, &mut line, &mut problems);
        // only the user's fields go through the create's rules (an unknown `new_password` is
        // named once, as unknown, not checked as well)
        line.retain(|k, _| USER_FIELDS.contains(&k.as_str()));
        let (input, mut errors) = UserInput::parse(&Value::Object(line), true);
        if let PasswordField::Plain(plain) = password {
            password_rule(&mut errors, plain.expose());
        }
        problems.extend(import::line_errors(number, errors.into_fields()));
        match (agency_id, input.firstname, input.email) {
            (Some(agency_id), Some(firstname), Some(email)) if problems.is_empty() => Ok(Row {
                id,
                agency_id,
                firstname,
                lastname: input.lastname.flatten(),
                email: email.into_inner(),
                phone: input.phone.flatten(),
                created_at,
                updated_at,
            }),
            _ => Err(problems),
        }
    }

    async fn create_staging(&self, conn: &mut Conn) -> Result<(), DbError> {
        diesel::sql_query(
            "CREATE TEMP TABLE import_users (
                line bigint NOT NULL, id bigint, agency_id bigint NOT NULL,
                firstname text NOT NULL, lastname text, email text NOT NULL, phone text,
                password_hash text, created_at timestamptz, updated_at timestamptz
            ) ON COMMIT DROP",
        )
        .execute(conn)
        .await?;
        // the staged lines that meet existing users: by id, by email
        diesel::sql_query(
            "CREATE TEMP TABLE import_existing (line bigint PRIMARY KEY, by_id bigint, by_email bigint)
             ON COMMIT DROP",
        )
        .execute(conn)
        .await?;
        Ok(())
    }

    async fn stage(&self, conn: &mut Conn, rows: Vec<Staged<Row>>) -> Result<(), DbError> {
        let n = rows.len();
        let mut line = Vec::with_capacity(n);
        let mut id = Vec::with_capacity(n);
        let mut agency = Vec::with_capacity(n);
        let mut first = Vec::with_capacity(n);
        let mut last = Vec::with_capacity(n);
        let mut email = Vec::with_capacity(n);
        let mut phone = Vec::with_capacity(n);
        let mut hash = Vec::with_capacity(n);
        let mut created = Vec::with_capacity(n);
        let mut updated = Vec::with_capacity(n);
        for s in rows {
            line.push(s.line as i64);
            id.push(s.row.id);
            agency.push(s.row.agency_id);
            first.push(s.row.firstname);
            last.push(s.row.lastname);
            email.push(s.row.email);
            phone.push(s.row.phone);
            hash.push(s.password_hash);
            created.push(s.row.created_at);
            updated.push(s.row.updated_at);
        }
        diesel::sql_query(
            "INSERT INTO import_users
             SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind::<Array<BigInt>, _>(line)
        .bind::<Array<Nullable<BigInt>>, _>(id)
        .bind::<Array<BigInt>, _>(agency)
        .bind::<Array<Text>, _>(first)
        .bind::<Array<Nullable<Text>>, _>(last)
        .bind::<Array<Text>, _>(email)
        .bind::<Array<Nullable<Text>>, _>(phone)
        .bind::<Array<Nullable<Text>>, _>(hash)
        .bind::<Array<Nullable<Timestamptz>>, _>(created)
        .bind::<Array<Nullable<Timestamptz>>, _>(updated)
        .execute(conn)
        .await?;
        Ok(())
    }

    async fn problems(
        &self,
        conn: &mut Conn,
        on_conflict: OnConflict,
    ) -> Result<Vec<LineError>, DbError> {
        diesel::sql_query(
            "INSERT INTO import_existing
             SELECT s.line, ui.id, ue.id
             FROM import_users s
             LEFT JOIN users ui ON ui.id = s.id
             LEFT JOIN users ue ON lower(ue.email) = lower(s.email)
             WHERE ui.id IS NOT NULL OR ue.id IS NOT NULL",
        )
        .execute(conn)
        .await?;
        let conflicts = match on_conflict {
            // every line that meets an existing user
            OnConflict::Error => {
                "SELECT line, 'id' AS field, 'a user with id ' || by_id || ' exists already' AS message
                 FROM import_existing WHERE by_id IS NOT NULL
                 UNION ALL
                 SELECT line, 'email', 'The email has already been taken.'
                 FROM import_existing WHERE by_email IS NOT NULL AND by_id IS NULL"
            }
            // a line whose id is one user (or no user) and whose email another's: updating
            // the email's user would drop the line's id, updating the id's would take the email
            // and two lines that meet the same user (one by id, the other by email)
            OnConflict::Update => {
                "SELECT e.line, 'email' AS field, 'The email has already been taken.' AS message
                 FROM import_existing e JOIN import_users s ON s.line = e.line
                 WHERE s.id IS NOT NULL AND e.by_email <> s.id
                 UNION ALL
                 SELECT line, CASE WHEN by_id IS NULL THEN 'email' ELSE 'id' END,
                        'meets user ' || target || ', as line ' || first || ' does'
                 FROM (SELECT line, by_id, coalesce(by_id, by_email) AS target,
                              min(line) OVER (PARTITION BY coalesce(by_id, by_email)) AS first
                       FROM import_existing) d
                 WHERE line <> first"
            }
            OnConflict::Skip => "SELECT 0::bigint AS line, '' AS field, '' AS message WHERE false",
        };
        let sql = format!(
            "SELECT line, field, message FROM (
                SELECT line, 'id' AS field, 'duplicates line ' || first AS message
                FROM (SELECT line, min(line) OVER (PARTITION BY id) AS first
                      FROM import_users WHERE id IS NOT NULL) d
                WHERE line <> first
                UNION ALL
                SELECT line, 'email', 'duplicates line ' || first
                FROM (SELECT line, min(line) OVER (PARTITION BY lower(email)) AS first
                      FROM import_users) d
                WHERE line <> first
                UNION ALL
                SELECT s.line, 'agency_id', 'agency ' || s.agency_id || ' does not exist'
                FROM import_users s
                WHERE NOT EXISTS (SELECT 1 FROM agencies a WHERE a.id = s.agency_id)
                UNION ALL
                {conflicts}
             ) problems ORDER BY line, field"
        );
        import::load_problems(conn, &sql).await
    }

    async fn apply(&self, conn: &mut Conn, on_conflict: OnConflict) -> Result<(), DbError> {
        // ids kept: the sequence moves past the largest first, so users created through the
        // API meanwhile or later never take one. `last_value + is_called` is the value the
        // next `nextval` returns (a sequence never used yet returns its `last_value`).
        diesel::sql_query(
            "SELECT setval('users_id_seq', m) FROM (SELECT max(id) AS m FROM import_users) x
             WHERE m >= (SELECT last_value + is_called::int FROM users_id_seq)",
        )
        .execute(conn)
        .await?;
        if on_conflict == OnConflict::Update {
            diesel::sql_query(
                "UPDATE import_users s SET id = coalesce(e.by_id, e.by_email)
                 FROM import_existing e WHERE e.line = s.line",
            )
            .execute(conn)
            .await?;
        }
        // new users without an id: the next ones of the sequence, in line order
        diesel::sql_query(
            "UPDATE import_users s SET id = n.id
             FROM (SELECT line, nextval('users_id_seq') AS id
                   FROM (SELECT line FROM import_users i
                         WHERE i.id IS NULL
                           AND NOT EXISTS (SELECT 1 FROM import_existing e WHERE e.line = i.line)
                         ORDER BY line) o) n
             WHERE n.line = s.line",
        )
        .execute(conn)
        .await?;
        diesel::sql_query(
            "INSERT INTO users (id, agency_id, firstname, lastname, email, phone, password_hash,
                                created_at, updated_at)
             SELECT id, agency_id, firstname, lastname, email, phone, password_hash,
                    coalesce(created_at, now()), coalesce(updated_at, now())
             FROM import_users s
             WHERE NOT EXISTS (SELECT 1 FROM import_existing e WHERE e.line = s.line)
             ORDER BY id",
        )
        .execute(conn)
        .await?;
        if on_conflict == OnConflict::Update {
            diesel::sql_query(
                "UPDATE users u SET agency_id = s.agency_id, firstname = s.firstname,
                        lastname = s.lastname, email = s.email, phone = s.phone,
                        password_hash = coalesce(s.password_hash, u.password_hash),
                        created_at = coalesce(s.created_at, u.created_at),
                        updated_at = coalesce(s.updated_at, now())
                 FROM import_users s JOIN import_existing e ON e.line = s.line
                 WHERE u.id = s.id",
            )
            .execute(conn)
            .await?;
        }
        Ok(())
    }
}

pub struct Export;

#[derive(QueryableByName)]
struct Exported {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    agency_id: i64,
    #[diesel(sql_type = Text)]
    firstname: String,
    #[diesel(sql_type = Nullable<Text>)]
    lastname: Option<String>,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Nullable<Text>)]
    phone: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    password_hash: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    updated_at: DateTime<Utc>,
}

impl Exported {
    /// The line: the user JSON's fields but `name` (derived), timestamps as the API writes
    /// them, and `password_hash` when the user has a password.
    fn into_line(self) -> (String, Value) {
        let mut line = json!({
            "id": self.id,
            "agency_id": self.agency_id,
            "firstname": self.firstname,
            "lastname": self.lastname,
            "email": self.email,
            "phone": self.phone,
            "created_at": timestamp(self.created_at),
            "updated_at": timestamp(self.updated_at),
        });
        if let Some(hash) = self.password_hash {
            line["password_hash"] = Value::String(hash);
        }
        (self.id.to_string(), line)
    }
}

/// The agency group id of `--tenant`, or why it is not one.
fn tenant_id(tenant: &str) -> anyhow::Result<i64> {
    tenant
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| anyhow::anyhow!("--tenant takes an agency group id, got {tenant:?}"))
}

impl import::Exporter for Export {
    /// The tenant is the agency group (as in the audit trail): an API client's world.
    async fn tenant(&self, conn: &mut Conn, tenant: &str) -> anyhow::Result<()> {
        let id = tenant_id(tenant)?;
        if crate::db::group_exists(conn, id).await? {
            Ok(())
        } else {
            anyhow::bail!("there is no agency group {id}")
        }
    }

    /// Every user (with `--tenant`, those of the group's agencies), by id.
    async fn page(
        &self,
        conn: &mut Conn,
        tenant: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<(String, Value)>, DbError> {
        let after = after.and_then(|a| a.parse::<i64>().ok()).unwrap_or(0);
        let tenant = tenant.and_then(|t| tenant_id(t).ok());
        let rows: Vec<Exported> = diesel::sql_query(
            "SELECT u.id, u.agency_id, u.firstname, u.lastname, u.email, u.phone,
                    u.password_hash, u.created_at, u.updated_at
             FROM users u
             WHERE u.id > $1
               AND ($2::bigint IS NULL
                    OR u.agency_id IN (SELECT id FROM agencies WHERE agency_group_id = $2))
             ORDER BY u.id LIMIT $3",
        )
        .bind::<BigInt, _>(after)
        .bind::<Nullable<BigInt>, _>(tenant)
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await?;
        Ok(rows.into_iter().map(Exported::into_line).collect())
    }
}
