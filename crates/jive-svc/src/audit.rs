//! What jive records in the audit trail (`../shared/api/audit.md`; the trail itself is
//! `user_core::audit`): the events of its writes, each recorded with the connection of the
//! write's own transaction.
//!
//! Tenant: the org, by id. An access key's writes are its user's, in its org; an operator's
//! (`admin`, bootstrap) in the org the thing belongs to.
//!
//! A user is recorded and diffed as [`UserJson::audited`] shows it: the representation an org
//! admin sees, one for every viewer (its `access_key` and `password` are secret fields in the
//! trail, never written out).

use crate::auth::Caller;
use crate::db::User;
use crate::wire::{OrgJson, UserJson};
use actix_web::HttpRequest;
use user_core::audit::{record, record_user_update, Actor, Changes, Context, Target};
use user_core::db::{Conn, DbError};
use user_core::http::Core;

/// The context of a write by `caller`: the access key's user, in its org.
pub fn of_caller(req: &HttpRequest, core: &Core, caller: &Caller) -> Context {
    Context::of(req, core, Actor::user(&caller.user_id)).in_tenant(&caller.org_id)
}

/// An operator's change in org `org` (the `admin` subcommand, bootstrap).
pub fn operator(org: &str) -> Context {
    Context::operator().in_tenant(org)
}

/// `org.created`: the org's id and name (the API has no org call).
pub async fn org_created(
    conn: &mut Conn,
    ctx: &Context,
    id: &str,
    name: &str,
) -> Result<(), DbError> {
    let changes = Changes::created(&OrgJson { id, name });
    record(conn, ctx, "org.created", &Target::new("org", id), changes).await
}

/// `user.created`: the new user.
pub async fn user_created(conn: &mut Conn, ctx: &Context, user: &User) -> Result<(), DbError> {
    let changes = Changes::created(&UserJson::audited(user.clone()));
    record(conn, ctx, "user.created", &Target::user(&user.id), changes).await
}

/// `user.updated` with only the fields whose values changed; nothing when none did (the values
/// sent were the stored ones). An update never sets the password (that is [`password_changed`]).
pub async fn user_updated(
    conn: &mut Conn,
    ctx: &Context,
    before: &User,
    after: &User,
) -> Result<(), DbError> {
    let fields = Changes::updated(
        &UserJson::audited(before.clone()),
        &UserJson::audited(after.clone()),
    );
    record_user_update(conn, ctx, &Target::user(&after.id), fields, false).await
}

/// `user.password_changed` (`"password": {"changed": true}`): the reset call.
pub async fn password_changed(conn: &mut Conn, ctx: &Context, user: &User) -> Result<(), DbError> {
    record_user_update(conn, ctx, &Target::user(&user.id), Changes::new(), true).await
}

/// `user.deleted`: the user as it was.
pub async fn user_deleted(conn: &mut Conn, ctx: &Context, before: &User) -> Result<(), DbError> {
    let changes = Changes::deleted(&UserJson::audited(before.clone()));
    record(
        conn,
        ctx,
        "user.deleted",
        &Target::user(&before.id),
        changes,
    )
    .await
}
