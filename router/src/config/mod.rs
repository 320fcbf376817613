//! Gateway configuration (`gateway-config/*.yaml`), one file per feature.

pub mod features;
pub mod headers;
pub mod jwt;
pub mod persisted;
pub mod rate_limit;
pub mod security;
pub mod server;
pub mod subgraphs;
pub mod subscriptions;

use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;

pub use features::{
    CompressionConfig, CompressionLevel, DedupeConfig, IntrospectionConfig, LimitsConfig,
    OverrideLabelsConfig, PlaygroundConfig, QueryPlanConfig, ReloadConfig, TrafficConfig,
};
pub use headers::HeadersConfig;
pub use jwt::AuthenticationConfig;
pub use rate_limit::RateLimitConfig;
pub use security::{AuthorizationConfig, AuthorizationMode, CorsConfig, CsrfConfig};
pub use server::ServerConfig;
pub use subgraphs::SubgraphsConfig;
pub use subscriptions::{OnSubgraphDisconnect, SingleConnectionConfig, SubscriptionsConfig};

/// Which defaults apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Introspection, the playground and the plan header on; a missing token and a rate-limit
    /// store that fails both let the request through.
    #[default]
    Development,
    /// The defaults a router facing the internet needs: introspection, the playground and
    /// the plan header off, a token required where authentication is configured, and
    /// requests refused while the rate-limit store fails. What the file sets explicitly
    /// still applies, with a warning for each development setting kept.
    Production,
}

/// Each default production mode changes: the path of the setting, and its production value.
const PRODUCTION_DEFAULTS: &[(&[&str], ProductionValue)] = &[
    (&["introspection", "enabled"], ProductionValue::Bool(false)),
    (&["playground", "enabled"], ProductionValue::Bool(false)),
    (&["query_plan", "expose"], ProductionValue::Bool(false)),
    (
        &["authentication", "jwt", "required"],
        ProductionValue::Bool(true),
    ),
    (
        &["rate_limits", "on_store_failure"],
        ProductionValue::Text("closed"),
    ),
];

#[derive(Clone, Copy)]
enum ProductionValue {
    Bool(bool),
    Text(&'static str),
}

impl ProductionValue {
    fn yaml(self) -> serde_yaml::Value {
        match self {
            ProductionValue::Bool(b) => serde_yaml::Value::Bool(b),
            ProductionValue::Text(t) => serde_yaml::Value::String(t.to_owned()),
        }
    }
}

/// The router's configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// `development` (the default) or `production`: which defaults apply.
    #[serde(default)]
    pub mode: Mode,
    /// The listener: timeouts and limits on client connections.
    #[serde(default)]
    pub server: ServerConfig,
    /// Compressed responses, request bodies and subgraph responses.
    #[serde(default)]
    pub compression: CompressionConfig,
    /// Where each subgraph is served (overrides the supergraph's URLs), and how to reach it.
    #[serde(default)]
    pub subgraphs: SubgraphsConfig,
    #[serde(default)]
    pub introspection: IntrospectionConfig,
    #[serde(default)]
    pub playground: PlaygroundConfig,
    #[serde(default)]
    pub query_plan: QueryPlanConfig,
    #[serde(default)]
    pub headers: HeadersConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    #[serde(default)]
    pub dedupe: DedupeConfig,
    /// Who the caller is: JWTs checked against JWKS sources.
    #[serde(default)]
    pub authentication: AuthenticationConfig,
    /// Request budgets per caller, address, operation or in total.
    #[serde(default)]
    pub rate_limits: RateLimitConfig,
    /// How the supergraph's `@authenticated`, `@requiresScopes` and `@policy` are enforced.
    #[serde(default)]
    pub authorization: AuthorizationConfig,
    /// Which other origins' pages may call the router from a browser.
    #[serde(default)]
    pub cors: CorsConfig,
    /// Refusing requests a browser would send cross-site without a preflight.
    #[serde(default)]
    pub csrf: CsrfConfig,
    /// The overall request timeout.
    #[serde(default)]
    pub traffic: TrafficConfig,
    /// Reloading changed files without a restart.
    #[serde(default)]
    pub reload: ReloadConfig,
    /// Live subscriptions over WebSocket, SSE and multipart HTTP.
    #[serde(default)]
    pub subscriptions: SubscriptionsConfig,
    /// Documents known by id (a manifest, a safelist) and automatic persisted queries.
    #[serde(default)]
    pub persisted_documents: persisted::PersistedDocumentsConfig,
    /// Several operations in one POST.
    #[serde(default)]
    pub batching: persisted::BatchingConfig,
}

impl GatewayConfig {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        Self::load_in(path, Mode::Development)
    }

    /// Reads and checks a configuration file; `Mode::Production` applies production mode
    /// whatever the file says (`tessera router --production`).
    pub fn load_in(path: &Path, mode: Mode) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Self::parse_in(&text, mode)
            .with_context(|| format!("invalid gateway configuration in {}", path.display()))
    }

    /// Reads and checks configuration text.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        Self::parse_in(text, Mode::Development)
    }

    /// Reads and checks configuration text, in production mode when the text or `mode` asks
    /// for it.
    pub fn parse_in(text: &str, mode: Mode) -> anyhow::Result<Self> {
        let text = if text.trim().is_empty() { "{}" } else { text };
        // Read as written first, so that a mistake is reported with its line.
        let mut config: Self = serde_yaml::from_str(text)?;
        if mode == Mode::Production || config.mode == Mode::Production {
            let mut value: serde_yaml::Value = serde_yaml::from_str(text)?;
            if value.is_null() {
                value = serde_yaml::Value::Mapping(Default::default());
            }
            for kept in production_defaults(&mut value) {
                tracing::warn!(
                    setting = kept,
                    "production mode: keeping a development setting the configuration sets"
                );
            }
            config = serde_yaml::from_value(value)?;
        }
        config.check()?;
        Ok(config)
    }

    /// Production mode's configuration as text: the file with every default production mode
    /// changes filled in where the file is silent.
    #[cfg(test)]
    fn production_of(text: &str) -> anyhow::Result<Self> {
        Self::parse_in(text, Mode::Production)
    }

    /// Checks what the types alone cannot.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.cors.allow_credentials && self.cors.allow_origins.iter().any(|o| o == "*") {
            anyhow::bail!(
                "cors: allow_origins \"*\" cannot be combined with allow_credentials; list the origins"
            );
        }
        if self.subscriptions.buffer == 0 || self.subscriptions.keepalive_ms == 0 {
            anyhow::bail!("subscriptions: buffer and keepalive_ms must be above 0");
        }
        if self.subscriptions.single_connection.reservation_timeout_ms == 0 {
            anyhow::bail!("subscriptions.single_connection.reservation_timeout_ms must be above 0");
        }
        if self.traffic.timeout_ms == 0 || self.traffic.timeout_ms > server::MAX_TIMEOUT_MS {
            anyhow::bail!(
                "traffic.timeout_ms must be above 0 and at most {}",
                server::MAX_TIMEOUT_MS
            );
        }
        if self.traffic.subgraph_max_connections_per_host > server::MAX_PERMITS {
            anyhow::bail!(
                "traffic.subgraph_max_connections_per_host must be at most {}",
                server::MAX_PERMITS
            );
        }
        for (name, subgraph) in &self.subgraphs.0 {
            if subgraph.timeout_ms == 0 || subgraph.timeout_ms > server::MAX_TIMEOUT_MS {
                anyhow::bail!(
                    "subgraphs.{name}.timeout_ms must be above 0 and at most {}",
                    server::MAX_TIMEOUT_MS
                );
            }
        }
        if self.traffic.subgraph_max_response_bytes == 0
            || self.traffic.subgraph_max_connections_per_host == 0
        {
            anyhow::bail!(
                "traffic: subgraph_max_response_bytes and subgraph_max_connections_per_host must be above 0"
            );
        }
        self.server.check()?;
        self.persisted_documents.check()?;
        if self.batching.max_size == 0 {
            anyhow::bail!("batching.max_size must be above 0");
        }
        if let Some(name) = &self.query_plan.override_labels.header {
            http::HeaderName::try_from(name.as_str()).map_err(|_| {
                anyhow::anyhow!("query_plan.override_labels.header: {name:?} is not a header name")
            })?;
        }
        Ok(())
    }
}

/// Fills production mode's defaults into `value` where it is silent and sets `mode`; returns
/// the dotted path of each setting the file gives a development value.
fn production_defaults(value: &mut serde_yaml::Value) -> Vec<String> {
    use serde_yaml::Value;
    let mut kept = Vec::new();
    let Value::Mapping(root) = value else {
        return kept;
    };
    root.insert(Value::from("mode"), Value::from("production"));
    'settings: for (path, production) in PRODUCTION_DEFAULTS {
        let (last, parents) = path.split_last().expect("a path has a last key");
        let mut map = &mut *root;
        for (depth, key) in parents.iter().enumerate() {
            let key = Value::from(*key);
            // `authentication.jwt` is only made stricter where it exists.
            if !map.contains_key(&key) && depth > 0 {
                continue 'settings;
            }
            // As absent: `jwt:` left empty is no jwt.
            if depth > 0 && map.get(&key).is_some_and(Value::is_null) {
                continue 'settings;
            }
            let entry = map
                .entry(key)
                .or_insert_with(|| Value::Mapping(Default::default()));
            if entry.is_null() {
                *entry = Value::Mapping(Default::default());
            }
            match entry {
                Value::Mapping(inner) => map = inner,
                // Not a map: the second read reports it.
                _ => continue 'settings,
            }
        }
        let key = Value::from(*last);
        match map.get(&key) {
            None => {
                map.insert(key, production.yaml());
            }
            Some(set) if *set != production.yaml() => kept.push(path.join(".")),
            Some(_) => {}
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_mode_turns_development_defaults_off_and_keeps_what_the_file_sets() {
        let config = GatewayConfig::production_of("").expect("empty is valid");
        assert_eq!(config.mode, Mode::Production);
        assert!(!config.introspection.enabled);
        assert!(!config.playground.enabled);
        assert!(!config.query_plan.expose);
        assert_eq!(
            config.rate_limits.on_store_failure,
            rate_limit::StoreFailurePolicy::Closed
        );
        assert!(
            config.authentication.jwt.is_none(),
            "no authentication is invented"
        );

        let config = GatewayConfig::parse(
            "mode: production\nintrospection:\n  enabled: true\nauthentication:\n  jwt:\n    sources: [{url: 'http://127.0.0.1:1/jwks'}]\n",
        )
        .expect("valid");
        assert!(config.introspection.enabled, "an explicit setting wins");
        assert!(!config.playground.enabled);
        assert!(config.authentication.jwt.expect("jwt").required);

        let config = GatewayConfig::production_of("authentication:\n  jwt:\nplayground:\n")
            .expect("nulls are absent settings, as in development");
        assert!(config.authentication.jwt.is_none() && !config.playground.enabled);

        let development = GatewayConfig::parse("").expect("valid");
        assert_eq!(development.mode, Mode::Development);
        assert!(development.introspection.enabled && development.playground.enabled);
    }

    #[test]
    fn production_mode_reports_mistakes_like_development_mode() {
        let error = GatewayConfig::production_of("playground:\n  enabeld: false\n")
            .expect_err("unknown key");
        assert!(format!("{error:#}").contains("enabeld"), "{error:#}");
    }
}
