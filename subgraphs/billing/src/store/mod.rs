//! sqlx queries against the `billing` schema. Every query is parameterized. Reads for the
//! dataloaders go through [`Store`] (one statement per batch); writes take the caller's
//! transaction.
//!
//! - [`plans`], [`subscriptions`], [`invoices`] (with lines and payments), [`idempotency`].

pub mod idempotency;
pub mod invoices;
pub mod plans;
pub mod subscriptions;

use tessera_kit::db::Db;

/// The billing schema.
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
}

/// A column value the domain does not know: the schema's checks make this unreachable short of
/// a migration the code has not caught up with.
fn undecodable(column: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("{column} holds unexpected value {value:?}").into())
}
