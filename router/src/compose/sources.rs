//! Where subgraph SDLs come from: the checked-in `schema/<name>.graphql` files, or the running
//! subgraphs' `_service { sdl }`.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;

use super::SubgraphSdl;
use crate::config::SubgraphsConfig;

/// Reads `<dir>/<name>.graphql` for every configured subgraph.
pub fn from_dir(dir: &Path, subgraphs: &SubgraphsConfig) -> anyhow::Result<Vec<SubgraphSdl>> {
    subgraphs
        .0
        .iter()
        .map(|(name, config)| {
            let path = dir.join(format!("{name}.graphql"));
            let sdl = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Ok(SubgraphSdl {
                name: name.clone(),
                url: config.url.clone(),
                sdl,
            })
        })
        .collect()
}

/// Asks every configured subgraph for its SDL.
pub async fn from_running(subgraphs: &SubgraphsConfig) -> anyhow::Result<Vec<SubgraphSdl>> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let mut out = Vec::with_capacity(subgraphs.0.len());
    for (name, config) in &subgraphs.0 {
        out.push(SubgraphSdl {
            name: name.clone(),
            url: config.url.clone(),
            sdl: fetch_sdl(&http, &config.url)
                .await
                .with_context(|| format!("subgraph {name} at {}", config.url))?,
        });
    }
    Ok(out)
}

/// `_service { sdl }` of the subgraph at `url`.
pub async fn fetch_sdl(http: &reqwest::Client, url: &str) -> anyhow::Result<String> {
    let body: serde_json::Value = http
        .post(url)
        .json(&serde_json::json!({ "query": "{ _service { sdl } }" }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    body["data"]["_service"]["sdl"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no _service.sdl in the answer: {body}"))
}
