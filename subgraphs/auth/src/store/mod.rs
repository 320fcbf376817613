//! sqlx queries against the `auth` schema. Every query is parameterized.

use chrono::{DateTime, Utc};
use tessera_kit::db::{Db, Tx};
use uuid::Uuid;

use crate::domain::session::RefreshOutcome;

/// A stored credential.
#[derive(Debug, sqlx::FromRow)]
pub struct Credential {
    pub user_id: Uuid,
    pub email: String,
    pub password_hash: String,
}

pub async fn insert_credential(
    tx: &mut Tx,
    user_id: Uuid,
    email: &str,
    password_hash: &str,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO credentials (user_id, email, password_hash) VALUES ($1, $2, $3)")
        .bind(user_id)
        .bind(email)
        .bind(password_hash)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn credential_by_email(pool: &Db, email: &str) -> sqlx::Result<Option<Credential>> {
    sqlx::query_as(
        "SELECT user_id, email, password_hash FROM credentials WHERE lower(email) = lower($1)",
    )
    .bind(email)
    .fetch_optional(pool)
    .await
}

pub async fn email_of(tx: &mut Tx, user_id: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT email FROM credentials WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(tx)
        .await
}

pub async fn set_password(tx: &mut Tx, user_id: Uuid, password_hash: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE credentials SET password_hash = $2, password_changed_at = now() WHERE user_id = $1",
    )
    .bind(user_id)
    .bind(password_hash)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn granted_scopes(tx: &mut Tx, user_id: Uuid) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT scope FROM granted_scopes WHERE user_id = $1 ORDER BY scope")
        .bind(user_id)
        .fetch_all(tx)
        .await
}

/// Replaces the granted scopes of `user_id` with `scopes` when `version` is newer than the last
/// one applied for that user, recording `event` (id, time) as the last applied. False when the
/// change is older news, or the user has no credentials here.
pub async fn replace_granted_scopes(
    tx: &mut Tx,
    user_id: Uuid,
    scopes: &[String],
    version: i64,
    event: (Uuid, DateTime<Utc>),
) -> sqlx::Result<bool> {
    // The upsert locks the user's row, so concurrent changes of one user apply one at a time.
    let newer: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO scope_versions (user_id, version, event_id, event_time) \
         SELECT user_id, $2, $3, $4 FROM credentials WHERE user_id = $1 \
         ON CONFLICT (user_id) DO UPDATE SET version = EXCLUDED.version, \
         event_id = EXCLUDED.event_id, event_time = EXCLUDED.event_time, applied_at = now() \
         WHERE scope_versions.version < EXCLUDED.version \
         RETURNING user_id",
    )
    .bind(user_id)
    .bind(version)
    .bind(event.0)
    .bind(event.1)
    .fetch_optional(&mut *tx)
    .await?;
    if newer.is_none() {
        return Ok(false);
    }
    sqlx::query("DELETE FROM granted_scopes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO granted_scopes (user_id, scope) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING",
    )
    .bind(user_id)
    .bind(scopes)
    .execute(tx)
    .await?;
    Ok(true)
}

pub async fn insert_family(tx: &mut Tx, user_id: Uuid) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO token_families (id, user_id) VALUES ($1, $2)")
        .bind(id)
        .bind(user_id)
        .execute(tx)
        .await?;
    Ok(id)
}

pub async fn insert_refresh_token(
    tx: &mut Tx,
    token_hash: &[u8],
    family_id: Uuid,
    user_id: Uuid,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO refresh_tokens (token_hash, family_id, user_id, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(token_hash)
        .bind(family_id)
        .bind(user_id)
        .bind(expires_at)
        .execute(tx)
        .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct PresentedToken {
    family_id: Uuid,
    user_id: Uuid,
    used_at: Option<DateTime<Utc>>,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

/// Looks at a presented refresh token under a row lock, so two concurrent uses of one token are
/// serialized: the first rotates it, the second sees it spent. A live token is marked spent.
pub async fn spend_refresh_token(tx: &mut Tx, token_hash: &[u8]) -> sqlx::Result<RefreshOutcome> {
    let row: Option<PresentedToken> = sqlx::query_as(
        "SELECT t.family_id, t.user_id, t.used_at, t.expires_at, f.revoked_at \
         FROM refresh_tokens t JOIN token_families f ON f.id = t.family_id \
         WHERE t.token_hash = $1 FOR UPDATE OF t, f",
    )
    .bind(token_hash)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(PresentedToken {
        family_id,
        user_id,
        used_at,
        expires_at,
        revoked_at,
    }) = row
    else {
        return Ok(RefreshOutcome::Invalid);
    };
    if revoked_at.is_some() || expires_at <= Utc::now() {
        return Ok(RefreshOutcome::Invalid);
    }
    if used_at.is_some() {
        return Ok(RefreshOutcome::Reused { family_id, user_id });
    }
    sqlx::query("UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1")
        .bind(token_hash)
        .execute(tx)
        .await?;
    Ok(RefreshOutcome::Rotate { family_id, user_id })
}

/// The family a refresh token belongs to, if that family is still live.
pub async fn live_family_of(tx: &mut Tx, token_hash: &[u8]) -> sqlx::Result<Option<(Uuid, Uuid)>> {
    sqlx::query_as(
        "SELECT f.id, f.user_id FROM refresh_tokens t JOIN token_families f ON f.id = t.family_id \
         WHERE t.token_hash = $1 AND f.revoked_at IS NULL",
    )
    .bind(token_hash)
    .fetch_optional(tx)
    .await
}

pub async fn revoke_family(tx: &mut Tx, family_id: Uuid, reason: &str) -> sqlx::Result<bool> {
    let n = sqlx::query("UPDATE token_families SET revoked_at = now(), revoked_reason = $2 WHERE id = $1 AND revoked_at IS NULL")
        .bind(family_id)
        .bind(reason)
        .execute(tx)
        .await?
        .rows_affected();
    Ok(n == 1)
}

/// Revokes every live session of a user; returns how many.
pub async fn revoke_all(tx: &mut Tx, user_id: Uuid, reason: &str) -> sqlx::Result<u64> {
    Ok(sqlx::query("UPDATE token_families SET revoked_at = now(), revoked_reason = $2 WHERE user_id = $1 AND revoked_at IS NULL")
        .bind(user_id)
        .bind(reason)
        .execute(tx)
        .await?
        .rows_affected())
}

/// A live session.
#[derive(Debug, sqlx::FromRow)]
pub struct Session {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

pub async fn live_sessions(pool: &Db, user_id: Uuid) -> sqlx::Result<Vec<Session>> {
    sqlx::query_as(
        "SELECT f.id, f.created_at, max(t.used_at) AS last_used_at FROM token_families f \
         LEFT JOIN refresh_tokens t ON t.family_id = f.id \
         WHERE f.user_id = $1 AND f.revoked_at IS NULL GROUP BY f.id, f.created_at ORDER BY f.created_at DESC",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await
}

pub async fn insert_reset(
    tx: &mut Tx,
    token_hash: &[u8],
    user_id: Uuid,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO password_resets (token_hash, user_id, expires_at) VALUES ($1, $2, $3)",
    )
    .bind(token_hash)
    .bind(user_id)
    .bind(expires_at)
    .execute(tx)
    .await?;
    Ok(())
}

/// Spends a live reset token; returns its user.
pub async fn spend_reset(tx: &mut Tx, token_hash: &[u8]) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar(
        "UPDATE password_resets SET used_at = now() WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING user_id",
    )
    .bind(token_hash)
    .fetch_optional(tx)
    .await
}
