//! The partner schema: models and every query the service runs (one place to look for SQL).

pub mod schema;

use crate::permissions::{from_names, Permissions};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use schema::{memberships, partners, users};
use std::collections::BTreeSet;
use user_core::db::{prepared, total_from_page, DbError, FROM_START_BELOW};
use user_core::search::{self, TrigramStats};

pub const MIGRATIONS: diesel_migrations::EmbeddedMigrations =
    diesel_migrations::embed_migrations!("migrations");

type Conn = AsyncPgConnection;

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = partners)]
pub struct Partner {
    pub id: i64,
    pub name: String,
}

/// A user as the API shows it (the password hash is never selected with it).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
}

/// What login needs.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct Credentials {
    pub id: i64,
    pub password_hash: String,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub password_hash: String,
    pub permissions: Vec<String>,
}

/// A partial update: `None` leaves a column alone.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub permissions: Option<Vec<String>>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// A page statement, around the part that finds the page's user ids
/// ([`user_core::page_ids_sql!`], which says how they are read and why).
///
/// - `$1` partner, `$2` limit, `$3` offset. The total and the page are one statement, so one
///   snapshot: the two always agree.
/// - The total is the sum of the partner's `user_counts` rows, kept by the memberships'
///   triggers in the writes' own transactions (migration 2026-12-03-000005): a few rows, not a
///   count over the partner's memberships.
/// - Always one row at least: a page past the end (or an empty partner) gives one row with the
///   total and no user. `found` says whether the partner exists, which spares the list a query
///   of its own (one round trip per page, as a GET of one user has).
/// - The ids are read on the memberships' primary key `(partner_id, user_id)` alone: with
///   `memberships_user_idx (user_id, partner_id)` also there, a generic plan that guessed the
///   partner's share badly walked that whole index in user order for a small partner (0.6 s
///   for none) until the partner became a range ordered by both columns.
/// - The values reach the id scans only through `t`. Given `$1`..`$3` there, a custom plan
///   would know the page's LIMIT where the generic one guesses a tenth of the partner's rows;
///   at ten million memberships the generic plan would then cost more and Postgres would plan
///   every page anew: 0.15 ms of planning beside 0.1 ms of work.
macro_rules! page_sql {
    ($ids:expr) => {
        concat!(
            "SELECT t.found, t.total, u.id, u.first_name, u.last_name, u.email \
             FROM (SELECT coalesce(sum(c.n), 0)::bigint AS total, \
                          EXISTS (SELECT 1 FROM partners WHERE id = $1) AS found, \
                          $1 AS tenant, $2 AS lim, $3 AS off \
                   FROM user_counts c WHERE c.partner_id = $1) t \
             LEFT JOIN LATERAL (",
            $ids,
            ") p ON true \
             LEFT JOIN users u ON u.id = p.user_id"
        )
    };
}

/// One page of a partner's users and how many users the partner has (`page_sql!`), the ids
/// read from the nearer end of the list: the last page of ten million skips no entry.
pub const PAGE_SQL: &str = page_sql!(user_core::page_ids_sql!(
    either_end,
    "memberships",
    "partner_id",
    "user_id"
));

/// [`PAGE_SQL`] for a page that starts within the first [`FROM_START_BELOW`] entries: read
/// from the start whatever the total, one branch instead of two.
pub const PAGE_FROM_START_SQL: &str = page_sql!(user_core::page_ids_sql!(
    from_start,
    "memberships",
    "partner_id",
    "user_id"
));

/// A row of [`PAGE_SQL`] and [`PAGE_FROM_START_SQL`]: the total, and a user unless the page is
/// empty.
#[derive(QueryableByName)]
struct PageRow {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    found: bool,
    #[diesel(sql_type = BigInt)]
    total: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
    id: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    first_name: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    last_name: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
    email: Option<String>,
}

impl PageRow {
    /// The row's user; `None` for the row of an empty page.
    fn user(self) -> Option<User> {
        Some(User {
            id: self.id?,
            first_name: self.first_name?,
            last_name: self.last_name?,
            email: self.email?,
        })
    }
}

/// The search queries, for a partner condition (below).
macro_rules! search_sql {
    (page, $partner:literal) => {
        concat!(
            "SELECT u.id, u.first_name, u.last_name, u.email \
             FROM (SELECT m.user_id FROM memberships m \
                   WHERE ",
            $partner,
            " AND m.search LIKE $2 AND strpos(m.search, $3) > 0 \
                   ORDER BY m.user_id LIMIT $4 OFFSET $5) p \
             JOIN users u ON u.id = p.user_id \
             ORDER BY u.id"
        )
    };
    (count, $partner:literal) => {
        concat!(
            "SELECT count(*) AS n FROM memberships m WHERE ",
            $partner,
            " AND m.search LIKE $2 AND strpos(m.search, $3) > 0"
        )
    };
}

/// One page of the partner's users whose search text contains a term (`$1` partner, `$2` the
/// LIKE pattern the trigram index narrows with, `$3` the lower-cased term, or `''` when the
/// pattern is the whole term, `$4` limit, `$5` offset). `memberships.search` is the user's
/// "first last email", lower-cased, kept by triggers (migration 2026-11-23-000002), and
/// `memberships_search_idx` serves the pattern ([`Search`]); `strpos` decides on the whole
/// term. The page's ids are found on the memberships before any user is read.
pub const SEARCH_PAGE_SQL: &str = search_sql!(page, "m.partner_id = $1");

/// How many of the partner's users match (`$1`..`$3` as in [`SEARCH_PAGE_SQL`]): one index
/// scan of the partner's memberships, no join.
pub const SEARCH_COUNT_SQL: &str = search_sql!(count, "m.partner_id = $1");

/// [`SEARCH_PAGE_SQL`] for a partner that holds a large share of all memberships
/// ([`large_partner`]): `partner_id + 0` keeps the partner out of the GIN index's condition.
/// In the index, a partner of ten million members is a posting list of ten million entries
/// that every search walks beside the term's trigrams (58 ms for a term one user matches, 5 ms
/// without); for a small partner it is the shortest list there is, and stays in.
pub const SEARCH_PAGE_LARGE_SQL: &str = search_sql!(page, "m.partner_id + 0 = $1");

/// [`SEARCH_COUNT_SQL`] for a large partner (see [`SEARCH_PAGE_LARGE_SQL`]).
pub const SEARCH_COUNT_LARGE_SQL: &str = search_sql!(count, "m.partner_id + 0 = $1");

/// Whether `partner` exists (`None`: it does not), and whether it holds
/// [`search::COMMON_SHARE`] or more of all memberships (its kept total against the table's
/// estimated rows): then its searches keep it out of the index.
pub async fn large_partner(conn: &mut Conn, partner: i64) -> Result<Option<bool>, DbError> {
    #[derive(QueryableByName)]
    struct Large {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        found: bool,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        large: bool,
    }
    let row = prepared(
        "SELECT EXISTS (SELECT 1 FROM partners WHERE id = $1) AS found, \
             coalesce((SELECT sum(n) FROM user_counts WHERE partner_id = $1), 0) \
             >= $2 * (SELECT greatest(reltuples, 0) FROM pg_class \
                      WHERE oid = 'memberships'::regclass) AS large",
    )
    .bind::<BigInt, _>(partner)
    .bind::<diesel::sql_types::Double, _>(search::COMMON_SHARE)
    .get_result::<Large>(conn)
    .await?;
    Ok(row.found.then_some(row.large))
}

/// A search term as the queries take it: the whole term lower-cased (what matches), and the
/// LIKE pattern of the part of it the trigram index is given
/// ([`user_core::search::TrigramStats::indexed_part`]; the whole term without a sample).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    pub term: String,
    pub pattern: String,
    /// What `strpos` checks: the term, or `""` (always found) when the pattern is the whole
    /// term and decides alone.
    pub filter: String,
}

impl Search {
    pub fn new(term: &str, stats: &TrigramStats) -> Self {
        let term = term.to_lowercase();
        let part = stats.indexed_part(&term);
        let filter = if part.len() == term.len() {
            String::new()
        } else {
            term.clone()
        };
        let pattern = contains_pattern(part);
        Self {
            term,
            pattern,
            filter,
        }
    }
}

/// The texts the search's trigram sample is counted on: about
/// [`user_core::search::SAMPLE_SIZE`] memberships from pages drawn at random
/// (`TABLESAMPLE SYSTEM`: those pages only, not the whole table), at most twice that.
pub async fn search_sample(conn: &mut Conn) -> Result<Vec<String>, DbError> {
    #[derive(QueryableByName)]
    struct Text1 {
        #[diesel(sql_type = Text)]
        search: String,
    }
    let percent = diesel::sql_query(
        "SELECT least(100, greatest(0.001, $1 * 100.0 / greatest(reltuples, 1)))::float8 AS p \
         FROM pg_class WHERE oid = 'memberships'::regclass",
    )
    .bind::<diesel::sql_types::Double, _>(search::SAMPLE_SIZE as f64)
    .get_result::<Percent>(conn)
    .await?
    .p;
    let rows = diesel::sql_query(
        "SELECT search FROM memberships TABLESAMPLE SYSTEM ($1) WHERE search <> '' LIMIT $2",
    )
    .bind::<diesel::sql_types::Double, _>(percent)
    .bind::<BigInt, _>(2 * search::SAMPLE_SIZE as i64)
    .load::<Text1>(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.search).collect())
}

#[derive(QueryableByName)]
struct Percent {
    #[diesel(sql_type = diesel::sql_types::Double)]
    p: f64,
}

/// `term` as a case-insensitive LIKE pattern for "contains": lower-cased, with `\`, `%` and `_`
/// escaped (backslash is LIKE's default escape character).
pub fn contains_pattern(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 2);
    pattern.push('%');
    for c in term.to_lowercase().chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The users of `partner` at `offset` in id order and how many there are, by `sql`:
/// [`PAGE_FROM_START_SQL`] or [`PAGE_SQL`] (the same answer; [`users_page`] picks one).
/// `None` when the partner does not exist.
pub async fn read_page(
    conn: &mut Conn,
    sql: &'static str,
    partner: i64,
    limit: i64,
    offset: i64,
) -> Result<Option<(Vec<User>, i64)>, DbError> {
    let rows = prepared(sql)
        .bind::<BigInt, _>(partner)
        .bind::<BigInt, _>(limit)
        .bind::<BigInt, _>(offset)
        .load::<PageRow>(conn)
        .await?;
    let (found, total) = <[PageRow]>::first(&rows).map_or((false, 0), |r| (r.found, r.total));
    if !found {
        return Ok(None);
    }
    let mut users: Vec<User> = rows.into_iter().filter_map(PageRow::user).collect();
    users.sort_unstable_by_key(|u| u.id);
    Ok(Some((users, total)))
}

/// The users of `partner` (matching `search`, when given) at `offset`, and how many there are;
/// `None` when the partner does not exist. Without a search, one statement
/// ([`PAGE_FROM_START_SQL`] or [`PAGE_SQL`]). With one, the page is read first: when it
/// ends the list the total follows from it ([`total_from_page`]), and only a full page (or one
/// past the end) also counts the matches. A search that matches a few users, the usual kind,
/// is then one query instead of two.
pub async fn users_page(
    conn: &mut Conn,
    partner: i64,
    search: Option<&Search>,
    limit: i64,
    offset: i64,
) -> Result<Option<(Vec<User>, i64)>, DbError> {
    let Some(search) = search else {
        let sql = if offset < FROM_START_BELOW {
            PAGE_FROM_START_SQL
        } else {
            PAGE_SQL
        };
        return read_page(conn, sql, partner, limit, offset).await;
    };
    let Some(large) = large_partner(conn, partner).await? else {
        return Ok(None);
    };
    // No stored name or email holds a NUL (Postgres text cannot), so nothing matches, and
    // Postgres would refuse the pattern.
    if search.term.contains('\0') {
        return Ok(Some((Vec::new(), 0)));
    }
    let (page_sql, count_sql) = if large {
        (SEARCH_PAGE_LARGE_SQL, SEARCH_COUNT_LARGE_SQL)
    } else {
        (SEARCH_PAGE_SQL, SEARCH_COUNT_SQL)
    };
    let rows = diesel::sql_query(page_sql)
        .bind::<BigInt, _>(partner)
        .bind::<Text, _>(&search.pattern)
        .bind::<Text, _>(&search.filter)
        .bind::<BigInt, _>(limit)
        .bind::<BigInt, _>(offset)
        .load::<User>(conn)
        .await?;
    if let Some(total) = total_from_page(offset, limit, rows.len()) {
        return Ok(Some((rows, total)));
    }
    let total = diesel::sql_query(count_sql)
        .bind::<BigInt, _>(partner)
        .bind::<Text, _>(&search.pattern)
        .bind::<Text, _>(&search.filter)
        .get_result::<Count>(conn)
        .await?;
    Ok(Some((rows, total.n)))
}

pub async fn partner_exists(conn: &mut Conn, id: i64) -> Result<bool, DbError> {
    Ok(
        diesel::select(diesel::dsl::exists(partners::table.find(id)))
            .get_result(conn)
            .await?,
    )
}

/// The user `id`, provided it is a member of `partner`.
pub async fn member(conn: &mut Conn, partner: i64, id: i64) -> Result<Option<User>, DbError> {
    Ok(users::table
        .inner_join(memberships::table)
        .filter(memberships::partner_id.eq(partner))
        .filter(users::id.eq(id))
        .select(User::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// The permissions of user `id`, if it exists.
pub async fn permissions_of(conn: &mut Conn, id: i64) -> Result<Option<Vec<String>>, DbError> {
    Ok(users::table
        .find(id)
        .select(users::permissions)
        .first(conn)
        .await
        .optional()?)
}

/// What authentication knows of a user (and caches: [`crate::state::AppState::principals`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub permissions: Permissions,
    pub partners: BTreeSet<i64>,
}

/// A user's permissions and partner ids; `None` when the user does not exist.
pub async fn principal(conn: &mut Conn, id: i64) -> Result<Option<Principal>, DbError> {
    let Some(names) = permissions_of(conn, id).await? else {
        return Ok(None);
    };
    let partners: Vec<i64> = memberships::table
        .filter(memberships::user_id.eq(id))
        .select(memberships::partner_id)
        .load(conn)
        .await?;
    Ok(Some(Principal {
        permissions: from_names(&names),
        partners: partners.into_iter().collect(),
    }))
}

/// Login: the user with `email` (case-insensitive).
pub async fn credentials(conn: &mut Conn, email: &str) -> Result<Option<Credentials>, DbError> {
    Ok(users::table
        .filter(lower_email_is(email))
        .select(Credentials::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// After a successful login: replaces user `id`'s password hash `old` (the one that was
/// verified) with `new` ([`user_core::password::PasswordHasher::upgrade_later`]), in one
/// compare-and-set statement. False when the user is gone or its hash is no longer `old` (a
/// password changed meanwhile is not overwritten). `updated_at` stays: nothing the API shows
/// changed.
pub async fn upgrade_password_hash(
    conn: &mut Conn,
    id: i64,
    old: &str,
    new: &str,
) -> Result<bool, DbError> {
    let n = diesel::update(
        users::table
            .filter(users::id.eq(id))
            .filter(users::password_hash.eq(old)),
    )
    .set(users::password_hash.eq(new))
    .execute(conn)
    .await?;
    Ok(n == 1)
}

fn lower_email_is(
    email: &str,
) -> diesel::expression::SqlLiteral<
    diesel::sql_types::Bool,
    impl diesel::query_builder::QueryFragment<diesel::pg::Pg>,
> {
    diesel::dsl::sql::<diesel::sql_types::Bool>("lower(email) = lower(")
        .bind::<Text, _>(email.to_owned())
        .sql(")")
}

/// The user with `email` (case-insensitive).
pub async fn user_by_email(conn: &mut Conn, email: &str) -> Result<Option<User>, DbError> {
    Ok(users::table
        .filter(lower_email_is(email))
        .select(User::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Whether a user other than `except` has `email` (case-insensitive).
pub async fn email_taken(conn: &mut Conn, email: &str, except: i64) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        users::table
            .filter(lower_email_is(email))
            .filter(users::id.ne(except)),
    ))
    .get_result(conn)
    .await?)
}

/// Inserts the user and its membership of `partner` in one transaction.
pub async fn insert_member(conn: &mut Conn, partner: i64, new: NewUser) -> Result<User, DbError> {
    conn.transaction::<_, DbError, _>(async move |conn| add_member(conn, partner, new).await)
        .await
}

/// Inserts the user and its membership of `partner`, inside the caller's transaction (the
/// create's, which also stores its Idempotency-Key answer).
pub async fn add_member(conn: &mut Conn, partner: i64, new: NewUser) -> Result<User, DbError> {
    let user = diesel::insert_into(users::table)
        .values(new)
        .returning(User::as_returning())
        .get_result(conn)
        .await?;
    diesel::insert_into(memberships::table)
        .values((
            memberships::partner_id.eq(partner),
            memberships::user_id.eq(user.id),
        ))
        .execute(conn)
        .await?;
    Ok(user)
}

/// Makes `user` a member of `partner`: `Some(false)` when it was one already, `None` when the
/// user is gone (deleted since the caller found it). The user row is locked `FOR KEY SHARE`
/// first, so a delete either committed before (`None`) or waits for this transaction; the
/// insert's foreign key cannot fail.
pub async fn attach(conn: &mut Conn, partner: i64, user: i64) -> Result<Option<bool>, DbError> {
    let found: Option<i64> = users::table
        .find(user)
        .select(users::id)
        .for_key_share()
        .first(conn)
        .await
        .optional()?;
    if found.is_none() {
        return Ok(None);
    }
    let n = diesel::insert_into(memberships::table)
        .values((
            memberships::partner_id.eq(partner),
            memberships::user_id.eq(user),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(Some(n == 1))
}

/// Applies `changes` to user `id`: the user as it is now, `None` when it does not exist.
pub async fn update_user(
    conn: &mut Conn,
    id: i64,
    changes: UserChanges,
) -> Result<Option<User>, DbError> {
    Ok(diesel::update(users::table.find(id))
        .set(changes)
        .returning(User::as_returning())
        .get_result(conn)
        .await
        .optional()?)
}

/// A member of a partner as a write finds it under [`lock_member`].
#[derive(Debug, Clone)]
pub struct Locked {
    pub user: User,
    pub permissions: Vec<String>,
}

/// The user `id`, its row locked (`FOR UPDATE`) until the transaction ends, provided it is a
/// member of `partner`; `None` when it does not exist or is not a member. Every write to a user
/// (update, detach) takes this lock first, so writers of one user run one after the other, and
/// each reads what the previous one committed: the row is re-read once the lock is granted, and
/// the membership is read by a statement of its own, after the lock (a subquery of the locking
/// statement would still see the membership a detach holding the lock has just removed).
/// A concurrent attach waits too (its foreign key check and search trigger read the row).
pub async fn lock_member(
    conn: &mut Conn,
    partner: i64,
    id: i64,
) -> Result<Option<Locked>, DbError> {
    let row: Option<(User, Vec<String>)> = users::table
        .find(id)
        .select((User::as_select(), users::permissions))
        .for_update()
        .first(conn)
        .await
        .optional()?;
    let Some((user, permissions)) = row else {
        return Ok(None);
    };
    let member: bool = diesel::select(diesel::dsl::exists(memberships::table.find((partner, id))))
        .get_result(conn)
        .await?;
    Ok(member.then_some(Locked { user, permissions }))
}

/// What [`remove_member`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detached {
    /// The user was not a member of the partner.
    NotMember,
    /// Removed from the partner; still in others (or holds `partners.all`).
    Removed,
    /// Removed from its last partner, and so deleted.
    Deleted,
}

/// Removes the user `locked` ([`lock_member`], in the same transaction) from `partner`, and
/// deletes it when no partner is left (unless it holds `partners.all`). The user row being
/// locked, a racing attach either ran before (and the user stays) or fails on the foreign key.
pub async fn remove_member(
    conn: &mut Conn,
    partner: i64,
    locked: &Locked,
) -> Result<Detached, DbError> {
    let user = locked.user.id;
    let n = diesel::delete(memberships::table.find((partner, user)))
        .execute(conn)
        .await?;
    if n == 0 {
        return Ok(Detached::NotMember);
    }
    let left: i64 = memberships::table
        .filter(memberships::user_id.eq(user))
        .count()
        .get_result(conn)
        .await?;
    let keeps_access = locked.permissions.iter().any(|p| p == "partners.all");
    if left > 0 || keeps_access {
        return Ok(Detached::Removed);
    }
    diesel::delete(users::table.find(user))
        .execute(conn)
        .await?;
    Ok(Detached::Deleted)
}

/// The partners of `user`, by id, limited to `only` when given.
pub async fn partners_of(
    conn: &mut Conn,
    user: i64,
    only: Option<Vec<i64>>,
) -> Result<Vec<Partner>, DbError> {
    let mut query = partners::table
        .inner_join(memberships::table)
        .filter(memberships::user_id.eq(user))
        .order(partners::id)
        .select(Partner::as_select())
        .into_boxed();
    if let Some(ids) = only {
        query = query.filter(partners::id.eq_any(ids));
    }
    Ok(query.load(conn).await?)
}

/// The partner named `name`, created if missing (idempotent under races).
pub async fn ensure_partner(conn: &mut Conn, name: &str) -> Result<i64, DbError> {
    diesel::insert_into(partners::table)
        .values(partners::name.eq(name))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(partners::table
        .filter(partners::name.eq(name))
        .select(partners::id)
        .first(conn)
        .await?)
}

pub async fn create_partner(conn: &mut Conn, name: &str) -> Result<i64, DbError> {
    Ok(diesel::insert_into(partners::table)
        .values(partners::name.eq(name))
        .returning(partners::id)
        .get_result(conn)
        .await?)
}

/// Creates the partner `name` unless one exists: its id when it was created now (bootstrap,
/// which records `partner.created` only then).
pub async fn create_partner_if_missing(
    conn: &mut Conn,
    name: &str,
) -> Result<Option<i64>, DbError> {
    Ok(diesel::insert_into(partners::table)
        .values(partners::name.eq(name))
        .on_conflict_do_nothing()
        .returning(partners::id)
        .get_result(conn)
        .await
        .optional()?)
}

/// Inserts a user that belongs to no partner (the bootstrap admin); `None` if the email exists
/// (no error: the caller's transaction stays usable).
pub async fn insert_unattached(conn: &mut Conn, new: NewUser) -> Result<Option<User>, DbError> {
    Ok(diesel::insert_into(users::table)
        .values(new)
        .on_conflict_do_nothing()
        .returning(User::as_returning())
        .get_result(conn)
        .await
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_escape_like_wildcards() {
        assert_eq!(contains_pattern("Doe"), "%doe%");
        assert_eq!(contains_pattern("John Doe"), "%john doe%");
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
