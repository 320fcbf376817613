//! The `@policy` hook: an HTTP endpoint that says which policies allow the caller.

use std::collections::HashSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::security::PolicyHookConfig;

/// Asks the configured endpoint which policies allow the caller.
#[derive(Debug)]
pub struct PolicyHook {
    http: reqwest::Client,
    url: String,
}

#[derive(Serialize)]
struct Ask<'a> {
    policies: &'a [String],
    claims: Option<&'a serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    allowed: Vec<String>,
}

impl PolicyHook {
    pub fn new(config: &PolicyHookConfig) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .build()?;
        Ok(Self {
            http,
            url: config.url.clone(),
        })
    }

    /// The policies among `policies` that allow a caller with `claims` (none when anonymous).
    /// A hook that fails, is late or answers nonsense allows none: authorization fails closed.
    pub async fn allowed(
        &self,
        policies: &[String],
        claims: Option<&serde_json::Map<String, serde_json::Value>>,
    ) -> HashSet<String> {
        let answer = async {
            self.http
                .post(&self.url)
                .json(&Ask { policies, claims })
                .send()
                .await?
                .error_for_status()?
                .json::<Answer>()
                .await
        };
        match answer.await {
            Ok(answer) => answer
                .allowed
                .into_iter()
                .filter(|p| policies.contains(p))
                .collect(),
            Err(error) => {
                tracing::warn!(error = %error, "the policy hook failed; denying its policies");
                HashSet::new()
            }
        }
    }
}
