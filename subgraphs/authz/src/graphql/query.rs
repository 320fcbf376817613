//! Queries and the entity resolver.

use async_graphql::connection::OpaqueCursor;
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, Object};
use tessera_kit::page::{Conn, Window};
use tessera_kit::{ApiError, caller};
use uuid::Uuid;

use super::role::{PermissionNode, RoleLoader, RoleNode, loader_error};
use super::user::{User, parse_user_id, require_visible};
use crate::domain;
use crate::store::Store;

pub struct Query;

#[Object]
impl Query {
    /// Every role, in name order. Any signed-in caller may read the roles.
    async fn roles(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<Conn<OpaqueCursor<String>, RoleNode>> {
        caller::require(ctx)?;
        let window = Window::<OpaqueCursor<String>>::new(first, after)?;
        let store = ctx.data_unchecked::<Store>();
        let roles = store
            .roles(window.after.as_ref().map(|c| c.0.as_str()), window.limit())
            .await
            .map_err(ApiError::from)?;
        Ok(window.connection(roles, |r| OpaqueCursor(r.name.clone()), RoleNode))
    }

    /// The permission vocabulary, by name: a short, fixed list, so not paged. Any signed-in
    /// caller may read it.
    async fn permissions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<PermissionNode>> {
        caller::require(ctx)?;
        let store = ctx.data_unchecked::<Store>();
        let permissions = store.permissions().await.map_err(ApiError::from)?;
        Ok(permissions.into_iter().map(PermissionNode::from).collect())
    }

    /// A role by id. Any signed-in caller may read the roles.
    async fn role(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<RoleNode>> {
        caller::require(ctx)?;
        let id = Uuid::parse_str(id.as_str()).map_err(|_| ApiError::bad_input("not a role id"))?;
        let loader = ctx.data_unchecked::<DataLoader<RoleLoader>>();
        let role = loader.load_one(id).await.map_err(loader_error)?;
        Ok(role.map(RoleNode))
    }

    /// Whether the user holds `permission` through a global role or, when `resource` is given, a
    /// role scoped to that resource. A caller may ask about themselves; asking about others
    /// needs users:read or roles:manage. A permission outside the vocabulary is held by no one.
    async fn can(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        permission: String,
        resource: Option<String>,
    ) -> async_graphql::Result<bool> {
        let user = parse_user_id(&user_id)?;
        require_visible(ctx, user)?;
        let permission = domain::permission(&permission)?;
        let resource = domain::resource(resource.as_deref())?;
        let store = ctx.data_unchecked::<Store>();
        Ok(store
            .can(user, &permission, resource.as_deref())
            .await
            .map_err(ApiError::from)?)
    }

    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> async_graphql::Result<User> {
        Ok(User(parse_user_id(&id)?))
    }
}
