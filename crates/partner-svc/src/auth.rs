//! Who is calling: the user behind the bearer token, with its permissions and partners, and
//! the checks every endpoint makes, in this API's errors (the rules: `permissions.rs`).

use crate::db::{self, Principal};
use crate::error::ApiError;
use crate::permissions::{self, Permission, Permissions};
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};

/// The token's own claims: none beyond `sub` (the user id); permissions are read live.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TokenClaims {}

/// An id from the path; anything but a positive integer cannot exist.
pub fn path_id(raw: &str) -> Option<i64> {
    raw.parse::<i64>().ok().filter(|id| *id > 0)
}

/// An authenticated user.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user_id: i64,
    pub principal: Principal,
}

impl Caller {
    pub fn has(&self, permission: Permission) -> bool {
        self.principal.permissions.contains(&permission)
    }

    pub fn all_partners(&self) -> bool {
        self.has(Permission::PartnersAll)
    }

    /// Whether the caller may act in `partner` ([`permissions::can_access`]).
    pub fn can_access(&self, partner: i64) -> bool {
        permissions::can_access(
            &self.principal.permissions,
            &self.principal.partners,
            partner,
        )
    }

    /// The partner of the path (`raw_partner`), once the caller may act there with
    /// `permission`: 403 without the permission or access (whether or not the partner
    /// exists); 404 only for a `partners.all` caller and a partner that does not exist.
    pub async fn enter(
        &self,
        state: &AppState,
        raw_partner: &str,
        permission: Permission,
    ) -> Result<i64, ApiError> {
        let partner = self.access(raw_partner, permission)?;
        if !self.all_partners() {
            return Ok(partner);
        }
        let mut conn = state.core.db.conn().await?;
        if db::partner_exists(&mut conn, partner).await? {
            Ok(partner)
        } else {
            Err(ApiError::NOT_FOUND)
        }
    }

    /// [`Caller::enter`] without the existence check: for calls that look up a member of the
    /// partner, whose "not a member" answer (404) is the same as "no such partner" — the
    /// membership query answers both, which saves a round trip per request.
    pub fn access(&self, raw_partner: &str, permission: Permission) -> Result<i64, ApiError> {
        if !self.has(permission) {
            return Err(ApiError::UNAUTHORIZED);
        }
        let partner = path_id(raw_partner);
        if !self.all_partners() {
            return match partner {
                Some(p) if self.can_access(p) => Ok(p),
                _ => Err(ApiError::UNAUTHORIZED),
            };
        }
        partner.ok_or(ApiError::NOT_FOUND)
    }

    /// 403 unless the caller holds `permission` and has access to `partner`.
    pub fn authorize(&self, permission: Permission, partner: i64) -> Result<(), ApiError> {
        if self.has(permission) && self.can_access(partner) {
            Ok(())
        } else {
            Err(ApiError::UNAUTHORIZED)
        }
    }

    /// 403 unless the caller may change a user's permissions from `before` to `after`
    /// ([`permissions::may_change`]: no escalation).
    pub fn may_change(&self, before: &Permissions, after: &Permissions) -> Result<(), ApiError> {
        if permissions::may_change(&self.principal.permissions, before, after) {
            Ok(())
        } else {
            Err(ApiError::UNAUTHORIZED)
        }
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}

async fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or(ApiError::INTERNAL)?;
    let claims = user_core::http::bearer_claims::<TokenClaims>(req, &state.jwt)
        .ok_or(ApiError::UNAUTHENTICATED)?;
    let user_id: i64 = claims.sub.parse().map_err(|_| ApiError::UNAUTHENTICATED)?;
    let principal = state
        .principals
        .get_or_load(&state.core.db, &user_id, async |conn| {
            db::principal(conn, user_id).await
        })
        .await?;
    match principal {
        Some(principal) => Ok(Caller { user_id, principal }),
        None => {
            tracing::debug!(user = user_id, "token of a deleted user");
            Err(ApiError::UNAUTHENTICATED)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(perms: &[Permission], partners: &[i64]) -> Caller {
        Caller {
            user_id: 1,
            principal: Principal {
                permissions: perms.iter().copied().collect(),
                partners: partners.iter().copied().collect(),
            },
        }
    }

    #[test]
    fn access_needs_membership_or_partners_all() {
        let c = caller(&[Permission::UsersRead], &[3]);
        assert!(c.authorize(Permission::UsersRead, 3).is_ok());
        assert!(c.authorize(Permission::UsersRead, 4).is_err());
        assert!(c.authorize(Permission::UsersCreate, 3).is_err());
        let admin = caller(&[Permission::UsersRead, Permission::PartnersAll], &[]);
        assert!(admin.authorize(Permission::UsersRead, 99).is_ok());
    }

    #[test]
    fn no_escalation() {
        use Permission::*;
        let c = caller(&[UsersRead, UsersCreate], &[1]);
        let none = Permissions::new();
        let read: Permissions = [UsersRead].into_iter().collect();
        let delete: Permissions = [UsersDelete].into_iter().collect();
        assert!(c.may_change(&none, &read).is_ok());
        assert!(c.may_change(&none, &delete).is_err(), "grant");
        assert!(c.may_change(&delete, &none).is_err(), "revoke");
        assert!(c.may_change(&delete, &delete).is_ok(), "kept as it was");
    }
}
