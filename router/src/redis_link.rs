//! One lazily made Redis connection with a backoff, shared by whatever the router keeps in
//! Redis (rate-limit budgets, automatic persisted queries).
//!
//! The connection is made on first use. After a failure (refused, timed out, broken) no caller
//! tries to connect again until a backoff has passed, doubling up to [`MAX_BACKOFF`]; callers in
//! that window fail at once instead of each paying for a connection attempt.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use tokio::time::{Instant, timeout_at};

const INITIAL_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(4);

/// Why Redis could not answer.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("not connected; the last attempt failed, next one in {0:?}")]
    Backoff(Duration),
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// A Redis client and its one connection.
pub struct Link {
    client: redis::Client,
    timeout: Duration,
    connection: Mutex<Connection>,
    /// The gate: held while connecting, so concurrent requests wait for one attempt instead of
    /// each making their own.
    connecting: tokio::sync::Mutex<()>,
}

enum Connection {
    Never,
    Up {
        connection: MultiplexedConnection,
        /// Tells a failure on this connection from one on an older connection.
        generation: u64,
    },
    Down {
        retry_at: Instant,
        backoff: Duration,
        generation: u64,
        /// A connection attempt holds the gate; requests wait for it rather than fail.
        attempting: bool,
    },
}

impl Link {
    /// Checks the URL; connects on first use. `what` names the URL's use in errors.
    pub fn new(url: &str, timeout: Duration, what: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|error| anyhow::anyhow!("invalid {what} Redis URL: {error}"))?;
        Ok(Self {
            client,
            timeout,
            connection: Mutex::new(Connection::Never),
            connecting: tokio::sync::Mutex::new(()),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Connection> {
        // Every assignment replaces the whole state, so a poisoned lock still holds a valid one.
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The live connection, an immediate error while backing off, or `None` when the caller
    /// should take the gate and connect. Without the gate, an attempt in progress is waited for;
    /// with it, an attempt still marked in progress was abandoned and counts as failed.
    fn current(
        &self,
        holding_gate: bool,
    ) -> Option<Result<(MultiplexedConnection, u64), LinkError>> {
        match &*self.state() {
            Connection::Never => None,
            Connection::Up {
                connection,
                generation,
            } => Some(Ok((connection.clone(), *generation))),
            Connection::Down {
                attempting: true, ..
            } if !holding_gate => None,
            Connection::Down { retry_at, .. } => {
                let now = Instant::now();
                (now < *retry_at).then(|| Err(LinkError::Backoff(*retry_at - now)))
            }
        }
    }

    /// How long one use of Redis may take, connecting included.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The connection and its generation (for [`Link::fail`]), connecting if need be.
    pub async fn connect(
        &self,
        deadline: Instant,
    ) -> Result<(MultiplexedConnection, u64), LinkError> {
        if let Some(current) = self.current(false) {
            return current;
        }
        let _gate = timeout_at(deadline, self.connecting.lock())
            .await
            .map_err(|_| LinkError::Timeout(self.timeout))?;
        // Someone else may have connected, or failed, while this request waited.
        if let Some(current) = self.current(true) {
            return current;
        }
        // Recorded as failed before trying, so an attempt abandoned half-way (the caller dropped
        // this future) still makes the next one wait for the backoff.
        let generation = {
            let mut state = self.state();
            let (backoff, generation) = match &*state {
                Connection::Never => (INITIAL_BACKOFF, 0),
                Connection::Up { generation, .. } => (INITIAL_BACKOFF, *generation),
                Connection::Down {
                    backoff,
                    generation,
                    ..
                } => ((*backoff * 2).min(MAX_BACKOFF), *generation),
            };
            let generation = generation + 1;
            *state = Connection::Down {
                retry_at: Instant::now() + backoff,
                backoff,
                generation,
                attempting: true,
            };
            generation
        };
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(self.timeout)
            .set_response_timeout(self.timeout);
        let attempt = timeout_at(
            deadline,
            self.client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await;
        let mut state = self.state();
        match attempt {
            Ok(Ok(connection)) => {
                *state = Connection::Up {
                    connection: connection.clone(),
                    generation,
                };
                Ok((connection, generation))
            }
            failed => {
                if let Connection::Down { attempting, .. } = &mut *state {
                    *attempting = false;
                }
                match failed {
                    Ok(Err(error)) => Err(error.into()),
                    _ => Err(LinkError::Timeout(self.timeout)),
                }
            }
        }
    }

    /// Drops a connection that failed, unless a newer one has replaced it already.
    pub fn fail(&self, generation: u64) {
        let mut state = self.state();
        if matches!(&*state, Connection::Up { generation: current, .. } if *current == generation) {
            *state = Connection::Down {
                retry_at: Instant::now() + INITIAL_BACKOFF,
                backoff: INITIAL_BACKOFF,
                generation,
                attempting: false,
            };
        }
    }
}
