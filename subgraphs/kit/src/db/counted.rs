//! The service's pool as an executor that counts what it sends.
//!
//! `&Db` and `&mut Tx` implement [`sqlx::Executor`], so queries run on them exactly as on a
//! `PgPool` or a transaction, and each execution adds one to the counter of the handle's origin.
//! Neither hands out the pool or the connection underneath, so there is no uncounted way in.
//! The count is taken when the statement is handed to sqlx, in whatever task runs it: batch
//! loads in spawned tasks are counted like any other.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use sqlx::postgres::{PgQueryResult, PgRow, PgStatement, PgTypeInfo};
use sqlx::{Describe, Either, Execute, Executor, PgConnection, PgPool, Postgres, Transaction};

use super::statements::{REQUEST, Statements};

/// The service's pool, counting statements under one origin. Clones share the pool and the
/// counters.
#[derive(Clone)]
pub struct Db {
    pool: PgPool,
    origin: &'static str,
    counter: Arc<AtomicU64>,
    statements: Arc<Statements>,
}

impl Db {
    /// Counts `pool`'s statements in `statements`, under the `request` origin.
    pub fn new(pool: PgPool, statements: Arc<Statements>) -> Self {
        Self {
            counter: statements.counter(REQUEST),
            origin: REQUEST,
            pool,
            statements,
        }
    }

    /// The same pool, counting under `origin` (background work names itself this way).
    pub fn for_origin(&self, origin: &'static str) -> Self {
        Self {
            pool: self.pool.clone(),
            origin,
            counter: self.statements.counter(origin),
            statements: self.statements.clone(),
        }
    }

    /// The origin this handle counts under.
    pub fn origin(&self) -> &'static str {
        self.origin
    }

    /// The counters of the whole service.
    pub fn statements(&self) -> &Arc<Statements> {
        &self.statements
    }

    /// Starts a transaction; `BEGIN` counts as a statement, as do `COMMIT` and `ROLLBACK`.
    pub async fn begin(&self) -> sqlx::Result<Tx> {
        self.count();
        let tx = self.pool.begin().await?;
        Ok(Tx {
            tx: Some(tx),
            counter: self.counter.clone(),
        })
    }

    /// Closes the pool: waits for checked-out connections and refuses new ones.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// For the migrator, which needs a pool of its own kind.
    pub(crate) fn uncounted_pool(&self) -> &PgPool {
        &self.pool
    }

    fn count(&self) {
        self.counter.fetch_add(1, Ordering::Relaxed);
    }
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("service", &self.statements.service())
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl<'c> Executor<'c> for &Db {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        self.count();
        self.pool.fetch_many(query)
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        self.count();
        self.pool.fetch_optional(query)
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement<'q>, sqlx::Error>>
    where
        'c: 'e,
    {
        self.pool.prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(
        self,
        sql: &'q str,
    ) -> BoxFuture<'e, Result<Describe<Postgres>, sqlx::Error>>
    where
        'c: 'e,
    {
        self.pool.describe(sql)
    }
}

/// A transaction on the service's pool, counting under the origin of the [`Db`] that opened it.
/// Dropped without [`Tx::commit`], it rolls back (and the rollback is counted).
pub struct Tx {
    /// `Some` until commit or rollback consumes it.
    tx: Option<Transaction<'static, Postgres>>,
    counter: Arc<AtomicU64>,
}

impl Tx {
    pub async fn commit(mut self) -> sqlx::Result<()> {
        self.count();
        match self.tx.take() {
            Some(tx) => tx.commit().await,
            None => Ok(()),
        }
    }

    pub async fn rollback(mut self) -> sqlx::Result<()> {
        self.count();
        match self.tx.take() {
            Some(tx) => tx.rollback().await,
            None => Ok(()),
        }
    }

    fn count(&self) {
        self.counter.fetch_add(1, Ordering::Relaxed);
    }

    fn connection(&mut self) -> &mut PgConnection {
        self.tx
            .as_deref_mut()
            .expect("a transaction stays open until commit or rollback consumes it")
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        // sqlx rolls an abandoned transaction back when the connection returns to the pool.
        if self.tx.is_some() {
            self.count();
        }
    }
}

impl fmt::Debug for Tx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tx")
            .field("open", &self.tx.is_some())
            .finish()
    }
}

impl<'t> Executor<'t> for &'t mut Tx {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, sqlx::Error>>
    where
        't: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        self.count();
        self.connection().fetch_many(query)
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        't: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        self.count();
        self.connection().fetch_optional(query)
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement<'q>, sqlx::Error>>
    where
        't: 'e,
    {
        self.connection().prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(
        self,
        sql: &'q str,
    ) -> BoxFuture<'e, Result<Describe<Postgres>, sqlx::Error>>
    where
        't: 'e,
    {
        self.connection().describe(sql)
    }
}
