//! sqlx queries against the `authz` schema. Every query is parameterized.
//!
//! - this module: the pool, reads for the schema and its dataloaders.
//! - [`changes`]: writes, each inside the caller's transaction.

pub mod changes;

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use tessera_kit::db::{Db, Tx};
use uuid::Uuid;

use crate::domain::{Assignment, Permission, Role};

#[derive(FromRow)]
struct RoleRow {
    id: Uuid,
    name: String,
    description: String,
    builtin: bool,
    created_at: DateTime<Utc>,
}

impl From<RoleRow> for Role {
    fn from(row: RoleRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            description: row.description,
            builtin: row.builtin,
            created_at: row.created_at,
        }
    }
}

const ROLE_COLUMNS: &str = "id, name, description, builtin, created_at";

/// An assignment joined with its role.
#[derive(FromRow)]
struct AssignmentRow {
    id: Uuid,
    user_id: Uuid,
    resource: Option<String>,
    granted_by: Option<Uuid>,
    granted_at: DateTime<Utc>,
    role_id: Uuid,
    role_name: String,
    role_description: String,
    role_builtin: bool,
    role_created_at: DateTime<Utc>,
}

impl From<AssignmentRow> for Assignment {
    fn from(row: AssignmentRow) -> Self {
        Self {
            id: row.id,
            user_id: row.user_id,
            resource: row.resource,
            granted_by: row.granted_by,
            granted_at: row.granted_at,
            role: Role {
                id: row.role_id,
                name: row.role_name,
                description: row.role_description,
                builtin: row.role_builtin,
                created_at: row.role_created_at,
            },
        }
    }
}

const ASSIGNMENT_SELECT: &str = "SELECT a.id, a.user_id, a.resource, a.granted_by, a.granted_at, \
     r.id AS role_id, r.name AS role_name, r.description AS role_description, \
     r.builtin AS role_builtin, r.created_at AS role_created_at \
     FROM role_assignments a JOIN roles r ON r.id = a.role_id";

/// The authz schema.
#[derive(Clone)]
pub struct Store {
    pool: Db,
}

impl Store {
    pub fn new(pool: Db) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &Db {
        &self.pool
    }

    /// The whole permission vocabulary, by name.
    pub async fn permissions(&self) -> sqlx::Result<Vec<Permission>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT name, description FROM permissions ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(name, description)| Permission { name, description })
            .collect())
    }

    /// Roles in name order, after `after`, at most `limit`.
    pub async fn roles(&self, after: Option<&str>, limit: i64) -> sqlx::Result<Vec<Role>> {
        let sql = format!(
            "SELECT {ROLE_COLUMNS} FROM roles WHERE ($1::text IS NULL OR name > $1) ORDER BY name LIMIT $2"
        );
        let rows: Vec<RoleRow> = sqlx::query_as(&sql)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(Role::from).collect())
    }

    /// One query for many roles (dataloader).
    pub async fn roles_by_ids(&self, ids: &[Uuid]) -> sqlx::Result<Vec<Role>> {
        let sql = format!("SELECT {ROLE_COLUMNS} FROM roles WHERE id = ANY($1)");
        let rows: Vec<RoleRow> = sqlx::query_as(&sql).bind(ids).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Role::from).collect())
    }

    /// The permissions of many roles in one query (dataloader): `(role id, permission)` pairs.
    pub async fn permissions_of_roles(&self, ids: &[Uuid]) -> sqlx::Result<Vec<(Uuid, String)>> {
        sqlx::query_as(
            "SELECT role_id, permission FROM role_permissions WHERE role_id = ANY($1) ORDER BY permission",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await
    }

    /// The assignments of many users in one query (dataloader), global ones first.
    pub async fn assignments_of_users(&self, user_ids: &[Uuid]) -> sqlx::Result<Vec<Assignment>> {
        let sql = format!(
            "{ASSIGNMENT_SELECT} WHERE a.user_id = ANY($1) \
             ORDER BY a.resource NULLS FIRST, r.name, a.granted_at"
        );
        let rows: Vec<AssignmentRow> = sqlx::query_as(&sql)
            .bind(user_ids)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(Assignment::from).collect())
    }

    /// Whether `user_id` holds `permission` through a global assignment or, when `resource` is
    /// given, one scoped to that resource.
    pub async fn can(
        &self,
        user_id: Uuid,
        permission: &str,
        resource: Option<&str>,
    ) -> sqlx::Result<bool> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM role_assignments a \
             JOIN role_permissions p ON p.role_id = a.role_id \
             WHERE a.user_id = $1 AND p.permission = $2 \
             AND (a.resource IS NULL OR a.resource = $3))",
        )
        .bind(user_id)
        .bind(permission)
        .bind(resource)
        .fetch_one(&self.pool)
        .await
    }
}

/// A role by id.
pub async fn role_by_id(tx: &mut Tx, id: Uuid) -> sqlx::Result<Option<Role>> {
    let sql = format!("SELECT {ROLE_COLUMNS} FROM roles WHERE id = $1");
    let row: Option<RoleRow> = sqlx::query_as(&sql).bind(id).fetch_optional(tx).await?;
    Ok(row.map(Role::from))
}

/// A role by name.
pub async fn role_by_name(tx: &mut Tx, name: &str) -> sqlx::Result<Option<Role>> {
    let sql = format!("SELECT {ROLE_COLUMNS} FROM roles WHERE name = $1");
    let row: Option<RoleRow> = sqlx::query_as(&sql).bind(name).fetch_optional(tx).await?;
    Ok(row.map(Role::from))
}

/// Which of `names` are in the permission vocabulary.
pub async fn known_permissions(tx: &mut Tx, names: &[String]) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT name FROM permissions WHERE name = ANY($1)")
        .bind(names)
        .fetch_all(tx)
        .await
}

/// The assignment of `role_id` to `user_id` on `resource` (`None`: the global one).
pub async fn assignment(
    tx: &mut Tx,
    user_id: Uuid,
    role_id: Uuid,
    resource: Option<&str>,
) -> sqlx::Result<Option<Assignment>> {
    let sql = format!(
        "{ASSIGNMENT_SELECT} WHERE a.user_id = $1 AND a.role_id = $2 \
         AND a.resource IS NOT DISTINCT FROM $3"
    );
    let row: Option<AssignmentRow> = sqlx::query_as(&sql)
        .bind(user_id)
        .bind(role_id)
        .bind(resource)
        .fetch_optional(tx)
        .await?;
    Ok(row.map(Assignment::from))
}

/// The permissions `user_id` holds through global assignments, sorted.
pub async fn global_permissions(tx: &mut Tx, user_id: Uuid) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT DISTINCT p.permission FROM role_assignments a \
         JOIN role_permissions p ON p.role_id = a.role_id \
         WHERE a.user_id = $1 AND a.resource IS NULL ORDER BY p.permission",
    )
    .bind(user_id)
    .fetch_all(tx)
    .await
}
