//! `tessera compose`: subgraph SDLs (files or running services) plus routing URLs from the
//! gateway configuration → `schema/supergraph.graphql`.

use std::path::Path;

use anyhow::Context as _;
use tessera_router::compose::{self, SubgraphSdl, sources};
use tessera_router::config::{GatewayConfig, SubgraphsConfig};

/// Composes and writes (or, with `check`, compares) the supergraph.
pub async fn run(
    config: &Path,
    schema_dir: &Path,
    from_running: bool,
    output: &Path,
    check: bool,
) -> anyhow::Result<()> {
    let gateway = GatewayConfig::load(config)?;
    anyhow::ensure!(
        !gateway.subgraphs.0.is_empty(),
        "{} names no subgraphs",
        config.display()
    );
    let subgraphs = if from_running {
        sources::from_running(&gateway.subgraphs).await?
    } else {
        sources::from_dir(schema_dir, &gateway.subgraphs)?
    };
    let supergraph = compose_or_report(&subgraphs)?;
    if check {
        let current = std::fs::read_to_string(output).unwrap_or_default();
        anyhow::ensure!(
            current == supergraph,
            "{} is stale: run `tessera compose` and commit the result",
            output.display()
        );
        tracing::info!(output = %output.display(), "supergraph is up to date");
        return Ok(());
    }
    std::fs::write(output, &supergraph)
        .with_context(|| format!("cannot write {}", output.display()))?;
    tracing::info!(output = %output.display(), subgraphs = subgraphs.len(), "supergraph written");
    Ok(())
}

/// Composes, turning composition errors into one readable block.
pub fn compose_or_report(subgraphs: &[SubgraphSdl]) -> anyhow::Result<String> {
    compose::compose(subgraphs).map_err(|err| anyhow::anyhow!("composition failed:\n{err}"))
}

/// Composes the running platform's subgraphs (what `tessera dev` does at start-up, so a schema
/// change in a service reaches the router without a manual step).
pub async fn compose_running(subgraphs: &SubgraphsConfig) -> anyhow::Result<String> {
    compose_or_report(&sources::from_running(subgraphs).await?)
}
