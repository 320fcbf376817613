//! Customer subscriptions.

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use tessera_kit::db::Tx;
use uuid::Uuid;

use super::{Store, undecodable};
use crate::domain::{Subscription, SubscriptionStatus};

#[derive(FromRow)]
struct SubscriptionRow {
    id: Uuid,
    user_id: Uuid,
    plan_id: Uuid,
    status: String,
    payment_method: String,
    current_period_start: DateTime<Utc>,
    current_period_end: DateTime<Utc>,
    cancel_at_period_end: bool,
    canceled_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

impl TryFrom<SubscriptionRow> for Subscription {
    type Error = sqlx::Error;

    fn try_from(row: SubscriptionRow) -> Result<Self, Self::Error> {
        Ok(Self {
            status: SubscriptionStatus::from_db(&row.status)
                .ok_or_else(|| undecodable("subscriptions.status", &row.status))?,
            id: row.id,
            user_id: row.user_id,
            plan_id: row.plan_id,
            payment_method: row.payment_method,
            current_period_start: row.current_period_start,
            current_period_end: row.current_period_end,
            cancel_at_period_end: row.cancel_at_period_end,
            canceled_at: row.canceled_at,
            created_at: row.created_at,
        })
    }
}

const COLUMNS: &str = "id, user_id, plan_id, status, payment_method, current_period_start, \
    current_period_end, cancel_at_period_end, canceled_at, created_at";

/// Statuses of a live subscription, as the partial unique index names them.
const LIVE: &str = "status NOT IN ('canceled', 'incomplete_expired')";

fn subscriptions(rows: Vec<SubscriptionRow>) -> sqlx::Result<Vec<Subscription>> {
    rows.into_iter().map(Subscription::try_from).collect()
}

impl Store {
    /// The live subscription of each of `users` that has one (dataloader).
    pub async fn live_subscriptions(&self, users: &[Uuid]) -> sqlx::Result<Vec<Subscription>> {
        let sql = format!("SELECT {COLUMNS} FROM subscriptions WHERE user_id = ANY($1) AND {LIVE}");
        let rows: Vec<SubscriptionRow> = sqlx::query_as(&sql)
            .bind(users)
            .fetch_all(self.pool())
            .await?;
        subscriptions(rows)
    }

    /// One query for many subscriptions (dataloader).
    pub async fn subscriptions_by_ids(&self, ids: &[Uuid]) -> sqlx::Result<Vec<Subscription>> {
        let sql = format!("SELECT {COLUMNS} FROM subscriptions WHERE id = ANY($1)");
        let rows: Vec<SubscriptionRow> = sqlx::query_as(&sql)
            .bind(ids)
            .fetch_all(self.pool())
            .await?;
        subscriptions(rows)
    }
}

/// Inserts a new subscription. A second live one for the user violates
/// `subscriptions_one_live_per_user` (waiting first for a concurrent insert to commit or roll
/// back).
pub async fn insert(tx: &mut Tx, s: &Subscription) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO subscriptions (id, user_id, plan_id, status, payment_method, \
         current_period_start, current_period_end, cancel_at_period_end, canceled_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(s.id)
    .bind(s.user_id)
    .bind(s.plan_id)
    .bind(s.status.as_db())
    .bind(&s.payment_method)
    .bind(s.current_period_start)
    .bind(s.current_period_end)
    .bind(s.cancel_at_period_end)
    .bind(s.canceled_at)
    .bind(s.created_at)
    .execute(tx)
    .await?;
    Ok(())
}

/// Writes back every mutable field of `s`.
pub async fn update(tx: &mut Tx, s: &Subscription) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE subscriptions SET status = $2, payment_method = $3, current_period_start = $4, \
         current_period_end = $5, cancel_at_period_end = $6, canceled_at = $7, updated_at = now() \
         WHERE id = $1",
    )
    .bind(s.id)
    .bind(s.status.as_db())
    .bind(&s.payment_method)
    .bind(s.current_period_start)
    .bind(s.current_period_end)
    .bind(s.cancel_at_period_end)
    .bind(s.canceled_at)
    .execute(tx)
    .await?;
    Ok(())
}

/// Locks and returns a subscription.
pub async fn lock(tx: &mut Tx, id: Uuid) -> sqlx::Result<Option<Subscription>> {
    let sql = format!("SELECT {COLUMNS} FROM subscriptions WHERE id = $1 FOR UPDATE");
    let row: Option<SubscriptionRow> = sqlx::query_as(&sql).bind(id).fetch_optional(tx).await?;
    row.map(Subscription::try_from).transpose()
}

/// Locks and returns the user's live subscription.
pub async fn lock_live(tx: &mut Tx, user_id: Uuid) -> sqlx::Result<Option<Subscription>> {
    let sql =
        format!("SELECT {COLUMNS} FROM subscriptions WHERE user_id = $1 AND {LIVE} FOR UPDATE");
    let row: Option<SubscriptionRow> = sqlx::query_as(&sql)
        .bind(user_id)
        .fetch_optional(tx)
        .await?;
    row.map(Subscription::try_from).transpose()
}

/// Locks one subscription whose period has ended, skipping rows another instance holds.
pub async fn lock_next_due(tx: &mut Tx) -> sqlx::Result<Option<Subscription>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM subscriptions \
         WHERE status IN ('active', 'past_due') AND current_period_end <= now() \
         ORDER BY current_period_end LIMIT 1 FOR UPDATE SKIP LOCKED"
    );
    let row: Option<SubscriptionRow> = sqlx::query_as(&sql).fetch_optional(tx).await?;
    row.map(Subscription::try_from).transpose()
}

/// Locks up to `limit` incomplete subscriptions created more than `hours` ago, skipping rows
/// another instance holds.
pub async fn lock_stale_incomplete(
    tx: &mut Tx,
    hours: i64,
    limit: i64,
) -> sqlx::Result<Vec<Subscription>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM subscriptions \
         WHERE status = 'incomplete' AND created_at <= now() - make_interval(hours => $1::int) \
         ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED"
    );
    let rows: Vec<SubscriptionRow> = sqlx::query_as(&sql)
        .bind(i32::try_from(hours).unwrap_or(i32::MAX))
        .bind(limit)
        .fetch_all(tx)
        .await?;
    subscriptions(rows)
}
