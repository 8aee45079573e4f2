//! `virtool-svc admin import` and `admin export` (`../shared/api/migration.md`): what is
//! virtool's own in them. The command, the streaming, the staging and the report are
//! `user_core::import`'s.
//!
//! A line: `id` (the user id as the API shows it, required), `groups`? (ids of existing
//! groups), `primary_group`? (`""` or `"none"` for none, else one of the line's groups),
//! `force_reset`?, `last_password_change`?, `created_at`?, and `password_hash` or `password` or
//! neither. The id, `force_reset`, `primary_group` and the password are checked by the API's
//! own rules and reported in its (Cerberus's) words (`wire.rs`, `cerberus.rs`); a group that
//! does not exist is `Group not found`, a primary group the line is not in is
//! `User is not member of group: <g>`, as `PATCH /api/users/{id}` answers. Groups are not
//! imported: they are made first (`POST /api/groups`).
//!
//! `force_reset` absent is `false` when the line brings a password (it keeps working as it
//! did); a line without a password makes a user with no usable password
//! ([`NO_PASSWORD`]) and `force_reset` true, whatever the line says. A line meets an existing
//! user by `id` (exact, as ids are case-sensitive); `update` makes that user's groups and
//! primary group the line's, sets `force_reset` (as the line says, or `false` with a new
//! password, else as it was), the password (kept when the line gives none; a new one sets
//! `last_password_change`, ends pending reset codes and earlier tokens) and the timestamps the
//! line gives.

use crate::cerberus::Document;
use crate::error::GROUP_NOT_FOUND;
use crate::wire::{self, password_rule, plausible_id};
use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Timestamptz};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use serde_json::{json, Map, Value};
use user_core::db::{Conn, DbError};
use user_core::import::{self, LineError, OnConflict, PasswordField, Staged};
use user_core::password::NO_PASSWORD;

/// The fields of a line (the password fields are taken out before).
const FIELDS: &[&str] = &[
    "id",
    "groups",
    "primary_group",
    "force_reset",
    "last_password_change",
    "created_at",
];

/// A checked line.
pub struct Row {
    id: String,
    /// As given (repeats included: a problem names a group by its place in the line).
    groups: Vec<String>,
    primary_group: Option<String>,
    force_reset: Option<bool>,
    last_password_change: Option<DateTime<Utc>>,
    created_at: Option<DateTime<Utc>>,
}

/// The import, with the password rule's minimum (`MINIMUM_PASSWORD_LENGTH`).
pub struct Import {
    pub minimum_password_length: usize,
}

/// `groups`: absent or null → none; else a list of group ids. An id that no group can have
/// (what the API answers 404 for without asking the database) is `Group not found` here.
fn groups_field(
    number: u64,
    line: &mut Map<String, Value>,
    problems: &mut Vec<LineError>,
) -> Vec<String> {
    let problem = |field: String, message: &str| LineError {
        line: number,
        field,
        message: message.to_owned(),
    };
    match line.remove("groups") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let mut groups = Vec::with_capacity(items.len());
            for (n, item) in items.into_iter().enumerate() {
                let field = format!("groups.{n}");
                match item {
                    Value::String(g) if plausible_id(&g) => groups.push(g),
                    Value::String(_) => problems.push(problem(field, GROUP_NOT_FOUND)),
                    Value::Null => problems.push(problem(field, "null value not allowed")),
                    _ => problems.push(problem(field, "must be of string type")),
                }
            }
            groups
        }
        Some(_) => {
            problems.push(problem("groups".to_owned(), "must be of list type"));
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
        // reported once, not again as Cerberus's `unknown field`
        line.retain(|k, _| FIELDS.contains(&k.as_str()));
        let mut more = Vec::new();
        let groups = groups_field(number, &mut line, &mut more);
        let last_password_change =
            import::timestamp_field(number, &mut line, "last_password_change", &mut more);
        let created_at = import::timestamp_field(number, &mut line, "created_at", &mut more);
        let body = Value::Object(line);
        let mut doc = Document::new(&body);
        let raw_id = doc.string("id", true);
        let id = wire::id_rule(&mut doc, "id", raw_id);
        let force_reset = doc.boolean("force_reset", false);
        let primary_group = match doc.string("primary_group", false) {
            None | Some("" | "none") => None,
            Some(group) if plausible_id(group) => Some(group.to_owned()),
            Some(_) => {
                doc.fail("primary_group", GROUP_NOT_FOUND);
                None
            }
        };
        if let PasswordField::Plain(plain) = password {
            password_rule(&mut doc, Some(plain.expose()), self.minimum_password_length);
        }
        problems.extend(import::line_errors(number, doc.finish().into_fields()));
        problems.extend(more);
        match id {
            Some(id) if problems.is_empty() => Ok(Row {
                id,
                groups,
                primary_group,
                force_reset,
                last_password_change,
                created_at,
            }),
            _ => Err(problems),
        }
    }

    async fn create_staging(&self, conn: &mut Conn) -> Result<(), DbError> {
        diesel::sql_query(
            "CREATE TEMP TABLE import_users (
                line bigint NOT NULL, id text NOT NULL, groups text[] NOT NULL,
                primary_group text, force_reset boolean, last_password_change timestamptz,
                created_at timestamptz, password_hash text
            ) ON COMMIT DROP",
        )
        .execute(conn)
        .await?;
        // the staged lines that meet existing users (by id: the only unique field)
        diesel::sql_query(
            "CREATE TEMP TABLE import_existing (line bigint PRIMARY KEY) ON COMMIT DROP",
        )
        .execute(conn)
        .await?;
        Ok(())
    }

    async fn stage(&self, conn: &mut Conn, rows: Vec<Staged<Row>>) -> Result<(), DbError> {
        let n = rows.len();
        let mut line = Vec::with_capacity(n);
        let mut id = Vec::with_capacity(n);
        let mut groups = Vec::with_capacity(n);
        let mut primary = Vec::with_capacity(n);
        let mut force_reset = Vec::with_capacity(n);
        let mut changed = Vec::with_capacity(n);
        let mut created = Vec::with_capacity(n);
        let mut hash = Vec::with_capacity(n);
        for s in rows {
            line.push(s.line as i64);
            id.push(s.row.id);
            // a JSON array each: group ids may hold any separator, and arrays of arrays
            // cannot be ragged
            groups.push(Value::from(s.row.groups).to_string());
            primary.push(s.row.primary_group);
            force_reset.push(s.row.force_reset);
            changed.push(s.row.last_password_change);
            created.push(s.row.created_at);
            hash.push(s.password_hash);
        }
        diesel::sql_query(
            "INSERT INTO import_users
             SELECT l, i, ARRAY(SELECT jsonb_array_elements_text(g::jsonb)), p, f, c, cr, h
             FROM unnest($1, $2, $3, $4, $5, $6, $7, $8) AS t(l, i, g, p, f, c, cr, h)",
        )
        .bind::<Array<BigInt>, _>(line)
        .bind::<Array<Text>, _>(id)
        .bind::<Array<Text>, _>(groups)
        .bind::<Array<Nullable<Text>>, _>(primary)
        .bind::<Array<Nullable<Bool>>, _>(force_reset)
        .bind::<Array<Nullable<Timestamptz>>, _>(changed)
        .bind::<Array<Nullable<Timestamptz>>, _>(created)
        .bind::<Array<Nullable<Text>>, _>(hash)
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
             SELECT s.line FROM import_users s JOIN users u ON u.id = s.id",
        )
        .execute(conn)
        .await?;
        let conflicts = match on_conflict {
            // every line that meets an existing user, with the create's 409
            OnConflict::Error => {
                "SELECT line, 'id' AS field, 'User already exists' AS message, 0::bigint AS n
                 FROM import_existing"
            }
            // the id is the only unique field: a line meets one user at most
            OnConflict::Update | OnConflict::Skip => {
                "SELECT 0::bigint AS line, '' AS field, '' AS message, 0::bigint AS n WHERE false"
            }
        };
        let sql = format!(
            "SELECT line, field, message FROM (
                SELECT line, 'id' AS field, 'duplicates line ' || first AS message, 0::bigint AS n
                FROM (SELECT line, min(line) OVER (PARTITION BY id) AS first
                      FROM import_users) d
                WHERE line <> first
                UNION ALL
                SELECT s.line, 'groups.' || (g.n - 1), '{GROUP_NOT_FOUND}', g.n
                FROM import_users s, unnest(s.groups) WITH ORDINALITY AS g(id, n)
                WHERE NOT EXISTS (SELECT 1 FROM groups WHERE groups.id = g.id)
                UNION ALL
                -- the API's order: a group that does not exist, then one the user is not in
                SELECT s.line, 'primary_group',
                       CASE WHEN EXISTS (SELECT 1 FROM groups WHERE groups.id = s.primary_group)
                            THEN 'User is not member of group: ' || s.primary_group
                            ELSE '{GROUP_NOT_FOUND}' END,
                       0
                FROM import_users s
                WHERE s.primary_group IS NOT NULL AND s.primary_group <> ALL (s.groups)
                UNION ALL
                {conflicts}
             ) problems ORDER BY line, split_part(field, '.', 1), n"
        );
        import::load_problems(conn, &sql).await
    }

    /// Ids are text: no sequence to move.
    async fn apply(&self, conn: &mut Conn, on_conflict: OnConflict) -> Result<(), DbError> {
        if on_conflict == OnConflict::Update {
            diesel::sql_query(
                "UPDATE users u SET
                    password_hash = coalesce(s.password_hash, u.password_hash),
                    force_reset = coalesce(s.force_reset,
                        CASE WHEN s.password_hash IS NULL THEN u.force_reset ELSE false END),
                    last_password_change = coalesce(s.last_password_change,
                        CASE WHEN s.password_hash IS NULL THEN u.last_password_change ELSE now() END),
                    primary_group = s.primary_group,
                    created_at = coalesce(s.created_at, u.created_at)
                 FROM import_users s JOIN import_existing e ON e.line = s.line
                 WHERE u.id = s.id",
            )
            .execute(conn)
            .await?;
            diesel::sql_query(
                "DELETE FROM memberships m USING import_users s
                 JOIN import_existing e ON e.line = s.line
                 WHERE m.user_id = s.id AND m.group_id <> ALL (s.groups)",
            )
            .execute(conn)
            .await?;
            // a new password ends a pending reset code, as a PATCH's does
            diesel::sql_query(
                "DELETE FROM reset_codes r USING import_users s
                 JOIN import_existing e ON e.line = s.line
                 WHERE r.user_id = s.id AND s.password_hash IS NOT NULL",
            )
            .execute(conn)
            .await?;
            diesel::sql_query(
                "INSERT INTO memberships (user_id, group_id)
                 SELECT DISTINCT s.id, g FROM import_users s
                 JOIN import_existing e ON e.line = s.line, unnest(s.groups) AS g
                 ON CONFLICT DO NOTHING",
            )
            .execute(conn)
            .await?;
        }
        diesel::sql_query(
            "INSERT INTO users (id, password_hash, force_reset, last_password_change,
                                primary_group, created_at)
             SELECT id, coalesce(password_hash, $1),
                    CASE WHEN password_hash IS NULL THEN true ELSE coalesce(force_reset, false) END,
                    coalesce(last_password_change, now()), primary_group, coalesce(created_at, now())
             FROM import_users s
             WHERE NOT EXISTS (SELECT 1 FROM import_existing e WHERE e.line = s.line)
             ORDER BY id",
        )
        .bind::<Text, _>(NO_PASSWORD)
        .execute(conn)
        .await?;
        diesel::sql_query(
            "INSERT INTO memberships (user_id, group_id)
             SELECT DISTINCT s.id, g FROM import_users s, unnest(s.groups) AS g
             WHERE NOT EXISTS (SELECT 1 FROM import_existing e WHERE e.line = s.line)",
        )
        .execute(conn)
        .await?;
        Ok(())
    }
}

pub struct Export;

#[derive(QueryableByName)]
struct Exported {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    password_hash: String,
    #[diesel(sql_type = Bool)]
    force_reset: bool,
    #[diesel(sql_type = Timestamptz)]
    last_password_change: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Text>)]
    primary_group: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Array<Text>)]
    groups: Vec<String>,
}

impl Exported {
    /// The line, timestamps as the API writes them (microseconds, `Z`).
    fn into_line(self) -> (String, Value) {
        let mut line = json!({
            "id": self.id,
            "groups": self.groups,
            "primary_group": self.primary_group.unwrap_or_default(),
            "force_reset": self.force_reset,
            "last_password_change": wire::timestamp(self.last_password_change),
            "created_at": wire::timestamp(self.created_at),
        });
        if self.password_hash != NO_PASSWORD {
            line["password_hash"] = Value::String(self.password_hash);
        }
        (self.id, line)
    }
}

impl import::Exporter for Export {
    /// `--tenant` is a group id: its members.
    async fn tenant(&self, conn: &mut Conn, tenant: &str) -> anyhow::Result<()> {
        if plausible_id(tenant) && crate::db::group_exists(conn, tenant).await? {
            Ok(())
        } else {
            anyhow::bail!("there is no group {tenant:?} (--tenant takes a group id)")
        }
    }

    /// Every user (with `--tenant`, the group's members), each with all of its groups. A page
    /// is an index range of `users` and one index lookup of `memberships` per user.
    async fn page(
        &self,
        conn: &mut Conn,
        tenant: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<(String, Value)>, DbError> {
        // no id is empty: "" comes before every one
        let after = after.unwrap_or("");
        let rows: Vec<Exported> = diesel::sql_query(
            "SELECT u.id, u.password_hash, u.force_reset, u.last_password_change,
                    u.primary_group, u.created_at,
                    ARRAY(SELECT m.group_id FROM memberships m WHERE m.user_id = u.id
                          ORDER BY m.group_id) AS groups
             FROM users u
             WHERE u.id > $1
               AND ($2::text IS NULL OR EXISTS (
                    SELECT 1 FROM memberships t WHERE t.user_id = u.id AND t.group_id = $2))
             ORDER BY u.id LIMIT $3",
        )
        .bind::<Text, _>(after)
        .bind::<Nullable<Text>, _>(tenant)
        .bind::<BigInt, _>(limit)
        .load(conn)
        .await?;
        Ok(rows.into_iter().map(Exported::into_line).collect())
    }
}
