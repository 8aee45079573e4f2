//! Who is calling: the user behind the bearer token, with its permissions and partners, and
//! the checks every endpoint makes (permission, partner access, no escalation).

use crate::app::AppState;
use crate::db;
use crate::error::ApiError;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::{Deserialize, Serialize};
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

/// The token's own claims: none beyond `sub` (the user id); permissions are read live.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TokenClaims {}

/// What the cache keeps of a user: permissions and partner ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub permissions: Permissions,
    pub partners: BTreeSet<i64>,
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

    /// Whether the caller may act in `partner` (member, or `partners.all`).
    pub fn can_access(&self, partner: i64) -> bool {
        self.all_partners() || self.principal.partners.contains(&partner)
    }

    /// 403 unless the caller holds `permission` and has access to `partner`.
    pub fn authorize(&self, permission: Permission, partner: i64) -> Result<(), ApiError> {
        if self.has(permission) && self.can_access(partner) {
            Ok(())
        } else {
            Err(ApiError::UNAUTHORIZED)
        }
    }

    /// 403 when going from `before` to `after` adds or removes a permission the caller does not
    /// hold itself (nobody hands out, or takes away, more than they have).
    pub fn may_change(&self, before: &Permissions, after: &Permissions) -> Result<(), ApiError> {
        let changed = before.symmetric_difference(after);
        for p in changed {
            if !self.has(*p) {
                return Err(ApiError::UNAUTHORIZED);
            }
        }
        Ok(())
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
    let token = user_core::http::bearer_token(req).ok_or(ApiError::UNAUTHENTICATED)?;
    let claims = state.jwt.verify::<TokenClaims>(token).map_err(|reason| {
        tracing::debug!(%reason, "bearer token refused");
        ApiError::UNAUTHENTICATED
    })?;
    let user_id: i64 = claims.sub.parse().map_err(|_| ApiError::UNAUTHENTICATED)?;
    let principal = match state.principals.get(&user_id) {
        Some(cached) => cached,
        None => {
            let mut conn = state.core.db.conn().await?;
            let found = db::principal(&mut conn, user_id).await?;
            state.principals.insert(user_id, found.clone());
            found
        }
    };
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
    fn names_round_trip() {
        for p in Permission::ALL {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
        }
        assert_eq!(Permission::parse("users.READ"), None);
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
