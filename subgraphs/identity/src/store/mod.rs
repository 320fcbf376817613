//! sqlx queries against the `identity` schema. Every query is parameterized.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use tessera_kit::db::{Db, Tx};
use uuid::Uuid;

use crate::domain::{User, UserStatus};

#[derive(FromRow)]
struct UserRow {
    id: Uuid,
    email: String,
    display_name: String,
    status: String,
    email_verified: bool,
    created_at: DateTime<Utc>,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            email: row.email,
            display_name: row.display_name,
            status: UserStatus::from_db(&row.status),
            email_verified: row.email_verified,
            created_at: row.created_at,
        }
    }
}

const USER_COLUMNS: &str = "id, email, display_name, status, email_verified, created_at";

/// The identity schema.
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

    pub async fn user(&self, id: Uuid) -> sqlx::Result<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row: Option<UserRow> = sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(User::from))
    }

    /// One query for many users (dataloader).
    pub async fn users_by_ids(&self, ids: &[Uuid]) -> sqlx::Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ANY($1)");
        let rows: Vec<UserRow> = sqlx::query_as(&sql).bind(ids).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(User::from).collect())
    }

    /// Users in id order (ids are time-ordered UUIDv7), after `after`, at most `limit`.
    pub async fn list(&self, after: Option<Uuid>, limit: i64) -> sqlx::Result<Vec<User>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2"
        );
        let rows: Vec<UserRow> = sqlx::query_as(&sql)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(User::from).collect())
    }

    pub async fn count(&self) -> sqlx::Result<i64> {
        sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(&self.pool)
            .await
    }
}

/// Creates a user from a sign-up; `false` when it already exists.
pub async fn insert_user(
    tx: &mut Tx,
    id: Uuid,
    email: &str,
    display_name: &str,
) -> sqlx::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO users (id, email, display_name) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(email)
    .bind(display_name)
    .execute(tx)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

pub async fn update_display_name(
    tx: &mut Tx,
    id: Uuid,
    display_name: &str,
) -> sqlx::Result<Option<User>> {
    let sql = format!(
        "UPDATE users SET display_name = $2, updated_at = now() WHERE id = $1 RETURNING {USER_COLUMNS}"
    );
    let row: Option<UserRow> = sqlx::query_as(&sql)
        .bind(id)
        .bind(display_name)
        .fetch_optional(tx)
        .await?;
    Ok(row.map(User::from))
}

pub async fn insert_verification(
    tx: &mut Tx,
    token_hash: &[u8],
    user_id: Uuid,
    email: &str,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO email_verifications (token_hash, user_id, email, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(email)
    .bind(expires_at)
    .execute(tx)
    .await?;
    Ok(())
}

/// Spends a verification token and marks the address verified, if the token is live and the
/// user's address is still the one it was sent to. Returns the updated user.
pub async fn verify_email(tx: &mut Tx, token_hash: &[u8]) -> sqlx::Result<Option<User>> {
    let spent: Option<(Uuid, String)> = sqlx::query_as(
        "UPDATE email_verifications SET used_at = now() \
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING user_id, email",
    )
    .bind(token_hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((user_id, email)) = spent else {
        return Ok(None);
    };
    let sql = format!(
        "UPDATE users SET email_verified = true, updated_at = now() \
         WHERE id = $1 AND lower(email) = lower($2) RETURNING {USER_COLUMNS}"
    );
    let row: Option<UserRow> = sqlx::query_as(&sql)
        .bind(user_id)
        .bind(email)
        .fetch_optional(tx)
        .await?;
    Ok(row.map(User::from))
}
