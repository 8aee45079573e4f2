//! What agency records in the audit trail (`../shared/api/audit.md`; the trail itself is
//! `user_core::audit`): the events of its writes, each recorded with the connection of the
//! write's own transaction, and the sign-in events of the token endpoint.
//!
//! Tenant: the agency group, as a string. An API client's writes are in its own group; an
//! operator's (`admin`, bootstrap) in the group the thing belongs to.

use crate::auth::Caller;
use crate::wire::{AgencyJson, ClientJson, GroupJson, UserJson};
use actix_web::HttpRequest;
use serde_json::Value;
use user_core::audit::{record, Actor, Changes, Context, Target};
use user_core::db::{Conn, DbError};
use user_core::http::Core;

/// The context of a request by `caller`, in its agency group.
pub fn of_caller(req: &HttpRequest, core: &Core, caller: &Caller) -> Context {
    Context::of(req, core, Actor::client(&caller.client_id)).in_tenant(caller.group_id)
}

/// An operator's change in `group` (the `admin` subcommand, bootstrap).
pub fn operator(group: i64) -> Context {
    Context::operator().in_tenant(group)
}

pub async fn user_created(conn: &mut Conn, ctx: &Context, user: &UserJson) -> Result<(), DbError> {
    let changes = Changes::created(user);
    record(conn, ctx, "user.created", &Target::user(user.id), changes).await
}

/// The fields of `user` that an update compares: the GET representation without
/// `updated_at`, which every write moves (an update that moved only it changed nothing).
fn compared(user: &UserJson) -> Value {
    let mut value = serde_json::to_value(user).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.remove("updated_at");
    }
    value
}

/// The events of an update: `user.updated` when a field other than the password changed (with
/// `"password": {"changed": true}` too when the password was set), and
/// `user.password_changed` when the password was set. Nothing when nothing changed.
pub async fn user_updated(
    conn: &mut Conn,
    ctx: &Context,
    before: &UserJson,
    after: &UserJson,
    password_set: bool,
) -> Result<(), DbError> {
    let fields = Changes::updated(&compared(before), &compared(after));
    user_core::audit::record_user_update(conn, ctx, &Target::user(after.id), fields, password_set)
        .await
}

pub async fn user_deleted(
    conn: &mut Conn,
    ctx: &Context,
    before: &UserJson,
) -> Result<(), DbError> {
    let changes = Changes::deleted(before);
    record(conn, ctx, "user.deleted", &Target::user(before.id), changes).await
}

pub async fn group_created(conn: &mut Conn, group: &GroupJson) -> Result<(), DbError> {
    let target = Target::new("group", group.id);
    let changes = Changes::created(group);
    record(conn, &operator(group.id), "group.created", &target, changes).await
}

pub async fn agency_created(conn: &mut Conn, agency: &AgencyJson) -> Result<(), DbError> {
    let target = Target::new("agency", agency.id);
    let changes = Changes::created(agency);
    let ctx = operator(agency.agency_group_id);
    record(conn, &ctx, "agency.created", &target, changes).await
}

/// A new client (its secret is never in the event).
pub async fn client_created(conn: &mut Conn, client: &ClientJson) -> Result<(), DbError> {
    let target = Target::new("client", &client.id);
    let changes = Changes::created(client);
    let ctx = operator(client.agency_group_id);
    record(conn, &ctx, "client.created", &target, changes).await
}

/// Bootstrap gave an existing client another secret (`BOOTSTRAP_CLIENT_SECRET` changed):
/// `client.updated` with `"secret": {"changed": true}`.
pub async fn client_secret_changed(conn: &mut Conn, id: &str, group: i64) -> Result<(), DbError> {
    let target = Target::new("client", id);
    let changes = Changes::new().secret_changed("secret");
    record(conn, &operator(group), "client.updated", &target, changes).await
}

pub async fn client_revoked(conn: &mut Conn, id: &str, group: i64) -> Result<(), DbError> {
    let target = Target::new("client", id);
    let changes = Changes::new().with("revoked", Some(Value::Bool(false)), Some(Value::Bool(true)));
    record(conn, &operator(group), "client.revoked", &target, changes).await
}

/// The target of a sign-in event: the client id as it was typed (`Target::typed`), whether or
/// not such a client exists.
pub fn typed_client(client_id: &str) -> Target {
    Target::typed("client", client_id)
}

/// The context of a sign-in attempt with `client_id`: the client (as typed) is the actor; the
/// tenant is its group when the client exists.
pub fn sign_in(req: &HttpRequest, core: &Core, target: &Target, group: Option<i64>) -> Context {
    let ctx = Context::of(req, core, Actor::client(&target.id));
    match group {
        Some(group) => ctx.in_tenant(group),
        None => ctx,
    }
}
