//! Idempotency keys: the row that serializes requests sharing a key, and their stored result.

use std::time::Duration;
use tessera_kit::db::{Db, Tx};

use uuid::Uuid;

/// What claiming a key found.
pub enum Claim {
    /// The key is new: this transaction holds it until it commits or rolls back.
    Fresh,
    /// An earlier request with this key committed.
    Existing {
        fingerprint: Vec<u8>,
        response: Option<serde_json::Value>,
    },
}

/// Claims `(user_id, key)` for this transaction. When another transaction holds the key
/// uncommitted, this waits (at most `wait`) for it to finish: after a commit the stored row is
/// returned, after a rollback the key is claimed here.
pub async fn claim(
    tx: &mut Tx,
    user_id: Uuid,
    key: &str,
    operation: &str,
    fingerprint: &[u8],
    wait: Duration,
) -> sqlx::Result<Claim> {
    sqlx::query("SELECT set_config('lock_timeout', $1, true)")
        .bind(format!("{}ms", wait.as_millis().max(1)))
        .execute(&mut *tx)
        .await?;
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (user_id, key, operation, fingerprint) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, key) DO NOTHING",
    )
    .bind(user_id)
    .bind(key)
    .bind(operation)
    .bind(fingerprint)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // Only the key's own wait is bounded; later statements wait as long as they need.
    sqlx::query("SELECT set_config('lock_timeout', '0', true)")
        .execute(&mut *tx)
        .await?;
    if inserted == 1 {
        return Ok(Claim::Fresh);
    }
    // Read committed: this statement sees the row the other transaction committed.
    let (fingerprint, response): (Vec<u8>, Option<serde_json::Value>) = sqlx::query_as(
        "SELECT fingerprint, response FROM idempotency_keys WHERE user_id = $1 AND key = $2",
    )
    .bind(user_id)
    .bind(key)
    .fetch_one(&mut *tx)
    .await?;
    Ok(Claim::Existing {
        fingerprint,
        response,
    })
}

/// Stores the result a claimed key replays.
pub async fn complete(
    tx: &mut Tx,
    user_id: Uuid,
    key: &str,
    response: &serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE idempotency_keys SET response = $3 WHERE user_id = $1 AND key = $2")
        .bind(user_id)
        .bind(key)
        .bind(response)
        .execute(tx)
        .await?;
    Ok(())
}

/// Forgets keys older than `hours`; returns how many.
pub async fn purge(pool: &Db, hours: i64) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1::int)",
    )
    .bind(i32::try_from(hours).unwrap_or(i32::MAX))
    .execute(pool)
    .await?
    .rows_affected())
}

/// Whether `err` is a lock wait that ran out (`lock_not_available`).
pub fn is_lock_timeout(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.code().as_deref() == Some("55P03"))
}
