//! The agency schema: models and every query the service runs (one place to look for SQL).

pub mod schema;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use schema::{agencies, agency_groups, api_clients, users};
use user_core::db::DbError;

pub const MIGRATIONS: diesel_migrations::EmbeddedMigrations =
    diesel_migrations::embed_migrations!("migrations");

type Conn = AsyncPgConnection;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = agencies)]
pub struct Agency {
    pub id: i64,
    pub agency_group_id: i64,
    pub name: String,
}

/// A user as the API shows it (the password hash is never selected with it).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub agency_id: i64,
    pub firstname: String,
    pub lastname: Option<String>,
    pub email: String,
    pub phone: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser {
    pub agency_id: i64,
    pub firstname: String,
    pub lastname: Option<String>,
    pub email: String,
    pub phone: Option<String>,
    pub password_hash: Option<String>,
}

/// A partial update: `None` leaves a column alone; `Some(None)` sets a nullable column to NULL.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub firstname: Option<String>,
    pub lastname: Option<Option<String>>,
    pub email: Option<String>,
    pub phone: Option<Option<String>>,
    pub password_hash: Option<Option<String>>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_clients)]
pub struct ApiClient {
    pub id: String,
    pub agency_group_id: i64,
    pub secret_hash: String,
    pub revoked: bool,
}

pub async fn agencies_of_group(conn: &mut Conn, group: i64) -> Result<Vec<Agency>, DbError> {
    Ok(agencies::table
        .filter(agencies::agency_group_id.eq(group))
        .order(agencies::id)
        .select(Agency::as_select())
        .load(conn)
        .await?)
}

pub async fn agency_in_group(conn: &mut Conn, group: i64, agency: i64) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        agencies::table
            .filter(agencies::id.eq(agency))
            .filter(agencies::agency_group_id.eq(group)),
    ))
    .get_result(conn)
    .await?)
}

/// At most `limit` users of `agency` with ids after `after`, in id order (a keyset page).
pub async fn users_page(
    conn: &mut Conn,
    agency: i64,
    after: Option<i64>,
    limit: usize,
) -> Result<Vec<User>, DbError> {
    Ok(users::table
        .filter(users::agency_id.eq(agency))
        .filter(users::id.gt(after.unwrap_or(0)))
        .order(users::id)
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .select(User::as_select())
        .load(conn)
        .await?)
}

/// The user `id` of `agency`, provided the agency belongs to `group`.
pub async fn find_user(
    conn: &mut Conn,
    group: i64,
    agency: i64,
    id: i64,
) -> Result<Option<User>, DbError> {
    Ok(users::table
        .inner_join(agencies::table)
        .filter(users::id.eq(id))
        .filter(users::agency_id.eq(agency))
        .filter(agencies::agency_group_id.eq(group))
        .select(User::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Whether another user (not `except`) has `email`, compared case-insensitively.
pub async fn email_taken(
    conn: &mut Conn,
    email: &str,
    except: Option<i64>,
) -> Result<bool, DbError> {
    use diesel::dsl::sql;
    use diesel::sql_types::{Bool, Text};
    let same_email = sql::<Bool>("lower(email) = lower(")
        .bind::<Text, _>(email.to_owned())
        .sql(")");
    Ok(diesel::select(diesel::dsl::exists(
        users::table
            .filter(same_email)
            .filter(users::id.ne(except.unwrap_or(0))),
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

/// The user `id` of `agency`, its row locked until the transaction ends: a write that checks
/// `If-Match` reads the user so, and a concurrent one waits for it.
pub async fn lock_user(conn: &mut Conn, agency: i64, id: i64) -> Result<Option<User>, DbError> {
    Ok(users::table
        .filter(users::id.eq(id))
        .filter(users::agency_id.eq(agency))
        .select(User::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?)
}

pub async fn update_user(
    conn: &mut Conn,
    agency: i64,
    id: i64,
    changes: UserChanges,
) -> Result<Option<User>, DbError> {
    Ok(diesel::update(users::table)
        .filter(users::id.eq(id))
        .filter(users::agency_id.eq(agency))
        .set(changes)
        .returning(User::as_returning())
        .get_result(conn)
        .await
        .optional()?)
}

pub async fn delete_user(conn: &mut Conn, agency: i64, id: i64) -> Result<bool, DbError> {
    let n = diesel::delete(users::table)
        .filter(users::id.eq(id))
        .filter(users::agency_id.eq(agency))
        .execute(conn)
        .await?;
    Ok(n == 1)
}

pub async fn find_client(conn: &mut Conn, id: &str) -> Result<Option<ApiClient>, DbError> {
    Ok(api_clients::table
        .find(id)
        .select(ApiClient::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// The agency group a client acts for, while it is not revoked: what authentication caches
/// ([`crate::state::AppState::clients`]).
pub async fn client_group(conn: &mut Conn, id: &str) -> Result<Option<i64>, DbError> {
    Ok(api_clients::table
        .find(id)
        .filter(api_clients::revoked.eq(false))
        .select(api_clients::agency_group_id)
        .first(conn)
        .await
        .optional()?)
}

/// The group named `name`, created if no group has that name (idempotent under races), and
/// whether this call created it.
pub async fn ensure_group(conn: &mut Conn, name: &str) -> Result<(i64, bool), DbError> {
    let created: Option<i64> = diesel::insert_into(agency_groups::table)
        .values(agency_groups::name.eq(name))
        .on_conflict_do_nothing()
        .returning(agency_groups::id)
        .get_result(conn)
        .await
        .optional()?;
    if let Some(id) = created {
        return Ok((id, true));
    }
    let id = agency_groups::table
        .filter(agency_groups::name.eq(name))
        .select(agency_groups::id)
        .first(conn)
        .await?;
    Ok((id, false))
}

pub async fn create_group(conn: &mut Conn, name: &str) -> Result<i64, DbError> {
    Ok(diesel::insert_into(agency_groups::table)
        .values(agency_groups::name.eq(name))
        .returning(agency_groups::id)
        .get_result(conn)
        .await?)
}

pub async fn group_exists(conn: &mut Conn, id: i64) -> Result<bool, DbError> {
    Ok(
        diesel::select(diesel::dsl::exists(agency_groups::table.find(id)))
            .get_result(conn)
            .await?,
    )
}

/// The agency `name` of `group`, created if missing (idempotent under races), and whether this
/// call created it.
pub async fn ensure_agency(
    conn: &mut Conn,
    group: i64,
    name: &str,
) -> Result<(i64, bool), DbError> {
    let created: Option<i64> = diesel::insert_into(agencies::table)
        .values((agencies::agency_group_id.eq(group), agencies::name.eq(name)))
        .on_conflict_do_nothing()
        .returning(agencies::id)
        .get_result(conn)
        .await
        .optional()?;
    if let Some(id) = created {
        return Ok((id, true));
    }
    let id = agencies::table
        .filter(agencies::agency_group_id.eq(group))
        .filter(agencies::name.eq(name))
        .select(agencies::id)
        .first(conn)
        .await?;
    Ok((id, false))
}

pub async fn create_agency(conn: &mut Conn, group: i64, name: &str) -> Result<i64, DbError> {
    Ok(diesel::insert_into(agencies::table)
        .values((agencies::agency_group_id.eq(group), agencies::name.eq(name)))
        .returning(agencies::id)
        .get_result(conn)
        .await?)
}

pub async fn create_client(
    conn: &mut Conn,
    id: &str,
    group: i64,
    name: &str,
    secret_hash: &str,
) -> Result<(), DbError> {
    diesel::insert_into(api_clients::table)
        .values((
            api_clients::id.eq(id),
            api_clients::agency_group_id.eq(group),
            api_clients::name.eq(name),
            api_clients::secret_hash.eq(secret_hash),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn set_client_secret(
    conn: &mut Conn,
    id: &str,
    secret_hash: &str,
) -> Result<(), DbError> {
    diesel::update(api_clients::table.find(id))
        .set(api_clients::secret_hash.eq(secret_hash))
        .execute(conn)
        .await?;
    Ok(())
}

/// Replaces the client's secret hash `old` by `new` if it is still `old` (one compare-and-set
/// statement: a secret changed meanwhile is not overwritten), and says whether it did. Used by
/// the re-hash after a token was issued (`routes/token.rs`).
pub async fn upgrade_client_secret_hash(
    conn: &mut Conn,
    id: &str,
    old: &str,
    new: &str,
) -> Result<bool, DbError> {
    let n = diesel::update(api_clients::table.find(id))
        .filter(api_clients::secret_hash.eq(old))
        .set(api_clients::secret_hash.eq(new))
        .execute(conn)
        .await?;
    Ok(n == 1)
}

/// What revoking a client did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// It was active and is now revoked; it belonged to this agency group.
    Now { group: i64 },
    /// It was revoked already: nothing changed.
    Already,
    /// No client has that id.
    Unknown,
}

/// Revokes the client `id`, if it is not revoked yet (one statement; a second look only when
/// nothing was changed, to tell "revoked already" from "unknown").
pub async fn revoke_client(conn: &mut Conn, id: &str) -> Result<Revoked, DbError> {
    let group: Option<i64> = diesel::update(api_clients::table.find(id))
        .filter(api_clients::revoked.eq(false))
        .set(api_clients::revoked.eq(true))
        .returning(api_clients::agency_group_id)
        .get_result(conn)
        .await
        .optional()?;
    if let Some(group) = group {
        return Ok(Revoked::Now { group });
    }
    let exists = diesel::select(diesel::dsl::exists(api_clients::table.find(id)))
        .get_result(conn)
        .await?;
    Ok(if exists {
        Revoked::Already
    } else {
        Revoked::Unknown
    })
}
