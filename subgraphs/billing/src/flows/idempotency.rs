//! Runs a request once per idempotency key.
//!
//! The first request with a key inserts its `idempotency_keys` row and holds it, uncommitted,
//! while it works; the result is stored in that row and commits with the work. A duplicate that
//! arrives meanwhile blocks on the row's primary key until the first commits, then replays the
//! stored result; if the first rolled back (an error, a crash), the duplicate claims the key
//! and runs as the first. A declined card is a result like any other and is replayed; a request
//! refused with an error stores nothing, so its key can be retried.

use serde::Serialize;
use serde::de::DeserializeOwned;
use tessera_kit::db::Tx;

use tessera_kit::{ApiError, ErrorCode};
use uuid::Uuid;

use super::Billing;
use crate::domain::idempotency;
use crate::store;
use crate::store::idempotency::Claim;

/// A request named by an idempotency key.
pub struct Keyed {
    pub user_id: Uuid,
    pub key: String,
    pub fingerprint: Vec<u8>,
    operation: &'static str,
}

impl Keyed {
    /// Checks `key` and fingerprints `operation` with its arguments.
    pub fn new(
        user_id: Uuid,
        key: &str,
        operation: &'static str,
        arguments: &[&str],
    ) -> Result<Self, ApiError> {
        Ok(Self {
            user_id,
            key: idempotency::key(key)?,
            fingerprint: idempotency::fingerprint(operation, arguments),
            operation,
        })
    }

    /// The key the provider deduplicates this request's charge by.
    pub fn provider_key(&self) -> String {
        idempotency::provider_key(self.user_id, &self.key)
    }
}

/// Either the stored result of an earlier request, or a transaction that holds the key.
pub enum Begun<T> {
    Replay(T),
    Fresh(Tx),
}

impl Billing {
    /// Claims `request`'s key in a new transaction, or returns the result stored under it.
    pub async fn begin_once<T: DeserializeOwned>(
        &self,
        request: &Keyed,
    ) -> Result<Begun<T>, ApiError> {
        let mut tx = self.store.pool().begin().await?;
        let wait = std::time::Duration::from_millis(self.settings.idempotency_wait_ms);
        let claim = store::idempotency::claim(
            &mut tx,
            request.user_id,
            &request.key,
            request.operation,
            &request.fingerprint,
            wait,
        )
        .await
        .map_err(|err| {
            if store::idempotency::is_lock_timeout(&err) {
                ApiError::client(
                    ErrorCode::Conflict,
                    "a request with this idempotency key is still in progress; retry shortly",
                )
            } else {
                err.into()
            }
        })?;
        match claim {
            Claim::Fresh => Ok(Begun::Fresh(tx)),
            Claim::Existing {
                fingerprint,
                response,
            } => {
                if fingerprint != request.fingerprint {
                    return Err(ApiError::client(
                        ErrorCode::IdempotencyKeyReused,
                        "this idempotency key was already used for a different request",
                    ));
                }
                let response = response.ok_or_else(|| {
                    ApiError::Internal(anyhow::anyhow!(
                        "idempotency key committed without a result"
                    ))
                })?;
                let replay = serde_json::from_value(response).map_err(|e| {
                    ApiError::Internal(anyhow::Error::new(e).context("stored result"))
                })?;
                Ok(Begun::Replay(replay))
            }
        }
    }

    /// Stores `result` under `request`'s key, in the transaction that holds it.
    pub async fn remember<T: Serialize>(
        &self,
        tx: &mut Tx,
        request: &Keyed,
        result: &T,
    ) -> Result<(), ApiError> {
        let value = serde_json::to_value(result)
            .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("result to store")))?;
        store::idempotency::complete(tx, request.user_id, &request.key, &value).await?;
        Ok(())
    }
}
