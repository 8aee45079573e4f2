//! The users: their rows, views with groups and permissions, and the writes that change them
//! (each under the user's row lock).

use super::groups::{find_group, group_exists, Group};
use super::schema::{groups, memberships, reset_codes, users};
use super::{group_vanished, Conn, StoreError};
use crate::permissions::{Permissions, ADMINISTRATOR};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use std::collections::BTreeMap;
use user_core::db::DbError;

/// A user row as the API shows it (the password hash is never selected with it).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct User {
    pub id: String,
    pub force_reset: bool,
    pub last_password_change: DateTime<Utc>,
    pub primary_group: Option<String>,
}

/// A user with its groups (sorted) and the permissions they give it.
#[derive(Debug, Clone)]
pub struct UserView {
    pub user: User,
    pub groups: Vec<String>,
    pub permissions: Permissions,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser {
    pub id: String,
    pub password_hash: String,
    pub force_reset: bool,
    pub primary_group: Option<String>,
}

/// A PATCH of a user: `None` leaves a field alone.
#[derive(Debug, Default)]
pub struct UserPatch {
    pub force_reset: Option<bool>,
    pub password_hash: Option<String>,
    /// `Some(None)` clears the primary group.
    pub primary_group: Option<Option<String>>,
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub(super) struct UserChanges {
    pub(super) force_reset: Option<bool>,
    pub(super) password_hash: Option<String>,
    pub(super) last_password_change: Option<DateTime<Utc>>,
    pub(super) primary_group: Option<Option<String>>,
}

/// The users' groups and the views, in the order of `rows`.
async fn views(conn: &mut Conn, rows: Vec<User>) -> Result<Vec<UserView>, DbError> {
    let ids: Vec<&str> = rows.iter().map(|u| u.id.as_str()).collect();
    let grants: Vec<(String, Group)> = memberships::table
        .inner_join(groups::table)
        .filter(memberships::user_id.eq_any(&ids))
        .order((memberships::user_id, memberships::group_id))
        .select((memberships::user_id, Group::as_select()))
        .load(conn)
        .await?;
    let mut by_user: BTreeMap<String, Vec<Group>> = BTreeMap::new();
    for (user, group) in grants {
        by_user.entry(user).or_default().push(group);
    }
    Ok(rows
        .into_iter()
        .map(|user| {
            let held = by_user.remove(&user.id).unwrap_or_default();
            view(user, held)
        })
        .collect())
}

/// A user with the groups it holds (sorted by id).
fn view(user: User, held: Vec<Group>) -> UserView {
    let permissions = Permissions::effective(held.iter().map(|g| (g.id.as_str(), g.permissions)));
    UserView {
        user,
        groups: held.into_iter().map(|g| g.id).collect(),
        permissions,
    }
}

/// One user with its groups, in one round trip (a row per group, or one row without a group).
/// Two left joins rather than `users ⟕ (memberships ⋈ groups)`, which gives the same rows (a
/// membership's group always exists: foreign key) but which Postgres plans as a hash join over
/// the groups table on every call; this shape is three index lookups (15 → 10 µs a call).
pub async fn find_user(conn: &mut Conn, id: &str) -> Result<Option<UserView>, DbError> {
    Ok(find_user_row(conn, id)
        .await?
        .map(|(user, held)| view(user, held)))
}

/// [`find_user`]'s row and the groups it holds (sorted by id), before they make a view.
async fn find_user_row(conn: &mut Conn, id: &str) -> Result<Option<(User, Vec<Group>)>, DbError> {
    let rows: Vec<(User, Option<Group>)> = users::table
        .left_join(memberships::table)
        .left_join(groups::table.on(groups::id.eq(memberships::group_id)))
        .filter(users::id.eq(id))
        .select((User::as_select(), Option::<Group>::as_select()))
        .load(conn)
        .await?;
    let mut rows = rows.into_iter();
    let Some((user, first)) = rows.next() else {
        return Ok(None);
    };
    let mut held: Vec<Group> = first
        .into_iter()
        .chain(rows.filter_map(|(_, group)| group))
        .collect();
    held.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Some((user, held)))
}

/// At most `limit` users with ids after `after`, by id; with `find`, only ids containing it
/// (case-insensitively).
pub async fn users_page(
    conn: &mut Conn,
    find: Option<&str>,
    after: Option<String>,
    limit: usize,
) -> Result<Vec<UserView>, DbError> {
    use diesel::dsl::sql;
    use diesel::sql_types::{Bool, Text};
    let mut query = users::table
        .order(users::id)
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .select(User::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(users::id.gt(after));
    }
    if let Some(term) = find.filter(|t| !t.is_empty()) {
        query = query.filter(
            sql::<Bool>("strpos(lower(id), lower(")
                .bind::<Text, _>(term.to_owned())
                .sql(")) > 0"),
        );
    }
    let rows = query.load(conn).await?;
    views(conn, rows).await
}

pub async fn user_exists(conn: &mut Conn, id: &str) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(users::table.find(id)))
        .get_result(conn)
        .await?)
}

/// Whether `id` is a member of the administrator group.
pub async fn is_administrator(conn: &mut Conn, id: &str) -> Result<bool, DbError> {
    is_member(conn, id, ADMINISTRATOR).await
}

/// Inserts the user, with `groups` when given (one transaction); a taken id is a unique violation.
pub async fn insert_user(
    conn: &mut Conn,
    new: NewUser,
    with_groups: &[&str],
) -> Result<(), DbError> {
    conn.transaction(async |conn| insert_user_rows(conn, new, with_groups).await)
        .await
}

/// [`insert_user`]'s statements, for a caller that runs them in a transaction of its own (with
/// more to commit together: the stored answer of an `Idempotency-Key`).
pub async fn insert_user_rows(
    conn: &mut Conn,
    new: NewUser,
    with_groups: &[&str],
) -> Result<(), DbError> {
    diesel::insert_into(users::table)
        .values(&new)
        .execute(conn)
        .await?;
    for group in with_groups {
        diesel::insert_into(memberships::table)
            .values((
                memberships::user_id.eq(&new.id),
                memberships::group_id.eq(*group),
            ))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// The user `id` as its row is, locked until the transaction ends.
async fn lock_user(conn: &mut Conn, id: &str) -> Result<User, StoreError> {
    users::table
        .find(id)
        .select(User::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(StoreError::UserNotFound)
}

async fn is_member(conn: &mut Conn, user: &str, group: &str) -> Result<bool, DbError> {
    Ok(
        diesel::select(diesel::dsl::exists(memberships::table.find((user, group))))
            .get_result(conn)
            .await?,
    )
}

async fn row_or_missing(conn: &mut Conn, id: &str) -> Result<(User, Vec<Group>), StoreError> {
    find_user_row(conn, id)
        .await?
        .ok_or(StoreError::UserNotFound)
}

async fn view_or_missing(conn: &mut Conn, id: &str) -> Result<UserView, StoreError> {
    find_user(conn, id).await?.ok_or(StoreError::UserNotFound)
}

/// With the user's row locked: `check` asked about the user as it is now (groups and their
/// permissions included); [`StoreError::Changed`] when it refuses. `None` reads nothing.
async fn check_user(
    conn: &mut Conn,
    id: &str,
    check: Option<impl FnOnce(&UserView) -> bool>,
) -> Result<(), StoreError> {
    if let Some(check) = check {
        let current = view_or_missing(conn, id).await?;
        if !check(&current) {
            return Err(StoreError::Changed);
        }
    }
    Ok(())
}

/// A write's user before and after it (both as a GET would show them), for its audit event.
#[derive(Debug, Clone)]
pub struct UserChange {
    pub before: UserView,
    pub after: UserView,
}

/// Applies `patch` to `id` after checking the user, the group, `check` and the membership, in
/// that order; in the caller's transaction (which records the change).
///
/// The user before the change is its locked row with the groups it holds after (a PATCH does
/// not change them, and while the row is locked no other write can): no extra read.
pub async fn patch_user(
    conn: &mut Conn,
    id: &str,
    patch: UserPatch,
    check: Option<impl FnOnce(&UserView) -> bool + Send>,
) -> Result<UserChange, StoreError> {
    async {
        let locked = lock_user(conn, id).await?;
        let group = patch.primary_group.as_ref().and_then(Option::as_deref);
        if let Some(group) = group {
            if !group_exists(conn, group).await? {
                return Err(StoreError::GroupNotFound);
            }
        }
        check_user(conn, id, check).await?;
        if let Some(group) = group {
            if !is_member(conn, id, group).await? {
                return Err(StoreError::NotMember(group.to_owned()));
            }
        }
        let new_password = patch.password_hash.is_some();
        let changes = UserChanges {
            force_reset: patch.force_reset,
            last_password_change: new_password.then(Utc::now),
            password_hash: patch.password_hash,
            primary_group: patch.primary_group,
        };
        if changes.force_reset.is_some()
            || changes.password_hash.is_some()
            || changes.primary_group.is_some()
        {
            diesel::update(users::table.find(id))
                .set(&changes)
                .execute(conn)
                .await?;
        }
        if new_password {
            diesel::delete(reset_codes::table.filter(reset_codes::user_id.eq(id)))
                .execute(conn)
                .await?;
        }
        let (user, held) = row_or_missing(conn, id).await?;
        Ok(UserChange {
            before: view(locked, held.clone()),
            after: view(user, held),
        })
    }
    .await
    .map_err(group_vanished)
}

/// Adds `user` to `group` after checking the user, the group and `check` (nothing changes when
/// it is a member already: then `before` and `after` are the same); in the caller's
/// transaction.
pub async fn add_group(
    conn: &mut Conn,
    user: &str,
    group: &str,
    check: Option<impl FnOnce(&UserView) -> bool + Send>,
) -> Result<UserChange, StoreError> {
    async {
        let locked = lock_user(conn, user).await?;
        if !group_exists(conn, group).await? {
            return Err(StoreError::GroupNotFound);
        }
        check_user(conn, user, check).await?;
        let added = diesel::insert_into(memberships::table)
            .values((
                memberships::user_id.eq(user),
                memberships::group_id.eq(group),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?
            == 1;
        let (row, held) = row_or_missing(conn, user).await?;
        let held_before = held
            .iter()
            .filter(|g| !(added && g.id == group))
            .cloned()
            .collect();
        Ok(UserChange {
            before: view(locked, held_before),
            after: view(row, held),
        })
    }
    .await
    .map_err(group_vanished)
}

/// Removes `user` from `group` after checking the user, the group and `check`, clearing its
/// primary group if it was that one; the remaining group ids (in the database's order, as
/// always) and the user before and after. A group the user is not in changes nothing; a group
/// that does not exist is [`StoreError::GroupNotFound`]. In the caller's transaction.
pub async fn remove_group(
    conn: &mut Conn,
    user: &str,
    group: &str,
    check: Option<impl FnOnce(&UserView) -> bool + Send>,
) -> Result<(Vec<String>, UserChange), StoreError> {
    let locked = lock_user(conn, user).await?;
    let Some(grant) = find_group(conn, group).await? else {
        return Err(StoreError::GroupNotFound);
    };
    check_user(conn, user, check).await?;
    diesel::update(users::table.find(user))
        .filter(users::primary_group.eq(group))
        .set(users::primary_group.eq(None::<String>))
        .execute(conn)
        .await?;
    let removed = diesel::delete(memberships::table.find((user, group)))
        .execute(conn)
        .await?
        == 1;
    let remaining = memberships::table
        .filter(memberships::user_id.eq(user))
        .order(memberships::group_id)
        .select(memberships::group_id)
        .load(conn)
        .await?;
    let (row, held) = row_or_missing(conn, user).await?;
    let mut held_before = held.clone();
    if removed {
        held_before.push(grant);
        held_before.sort_by(|a, b| a.id.cmp(&b.id));
    }
    Ok((
        remaining,
        UserChange {
            before: view(locked, held_before),
            after: view(row, held),
        },
    ))
}

/// Deletes the user under its row lock, after asking `check`; the user as it was
/// ([`StoreError::UserNotFound`] when there is none). In the caller's transaction.
pub async fn delete_user(
    conn: &mut Conn,
    id: &str,
    check: Option<impl FnOnce(&UserView) -> bool + Send>,
) -> Result<UserView, StoreError> {
    lock_user(conn, id).await?;
    let before = view_or_missing(conn, id).await?;
    if check.is_some_and(|check| !check(&before)) {
        return Err(StoreError::Changed);
    }
    diesel::delete(users::table.find(id)).execute(conn).await?;
    Ok(before)
}

/// The new administrator `id` (member and primary group `administrator`, no forced reset), as
/// the bootstrap creates it; a taken id is a unique violation. In the caller's transaction.
pub async fn insert_administrator(
    conn: &mut Conn,
    id: &str,
    password_hash: &str,
) -> Result<UserView, DbError> {
    let new = NewUser {
        id: id.to_owned(),
        password_hash: password_hash.to_owned(),
        force_reset: false,
        primary_group: Some(ADMINISTRATOR.to_owned()),
    };
    insert_user_rows(conn, new, &[ADMINISTRATOR]).await?;
    find_user(conn, id).await?.ok_or(DbError::NotFound)
}
