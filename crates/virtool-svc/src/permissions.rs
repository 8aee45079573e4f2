//! Virtool's twelve permissions: what a group grants, and what a user holds (the union over
//! its groups; members of `administrator` hold every one).

use crate::db::schema::groups;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

/// The group every installation has; it holds every permission and cannot be changed or removed.
pub const ADMINISTRATOR: &str = "administrator";

/// The permission names, in the order the API lists them.
pub const NAMES: [&str; 12] = [
    "cancel_job",
    "create_sample",
    "manage_users",
    "modify_hmm",
    "modify_settings",
    "modify_subtraction",
    "modify_virus",
    "rebuild_index",
    "remove_file",
    "remove_job",
    "remove_virus",
    "upload_file",
];

/// One flag per permission (a group's grant, or a user's effective set).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Serialize,
    ToSchema,
    Queryable,
    Selectable,
    AsChangeset,
)]
#[diesel(table_name = groups, check_for_backend(diesel::pg::Pg))]
pub struct Permissions {
    pub cancel_job: bool,
    pub create_sample: bool,
    pub manage_users: bool,
    pub modify_hmm: bool,
    pub modify_settings: bool,
    pub modify_subtraction: bool,
    pub modify_virus: bool,
    pub rebuild_index: bool,
    pub remove_file: bool,
    pub remove_job: bool,
    pub remove_virus: bool,
    pub upload_file: bool,
}

impl Permissions {
    pub const NONE: Self = Self {
        cancel_job: false,
        create_sample: false,
        manage_users: false,
        modify_hmm: false,
        modify_settings: false,
        modify_subtraction: false,
        modify_virus: false,
        rebuild_index: false,
        remove_file: false,
        remove_job: false,
        remove_virus: false,
        upload_file: false,
    };

    pub const ALL: Self = Self {
        cancel_job: true,
        create_sample: true,
        manage_users: true,
        modify_hmm: true,
        modify_settings: true,
        modify_subtraction: true,
        modify_virus: true,
        rebuild_index: true,
        remove_file: true,
        remove_job: true,
        remove_virus: true,
        upload_file: true,
    };

    fn slot(&mut self, name: &str) -> Option<&mut bool> {
        Some(match name {
            "cancel_job" => &mut self.cancel_job,
            "create_sample" => &mut self.create_sample,
            "manage_users" => &mut self.manage_users,
            "modify_hmm" => &mut self.modify_hmm,
            "modify_settings" => &mut self.modify_settings,
            "modify_subtraction" => &mut self.modify_subtraction,
            "modify_virus" => &mut self.modify_virus,
            "rebuild_index" => &mut self.rebuild_index,
            "remove_file" => &mut self.remove_file,
            "remove_job" => &mut self.remove_job,
            "remove_virus" => &mut self.remove_virus,
            "upload_file" => &mut self.upload_file,
            _ => return None,
        })
    }

    /// Sets `name` to `value`; false when there is no such permission.
    pub fn set(&mut self, name: &str, value: bool) -> bool {
        match self.slot(name) {
            Some(flag) => {
                *flag = value;
                true
            }
            None => false,
        }
    }

    pub fn is_known(name: &str) -> bool {
        NAMES.contains(&name)
    }

    /// Every permission either set holds.
    pub fn union(self, other: Self) -> Self {
        Self {
            cancel_job: self.cancel_job || other.cancel_job,
            create_sample: self.create_sample || other.create_sample,
            manage_users: self.manage_users || other.manage_users,
            modify_hmm: self.modify_hmm || other.modify_hmm,
            modify_settings: self.modify_settings || other.modify_settings,
            modify_subtraction: self.modify_subtraction || other.modify_subtraction,
            modify_virus: self.modify_virus || other.modify_virus,
            rebuild_index: self.rebuild_index || other.rebuild_index,
            remove_file: self.remove_file || other.remove_file,
            remove_job: self.remove_job || other.remove_job,
            remove_virus: self.remove_virus || other.remove_virus,
            upload_file: self.upload_file || other.upload_file,
        }
    }

    /// What a member of `groups` (name, grant) holds: the union, or everything for an administrator.
    pub fn effective<'a>(groups: impl IntoIterator<Item = (&'a str, Self)>) -> Self {
        groups.into_iter().fold(Self::NONE, |held, (name, grant)| {
            if name == ADMINISTRATOR {
                Self::ALL
            } else {
                held.union(grant)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_serialized_fields_in_order() {
        let v = serde_json::to_value(Permissions::NONE).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, NAMES);
        for name in NAMES {
            let mut p = Permissions::NONE;
            assert!(p.set(name, true));
            assert_eq!(serde_json::to_value(p).unwrap()[name], true);
        }
        assert!(!Permissions::NONE.clone().set("modify_user", true));
    }

    #[test]
    fn effective_is_the_union_and_administrator_is_everything() {
        let mut a = Permissions::NONE;
        a.set("cancel_job", true);
        let mut b = Permissions::NONE;
        b.set("upload_file", true);
        let both = Permissions::effective([("a", a), ("b", b)]);
        assert!(both.cancel_job && both.upload_file && !both.manage_users);
        assert_eq!(Permissions::effective([]), Permissions::NONE);
        assert_eq!(
            Permissions::effective([("a", a), (ADMINISTRATOR, Permissions::NONE)]),
            Permissions::ALL
        );
    }
}
