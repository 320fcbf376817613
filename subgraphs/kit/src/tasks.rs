//! Background work with a lifecycle: every task gets the manager's cancellation token, and
//! shutdown cancels them all and waits (bounded) for them to finish.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Owns the background tasks of one process or service.
#[derive(Clone, Default)]
pub struct Tasks {
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl Tasks {
    pub fn new() -> Self {
        Self::default()
    }

    /// The token every task watches; cancelled by [`Tasks::shutdown`].
    pub fn token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Spawns `task`; an error it returns is logged once, here.
    pub fn spawn<F>(&self, name: &'static str, task: F)
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        self.tracker.spawn(async move {
            match task.await {
                Ok(()) => tracing::debug!(task = name, "background task finished"),
                Err(err) => tracing::error!(
                    task = name,
                    error = format!("{err:#}"),
                    "background task failed"
                ),
            }
        });
    }

    /// Cancels every task and waits up to `grace` for them to end.
    pub async fn shutdown(&self, grace: Duration) {
        self.cancel.cancel();
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                remaining = self.tracker.len(),
                "background tasks did not stop in time"
            );
        }
    }
}
