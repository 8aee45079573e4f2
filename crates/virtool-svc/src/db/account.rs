//! What the account calls and authentication read and write: credentials, the principal, and
//! the password-reset codes.

use super::schema::{reset_codes, users};
use super::{find_user, Conn, UserChanges};
use crate::permissions::{Permissions, ADMINISTRATOR};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use user_core::db::DbError;

/// What a login needs to know of `id`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct Credentials {
    pub password_hash: String,
    pub force_reset: bool,
    pub last_password_change: DateTime<Utc>,
}

pub async fn credentials(conn: &mut Conn, id: &str) -> Result<Option<Credentials>, DbError> {
    Ok(users::table
        .find(id)
        .select(Credentials::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Replaces `id`'s password hash `old` with `new` (the same password re-hashed at
/// `BCRYPT_COST` after a sign-in), only if the stored hash is still `old`: a password changed
/// meanwhile (PATCH, reset, another replica) is never overwritten. `last_password_change` is
/// left alone: the password is the same, so the user's tokens stay valid. Whether it replaced.
pub async fn upgrade_password_hash(
    conn: &mut Conn,
    id: &str,
    old: &str,
    new: &str,
) -> Result<bool, DbError> {
    let rows = diesel::update(users::table.find(id).filter(users::password_hash.eq(old)))
        .set(users::password_hash.eq(new))
        .execute(conn)
        .await?;
    Ok(rows == 1)
}

/// What a user may do: its permissions, and whether it is in the administrator group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    pub permissions: Permissions,
    pub administrator: bool,
    /// `last_password_change` in microseconds: tokens issued before it no longer count.
    pub password_changed: i64,
}

/// What `id` may do now, or `None` when there is no such user (any more).
pub async fn principal(conn: &mut Conn, id: &str) -> Result<Option<Principal>, DbError> {
    Ok(find_user(conn, id).await?.map(|v| Principal {
        permissions: v.permissions,
        administrator: v.groups.iter().any(|g| g == ADMINISTRATOR),
        password_changed: v.user.last_password_change.timestamp_micros(),
    }))
}

/// Replaces any reset code of `user` with the one hashed as `code_hash`.
pub async fn store_reset_code(
    conn: &mut Conn,
    user: &str,
    code_hash: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), DbError> {
    conn.transaction(async |conn| {
        diesel::delete(reset_codes::table.filter(reset_codes::user_id.eq(user)))
            .execute(conn)
            .await?;
        diesel::delete(reset_codes::table.filter(reset_codes::expires_at.lt(Utc::now())))
            .execute(conn)
            .await?;
        diesel::insert_into(reset_codes::table)
            .values((
                reset_codes::code_hash.eq(code_hash),
                reset_codes::user_id.eq(user),
                reset_codes::expires_at.eq(expires_at),
            ))
            .execute(conn)
            .await?;
        Ok::<_, DbError>(())
    })
    .await
}

/// Whether `code_hash` names a code that is still valid (a cheap check before hashing).
pub async fn reset_code_valid(conn: &mut Conn, code_hash: &str) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        reset_codes::table
            .find(code_hash)
            .filter(reset_codes::expires_at.gt(Utc::now())),
    ))
    .get_result(conn)
    .await?)
}

/// What [`redeem_reset_code`] changed.
#[derive(Debug, Clone)]
pub struct Redeemed {
    pub user: String,
    /// The new `last_password_change`.
    pub password_changed: DateTime<Utc>,
    /// `force_reset` before (the redemption clears it).
    pub force_reset_was: bool,
}

/// Uses up the code and sets its user's password, clearing `force_reset`; `None` when the code
/// is unknown, used or expired. In the caller's transaction.
pub async fn redeem_reset_code(
    conn: &mut Conn,
    code_hash: &str,
    password_hash: &str,
) -> Result<Option<Redeemed>, DbError> {
    let user: Option<String> = diesel::delete(
        reset_codes::table
            .find(code_hash)
            .filter(reset_codes::expires_at.gt(Utc::now())),
    )
    .returning(reset_codes::user_id)
    .get_result(conn)
    .await
    .optional()?;
    let Some(user) = user else {
        return Ok(None);
    };
    let force_reset_was: bool = users::table
        .find(&user)
        .select(users::force_reset)
        .for_update()
        .first(conn)
        .await?;
    let changed: DateTime<Utc> = diesel::update(users::table.find(&user))
        .set(&UserChanges {
            force_reset: Some(false),
            password_hash: Some(password_hash.to_owned()),
            last_password_change: Some(Utc::now()),
            primary_group: None,
        })
        .returning(users::last_password_change)
        .get_result(conn)
        .await?;
    diesel::delete(reset_codes::table.filter(reset_codes::user_id.eq(&user)))
        .execute(conn)
        .await?;
    Ok(Some(Redeemed {
        user,
        password_changed: changed,
        force_reset_was,
    }))
}
