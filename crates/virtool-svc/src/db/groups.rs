//! The groups: their permissions, and the writes that change them.

use super::schema::{groups, memberships, users};
use super::{Conn, StoreError};
use crate::permissions::Permissions;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use user_core::db::DbError;

/// The advisory lock key that serialises group deletions ([`delete_group`]); any constant no
/// other code of this database uses.
const GROUP_DELETION_LOCK: i64 = 0x7669_7274_6f6f_6c47; // "virtoolG"

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = groups, check_for_backend(diesel::pg::Pg))]
pub struct Group {
    pub id: String,
    #[diesel(embed)]
    pub permissions: Permissions,
}

pub async fn list_groups(conn: &mut Conn) -> Result<Vec<Group>, DbError> {
    Ok(groups::table
        .order(groups::id)
        .select(Group::as_select())
        .load(conn)
        .await?)
}

pub async fn find_group(conn: &mut Conn, id: &str) -> Result<Option<Group>, DbError> {
    Ok(groups::table
        .find(id)
        .select(Group::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// A new group with no permissions; a taken id is a unique violation.
pub async fn insert_group(conn: &mut Conn, id: &str) -> Result<Group, DbError> {
    Ok(diesel::insert_into(groups::table)
        .values(groups::id.eq(id))
        .returning(Group::as_returning())
        .get_result(conn)
        .await?)
}

/// Sets the named permissions of `id` under the group's row lock, after asking `check` about
/// the group as it is; the group before and after ([`StoreError::GroupNotFound`] when it does
/// not exist). In the caller's transaction.
pub async fn update_group(
    conn: &mut Conn,
    id: &str,
    changes: &[(String, bool)],
    check: Option<impl FnOnce(&Group) -> bool + Send>,
) -> Result<(Group, Group), StoreError> {
    let before = lock_group(conn, id).await?;
    if check.is_some_and(|check| !check(&before)) {
        return Err(StoreError::Changed);
    }
    let mut after = before.clone();
    for (name, value) in changes {
        after.permissions.set(name, *value);
    }
    diesel::update(groups::table.find(id))
        .set(&after.permissions)
        .execute(conn)
        .await?;
    Ok((before, after))
}

/// The group `id`, its row locked until the transaction ends.
async fn lock_group(conn: &mut Conn, id: &str) -> Result<Group, StoreError> {
    groups::table
        .find(id)
        .select(Group::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or(StoreError::GroupNotFound)
}

/// Deletes the group (memberships go with it; primary groups naming it are cleared); the group
/// as it was and the users who were its members (by id). In the caller's transaction.
///
/// The members' rows are locked first, in id order, as every other membership write locks its
/// user first: so a deletion waits for (or is waited on by) those writes instead of deadlocking
/// with them on the cascade.
///
/// Deletions also take turns (a transaction-level advisory lock): the set of users a deletion
/// locks is read once, and a user can come to name the group as its primary group after that
/// read; the cascade then updates that user too. Two deletions running together could each hold
/// a user the other's cascade needs — Postgres' "deadlock detected", a 500, seen once in CI
/// under `concurrent_group_permission_and_membership_changes_stay_consistent`. The other writes
/// lock one user only, so they cannot close such a cycle.
///
/// Then the group's row is locked (after its members'), and `check` asked about it. The lock
/// waits for any membership being added meanwhile (its foreign key holds the group's row) and
/// keeps new ones out, so the members read next are exactly those the deletion removes.
pub async fn delete_group(
    conn: &mut Conn,
    id: &str,
    check: Option<impl FnOnce(&Group) -> bool + Send>,
) -> Result<(Group, Vec<String>), StoreError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<diesel::sql_types::BigInt, _>(GROUP_DELETION_LOCK)
        .execute(conn)
        .await?;
    let members = memberships::table
        .filter(memberships::group_id.eq(id))
        .select(memberships::user_id);
    users::table
        .filter(users::id.eq_any(members))
        .or_filter(users::primary_group.eq(id))
        .order(users::id)
        .select(users::id)
        .for_update()
        .load::<String>(conn)
        .await?;
    let group = lock_group(conn, id).await?;
    if check.is_some_and(|check| !check(&group)) {
        return Err(StoreError::Changed);
    }
    let members: Vec<String> = memberships::table
        .filter(memberships::group_id.eq(id))
        .order(memberships::user_id)
        .select(memberships::user_id)
        .load(conn)
        .await?;
    diesel::delete(groups::table.find(id)).execute(conn).await?;
    Ok((group, members))
}

pub async fn group_exists(conn: &mut Conn, id: &str) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(groups::table.find(id)))
        .get_result(conn)
        .await?)
}
