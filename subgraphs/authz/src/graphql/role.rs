//! `Role`, `Permission` and `RoleAssignment` as the schema shows them, and the batch loaders
//! behind them.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use tessera_kit::ApiError;
use tessera_kit::error::ApiResult;
use uuid::Uuid;

use super::user::User;
use crate::domain::{Assignment, Permission, Role};
use crate::store::Store;

/// An entry of the permission vocabulary.
#[derive(SimpleObject)]
#[graphql(name = "Permission")]
pub struct PermissionNode {
    /// The permission's name, by which clients cache it.
    pub id: ID,
    /// `resource:action`, as it appears in token scopes.
    pub name: String,
    pub description: String,
}

impl From<Permission> for PermissionNode {
    fn from(p: Permission) -> Self {
        Self {
            id: ID(p.name.clone()),
            name: p.name,
            description: p.description,
        }
    }
}

/// A role as the schema shows it.
pub struct RoleNode(pub Role);

#[Object(name = "Role")]
impl RoleNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Built-in roles come with the service and cannot be changed.
    async fn builtin(&self) -> bool {
        self.0.builtin
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The permissions the role grants, sorted.
    async fn permissions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        Ok(role_permissions(ctx, self.0.id).await?)
    }
}

/// A role held by a user, everywhere or on one resource.
pub struct RoleAssignmentNode(pub Assignment);

#[Object(name = "RoleAssignment")]
impl RoleAssignmentNode {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn user(&self) -> User {
        User(self.0.user_id)
    }

    async fn role(&self) -> RoleNode {
        RoleNode(self.0.role.clone())
    }

    /// The resource the role is held on; null when it is held everywhere.
    async fn resource(&self) -> Option<&str> {
        self.0.resource.as_deref()
    }

    /// Who granted it; null for bootstrap administrators.
    async fn granted_by(&self) -> Option<User> {
        self.0.granted_by.map(User)
    }

    async fn granted_at(&self) -> DateTime<Utc> {
        self.0.granted_at
    }
}

pub(super) fn loader_error(err: Arc<sqlx::Error>) -> ApiError {
    ApiError::Internal(anyhow::anyhow!(err))
}

/// The permissions of role `id`, through the batch loader.
pub(super) async fn role_permissions(ctx: &Context<'_>, id: Uuid) -> ApiResult<Vec<String>> {
    let loader = ctx.data_unchecked::<DataLoader<PermissionsLoader>>();
    Ok(loader
        .load_one(id)
        .await
        .map_err(loader_error)?
        .unwrap_or_default())
}

/// Loads roles by id, many per query.
pub struct RoleLoader(pub Store);

impl Loader<Uuid> for RoleLoader {
    type Value = Role;
    type Error = Arc<sqlx::Error>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Role>, Self::Error> {
        let roles = self.0.roles_by_ids(keys).await.map_err(Arc::new)?;
        Ok(roles.into_iter().map(|r| (r.id, r)).collect())
    }
}

/// Loads the permissions of roles by role id, many roles per query.
pub struct PermissionsLoader(pub Store);

impl Loader<Uuid> for PermissionsLoader {
    type Value = Vec<String>;
    type Error = Arc<sqlx::Error>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<String>>, Self::Error> {
        let pairs = self.0.permissions_of_roles(keys).await.map_err(Arc::new)?;
        let mut by_role: HashMap<Uuid, Vec<String>> = HashMap::with_capacity(keys.len());
        for (role_id, permission) in pairs {
            by_role.entry(role_id).or_default().push(permission);
        }
        for permissions in by_role.values_mut() {
            permissions.sort();
        }
        Ok(by_role)
    }
}
