//! The `User` entity (owned by identity) with the fields authz adds, and the loader of users'
//! assignments.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, ID, Object};
use tessera_kit::error::ApiResult;
use tessera_kit::{ApiError, caller};
use uuid::Uuid;

use super::role::{PermissionsLoader, RoleAssignmentNode, RoleNode, loader_error};
use crate::domain::{Assignment, MANAGE_ROLES, READ_USERS};
use crate::store::Store;

/// A user, referenced by id. Authz keeps no user rows: identity owns them.
pub struct User(pub Uuid);

#[Object]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.to_string())
    }

    /// The roles the user holds everywhere (assignments without a resource). Visible to the
    /// user and to holders of users:read or roles:manage.
    async fn roles(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RoleNode>> {
        let assignments = assignments_of(ctx, self.0).await?;
        Ok(assignments
            .into_iter()
            .filter(|a| a.resource.is_none())
            .map(|a| RoleNode(a.role))
            .collect())
    }

    /// Every role the user holds, global ones first, with the resource each is scoped to.
    /// Visible to the user and to holders of users:read or roles:manage.
    async fn role_assignments(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<RoleAssignmentNode>> {
        let assignments = assignments_of(ctx, self.0).await?;
        Ok(assignments.into_iter().map(RoleAssignmentNode).collect())
    }

    /// The permissions the user's global roles grant, sorted: the scopes authz puts into the
    /// user's next access tokens. Visible to the user and to holders of users:read or
    /// roles:manage.
    async fn permissions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        let assignments = assignments_of(ctx, self.0).await?;
        let role_ids: Vec<Uuid> = assignments
            .iter()
            .filter(|a| a.resource.is_none())
            .map(|a| a.role.id)
            .collect();
        let loader = ctx.data_unchecked::<DataLoader<PermissionsLoader>>();
        let by_role = loader.load_many(role_ids).await.map_err(loader_error)?;
        let mut permissions: Vec<String> = by_role.into_values().flatten().collect();
        permissions.sort();
        permissions.dedup();
        Ok(permissions)
    }
}

/// Fails with FORBIDDEN unless the caller is `user_id` or may read others' roles.
pub(super) fn require_visible(ctx: &Context<'_>, user_id: Uuid) -> ApiResult<()> {
    let who = caller::require(ctx)?;
    if who.user_id == user_id || who.has_scope(READ_USERS) || who.has_scope(MANAGE_ROLES) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only the user and holders of users:read or roles:manage see a user's roles",
        ))
    }
}

async fn assignments_of(ctx: &Context<'_>, user_id: Uuid) -> ApiResult<Vec<Assignment>> {
    require_visible(ctx, user_id)?;
    let loader = ctx.data_unchecked::<DataLoader<AssignmentsLoader>>();
    Ok(loader
        .load_one(user_id)
        .await
        .map_err(loader_error)?
        .unwrap_or_default())
}

/// Loads the assignments of users by user id, many users per query.
pub struct AssignmentsLoader(pub Store);

impl Loader<Uuid> for AssignmentsLoader {
    type Value = Vec<Assignment>;
    type Error = Arc<sqlx::Error>;

    async fn load(&self, keys: &[Uuid]) -> Result<HashMap<Uuid, Vec<Assignment>>, Self::Error> {
        let assignments = self.0.assignments_of_users(keys).await.map_err(Arc::new)?;
        let mut by_user: HashMap<Uuid, Vec<Assignment>> = HashMap::with_capacity(keys.len());
        for assignment in assignments {
            by_user
                .entry(assignment.user_id)
                .or_default()
                .push(assignment);
        }
        Ok(by_user)
    }
}

/// Parses an `ID` argument as a user id.
pub fn parse_user_id(id: &ID) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id.as_str()).map_err(|_| ApiError::bad_input("not a user id"))
}
