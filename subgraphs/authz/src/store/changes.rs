//! Writes, each inside the caller's transaction so that it commits with its events.

use chrono::{DateTime, Utc};
use tessera_kit::db::Tx;
use uuid::Uuid;

use super::{ROLE_COLUMNS, RoleRow};
use crate::domain::{Assignment, Role};

/// Inserts a role with its permissions. Fails on `roles_name_key` when the name is taken and on
/// `role_permissions_permission_fkey` when a permission is not in the vocabulary.
pub async fn insert_role(
    tx: &mut Tx,
    name: &str,
    description: &str,
    permissions: &[String],
) -> sqlx::Result<Role> {
    let sql = format!(
        "INSERT INTO roles (id, name, description) VALUES ($1, $2, $3) RETURNING {ROLE_COLUMNS}"
    );
    let row: RoleRow = sqlx::query_as(&sql)
        .bind(Uuid::now_v7())
        .bind(name)
        .bind(description)
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query("INSERT INTO role_permissions (role_id, permission) SELECT $1, unnest($2::text[])")
        .bind(row.id)
        .bind(permissions)
        .execute(tx)
        .await?;
    Ok(row.into())
}

/// Bumps the scope version of `user_id` and returns it. The row lock it takes is held until the
/// transaction ends, so changes to one user's global assignments run one after the other and
/// each sees the ones committed before it.
pub async fn bump_scope_version(tx: &mut Tx, user_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO scope_versions (user_id, version) VALUES ($1, 1) \
         ON CONFLICT (user_id) DO UPDATE SET version = scope_versions.version + 1 \
         RETURNING version",
    )
    .bind(user_id)
    .fetch_one(tx)
    .await
}

/// Assigns `role` to `user_id` on `resource`; `None` when the user already holds it there.
pub async fn insert_assignment(
    tx: &mut Tx,
    user_id: Uuid,
    role: &Role,
    resource: Option<&str>,
    granted_by: Option<Uuid>,
) -> sqlx::Result<Option<Assignment>> {
    let inserted: Option<(Uuid, DateTime<Utc>)> = sqlx::query_as(
        "INSERT INTO role_assignments (id, user_id, role_id, resource, granted_by) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT ON CONSTRAINT role_assignments_key DO NOTHING \
         RETURNING id, granted_at",
    )
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(role.id)
    .bind(resource)
    .bind(granted_by)
    .fetch_optional(tx)
    .await?;
    Ok(inserted.map(|(id, granted_at)| Assignment {
        id,
        user_id,
        role: role.clone(),
        resource: resource.map(str::to_owned),
        granted_by,
        granted_at,
    }))
}

/// Removes the assignment of `role_id` to `user_id` on `resource`; returns its id, `None` when
/// there was none.
pub async fn delete_assignment(
    tx: &mut Tx,
    user_id: Uuid,
    role_id: Uuid,
    resource: Option<&str>,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar(
        "DELETE FROM role_assignments \
         WHERE user_id = $1 AND role_id = $2 AND resource IS NOT DISTINCT FROM $3 RETURNING id",
    )
    .bind(user_id)
    .bind(role_id)
    .bind(resource)
    .fetch_optional(tx)
    .await
}
