//! Hot reload: the supergraph and configuration files are looked at every
//! `reload.interval_ms`; when either changed and both are valid, a new engine takes over for
//! new requests while requests in flight finish on the engine they started with (each holds
//! its own reference). An invalid file is logged and the running engine kept.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

use crate::config::{GatewayConfig, Mode};
use crate::server::SharedEngine;

/// The files an engine was built from.
#[derive(Debug, Clone)]
pub struct Sources {
    pub supergraph: PathBuf,
    /// No file means the default configuration.
    pub config: Option<PathBuf>,
    /// Production mode whatever the file says (`tessera router --production`).
    pub mode: Mode,
}

/// What the files held when last read.
#[derive(Default, PartialEq)]
struct Seen {
    supergraph: Vec<u8>,
    config: Vec<u8>,
}

impl Sources {
    fn read(&self) -> anyhow::Result<Seen> {
        let read = |path: &PathBuf| {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
        };
        Ok(Seen {
            supergraph: read(&self.supergraph)?,
            config: self
                .config
                .as_ref()
                .map(read)
                .transpose()?
                .unwrap_or_default(),
        })
    }
}

/// Watches `sources` and swaps a new engine into `engine` when they change, until the
/// returned task is aborted. Returns `None` when the configuration turns watching off.
pub fn watch(engine: SharedEngine, sources: Sources) -> Option<tokio::task::JoinHandle<()>> {
    if !engine.load().config.reload.watch {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut seen = sources.read().unwrap_or_default();
        loop {
            let interval = engine.load().config.reload.interval_ms.max(10);
            tokio::time::sleep(Duration::from_millis(interval)).await;
            let now = match sources.read() {
                Ok(now) => now,
                Err(error) => {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "reload: keeping the running supergraph"
                    );
                    continue;
                }
            };
            if now == seen {
                continue;
            }
            let current = engine.load_full();
            let (built, now) = match tokio::task::spawn_blocking(move || {
                (
                    rebuild(&current, &now.supergraph, &now.config, sources.mode),
                    now,
                )
            })
            .await
            {
                Ok(done) => done,
                Err(error) => {
                    tracing::error!(error = %error, "reload: building the new engine failed");
                    continue;
                }
            };
            seen = now;
            match built {
                Ok(next) => {
                    let watch = next.config.reload.watch;
                    crate::server::swap(&engine, next);
                    tracing::info!(
                        "reload: the changed supergraph or configuration is now serving"
                    );
                    if !watch {
                        tracing::info!("reload: watching is off in the new configuration");
                        return;
                    }
                }
                Err(error) => {
                    tracing::error!(
                        error = format!("{error:#}"),
                        "reload: the changed files are not valid; keeping the running version"
                    );
                }
            }
        }
    }))
}

fn rebuild(
    current: &crate::pipeline::Engine,
    supergraph: &[u8],
    config: &[u8],
    mode: Mode,
) -> anyhow::Result<crate::pipeline::Engine> {
    let sdl = std::str::from_utf8(supergraph).context("the supergraph is not UTF-8")?;
    let text = std::str::from_utf8(config).context("the configuration is not UTF-8")?;
    let config = GatewayConfig::parse_in(text, mode).context("invalid gateway configuration")?;
    current.reload(sdl, config)
}
