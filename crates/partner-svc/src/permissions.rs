//! The API's five permissions, and the rules every call checks: partner access and no
//! escalation.

use std::collections::BTreeSet;

/// The five permissions of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    UsersRead,
    UsersCreate,
    UsersUpdate,
    UsersDelete,
    /// Access to every partner (the super admin's).
    PartnersAll,
}

impl Permission {
    pub const ALL: [Self; 5] = [
        Self::UsersRead,
        Self::UsersCreate,
        Self::UsersUpdate,
        Self::UsersDelete,
        Self::PartnersAll,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UsersRead => "users.read",
            Self::UsersCreate => "users.create",
            Self::UsersUpdate => "users.update",
            Self::UsersDelete => "users.delete",
            Self::PartnersAll => "partners.all",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == raw)
    }
}

/// A set of permissions (stored as a sorted text array).
pub type Permissions = BTreeSet<Permission>;

/// The stored names, in a stable order.
pub fn names(set: &Permissions) -> Vec<String> {
    set.iter().map(|p| p.as_str().to_owned()).collect()
}

/// Reads stored names, ignoring any this build does not know (the table's CHECK keeps them out).
pub fn from_names(names: &[String]) -> Permissions {
    names.iter().filter_map(|n| Permission::parse(n)).collect()
}

/// Whether a holder of `held`, member of `partners`, may act in `partner` (member, or
/// `partners.all`).
pub fn can_access(held: &Permissions, partners: &BTreeSet<i64>, partner: i64) -> bool {
    held.contains(&Permission::PartnersAll) || partners.contains(&partner)
}

/// Whether a holder of `held` may take a user's permissions from `before` to `after`: every
/// permission added or removed must be one it holds itself (nobody hands out, or takes away,
/// more than they have).
pub fn may_change(held: &Permissions, before: &Permissions, after: &Permissions) -> bool {
    before.symmetric_difference(after).all(|p| held.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
        }
        assert_eq!(Permission::parse("users.READ"), None);
    }

    #[test]
    fn access_is_membership_or_partners_all() {
        let member = [3].into_iter().collect();
        let read: Permissions = [Permission::UsersRead].into_iter().collect();
        assert!(can_access(&read, &member, 3));
        assert!(!can_access(&read, &member, 4));
        let all: Permissions = [Permission::PartnersAll].into_iter().collect();
        assert!(can_access(&all, &BTreeSet::new(), 99));
    }
}
