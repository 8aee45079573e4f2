//! `jive-svc admin import` and `admin export` (`../shared/api/migration.md`): what is jive's
//! own in them. The command, the streaming, the staging and the report are
//! `user_core::import`'s.
//!
//! A line: `id`? (24 lowercase hex, kept; made by [`ids::object_id`] when absent), `org_id`
//! (an existing org), `first_name`, `last_name`, `email_address`, `active`?,
//! `user_permissions`?, `access_key`? (kept, stored as it is, so API clients keep working; a
//! new one when absent), `created_at`?, `updated_at`?, and `password_hash` or `password` or
//! neither. Names, email, `active`, permissions and password are checked by the create's own
//! rules ([`UserInput::check`]), with the API's messages. jive has no password sign-in: a
//! hash is stored and exported as it came; a line without one stores [`NO_PASSWORD`].
//!
//! A line meets an existing user by `id`, by email in its org (case-insensitive), or by
//! `access_key`. `update` overwrites that user's names and email, and its `active`,
//! `user_permissions`, `access_key`, password and `created_at` when the line gives them
//! (absent ones stay, as in a `PUT`: a line without a key does not lock the user's clients
//! out); a line that meets two different users, or a user of another org, is a problem.

use crate::ids;
use crate::wire::{self, UserInput};
use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, BigInt, Bool, Jsonb, Nullable, Text, Timestamptz};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use serde_json::{json, Map, Value};
use user_core::db::{Conn, DbError};
use user_core::import::{self, LineError, OnConflict, PasswordField, Staged};
use user_core::password::NO_PASSWORD;

/// The fields of a line (the password fields are taken out before).
const FIELDS: &[&str] = &[
    "id",
    "org_id",
    "first_name",
    "last_name",
    "email_address",
    "active",
    "user_permissions",
    "access_key",
    "created_at",
    "updated_at",
];

/// A checked line.
pub struct Row {
    /// The line's id, or a new one.
    id: String,
    id_given: bool,
    org_id: String,
    first_name: String,
    last_name: String,
    email_address: String,
    active: Option<bool>,
    user_permissions: Option<Value>,
    /// The line's key, or a new one.
    access_key: String,
    key_given: bool,
    /// `"password": ""`: no password, as in the API's create (the engine hashed it anyway).
    no_password: bool,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

pub struct Import;

/// An optional 24-hex id (`id`) or a required one (`org_id`), taken out of `line`.
fn object_id_field(
    number: u64,
    line: &mut Map<String, Value>,
    field: &str,
    required: bool,
    problems: &mut Vec<LineError>,
) -> Option<String> {
    let mut problem = |message: &str| {
        problems.push(LineError {
            line: number,
            field: field.to_owned(),
            message: message.to_owned(),
        });
        None
    };
    match line.remove(field) {
        None | Some(Value::Null) if required => problem("is required"),
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if ids::is_object_id(&id) => Some(id),
        Some(_) => problem("must be 24 lowercase hex characters"),
    }
}

/// An optional `access_key`, taken out of `line`. The message never holds the value.
fn access_key_field(
    number: u64,
    line: &mut Map<String, Value>,
    problems: &mut Vec<LineError>,
) -> Option<String> {
    match line.remove("access_key") {
        None | Some(Value::Null) => None,
        Some(Value::String(key)) if wire::usable_access_key(&key) => Some(key),
        Some(_) => {
            problems.push(LineError {
                line: number,
                field: "access_key".to_owned(),
                message: format!(
                    "must be {} to {} printable characters without spaces",
                    wire::MIN_ACCESS_KEY_CHARS,
                    wire::MAX_ACCESS_KEY_BYTES
                ),
            });
            None
        }
    }
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
        let id = object_id_field(number, &mut line, "id", false, &mut problems);
        let org_id = object_id_field(number, &mut line, "org_id", true, &mut problems);
        let access_key = access_key_field(number, &mut line, &mut problems);
        let created_at = import::timestamp_field(number, &mut line, "created_at", &mut problems);
        let updated_at = import::timestamp_field(number, &mut line, "updated_at", &mut problems);
        let (input, mut errors) = UserInput::check(&line, true);
        // the API's create lets names out (""); a line names them, as the user JSON does
        for field in ["first_name", "last_name"] {
            if line.get(field).is_none() {
                errors.push((
                    field,
                    format!("User object validation failed: {field} is required"),
                ));
            }
        }
        let mut no_password = false;
        if let PasswordField::Plain(plain) = password {
            match wire::create_password(plain.expose()) {
                Ok(given) => no_password = given.is_none(),
                Err(message) => errors.push(("password", message)),
            }
        }
        problems.extend(import::line_errors(
            number,
            errors.into_iter().map(|(f, m)| (f.to_owned(), [m])),
        ));
        match (org_id, input.email_address) {
            (Some(org_id), Some(email)) if problems.is_empty() => Ok(Row {
                id_given: id.is_some(),
                id: id.unwrap_or_else(ids::object_id),
                org_id,
                first_name: input.first_name.unwrap_or_default(),
                last_name: input.last_name.unwrap_or_default(),
                email_address: email.into_inner(),
                active: input.active,
                user_permissions: input.user_permissions,
                key_given: access_key.is_some(),
                access_key: access_key.unwrap_or_else(|| user_core::secret::random_hex(16)),
                no_password,
                created_at,
                updated_at,
            }),
            _ => Err(problems),
        }
    }

    async fn create_staging(&self, conn: &mut Conn) -> Result<(), DbError> {
        diesel::sql_query(
            "CREATE TEMP TABLE import_users (
                line bigint NOT NULL, id text NOT NULL, id_given boolean NOT NULL,
                org_id text NOT NULL, first_name text NOT NULL, last_name text NOT NULL,
                email_address text NOT NULL, password_hash text, active boolean,
                user_permissions jsonb, access_key text NOT NULL, key_given boolean NOT NULL,
                created_at timestamptz, updated_at timestamptz
            ) ON COMMIT DROP",
        )
        .execute(conn)
        .await?;
        // the staged lines that meet existing users: by id, by email in the org, by key; the
        // user a line is about (`target`) and its org
        diesel::sql_query(
            "CREATE TEMP TABLE import_existing (
                line bigint PRIMARY KEY, by_id text, by_email text, by_key text,
                target text NOT NULL, target_org text NOT NULL
             ) ON COMMIT DROP",
        )
        .execute(conn)
        .await?;
        Ok(())
    }

    async fn stage(&self, conn: &mut Conn, rows: Vec<Staged<Row>>) -> Result<(), DbError> {
        let n = rows.len();
        let mut line = Vec::with_capacity(n);
        let mut id = Vec::with_capacity(n);
        let mut id_given = Vec::with_capacity(n);
        let mut org = Vec::with_capacity(n);
        let mut first = Vec::with_capacity(n);
        let mut last = Vec::with_capacity(n);
        let mut email = Vec::with_capacity(n);
        let mut hash = Vec::with_capacity(n);
        let mut active = Vec::with_capacity(n);
        let mut permissions = Vec::with_capacity(n);
        let mut key = Vec::with_capacity(n);
        let mut key_given = Vec::with_capacity(n);
        let mut created = Vec::with_capacity(n);
        let mut updated = Vec::with_capacity(n);
        for s in rows {
            line.push(s.line as i64);
            id.push(s.row.id);
            id_given.push(s.row.id_given);
            org.push(s.row.org_id);
            first.push(s.row.first_name);
            last.push(s.row.last_name);
            email.push(s.row.email_address);
            hash.push(s.password_hash.filter(|_| !s.row.no_password));
            active.push(s.row.active);
            permissions.push(s.row.user_permissions);
            key.push(s.row.access_key);
            key_given.push(s.row.key_given);
            created.push(s.row.created_at);
            updated.push(s.row.updated_at);
        }
        diesel::sql_query(
            "INSERT INTO import_users
             SELECT * FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind::<Array<BigInt>, _>(line)
        .bind::<Array<Text>, _>(id)
        .bind::<Array<Bool>, _>(id_given)
        .bind::<Array<Text>, _>(org)
        .bind::<Array<Text>, _>(first)
        .bind::<Array<Text>, _>(last)
        .bind::<Array<Text>, _>(email)
        .bind::<Array<Nullable<Text>>, _>(hash)
        .bind::<Array<Nullable<Bool>>, _>(active)
        .bind::<Array<Nullable<Jsonb>>, _>(permissions)
        .bind::<Array<Text>, _>(key)
        .bind::<Array<Bool>, _>(key_given)
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
             SELECT s.line, ui.id, ue.id, uk.id,
                    coalesce(ui.id, ue.id, uk.id), coalesce(ui.org_id, ue.org_id, uk.org_id)
             FROM import_users s
             LEFT JOIN users ui ON s.id_given AND ui.id = s.id
             LEFT JOIN users ue ON ue.org_id = s.org_id
                               AND lower(ue.email_address) = lower(s.email_address)
             LEFT JOIN users uk ON s.key_given AND uk.access_key = s.access_key
             WHERE ui.id IS NOT NULL OR ue.id IS NOT NULL OR uk.id IS NOT NULL",
        )
        .execute(conn)
        .await?;
        let conflicts = match on_conflict {
            // every line that meets an existing user, named by what it meets first
            OnConflict::Error => {
                "SELECT line, 'id' AS field, 'a user with id ' || by_id || ' exists already' AS message
                 FROM import_existing WHERE by_id IS NOT NULL
                 UNION ALL
                 SELECT line, 'email_address', 'User email already exists for this org.'
                 FROM import_existing WHERE by_email IS NOT NULL AND by_id IS NULL
                 UNION ALL
                 SELECT line, 'access_key', 'is the access key of an existing user'
                 FROM import_existing WHERE by_key IS NOT NULL AND by_id IS NULL AND by_email IS NULL"
            }
            // a line is about one user, of its org: one that meets two (its id one, its email
            // or key another) or another org's cannot be either; two lines about one user
            // neither
            OnConflict::Update => {
                "SELECT line, 'email_address' AS field, 'User email already exists for this org.' AS message
                 FROM import_existing WHERE by_email <> target
                 UNION ALL
                 SELECT line, 'access_key', 'is the access key of another user'
                 FROM import_existing WHERE by_key <> target
                 UNION ALL
                 SELECT e.line, 'org_id', 'user ' || e.target || ' belongs to another org'
                 FROM import_existing e JOIN import_users s ON s.line = e.line
                 WHERE e.target_org <> s.org_id
                 UNION ALL
                 SELECT line, 'id', 'meets the same user as line ' || first
                 FROM (SELECT line, min(line) OVER (PARTITION BY target) AS first
                       FROM import_existing) d
                 WHERE line <> first"
            }
            OnConflict::Skip => "SELECT 0::bigint AS line, '' AS field, '' AS message WHERE false",
        };
        let sql = format!(
            "SELECT line, field, message FROM (
                SELECT line, 'id' AS field, 'duplicates line ' || first AS message
                FROM (SELECT line, min(line) OVER (PARTITION BY id) AS first
                      FROM import_users WHERE id_given) d
                WHERE line <> first
                UNION ALL
                SELECT line, 'email_address', 'duplicates line ' || first
                FROM (SELECT line, min(line) OVER (PARTITION BY org_id, lower(email_address)) AS first
                      FROM import_users) d
                WHERE line <> first
                UNION ALL
                SELECT line, 'access_key', 'duplicates line ' || first
                FROM (SELECT line, min(line) OVER (PARTITION BY access_key) AS first
                      FROM import_users WHERE key_given) d
                WHERE line <> first
                UNION ALL
                SELECT s.line, 'org_id', 'org ' || s.org_id || ' does not exist'
                FROM import_users s
                WHERE NOT EXISTS (SELECT 1 FROM orgs WHERE id = s.org_id)
                UNION ALL
                {conflicts}
             ) problems ORDER BY line, field"
        );
        import::load_problems(conn, &sql).await
    }

    /// No id sequence to move: ids are ObjectIds (seconds, process bytes, counter), and the
    /// ones made later never meet kept ones but by a chance of about 2^-64.
    async fn apply(&self, conn: &mut Conn, on_conflict: OnConflict) -> Result<(), DbError> {
        diesel::sql_query(
            "INSERT INTO users (id, org_id, first_name, last_name, email_address, password_hash,
                                active, access_key, user_permissions, created_at, updated_at)
             SELECT id, org_id, first_name, last_name, email_address, coalesce(password_hash, $1),
                    coalesce(active, true), access_key, coalesce(user_permissions, '{}'),
                    coalesce(created_at, now()), coalesce(updated_at, now())
             FROM import_users s
             WHERE NOT EXISTS (SELECT 1 FROM import_existing e WHERE e.line = s.line)
             ORDER BY id",
        )
        .bind::<Text, _>(NO_PASSWORD)
        .execute(conn)
        .await?;
        if on_conflict == OnConflict::Update {
            diesel::sql_query(
                "UPDATE users u SET first_name = s.first_name, last_name = s.last_name,
                        email_address = s.email_address,
                        password_hash = coalesce(s.password_hash, u.password_hash),
                        active = coalesce(s.active, u.active),
                        user_permissions = coalesce(s.user_permissions, u.user_permissions),
                        access_key = CASE WHEN s.key_given THEN s.access_key ELSE u.access_key END,
                        created_at = coalesce(s.created_at, u.created_at),
                        updated_at = coalesce(s.updated_at, now())
                 FROM import_users s JOIN import_existing e ON e.line = s.line
                 WHERE u.id = e.target",
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
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    org_id: String,
    #[diesel(sql_type = Text)]
    first_name: String,
    #[diesel(sql_type = Text)]
    last_name: String,
    #[diesel(sql_type = Text)]
    email_address: String,
    #[diesel(sql_type = Text)]
    password_hash: String,
    #[diesel(sql_type = Bool)]
    active: bool,
    #[diesel(sql_type = Text)]
    access_key: String,
    #[diesel(sql_type = Jsonb)]
    user_permissions: Value,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    updated_at: DateTime<Utc>,
}

impl Exported {
    fn into_line(self) -> (String, Value) {
        let mut line = json!({
            "id": self.id,
            "org_id": self.org_id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email_address": self.email_address,
            "active": self.active,
            "user_permissions": self.user_permissions,
            "access_key": self.access_key,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        });
        if self.password_hash != NO_PASSWORD {
            line["password_hash"] = Value::String(self.password_hash);
        }
        (self.id, line)
    }
}

impl import::Exporter for Export {
    /// `--tenant` is an org id.
    async fn tenant(&self, conn: &mut Conn, tenant: &str) -> anyhow::Result<()> {
        if !ids::is_object_id(tenant) {
            anyhow::bail!("--tenant takes an org id (24 lowercase hex characters), got {tenant:?}");
        }
        if crate::db::org_exists(conn, tenant).await? {
            Ok(())
        } else {
            anyhow::bail!("there is no org {tenant}")
        }
    }

    async fn page(
        &self,
        conn: &mut Conn,
        tenant: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<(String, Value)>, DbError> {
        let rows: Vec<Exported> = diesel::sql_query(
            "SELECT id, org_id, first_name, last_name, email_address, password_hash, active,
                    access_key, user_permissions, created_at, updated_at
             FROM users
             WHERE id > $1 AND ($2::text IS NULL OR org_id = $2)
             ORDER BY id LIMIT $3",
        )
        .bind::<Text, _>(after.unwrap_or(""))
        .bind::<Nullable<Text>, _>(tenant)
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await?;
        Ok(rows.into_iter().map(Exported::into_line).collect())
    }
}
