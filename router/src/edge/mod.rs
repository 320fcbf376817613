//! What stands between a client and the planner: who the caller is ([`jwt`]), whether they are
//! within their budget ([`rate_limit`]), what they may see ([`authorization`], with
//! [`policy`] deciding `@policy`), which browsers may call ([`cors`]), and which requests a
//! page of another site could have sent behind the user's back ([`csrf`]).

pub mod authorization;
pub mod client_address;
pub mod cors;
pub mod csrf;
pub mod headers;
pub mod jwt;
pub mod policy;
pub mod rate_limit;

use std::sync::Arc;

use crate::config::GatewayConfig;
use crate::supergraph::Supergraph;

/// The edge of one engine. The authenticator (its fetched keys and verified tokens) and the
/// rate limiter (its budgets) carry over to the next engine when their configuration has not
/// changed, so a reload neither refetches keys nor hands out fresh budgets.
pub struct Edge {
    pub authenticator: Option<Arc<jwt::Authenticator>>,
    pub rate_limiter: Option<Arc<rate_limit::RateLimiter>>,
    pub rules: authorization::Rules,
    pub policy_hook: Option<policy::PolicyHook>,
    pub cors: cors::Cors,
    pub csrf: csrf::Csrf,
}

impl std::fmt::Debug for Edge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edge")
            .field("authentication", &self.authenticator.is_some())
            .field("rate_limits", &self.rate_limiter.is_some())
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl Edge {
    /// The edge for `config` over `supergraph`, reusing what `previous` (the engine it
    /// replaces, with `previous_config`) already has.
    pub fn new(
        config: &GatewayConfig,
        supergraph: &Supergraph,
        previous: Option<(&Edge, &GatewayConfig)>,
    ) -> anyhow::Result<Self> {
        let authenticator = match (&config.authentication.jwt, previous) {
            (None, _) => None,
            (Some(_), Some((edge, old))) if old.authentication == config.authentication => {
                edge.authenticator.clone()
            }
            (Some(jwt), _) => {
                let authenticator = jwt::Authenticator::new(jwt)?;
                authenticator.start();
                Some(authenticator)
            }
        };
        let rate_limiter = match previous {
            Some((edge, old)) if old.rate_limits == config.rate_limits => edge.rate_limiter.clone(),
            _ => {
                let limiter = rate_limit::RateLimiter::new(&config.rate_limits)?;
                (!limiter.is_empty()).then(|| Arc::new(limiter))
            }
        };
        Ok(Self {
            authenticator,
            rate_limiter,
            rules: authorization::Rules::new(&supergraph.schema, &supergraph.links),
            policy_hook: config
                .authorization
                .policy_hook
                .as_ref()
                .map(policy::PolicyHook::new)
                .transpose()?,
            cors: cors::Cors::new(&config.cors)?,
            csrf: csrf::Csrf::new(config)?,
        })
    }
}
