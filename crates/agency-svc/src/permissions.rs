//! What an API client may do: every call, in the agencies of its own agency group. Any other
//! agency answers 404, as if it did not exist (its existence is not revealed).

use crate::db;
use crate::error::ApiError;
use user_core::db::Db;

/// 404 unless `agency` belongs to `group` (the caller's).
pub async fn require_agency(db: &Db, group: i64, agency: i64) -> Result<(), ApiError> {
    let mut conn = db.conn().await?;
    if db::agency_in_group(&mut conn, group, agency).await? {
        Ok(())
    } else {
        Err(ApiError::NOT_FOUND)
    }
}
