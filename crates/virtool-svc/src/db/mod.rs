//! The virtool schema: models and every query the service runs (one place to look for SQL).
//!
//! Writes that check before they change (PATCH, membership changes, group edits, deletions)
//! run in the caller's transaction (the route's, which records the change's audit event in the
//! same transaction) holding the row lock of the user or group they change, so concurrent
//! requests see each other's results and every rejected request leaves the database as it
//! was. They answer the user or group before and after the change, read under that lock, for
//! the event's `changes`.
//!
//! Those writes (and the deletions) take a `check`: a condition on the user or group as it is
//! under the lock (the route's `If-Match`, as a closure over the state, so that this module
//! knows nothing of requests). `None` checks nothing and reads nothing more; a check that
//! fails is [`StoreError::Changed`] and nothing is written.

pub mod schema;

mod account;
mod groups;
mod users;

pub use account::*;
pub use groups::*;
pub use users::*;

use diesel_async::AsyncPgConnection;
use user_core::db::DbError;

pub const MIGRATIONS: diesel_migrations::EmbeddedMigrations =
    diesel_migrations::embed_migrations!("migrations");

type Conn = AsyncPgConnection;

/// Why a write was refused (each is one documented API answer), or the database failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("user not found")]
    UserNotFound,
    #[error("group not found")]
    GroupNotFound,
    #[error("user is not member of group {0}")]
    NotMember(String),
    /// The write's `check` refused the current state (the caller's `If-Match` is stale).
    #[error("the user or group is not as the caller last saw it")]
    Changed,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for StoreError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e.into())
    }
}

/// No check, typed: for callers with no condition to pass as a write's `check`.
pub fn unconditional<T>() -> Option<fn(&T) -> bool> {
    None
}

/// In a write that holds the user's row lock, a foreign key can only fail on the group: one
/// deleted between our check and our write. That is the same answer as a missing group.
fn group_vanished(e: StoreError) -> StoreError {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        StoreError::Db(DbError::Query(Error::DatabaseError(
            DatabaseErrorKind::ForeignKeyViolation,
            _,
        ))) => StoreError::GroupNotFound,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::{DatabaseErrorKind, Error};

    #[test]
    fn a_foreign_key_failure_under_the_user_lock_is_a_missing_group() {
        let fk = StoreError::from(Error::DatabaseError(
            DatabaseErrorKind::ForeignKeyViolation,
            Box::new("insert or update violates foreign key constraint".to_owned()),
        ));
        assert!(matches!(group_vanished(fk), StoreError::GroupNotFound));
        let other = StoreError::from(Error::DatabaseError(
            DatabaseErrorKind::CheckViolation,
            Box::new("check".to_owned()),
        ));
        assert!(matches!(group_vanished(other), StoreError::Db(_)));
        assert!(matches!(
            group_vanished(StoreError::UserNotFound),
            StoreError::UserNotFound
        ));
    }
}
