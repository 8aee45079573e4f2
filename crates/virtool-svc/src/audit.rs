//! What virtool records in the audit trail (`../shared/api/audit.md`, `user_core::audit`): its
//! actions, and each one's `changes`, taken from the GET representation of the user or group
//! (`wire::UserJson`, `wire::GroupJson`). Every function here writes in the caller's
//! transaction, the one that made the change. Virtool has one tenant: events carry none.
//!
//! Decisions where the contract is silent:
//! - a user's `last_password_change` is left out of `changes` (it moves with every password
//!   set, which is `"password": {"changed": true}`);
//! - `permissions` (of a group, or a user's effective ones) lists only the permissions that
//!   changed: `{"from": {"upload_file": false}, "to": {"upload_file": true}}`;
//! - `user.group_added` / `user.group_removed` carry the user's `groups` (`from`/`to`, the whole
//!   lists), and its `permissions` and `primary_group` when those moved with it;
//! - `group.deleted` carries the group and `members` (`from`: the users who lost it); no event
//!   per member (nor for the members of a group whose permissions change);
//! - a sign-in event's actor and target are both the account as typed ([`typed_account`]).

use crate::db::{Group, UserView};
use crate::wire::{GroupJson, UserJson};
use serde_json::{Map, Value};
use user_core::audit::{record, Changes, Context, Target};
use user_core::db::{Conn, DbError};

pub const USER_CREATED: &str = "user.created";
pub const USER_UPDATED: &str = "user.updated";
pub const USER_DELETED: &str = "user.deleted";
pub const USER_PASSWORD_CHANGED: &str = "user.password_changed";
pub const USER_GROUP_ADDED: &str = "user.group_added";
pub const USER_GROUP_REMOVED: &str = "user.group_removed";
pub const GROUP_CREATED: &str = "group.created";
pub const GROUP_UPDATED: &str = "group.updated";
pub const GROUP_DELETED: &str = "group.deleted";
pub const LOGIN_SUCCEEDED: &str = "login.succeeded";
pub const LOGIN_FAILED: &str = "login.failed";

/// The target of a sign-in: the username as typed (`Target::typed`).
pub fn typed_account(username: &str) -> Target {
    Target::typed("user", username)
}

/// A user as an event shows it: its GET representation without `last_password_change`.
fn user_fields(user: &UserView) -> Value {
    let mut value = serde_json::to_value(UserJson::from(user.clone())).unwrap_or_default();
    if let Value::Object(map) = &mut value {
        map.remove("last_password_change");
    }
    value
}

fn group_fields(group: &Group) -> Value {
    serde_json::to_value(GroupJson::from(group.clone())).unwrap_or_default()
}

/// `changes` with its `permissions` change (two maps of all twelve) narrowed to the
/// permissions that differ.
fn narrow_permissions(changes: Changes) -> Changes {
    let Some(Value::Object(change)) = changes.get("permissions") else {
        return changes;
    };
    let (Some(Value::Object(from)), Some(Value::Object(to))) =
        (change.get("from"), change.get("to"))
    else {
        return changes;
    };
    let differ = |name: &String| from.get(name) != to.get(name);
    let only = |side: &Map<String, Value>| -> Value {
        Value::Object(
            side.iter()
                .filter(|(name, _)| differ(name))
                .map(|(name, v)| (name.clone(), v.clone()))
                .collect(),
        )
    };
    let (from, to) = (only(from), only(to));
    changes.with("permissions", Some(from), Some(to))
}

/// The fields of a user that differ between `before` and `after` (none: empty).
pub fn user_changes(before: &UserView, after: &UserView) -> Changes {
    narrow_permissions(Changes::updated(&user_fields(before), &user_fields(after)))
}

/// The fields of a group that differ between `before` and `after`.
pub fn group_changes(before: &Group, after: &Group) -> Changes {
    narrow_permissions(Changes::updated(
        &group_fields(before),
        &group_fields(after),
    ))
}

/// `user.created`: the user as a GET shows it.
pub async fn user_created(
    conn: &mut Conn,
    context: &Context,
    user: &UserView,
) -> Result<(), DbError> {
    let changes = Changes::created(&UserJson::from(user.clone()));
    record(
        conn,
        context,
        USER_CREATED,
        &Target::user(&user.user.id),
        changes,
    )
    .await
}

/// A change of a user's own fields: `user.password_changed` when a password was set, and
/// `user.updated` when anything else changed too (with `"password": {"changed": true}` then).
/// `other` holds the other fields that changed; nothing at all is recorded when it is empty
/// and no password was set.
pub async fn user_updated(
    conn: &mut Conn,
    context: &Context,
    id: &str,
    other: Changes,
    password_set: bool,
) -> Result<(), DbError> {
    // user-core's rule records `user.updated` first, then `user.password_changed`.
    user_core::audit::record_user_update(conn, context, &Target::user(id), other, password_set)
        .await
}

/// `user.group_added` or `user.group_removed` (`action`), unless the membership did not change.
pub async fn membership_changed(
    conn: &mut Conn,
    context: &Context,
    action: &str,
    before: &UserView,
    after: &UserView,
) -> Result<(), DbError> {
    let changes = user_changes(before, after);
    if changes.is_empty() {
        return Ok(());
    }
    record(
        conn,
        context,
        action,
        &Target::user(&after.user.id),
        changes,
    )
    .await
}

/// `user.deleted`: the user as it was.
pub async fn user_deleted(
    conn: &mut Conn,
    context: &Context,
    before: &UserView,
) -> Result<(), DbError> {
    let changes = Changes::deleted(&UserJson::from(before.clone()));
    record(
        conn,
        context,
        USER_DELETED,
        &Target::user(&before.user.id),
        changes,
    )
    .await
}

/// `group.created`: the group as a GET shows it.
pub async fn group_created(
    conn: &mut Conn,
    context: &Context,
    group: &Group,
) -> Result<(), DbError> {
    let changes = Changes::created(&GroupJson::from(group.clone()));
    record(
        conn,
        context,
        GROUP_CREATED,
        &Target::new("group", &group.id),
        changes,
    )
    .await
}

/// `group.updated` with the permissions that changed, unless none did.
pub async fn group_updated(
    conn: &mut Conn,
    context: &Context,
    before: &Group,
    after: &Group,
) -> Result<(), DbError> {
    let changes = group_changes(before, after);
    if changes.is_empty() {
        return Ok(());
    }
    record(
        conn,
        context,
        GROUP_UPDATED,
        &Target::new("group", &after.id),
        changes,
    )
    .await
}

/// `group.deleted`: the group as it was, and the users who were its members.
pub async fn group_deleted(
    conn: &mut Conn,
    context: &Context,
    before: &Group,
    members: &[String],
) -> Result<(), DbError> {
    let changes = Changes::deleted(&GroupJson::from(before.clone())).with(
        "members",
        Some(Value::from(members.to_vec())),
        None,
    );
    record(
        conn,
        context,
        GROUP_DELETED,
        &Target::new("group", &before.id),
        changes,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::User;
    use crate::permissions::Permissions;
    use serde_json::json;

    fn group(id: &str, on: &[&str]) -> Group {
        let mut permissions = Permissions::NONE;
        for name in on {
            permissions.set(name, true);
        }
        Group {
            id: id.to_owned(),
            permissions,
        }
    }

    fn user(groups: &[Group], primary: Option<&str>, force_reset: bool) -> UserView {
        let permissions =
            Permissions::effective(groups.iter().map(|g| (g.id.as_str(), g.permissions)));
        UserView {
            user: User {
                id: "bob".to_owned(),
                force_reset,
                last_password_change: chrono::Utc::now(),
                primary_group: primary.map(str::to_owned),
            },
            groups: groups.iter().map(|g| g.id.clone()).collect(),
            permissions,
        }
    }

    #[test]
    fn a_group_change_lists_only_the_permissions_that_changed() {
        let before = group("tech", &["cancel_job"]);
        let after = group("tech", &["cancel_job", "upload_file"]);
        assert_eq!(
            group_changes(&before, &after).into_value(),
            json!({"permissions": {"from": {"upload_file": false}, "to": {"upload_file": true}}})
        );
        assert!(group_changes(&before, &before).is_empty());
    }

    #[test]
    fn a_membership_change_lists_groups_permissions_and_primary_group() {
        let tech = group("tech", &["upload_file"]);
        let before = user(std::slice::from_ref(&tech), Some("tech"), false);
        let mut after = user(&[], None, false);
        // a later password time alone is no change
        after.user.last_password_change =
            before.user.last_password_change + chrono::Duration::seconds(5);
        assert_eq!(
            user_changes(&before, &after).into_value(),
            json!({
                "groups": {"from": ["tech"], "to": []},
                "permissions": {"from": {"upload_file": true}, "to": {"upload_file": false}},
                "primary_group": {"from": "tech", "to": ""},
            })
        );
        let flipped = user(&[tech], Some("tech"), true);
        assert_eq!(
            user_changes(&before, &flipped).into_value(),
            json!({"force_reset": {"from": false, "to": true}})
        );
    }
}
