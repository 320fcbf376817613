//! Mutations: creating roles, granting and revoking them. Each needs roles:manage.

use async_graphql::{Context, ID, InputObject, Object};
use tessera_kit::db::Tx;
use tessera_kit::error::{ApiResult, ErrorCode};
use tessera_kit::events::{Envelope, Outbox};
use tessera_kit::{ApiError, Caller, caller, db};
use uuid::Uuid;

use super::role::{RoleAssignmentNode, RoleNode};
use super::user::parse_user_id;
use crate::domain::{self, MANAGE_ROLES, Role, assignments, event_types};
use crate::store::{self, Store, changes};

pub struct Mutation;

/// A new role.
#[derive(InputObject)]
pub struct CreateRoleInput {
    /// Unique; a lower-case letter, then lower-case letters, digits, `_` or `-`.
    pub name: String,
    #[graphql(default)]
    pub description: String,
    /// Permissions from the vocabulary (`permissions`), each `resource:action`.
    pub permissions: Vec<String>,
}

/// A role to grant: name the role by `roleId` or by `roleName`, not both.
#[derive(InputObject)]
pub struct GrantRoleInput {
    pub user_id: ID,
    pub role_id: Option<ID>,
    pub role_name: Option<String>,
    /// Scope the role to this resource only; omit to grant it everywhere.
    pub resource: Option<String>,
}

/// A role to revoke: name the role by `roleId` or by `roleName`, not both.
#[derive(InputObject)]
pub struct RevokeRoleInput {
    pub user_id: ID,
    pub role_id: Option<ID>,
    pub role_name: Option<String>,
    /// The resource the role was granted on; omit for the global assignment.
    pub resource: Option<String>,
}

/// A role named by id or by name.
enum RoleRef {
    Id(Uuid),
    Name(String),
}

impl RoleRef {
    fn parse(id: Option<&ID>, name: Option<&str>) -> ApiResult<Self> {
        match (id, name) {
            (Some(id), None) => Uuid::parse_str(id.as_str())
                .map(Self::Id)
                .map_err(|_| ApiError::bad_input("roleId is not a role id")),
            (None, Some(name)) => Ok(Self::Name(name.trim().to_owned())),
            _ => Err(ApiError::bad_input(
                "name the role by exactly one of roleId and roleName",
            )),
        }
    }

    async fn find(&self, tx: &mut Tx) -> ApiResult<Role> {
        let role = match self {
            Self::Id(id) => store::role_by_id(tx, *id).await?,
            Self::Name(name) => store::role_by_name(tx, name).await?,
        };
        role.ok_or_else(|| match self {
            Self::Id(id) => ApiError::not_found(format!("no role has id {id}")),
            Self::Name(name) => ApiError::not_found(format!("no role is named {name:?}")),
        })
    }
}

/// A checked grant or revoke: who asks, for which user, role and resource, and the open
/// transaction that applies it.
struct Target {
    tx: Tx,
    role: Role,
    user_id: Uuid,
    resource: Option<String>,
    actor: Uuid,
}

impl Target {
    async fn open(
        ctx: &Context<'_>,
        user_id: &ID,
        role_id: Option<&ID>,
        role_name: Option<&str>,
        resource: Option<&str>,
    ) -> ApiResult<Self> {
        let who = manager(ctx)?;
        let user_id = parse_user_id(user_id)?;
        let role = RoleRef::parse(role_id, role_name)?;
        let resource = domain::resource(resource)?;
        let mut tx = ctx.data_unchecked::<Store>().pool().begin().await?;
        let role = role.find(&mut tx).await?;
        Ok(Self {
            tx,
            role,
            user_id,
            resource,
            actor: who.user_id,
        })
    }

    /// The transaction and the change it applies.
    fn change(&mut self) -> (&mut Tx, assignments::Change<'_>) {
        let change = assignments::Change {
            user_id: self.user_id,
            role: &self.role,
            resource: self.resource.as_deref(),
            actor: Some(self.actor),
        };
        (&mut self.tx, change)
    }

    async fn commit(self, outbox: &Outbox) -> ApiResult<()> {
        self.tx.commit().await?;
        outbox.wake();
        Ok(())
    }
}

fn manager(ctx: &Context<'_>) -> ApiResult<Caller> {
    let who = caller::require(ctx)?;
    who.require_scope(MANAGE_ROLES)?;
    Ok(who)
}

#[Object]
impl Mutation {
    /// Creates a role. Requires roles:manage.
    #[graphql(requires_scopes = "roles:manage")]
    async fn create_role(
        &self,
        ctx: &Context<'_>,
        input: CreateRoleInput,
    ) -> async_graphql::Result<RoleNode> {
        Ok(RoleNode(create_role(ctx, input).await?))
    }

    /// Grants a role to a user, everywhere or on one resource. Granting a role the user already
    /// holds there changes nothing and returns the existing assignment. Requires roles:manage.
    #[graphql(requires_scopes = "roles:manage")]
    async fn grant_role(
        &self,
        ctx: &Context<'_>,
        input: GrantRoleInput,
    ) -> async_graphql::Result<RoleAssignmentNode> {
        let outbox = ctx.data_unchecked::<Outbox>();
        let mut target = Target::open(
            ctx,
            &input.user_id,
            input.role_id.as_ref(),
            input.role_name.as_deref(),
            input.resource.as_deref(),
        )
        .await?;
        let (tx, change) = target.change();
        let granted = assignments::grant(tx, outbox, change)
            .await
            .map_err(ApiError::from)?;
        target.commit(outbox).await?;
        Ok(RoleAssignmentNode(granted.assignment))
    }

    /// Revokes a role from a user; false when the user did not hold it there. Requires
    /// roles:manage.
    #[graphql(requires_scopes = "roles:manage")]
    async fn revoke_role(
        &self,
        ctx: &Context<'_>,
        input: RevokeRoleInput,
    ) -> async_graphql::Result<bool> {
        let outbox = ctx.data_unchecked::<Outbox>();
        let mut target = Target::open(
            ctx,
            &input.user_id,
            input.role_id.as_ref(),
            input.role_name.as_deref(),
            input.resource.as_deref(),
        )
        .await?;
        let (tx, change) = target.change();
        let revoked = assignments::revoke(tx, outbox, change)
            .await
            .map_err(ApiError::from)?;
        target.commit(outbox).await?;
        Ok(revoked)
    }
}

async fn create_role(ctx: &Context<'_>, input: CreateRoleInput) -> ApiResult<Role> {
    let who = manager(ctx)?;
    let name = domain::role_name(&input.name)?;
    let description = domain::description(&input.description)?;
    let permissions = domain::permissions(&input.permissions)?;
    let (store, outbox) = (
        ctx.data_unchecked::<Store>(),
        ctx.data_unchecked::<Outbox>(),
    );
    let mut tx = store.pool().begin().await?;
    let known = store::known_permissions(&mut tx, &permissions).await?;
    let unknown: Vec<&str> = permissions
        .iter()
        .filter(|p| !known.contains(p))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::not_found(format!(
            "no such permission: {}",
            unknown.join(", ")
        )));
    }
    let role = match changes::insert_role(&mut tx, &name, &description, &permissions).await {
        Ok(role) => role,
        Err(err) => {
            return Err(match db::violated_constraint(&err) {
                Some("roles_name_key") => ApiError::client(
                    ErrorCode::Conflict,
                    format!("a role named {name:?} already exists"),
                ),
                Some("role_permissions_permission_fkey") => {
                    ApiError::not_found("a permission of the role no longer exists")
                }
                _ => err.into(),
            });
        }
    };
    let created = Envelope::new(
        crate::NAME,
        event_types::ROLE_CREATED,
        role.id.to_string(),
        Some(who.user_id.to_string()),
        serde_json::json!({
            "roleId": role.id,
            "name": role.name,
            "description": role.description,
            "permissions": permissions,
        }),
    );
    outbox.enqueue(&mut tx, &created).await?;
    tx.commit().await?;
    outbox.wake();
    Ok(role)
}
