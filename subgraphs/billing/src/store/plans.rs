//! Plans.

use sqlx::FromRow;
use tessera_kit::db::Tx;
use uuid::Uuid;

use super::{Store, undecodable};
use crate::domain::{Currency, Interval, Plan};

#[derive(FromRow)]
struct PlanRow {
    id: Uuid,
    code: String,
    name: String,
    price: i64,
    currency: String,
    interval: String,
    active: bool,
}

impl TryFrom<PlanRow> for Plan {
    type Error = sqlx::Error;

    fn try_from(row: PlanRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: row.id,
            currency: Currency::parse(&row.currency)
                .ok_or_else(|| undecodable("plans.currency", &row.currency))?,
            interval: Interval::from_db(&row.interval)
                .ok_or_else(|| undecodable("plans.interval", &row.interval))?,
            code: row.code,
            name: row.name,
            price: row.price,
            active: row.active,
        })
    }
}

const COLUMNS: &str = "id, code, name, price, currency, \"interval\", active";

fn plans(rows: Vec<PlanRow>) -> sqlx::Result<Vec<Plan>> {
    rows.into_iter().map(Plan::try_from).collect()
}

impl Store {
    /// Plans open to new subscriptions (every plan with `inactive_too`), cheapest first.
    pub async fn plans(&self, inactive_too: bool) -> sqlx::Result<Vec<Plan>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM plans WHERE active OR $1 ORDER BY currency, price, code"
        );
        let rows: Vec<PlanRow> = sqlx::query_as(&sql)
            .bind(inactive_too)
            .fetch_all(self.pool())
            .await?;
        plans(rows)
    }

    /// One query for many plans (dataloader).
    pub async fn plans_by_ids(&self, ids: &[Uuid]) -> sqlx::Result<Vec<Plan>> {
        let sql = format!("SELECT {COLUMNS} FROM plans WHERE id = ANY($1)");
        let rows: Vec<PlanRow> = sqlx::query_as(&sql)
            .bind(ids)
            .fetch_all(self.pool())
            .await?;
        plans(rows)
    }
}

pub async fn plan(tx: &mut Tx, id: Uuid) -> sqlx::Result<Option<Plan>> {
    let sql = format!("SELECT {COLUMNS} FROM plans WHERE id = $1");
    let row: Option<PlanRow> = sqlx::query_as(&sql).bind(id).fetch_optional(tx).await?;
    row.map(Plan::try_from).transpose()
}
