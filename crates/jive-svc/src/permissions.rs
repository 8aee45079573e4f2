//! What a user may do, from its `user_permissions`, and the rules every write checks.

use crate::error::ApiError;
use serde_json::Value;

/// What a user may do with `/api/users`, from its `user_permissions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Authenticated, but every `/api/users` call is refused.
    None,
    /// `{"users":"read"}`: the `GET` calls.
    Read,
    /// `{"users":"write"}`: every call, but not granting permissions.
    Write,
    /// `{"IsAdmin":"admin"}`: everything in the org.
    Admin,
}

impl Access {
    pub fn of(permissions: &Value) -> Self {
        if permissions.get("IsAdmin").and_then(Value::as_str) == Some("admin") {
            return Self::Admin;
        }
        match permissions.get("users").and_then(Value::as_str) {
            Some("write") => Self::Write,
            Some("read") => Self::Read,
            _ => Self::None,
        }
    }
}

impl Access {
    /// 403 unless this is at least `needed`.
    pub fn require(self, needed: Access) -> Result<(), ApiError> {
        if self >= needed {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }

    /// Only admins grant or change `user_permissions`.
    pub fn may_grant(self) -> bool {
        self == Self::Admin
    }

    /// Only admins read their org's audit trail (`GET /api/events`); 403 for anyone else.
    pub fn may_read_events(self) -> Result<(), ApiError> {
        if self == Self::Admin {
            Ok(())
        } else {
            Err(ApiError::EventsForbidden)
        }
    }
}

/// Only an admin may act on an admin (other than itself): a user with `users: write` must not
/// be able to take over or lock out the org's admins.
pub fn may_modify(
    actor: Access,
    actor_id: &str,
    target_id: &str,
    target_permissions: &Value,
) -> Result<(), ApiError> {
    if actor != Access::Admin
        && target_id != actor_id
        && Access::of(target_permissions) == Access::Admin
    {
        return Err(ApiError::Forbidden);
    }
    Ok(())
}

/// A user's access key is shown to admins and to the user itself; to others it is `""`.
pub fn sees_access_key(viewer: Access, viewer_id: &str, owner_id: &str) -> bool {
    viewer == Access::Admin || viewer_id == owner_id
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn permissions_map_to_access() {
        assert_eq!(Access::of(&json!({"IsAdmin":"admin"})), Access::Admin);
        assert_eq!(
            Access::of(&json!({"IsAdmin":"admin","users":"read"})),
            Access::Admin
        );
        assert_eq!(Access::of(&json!({"users":"write"})), Access::Write);
        assert_eq!(Access::of(&json!({"users":"read"})), Access::Read);
        assert_eq!(Access::of(&json!({"users":"deny"})), Access::None);
        assert_eq!(Access::of(&json!({})), Access::None);
        assert_eq!(Access::of(&json!({"IsAdmin":"yes"})), Access::None);
        assert!(Access::Admin > Access::Write && Access::Write > Access::Read);
    }

    #[test]
    fn only_admins_act_on_admins_but_everyone_on_themselves() {
        let admin = json!({"IsAdmin":"admin"});
        let writer = json!({"users":"write"});
        assert!(may_modify(Access::Write, "a", "b", &admin).is_err());
        assert!(may_modify(Access::Write, "a", "a", &admin).is_ok());
        assert!(may_modify(Access::Write, "a", "b", &writer).is_ok());
        assert!(may_modify(Access::Admin, "a", "b", &admin).is_ok());
        assert!(sees_access_key(Access::Read, "a", "a"));
        assert!(!sees_access_key(Access::Write, "a", "b"));
        assert!(sees_access_key(Access::Admin, "a", "b"));
    }

    #[test]
    fn only_admins_read_events() {
        assert!(Access::Admin.may_read_events().is_ok());
        for access in [Access::Write, Access::Read, Access::None] {
            assert!(matches!(
                access.may_read_events(),
                Err(ApiError::EventsForbidden)
            ));
        }
    }
}
