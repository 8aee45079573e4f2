//! The jive schema: models and every query the service runs (one place to look for SQL).

pub mod schema;

use crate::permissions::Access;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Jsonb, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use schema::{orgs, users};
use serde_json::Value;
use user_core::db::{prepared, DbError, FROM_START_BELOW};

pub const MIGRATIONS: diesel_migrations::EmbeddedMigrations =
    diesel_migrations::embed_migrations!("migrations");

type Conn = AsyncPgConnection;

/// The unique index that makes an email unique within an org (see the migration).
pub const EMAIL_INDEX: &str = "users_org_email_key";

/// A user as the API shows it (the password hash is never selected with it).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: String,
    pub org_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email_address: String,
    pub active: bool,
    pub access_key: String,
    pub user_permissions: Value,
}

/// What authentication needs to know about the owner of an access key.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
struct KeyOwner {
    id: String,
    org_id: String,
    user_permissions: Value,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser {
    pub id: String,
    pub org_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email_address: String,
    pub password_hash: String,
    pub active: bool,
    pub access_key: String,
    pub user_permissions: Value,
}

/// A partial update: `None` leaves a column alone.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email_address: Option<String>,
    pub active: Option<bool>,
    pub user_permissions: Option<Value>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl UserChanges {
    pub fn is_empty(&self) -> bool {
        self.first_name.is_none()
            && self.last_name.is_none()
            && self.email_address.is_none()
            && self.active.is_none()
            && self.user_permissions.is_none()
    }
}

/// Whether any user, active or not, has `key`.
pub async fn key_taken(conn: &mut Conn, key: &str) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        users::table.filter(users::access_key.eq(key)),
    ))
    .get_result(conn)
    .await?)
}

/// An active user, as authentication knows it (and caches: [`crate::state::AppState::keys`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub org_id: String,
    pub access: Access,
}

/// The active owner of `key`; `None` for an unknown key or an inactive user.
pub async fn principal_by_key(conn: &mut Conn, key: &str) -> Result<Option<Principal>, DbError> {
    let owner: Option<KeyOwner> = users::table
        .filter(users::access_key.eq(key))
        .filter(users::active.eq(true))
        .select(KeyOwner::as_select())
        .first(conn)
        .await
        .optional()?;
    Ok(owner.map(|o| Principal {
        access: Access::of(&o.user_permissions),
        user_id: o.id,
        org_id: o.org_id,
    }))
}

/// At most `limit` users of `org` with ids after `after`, in id order (a keyset batch).
pub async fn users_after(
    conn: &mut Conn,
    org: &str,
    after: Option<String>,
    limit: usize,
) -> Result<Vec<User>, DbError> {
    let mut query = users::table
        .filter(users::org_id.eq(org))
        .order(users::id)
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .select(User::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(users::id.gt(after));
    }
    Ok(query.load(conn).await?)
}

/// A page statement, around the part that finds the page's user ids
/// ([`user_core::page_ids_sql!`], which says how they are read and why), as partner's.
///
/// - `$1` org, `$2` limit, `$3` offset; one statement, so one snapshot: the total and the page
///   always agree. No transaction.
/// - The total is the sum of the org's `user_counts` rows, kept by the users' triggers in the
///   writes' own transactions (migration 2026-12-03-000003): a few rows, not a count over the
///   org's users. Always one row at least: a page past the end gives one row with the total
///   and no user.
/// - The ids are read on `users_org_id_idx (org_id, id)` alone, never by walking the primary
///   key in id order filtering on the org, which for a small org of a table a large one fills
///   reads the whole table.
macro_rules! page_sql {
    ($ids:expr) => {
        concat!(
            "SELECT t.total, u.id, u.org_id, u.first_name, u.last_name, \
                    u.email_address, u.active, u.access_key, u.user_permissions \
             FROM (SELECT coalesce(sum(c.n), 0)::bigint AS total, \
                          $1 AS tenant, $2 AS lim, $3 AS off \
                   FROM user_counts c WHERE c.org_id = $1) t \
             LEFT JOIN LATERAL (",
            $ids,
            ") p ON true \
             LEFT JOIN users u ON u.id = p.id"
        )
    };
}

/// One page of an org's users and how many users the org has (`page_sql!`), the ids read from
/// the nearer end of the list: the last page of ten million skips no entry.
pub const PAGE_SQL: &str = page_sql!(user_core::page_ids_sql!(
    either_end, "users", "org_id", "id"
));

/// [`PAGE_SQL`] for a page that starts within the first [`FROM_START_BELOW`] entries: read from
/// the start whatever the total, one branch instead of two.
pub const PAGE_FROM_START_SQL: &str = page_sql!(user_core::page_ids_sql!(
    from_start, "users", "org_id", "id"
));

/// A row of [`PAGE_SQL`] and [`PAGE_FROM_START_SQL`]: the total, and a user unless the page is
/// empty.
#[derive(QueryableByName)]
struct PageRow {
    #[diesel(sql_type = BigInt)]
    total: i64,
    #[diesel(sql_type = Nullable<Text>)]
    id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    org_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    first_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    last_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    email_address: Option<String>,
    #[diesel(sql_type = Nullable<Bool>)]
    active: Option<bool>,
    #[diesel(sql_type = Nullable<Text>)]
    access_key: Option<String>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    user_permissions: Option<Value>,
}

impl PageRow {
    /// The row's user; `None` for the row of an empty page.
    fn user(self) -> Option<User> {
        Some(User {
            id: self.id?,
            org_id: self.org_id?,
            first_name: self.first_name?,
            last_name: self.last_name?,
            email_address: self.email_address?,
            active: self.active?,
            access_key: self.access_key?,
            user_permissions: self.user_permissions?,
        })
    }
}

/// Page `page` (from 1) of `size` users of `org` in id order, and how many users `org` has
/// (exact, from the same snapshot): one statement, [`PAGE_FROM_START_SQL`] or [`PAGE_SQL`].
pub async fn users_page(
    conn: &mut Conn,
    org: &str,
    page: u64,
    size: u64,
) -> Result<(Vec<User>, i64), DbError> {
    let offset = i64::try_from(page.saturating_sub(1).saturating_mul(size)).unwrap_or(i64::MAX);
    let limit = i64::try_from(size).unwrap_or(i64::MAX);
    let sql = if offset < FROM_START_BELOW {
        PAGE_FROM_START_SQL
    } else {
        PAGE_SQL
    };
    read_page(conn, sql, org, limit, offset).await
}

/// The users of `org` at `offset` in id order and how many there are, by `sql`:
/// [`PAGE_FROM_START_SQL`] or [`PAGE_SQL`] (the same answer; [`users_page`] picks one). Ids
/// are 24 lowercase hex characters, whose byte order is every collation's order, the order of
/// `users_org_id_idx`.
pub async fn read_page(
    conn: &mut Conn,
    sql: &'static str,
    org: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<User>, i64), DbError> {
    let rows: Vec<PageRow> = prepared(sql)
        .bind::<Text, _>(org)
        .bind::<BigInt, _>(limit)
        .bind::<BigInt, _>(offset)
        .load(conn)
        .await?;
    let total = rows.as_slice().first().map_or(0, |r| r.total);
    let mut users: Vec<User> = rows.into_iter().filter_map(PageRow::user).collect();
    users.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    Ok((users, total))
}

/// The user `id` of `org`.
pub async fn find_user(conn: &mut Conn, org: &str, id: &str) -> Result<Option<User>, DbError> {
    Ok(users::table
        .filter(users::id.eq(id))
        .filter(users::org_id.eq(org))
        .select(User::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Whether another user of `org` (not `except`) has `email`, compared case-insensitively.
pub async fn email_taken(
    conn: &mut Conn,
    org: &str,
    email: &str,
    except: Option<&str>,
) -> Result<bool, DbError> {
    use diesel::dsl::sql;
    let same_email = sql::<Bool>("lower(email_address) = lower(")
        .bind::<Text, _>(email.to_owned())
        .sql(")");
    Ok(diesel::select(diesel::dsl::exists(
        users::table
            .filter(users::org_id.eq(org))
            .filter(same_email)
            .filter(users::id.ne(except.unwrap_or(""))),
    ))
    .get_result(conn)
    .await?)
}

pub async fn insert_user(conn: &mut Conn, new: NewUser) -> Result<User, DbError> {
    Ok(diesel::insert_into(users::table)
        .values(new)
        .returning(User::as_returning())
        .get_result(conn)
        .await?)
}

/// The user `id` of `org`, its row locked until the transaction ends: a write that checks
/// `If-Match` reads the user so, and a concurrent one waits for it.
pub async fn lock_user(conn: &mut Conn, org: &str, id: &str) -> Result<Option<User>, DbError> {
    Ok(users::table
        .filter(users::id.eq(id))
        .filter(users::org_id.eq(org))
        .select(User::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?)
}

pub async fn update_user(
    conn: &mut Conn,
    org: &str,
    id: &str,
    changes: UserChanges,
) -> Result<Option<User>, DbError> {
    Ok(diesel::update(users::table)
        .filter(users::id.eq(id))
        .filter(users::org_id.eq(org))
        .set(changes)
        .returning(User::as_returning())
        .get_result(conn)
        .await
        .optional()?)
}

pub async fn set_password(
    conn: &mut Conn,
    org: &str,
    id: &str,
    hash: &str,
) -> Result<bool, DbError> {
    let n = diesel::update(users::table)
        .filter(users::id.eq(id))
        .filter(users::org_id.eq(org))
        .set((
            users::password_hash.eq(hash),
            users::updated_at.eq(Utc::now()),
        ))
        .execute(conn)
        .await?;
    Ok(n == 1)
}

/// Deletes the user; returns its access key (to drop it from the cache) if it existed.
pub async fn delete_user(conn: &mut Conn, org: &str, id: &str) -> Result<Option<String>, DbError> {
    Ok(diesel::delete(users::table)
        .filter(users::id.eq(id))
        .filter(users::org_id.eq(org))
        .returning(users::access_key)
        .get_result(conn)
        .await
        .optional()?)
}

pub async fn create_org(conn: &mut Conn, id: &str, name: &str) -> Result<(), DbError> {
    diesel::insert_into(orgs::table)
        .values((orgs::id.eq(id), orgs::name.eq(name)))
        .execute(conn)
        .await?;
    Ok(())
}

/// Creates the org `id` unless it exists (idempotent under races); whether it created it.
pub async fn ensure_org(conn: &mut Conn, id: &str, name: &str) -> Result<bool, DbError> {
    let n = diesel::insert_into(orgs::table)
        .values((orgs::id.eq(id), orgs::name.eq(name)))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(n == 1)
}

pub async fn org_exists(conn: &mut Conn, id: &str) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(orgs::table.find(id)))
        .get_result(conn)
        .await?)
}
