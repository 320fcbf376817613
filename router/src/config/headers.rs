//! Headers between the client, the router and the subgraphs: which client headers each
//! subgraph request carries, and which subgraph response headers reach the client.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadersConfig {
    /// Client header names (case-insensitive) copied onto every subgraph request, e.g.
    /// `authorization`: short for a `propagate` rule under `all.request`, applied first.
    #[serde(default)]
    pub propagate: Vec<String>,
    /// Send the verified token to every subgraph as `Authorization: Bearer`, also when it
    /// came in a cookie, so subgraphs can check it themselves (after the rules, unless they
    /// wrote an `Authorization`).
    #[serde(default = "yes")]
    pub forward_token: bool,
    /// Rules for every subgraph, applied before a subgraph's own.
    #[serde(default)]
    pub all: HeaderRules,
    /// Rules for one subgraph, by name.
    #[serde(default)]
    pub subgraphs: BTreeMap<String, HeaderRules>,
    /// Answer the client with the most restrictive `Cache-Control` of the subgraph responses
    /// that made its response (a response without one counts as `no-store` once any has one;
    /// none at all, none sent).
    #[serde(default = "yes")]
    pub merge_cache_control: bool,
    /// Telling subgraphs the client's address (for their own per-address limits).
    #[serde(default)]
    pub client_address: ClientAddressConfig,
}

/// The client's address, in `x-tessera-client-address`, on the requests to some subgraphs.
/// Not sent by default: it makes otherwise identical requests of different clients differ,
/// so subgraph dedupe no longer shares them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientAddressConfig {
    /// The subgraphs told.
    #[serde(default)]
    pub subgraphs: Vec<String>,
    /// Signs the header (HMAC-SHA256) so that a subgraph sharing the secret believes it only
    /// from the router. Without it a subgraph cannot tell the router's header from a client's.
    #[serde(default)]
    pub secret: Option<SecretText>,
}

/// Text that never reaches a log line: `Debug` prints a placeholder.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct SecretText(pub String);

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"<secret>\"")
    }
}

impl Default for HeadersConfig {
    fn default() -> Self {
        Self {
            propagate: Vec::new(),
            forward_token: true,
            all: HeaderRules::default(),
            subgraphs: BTreeMap::new(),
            merge_cache_control: true,
            client_address: ClientAddressConfig::default(),
        }
    }
}

/// Rules in order, for the requests to a subgraph and for what its responses give the client.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderRules {
    /// From the client's request to the subgraph request.
    #[serde(default, with = "serde_yaml::with::singleton_map_recursive")]
    pub request: Vec<Rule>,
    /// From the subgraph's response to the client's response.
    #[serde(default, with = "serde_yaml::with::singleton_map_recursive")]
    pub response: Vec<Rule>,
}

/// One header rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Rule {
    /// Copy headers, by name or by pattern, optionally renamed: from the client's request to
    /// the subgraph request, or from the subgraph's response to the client's.
    Propagate(Propagate),
    /// Set a header to a fixed value (on a response: whenever this subgraph answered).
    Insert(Insert),
    /// Take out what earlier rules wrote, by name or by pattern.
    Remove(Select),
}

/// Headers chosen by name or by a regular expression on the (lower-case) name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Select {
    #[serde(default)]
    pub named: Option<Names>,
    #[serde(default)]
    pub matching: Option<String>,
}

/// One header name or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Names {
    One(String),
    Many(Vec<String>),
}

impl Names {
    pub fn list(&self) -> Vec<&str> {
        match self {
            Names::One(name) => vec![name.as_str()],
            Names::Many(names) => names.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Propagate {
    #[serde(default)]
    pub named: Option<Names>,
    #[serde(default)]
    pub matching: Option<String>,
    /// The name to write it under (with one `named` header only).
    #[serde(default)]
    pub rename: Option<String>,
    /// Requests only: the value to send when the client sent none (one `named` header only).
    #[serde(default)]
    pub default: Option<String>,
    /// Responses only: when several subgraph responses carry the header, keep the `first`,
    /// the `last` (the default), or `append` every value.
    #[serde(default)]
    pub algorithm: Option<Algorithm>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    First,
    #[default]
    Last,
    Append,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Insert {
    pub name: String,
    pub value: String,
}

fn yes() -> bool {
    true
}
