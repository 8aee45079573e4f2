//! What partner records in the audit trail (`../shared/api/audit.md`; the trail itself is
//! `user_core::audit`; the table of events is in `docs/partner.md`): the events of its writes,
//! each recorded with the connection of the write's own transaction, and the context and
//! target of the login's sign-in events.
//!
//! Tenant: the partner, as a string. A caller's writes are in the partner of the path; an
//! operator's `partner.created` in the new partner. The bootstrap admin's `user.created` and
//! the sign-in events have none (the admin belongs to no partner, a login has none in its path).

use crate::auth::Caller;
use crate::db::{Locked, User};
use crate::permissions::{from_names, names};
use crate::wire::PartnerJson;
use actix_web::HttpRequest;
use serde::Serialize;
use user_core::audit::{record, Actor, Changes, Context, Target};
use user_core::db::{Conn, DbError};
use user_core::http::Core;

/// A user as the audit trail records it (`user.created`, `user.updated`, `user.deleted`): the
/// JSON a GET answers plus the user's permissions (in the order of `Permission::ALL`), which a
/// GET does not show but a create or an update sets. Never the password or its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditedUser {
    pub id: i64,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub permissions: Vec<String>,
}

impl AuditedUser {
    /// `user` holding the stored permission names `permissions` (in any order).
    pub fn new(user: &User, permissions: &[String]) -> Self {
        Self {
            id: user.id,
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            email: user.email.clone(),
            permissions: names(&from_names(permissions)),
        }
    }
}

/// Who changes what through `partner` in this request: the caller, in that partner.
pub fn of_caller(req: &HttpRequest, core: &Core, caller: &Caller, partner: i64) -> Context {
    Context::of(req, core, Actor::user(caller.user_id)).in_tenant(partner)
}

/// An operator's change (the `admin` subcommand, bootstrap), in no partner.
pub fn operator() -> Context {
    Context::operator()
}

/// `user.created`: the new `user` holding the stored permission names `permissions`.
pub async fn user_created(
    conn: &mut Conn,
    ctx: &Context,
    user: &User,
    permissions: &[String],
) -> Result<(), DbError> {
    let repr = AuditedUser::new(user, permissions);
    record(
        conn,
        ctx,
        "user.created",
        &Target::user(user.id),
        Changes::created(&repr),
    )
    .await
}

/// `user.attached`: the existing user `id` joined `partner`.
pub async fn user_attached(
    conn: &mut Conn,
    ctx: &Context,
    id: i64,
    partner: i64,
) -> Result<(), DbError> {
    let changes = Changes::new().with("partner", None, Some(partner.into()));
    record(conn, ctx, "user.attached", &Target::user(id), changes).await
}

/// The events of an update of `before` (the locked row) to `after`, which holds the stored
/// permission names `permissions`: `user.password_changed` when a password was set;
/// `user.updated` with the fields that changed (and the password, when it was set too) when
/// any did. Nothing for an update that changed nothing.
pub async fn user_updated(
    conn: &mut Conn,
    ctx: &Context,
    before: &Locked,
    after: &User,
    permissions: &[String],
    password_set: bool,
) -> Result<(), DbError> {
    let from = AuditedUser::new(&before.user, &before.permissions);
    let to = AuditedUser::new(after, permissions);
    let fields = Changes::updated(&from, &to);
    user_core::audit::record_user_update(conn, ctx, &Target::user(after.id), fields, password_set)
        .await
}

/// `user.detached`: the user `id` left `partner` and stays in others.
pub async fn user_detached(
    conn: &mut Conn,
    ctx: &Context,
    id: i64,
    partner: i64,
) -> Result<(), DbError> {
    let changes = Changes::new().with("partner", Some(partner.into()), None);
    record(conn, ctx, "user.detached", &Target::user(id), changes).await
}

/// `user.deleted`: the user as it was (the locked row), deleted at its last partner.
pub async fn user_deleted(conn: &mut Conn, ctx: &Context, before: &Locked) -> Result<(), DbError> {
    let changes = Changes::deleted(&AuditedUser::new(&before.user, &before.permissions));
    record(
        conn,
        ctx,
        "user.deleted",
        &Target::user(before.user.id),
        changes,
    )
    .await
}

/// `partner.created` for the partner `id` named `name`, by the operator (the admin command or
/// bootstrap), in the new partner: call it in the transaction that created it.
pub async fn partner_created(conn: &mut Conn, id: i64, name: &str) -> Result<(), DbError> {
    let repr = PartnerJson {
        id,
        name: name.to_owned(),
    };
    record(
        conn,
        &operator().in_tenant(id),
        "partner.created",
        &Target::new("partner", id),
        Changes::created(&repr),
    )
    .await
}

/// The context of a sign-in that has no user yet (failed, throttled): actor a user with id
/// null, no tenant; the account as typed is the event's target ([`typed_account`]).
pub fn anonymous(req: &HttpRequest, core: &Core) -> Context {
    Context::of(req, core, Actor::anonymous("user"))
}

/// The target of a failed or throttled sign-in: the email as it was typed, whether or not such
/// a user exists.
pub fn typed_account(email: &str) -> Target {
    Target::typed("user", email)
}

/// The context and target of a successful sign-in of user `id`: the user is both, by id (so
/// that `?target=<id>` finds a user's sign-ins and changes together); no tenant.
pub fn signed_in(req: &HttpRequest, core: &Core, id: i64) -> (Context, Target) {
    (Context::of(req, core, Actor::user(id)), Target::user(id))
}
