//! Invoices, their lines and their payments.

use std::collections::HashMap;
use tessera_kit::db::Tx;

use chrono::{DateTime, Utc};
use sqlx::FromRow;
use uuid::Uuid;

use super::{Store, undecodable};
use crate::domain::{
    Currency, Invoice, InvoiceLine, InvoiceStatus, NewLine, Payment, PaymentStatus,
};

#[derive(FromRow)]
struct InvoiceRow {
    id: Uuid,
    number: i64,
    user_id: Uuid,
    subscription_id: Option<Uuid>,
    status: String,
    currency: String,
    total: i64,
    period_start: DateTime<Utc>,
    period_end: DateTime<Utc>,
    issued_at: DateTime<Utc>,
    due_at: DateTime<Utc>,
    paid_at: Option<DateTime<Utc>>,
}

impl TryFrom<InvoiceRow> for Invoice {
    type Error = sqlx::Error;

    fn try_from(row: InvoiceRow) -> Result<Self, Self::Error> {
        Ok(Self {
            status: InvoiceStatus::from_db(&row.status)
                .ok_or_else(|| undecodable("invoices.status", &row.status))?,
            currency: Currency::parse(&row.currency)
                .ok_or_else(|| undecodable("invoices.currency", &row.currency))?,
            id: row.id,
            number: row.number,
            user_id: row.user_id,
            subscription_id: row.subscription_id,
            total: row.total,
            period_start: row.period_start,
            period_end: row.period_end,
            issued_at: row.issued_at,
            due_at: row.due_at,
            paid_at: row.paid_at,
        })
    }
}

const COLUMNS: &str = "id, number, user_id, subscription_id, status, currency, total, \
    period_start, period_end, issued_at, due_at, paid_at";

#[derive(FromRow)]
struct PageRow {
    /// Which key of the batch (1-based).
    ord: i64,
    #[sqlx(flatten)]
    invoice: InvoiceRow,
}

#[derive(FromRow)]
struct LineRow {
    id: Uuid,
    invoice_id: Uuid,
    description: String,
    quantity: i64,
    unit_amount: i64,
    amount: i64,
}

impl From<LineRow> for InvoiceLine {
    fn from(row: LineRow) -> Self {
        Self {
            id: row.id,
            invoice_id: row.invoice_id,
            description: row.description,
            quantity: row.quantity,
            unit_amount: row.unit_amount,
            amount: row.amount,
        }
    }
}

#[derive(FromRow)]
struct PaymentRow {
    id: Uuid,
    invoice_id: Uuid,
    amount: i64,
    currency: String,
    status: String,
    provider: String,
    provider_reference: String,
    failure_code: Option<String>,
    failure_message: Option<String>,
    created_at: DateTime<Utc>,
}

impl TryFrom<PaymentRow> for Payment {
    type Error = sqlx::Error;

    fn try_from(row: PaymentRow) -> Result<Self, Self::Error> {
        Ok(Self {
            status: PaymentStatus::from_db(&row.status)
                .ok_or_else(|| undecodable("payments.status", &row.status))?,
            currency: Currency::parse(&row.currency)
                .ok_or_else(|| undecodable("payments.currency", &row.currency))?,
            id: row.id,
            invoice_id: row.invoice_id,
            amount: row.amount,
            provider: row.provider,
            provider_reference: row.provider_reference,
            failure_code: row.failure_code,
            failure_message: row.failure_message,
            created_at: row.created_at,
        })
    }
}

const PAYMENT_COLUMNS: &str = "id, invoice_id, amount, currency, status, provider, \
    provider_reference, failure_code, failure_message, created_at";

/// One page of one user's invoices, newest first: at most `limit`, numbered below `before`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageKey {
    pub user_id: Uuid,
    pub limit: i64,
    pub before: Option<i64>,
}

impl Store {
    /// One query for many invoices (dataloader).
    pub async fn invoices_by_ids(&self, ids: &[Uuid]) -> sqlx::Result<Vec<Invoice>> {
        let sql = format!("SELECT {COLUMNS} FROM invoices WHERE id = ANY($1)");
        let rows: Vec<InvoiceRow> = sqlx::query_as(&sql)
            .bind(ids)
            .fetch_all(self.pool())
            .await?;
        rows.into_iter().map(Invoice::try_from).collect()
    }

    /// A page of invoices for each key, all in one statement: a lateral join runs the per-user
    /// page query once per key.
    pub async fn invoice_pages(
        &self,
        keys: &[PageKey],
    ) -> sqlx::Result<HashMap<PageKey, Vec<Invoice>>> {
        let users: Vec<Uuid> = keys.iter().map(|k| k.user_id).collect();
        let limits: Vec<i64> = keys.iter().map(|k| k.limit).collect();
        let befores: Vec<Option<i64>> = keys.iter().map(|k| k.before).collect();
        let sql = format!(
            "SELECT k.ord, i.* FROM unnest($1::uuid[], $2::bigint[], $3::bigint[]) \
               WITH ORDINALITY AS k(user_id, lim, before, ord) \
             CROSS JOIN LATERAL ( \
               SELECT {COLUMNS} FROM invoices \
               WHERE invoices.user_id = k.user_id AND (k.before IS NULL OR invoices.number < k.before) \
               ORDER BY invoices.number DESC LIMIT k.lim \
             ) i \
             ORDER BY k.ord, i.number DESC"
        );
        let rows: Vec<PageRow> = sqlx::query_as(&sql)
            .bind(&users)
            .bind(&limits)
            .bind(&befores)
            .fetch_all(self.pool())
            .await?;
        let mut pages: HashMap<PageKey, Vec<Invoice>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in rows {
            let key = usize::try_from(row.ord - 1)
                .ok()
                .and_then(|i| keys.get(i))
                .ok_or_else(|| undecodable("ord", &row.ord.to_string()))?;
            if let Some(page) = pages.get_mut(key) {
                page.push(Invoice::try_from(row.invoice)?);
            }
        }
        Ok(pages)
    }

    /// The lines of many invoices, in order (dataloader).
    pub async fn lines_of(&self, invoices: &[Uuid]) -> sqlx::Result<Vec<InvoiceLine>> {
        let rows: Vec<LineRow> = sqlx::query_as(
            "SELECT id, invoice_id, description, quantity, unit_amount, amount FROM invoice_lines \
             WHERE invoice_id = ANY($1) ORDER BY invoice_id, position",
        )
        .bind(invoices)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(InvoiceLine::from).collect())
    }

    /// The payments of many invoices, oldest first (dataloader).
    pub async fn payments_of(&self, invoices: &[Uuid]) -> sqlx::Result<Vec<Payment>> {
        let sql = format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE invoice_id = ANY($1) ORDER BY created_at, id"
        );
        let rows: Vec<PaymentRow> = sqlx::query_as(&sql)
            .bind(invoices)
            .fetch_all(self.pool())
            .await?;
        rows.into_iter().map(Payment::try_from).collect()
    }
}

/// The next invoice number. Takes the counter row's lock until commit, so call it as late in
/// the transaction as possible.
pub async fn next_number(tx: &mut Tx) -> sqlx::Result<i64> {
    sqlx::query_scalar("UPDATE invoice_counter SET last = last + 1 RETURNING last")
        .fetch_one(tx)
        .await
}

/// Inserts an invoice and its lines. The total is checked against the lines when the
/// transaction commits (`invoices_total_matches_lines`).
pub async fn insert(
    tx: &mut Tx,
    invoice: &Invoice,
    lines: &[NewLine],
) -> sqlx::Result<Vec<InvoiceLine>> {
    sqlx::query(
        "INSERT INTO invoices (id, number, user_id, subscription_id, status, currency, total, \
         period_start, period_end, issued_at, due_at, paid_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(invoice.id)
    .bind(invoice.number)
    .bind(invoice.user_id)
    .bind(invoice.subscription_id)
    .bind(invoice.status.as_db())
    .bind(invoice.currency.as_str())
    .bind(invoice.total)
    .bind(invoice.period_start)
    .bind(invoice.period_end)
    .bind(invoice.issued_at)
    .bind(invoice.due_at)
    .bind(invoice.paid_at)
    .execute(&mut *tx)
    .await?;
    let mut stored = Vec::with_capacity(lines.len());
    for (position, line) in lines.iter().enumerate() {
        let id = Uuid::now_v7();
        let row: LineRow = sqlx::query_as(
            "INSERT INTO invoice_lines (id, invoice_id, position, description, quantity, unit_amount, amount) \
             VALUES ($1, $2, $3, $4, $5, $6, $5 * $6) \
             RETURNING id, invoice_id, description, quantity, unit_amount, amount",
        )
        .bind(id)
        .bind(invoice.id)
        .bind(i32::try_from(position).unwrap_or(i32::MAX))
        .bind(&line.description)
        .bind(line.quantity)
        .bind(line.unit_amount)
        .fetch_one(&mut *tx)
        .await?;
        stored.push(row.into());
    }
    Ok(stored)
}

/// An invoice, unlocked.
pub async fn find(tx: &mut Tx, id: Uuid) -> sqlx::Result<Option<Invoice>> {
    let sql = format!("SELECT {COLUMNS} FROM invoices WHERE id = $1");
    let row: Option<InvoiceRow> = sqlx::query_as(&sql).bind(id).fetch_optional(tx).await?;
    row.map(Invoice::try_from).transpose()
}

/// Locks and returns an invoice.
pub async fn lock(tx: &mut Tx, id: Uuid) -> sqlx::Result<Option<Invoice>> {
    let sql = format!("SELECT {COLUMNS} FROM invoices WHERE id = $1 FOR UPDATE");
    let row: Option<InvoiceRow> = sqlx::query_as(&sql).bind(id).fetch_optional(tx).await?;
    row.map(Invoice::try_from).transpose()
}

/// Writes an invoice's status and payment time.
pub async fn set_status(tx: &mut Tx, invoice: &Invoice) -> sqlx::Result<()> {
    sqlx::query("UPDATE invoices SET status = $2, paid_at = $3 WHERE id = $1")
        .bind(invoice.id)
        .bind(invoice.status.as_db())
        .bind(invoice.paid_at)
        .execute(tx)
        .await?;
    Ok(())
}

/// Locks and returns a subscription's open invoices.
pub async fn lock_open_of_subscription(
    tx: &mut Tx,
    subscription_id: Uuid,
) -> sqlx::Result<Vec<Invoice>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM invoices WHERE subscription_id = $1 AND status = 'open' \
         ORDER BY number FOR UPDATE"
    );
    let rows: Vec<InvoiceRow> = sqlx::query_as(&sql)
        .bind(subscription_id)
        .fetch_all(tx)
        .await?;
    rows.into_iter().map(Invoice::try_from).collect()
}

pub async fn insert_payment(tx: &mut Tx, p: &Payment) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO payments (id, invoice_id, amount, currency, status, provider, \
         provider_reference, failure_code, failure_message, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(p.id)
    .bind(p.invoice_id)
    .bind(p.amount)
    .bind(p.currency.as_str())
    .bind(p.status.as_db())
    .bind(&p.provider)
    .bind(&p.provider_reference)
    .bind(&p.failure_code)
    .bind(&p.failure_message)
    .bind(p.created_at)
    .execute(tx)
    .await?;
    Ok(())
}
