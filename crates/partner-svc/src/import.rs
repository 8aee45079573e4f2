//! `partner-svc admin import` and `admin export` (`../shared/api/migration.md`): what is
//! partner's own in them. The command, the streaming, the staging and the report are
//! `user_core::import`'s.
//!
//! A line: `id`?, `first_name`, `last_name`, `email`, `permissions`?, `partners` (ids of
//! existing partners, at least one), `created_at`?, `updated_at`?, and `password_hash` or
//! `password` or neither. Names, email, permissions and password are checked by the create's
//! own rules (`wire.rs`). A line meets an existing user by `id` or by email (case-insensitive);
//! `update` overwrites that user's names, email, permissions and password (kept when the line
//! gives none), and makes its partners those of the line.

use crate::permissions::names;
use crate::wire::{password_rule, permissions_rule, NAME_MAX};
use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use serde_json::{json, Map, Value};
use user_core::db::{Conn, DbError};
use user_core::import::{self, LineError, OnConflict, PasswordField, Staged};
use user_core::laravel::{email_rule, text_rule, Errors};
use user_core::password::NO_PASSWORD;

/// The fields of a line (the password fields are taken out before).
const FIELDS: &[&str] = &[
    "id",
    "first_name",
    "last_name",
    "email",
    "permissions",
    "partners",
    "created_at",
    "updated_at",
];

/// A checked line.
pub struct Row {
    id: Option<i64>,
    first_name: String,
    last_name: String,
    email: String,
    permissions: Vec<String>,
    partners: Vec<i64>,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
}

pub struct Import;

/// `partners`: an array of at least one positive integer (repeats counted once).
fn partners_field(
    number: u64,
    line: &mut Map<String, Value>,
    problems: &mut Vec<LineError>,
) -> Vec<i64> {
    let problem = |message: &str| LineError {
        line: number,
        field: "partners".to_owned(),
        message: message.to_owned(),
    };
    match line.remove("partners") {
        Some(Value::Array(items)) if !items.is_empty() => {
            let ids: Option<std::collections::BTreeSet<i64>> = items
                .iter()
                .map(|v| v.as_i64().filter(|id| *id > 0))
                .collect();
            match ids {
                Some(ids) => ids.into_iter().collect(),
                None => {
                    problems.push(problem("must hold partner ids (positive integers)"));
                    Vec::new()
                }
            }
        }
        Some(Value::Array(_)) | None | Some(Value::Null) => {
            problems.push(problem("must list at least one partner id"));
            Vec::new()
        }
        Some(_) => {
            problems.push(problem("must be an array of partner ids"));
            Vec::new()
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
        let id = import::integer_id_field(number, &mut line, &mut problems);
        let created_at = import::timestamp_field(number, &mut line, "created_at", &mut problems);
        let updated_at = import::timestamp_field(number, &mut line, "updated_at", &mut problems);
        let partners = partners_field(number, &mut line, &mut problems);
        let body = Value::Object(line);
        let mut errors = Errors::new();
        let first_name = text_rule(&mut errors, &body, "first_name", true, NAME_MAX).flatten();
        let last_name = text_rule(&mut errors, &body, "last_name", true, NAME_MAX).flatten();
        let email = email_rule(&mut errors, &body, "email", true);
        let permissions = permissions_rule(&mut errors, &body).flatten();
        if let PasswordField::Plain(plain) = password {
            password_rule(
                &mut errors,
                &json!({ "password": plain.expose() }),
                "password",
            );
        }
        problems.extend(import::line_errors(number, errors.into_fields()));
        match (first_name, last_name, email) {
            (Some(first_name), Some(last_name), Some(email)) if problems.is_empty() => Ok(Row {
                id,
                first_name,
                last_name,
                email: email.into_inner(),
                permissions: permissions.as_ref().map(names).unwrap_or_default(),
                partners,
                created_at,
                updated_at,
            }),
            _ => Err(problems),
        }
    }

    async fn create_staging(&self, conn: &mut Conn) -> Result<(), DbError> {
        diesel::sql_query(
            "CREATE TEMP TABLE import_users (
                line bigint NOT NULL, id bigint, first_name text NOT NULL,
                last_name text NOT NULL, email text NOT NULL, password_hash text,
                permissions text[] NOT NULL, partners bigint[] NOT NULL,
                created_at timestamptz, updated_at timestamptz
            ) ON COMMIT DROP",
        )
        .execute(conn)
        .await?;
        diesel::sql_query("CREATE INDEX ON import_users (line)")
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
        let mut first = Vec::with_capacity(n);
        let mut last = Vec::with_capacity(n);
        let mut email = Vec::with_capacity(n);
        let mut hash = Vec::with_capacity(n);
        let mut permissions = Vec::with_capacity(n);
        let mut partners = Vec::with_capacity(n);
        let mut created = Vec::with_capacity(n);
        let mut updated = Vec::with_capacity(n);
        for s in rows {
            line.push(s.line as i64);
            id.push(s.row.id);
            first.push(s.row.first_name);
            last.push(s.row.last_name);
            email.push(s.row.email);
            hash.push(s.password_hash);
            permissions.push(s.row.permissions.join(","));
            partners.push(
                s.row
                    .partners
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            );
            created.push(s.row.created_at);
            updated.push(s.row.updated_at);
        }
        diesel::sql_query(
            "INSERT INTO import_users
             SELECT l, i, f, la, e, h, string_to_array(p, ','), string_to_array(pa, ',')::bigint[], c, u
             FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) AS t(l, i, f, la, e, h, p, pa, c, u)",
        )
        .bind::<Array<BigInt>, _>(line)
        .bind::<Array<Nullable<BigInt>>, _>(id)
        .bind::<Array<Text>, _>(first)
        .bind::<Array<Text>, _>(last)
        .bind::<Array<Text>, _>(email)
        .bind::<Array<Nullable<Text>>, _>(hash)
        .bind::<Array<Text>, _>(permissions)
        .bind::<Array<Text>, _>(partners)
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
            // a line whose id is one user and whose email another cannot be either
            // a line whose id is one user (or no user) and whose email another cannot be
            // either; two lines that meet the same user cannot both be written
            OnConflict::Update => {
                "SELECT e.line, 'email' AS field, 'The email has already been taken.' AS message
                 FROM import_existing e JOIN import_users s ON s.line = e.line
                 WHERE e.by_email IS NOT NULL AND s.id IS NOT NULL
                   AND e.by_id IS DISTINCT FROM e.by_email
                 UNION ALL
                 SELECT line, 'id', 'meets the same user as line ' || first
                 FROM (SELECT line, min(line) OVER (PARTITION BY coalesce(by_id, by_email)) AS first
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
                SELECT s.line, 'partners', 'partner ' || p || ' does not exist'
                FROM import_users s, unnest(s.partners) AS p
                WHERE NOT EXISTS (SELECT 1 FROM partners WHERE id = p)
                UNION ALL
                {conflicts}
             ) problems ORDER BY line, field"
        );
        import::load_problems(conn, &sql).await
    }

    async fn apply(&self, conn: &mut Conn, on_conflict: OnConflict) -> Result<(), DbError> {
        // ids kept: the sequence moves past the largest first, so users created through the
        // API meanwhile or later never take one
        diesel::sql_query(
            // (`last_value + is_called` is the next value the sequence gives)
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
        diesel::sql_query(
            "UPDATE import_users s SET id = nextval('users_id_seq')
             WHERE s.id IS NULL AND NOT EXISTS (SELECT 1 FROM import_existing e WHERE e.line = s.line)",
        )
        .execute(conn)
        .await?;
        let rebuild = search_index_to_rebuild(conn).await?;
        // A chunk of users, then their memberships: each membership's foreign-key check
        // locks its user's row, and a chunk's rows are still in shared buffers then (a
        // million users written whole first were written out, read back and written again).
        let lines: LineRange = diesel::sql_query(
            "SELECT coalesce(min(line), 0) AS first, coalesce(max(line), -1) AS last FROM import_users",
        )
        .get_result(conn)
        .await?;
        let mut from = lines.first;
        while from <= lines.last {
            let to = from + CHUNK_LINES;
            diesel::sql_query(
                "INSERT INTO users (id, first_name, last_name, email, password_hash, permissions,
                                    created_at, updated_at)
                 SELECT id, first_name, last_name, email, coalesce(password_hash, $1), permissions,
                        coalesce(created_at, now()), coalesce(updated_at, now())
                 FROM import_users s
                 WHERE s.line >= $2 AND s.line < $3
                   AND NOT EXISTS (SELECT 1 FROM import_existing e WHERE e.line = s.line)
                 ORDER BY id",
            )
            .bind::<Text, _>(NO_PASSWORD)
            .bind::<BigInt, _>(from)
            .bind::<BigInt, _>(to)
            .execute(conn)
            .await?;
            diesel::sql_query(
                // with the search text of the row just written (migration
                // 2026-12-03-000004: the trigger's copy is skipped)
                "INSERT INTO memberships (partner_id, user_id, created_at, search)
                 SELECT p, s.id, coalesce(s.created_at, now()),
                        lower(s.first_name || ' ' || s.last_name || ' ' || s.email)
                 FROM import_users s, unnest(s.partners) AS p
                 WHERE s.line >= $1 AND s.line < $2
                   AND NOT EXISTS (SELECT 1 FROM import_existing e WHERE e.line = s.line)
                 ORDER BY p, s.id",
            )
            .bind::<BigInt, _>(from)
            .bind::<BigInt, _>(to)
            .execute(conn)
            .await?;
            from = to;
        }
        if on_conflict == OnConflict::Update {
            diesel::sql_query(
                "UPDATE users u SET first_name = s.first_name, last_name = s.last_name,
                        email = s.email, password_hash = coalesce(s.password_hash, u.password_hash),
                        permissions = s.permissions, updated_at = coalesce(s.updated_at, now())
                 FROM import_users s JOIN import_existing e ON e.line = s.line
                 WHERE u.id = s.id",
            )
            .execute(conn)
            .await?;
            diesel::sql_query(
                "DELETE FROM memberships m USING import_users s
                 JOIN import_existing e ON e.line = s.line
                 WHERE m.user_id = s.id AND m.partner_id <> ALL (s.partners)",
            )
            .execute(conn)
            .await?;
            diesel::sql_query(
                "INSERT INTO memberships (partner_id, user_id)
                 SELECT p, s.id FROM import_users s JOIN import_existing e ON e.line = s.line,
                      unnest(s.partners) AS p
                 ON CONFLICT DO NOTHING",
            )
            .execute(conn)
            .await?;
        }
        if let Some(definition) = rebuild {
            diesel::sql_query("SET LOCAL maintenance_work_mem = '256MB'")
                .execute(conn)
                .await?;
            diesel::sql_query(definition).execute(conn).await?;
        }
        Ok(())
    }
}

/// The definition of the search index, dropped here, when the import writes into a schema
/// without memberships (a new installation: the usual migration), for `apply` to build it once
/// after the rows instead of entry by entry. A million memberships took about 40 s through
/// the index, of which the trigram entries were most; a build after the rows is a sort.
/// The drop holds memberships' strongest lock until the import commits, so readers of a
/// partner's users wait for the import (there is nothing to read yet) instead of seeing it
/// half done; a failed import rolls the drop back with everything else. `None` when there
/// are memberships: then the index is kept, and so are the API's reads during the import.
async fn search_index_to_rebuild(conn: &mut Conn) -> Result<Option<String>, DbError> {
    #[derive(QueryableByName)]
    struct Definition {
        #[diesel(sql_type = Nullable<Text>)]
        definition: Option<String>,
    }
    let found: Definition = diesel::sql_query(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM memberships) THEN NULL
                ELSE pg_get_indexdef('memberships_search_idx'::regclass) END AS definition",
    )
    .get_result(conn)
    .await?;
    if found.definition.is_some() {
        diesel::sql_query("DROP INDEX memberships_search_idx")
            .execute(conn)
            .await?;
    }
    Ok(found.definition)
}

/// Lines written per pair of statements in `apply`.
const CHUNK_LINES: i64 = 50_000;

#[derive(QueryableByName)]
struct LineRange {
    #[diesel(sql_type = BigInt)]
    first: i64,
    #[diesel(sql_type = BigInt)]
    last: i64,
}

pub struct Export;

#[derive(QueryableByName)]
struct Exported {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    first_name: String,
    #[diesel(sql_type = Text)]
    last_name: String,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Text)]
    password_hash: String,
    #[diesel(sql_type = Array<Text>)]
    permissions: Vec<String>,
    #[diesel(sql_type = Array<BigInt>)]
    partners: Vec<i64>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    updated_at: DateTime<Utc>,
}

impl Exported {
    fn into_line(self) -> (String, Value) {
        let mut line = json!({
            "id": self.id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email,
            "permissions": self.permissions,
            "partners": self.partners,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        });
        if self.password_hash != NO_PASSWORD {
            line["password_hash"] = Value::String(self.password_hash);
        }
        (self.id.to_string(), line)
    }
}

/// The id of `--tenant`, or why it is not one.
fn tenant_id(tenant: &str) -> anyhow::Result<i64> {
    tenant
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| anyhow::anyhow!("--tenant takes a partner id, got {tenant:?}"))
}

impl import::Exporter for Export {
    async fn tenant(&self, conn: &mut Conn, tenant: &str) -> anyhow::Result<()> {
        let id = tenant_id(tenant)?;
        if crate::db::partner_exists(conn, id).await? {
            Ok(())
        } else {
            anyhow::bail!("there is no partner {id}")
        }
    }

    /// A user's partners (with `--tenant`, that partner only). Users of no partner (the
    /// bootstrap super admin, which every instance makes from its own settings) are left out:
    /// a line must name a partner.
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
            "SELECT u.id, u.first_name, u.last_name, u.email, u.password_hash, u.permissions,
                    u.created_at, u.updated_at,
                    array_agg(m.partner_id ORDER BY m.partner_id) AS partners
             FROM users u JOIN memberships m ON m.user_id = u.id
             WHERE u.id > $1 AND ($2::bigint IS NULL OR m.partner_id = $2)
             GROUP BY u.id ORDER BY u.id LIMIT $3",
        )
        .bind::<BigInt, _>(after)
        .bind::<Nullable<BigInt>, _>(tenant)
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await?;
        Ok(rows.into_iter().map(Exported::into_line).collect())
    }
}
