//! Header rules, compiled once per configuration: what each subgraph request carries from the
//! client's request, and what the subgraphs' responses give the client's response, with the
//! subgraphs' `Cache-Control` merged into the most restrictive.
//!
//! Some headers are never copied or written by a rule, whatever it says: the hop-by-hop ones,
//! and those the router itself decides for each message (`host`, `content-length`,
//! `content-type`, `accept`, the encodings). Naming one in a rule is a configuration error;
//! a pattern skips them.

use http::{HeaderMap, HeaderName, HeaderValue, header};
use regex::Regex;

use crate::config::HeadersConfig;
use crate::config::headers::{Algorithm, HeaderRules, Names, Propagate, Rule, Select};

/// Hop-by-hop headers (RFC 9110 section 7.6.1): never copied in either direction.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// What the router sets itself on a subgraph request.
const REQUEST_DENIED: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "content-encoding",
    "accept",
    "accept-encoding",
    super::client_address::HEADER,
];

/// What the router sets itself on its response (`cache-control` and `vary` are merged, not
/// copied; CORS is the router's own).
const RESPONSE_DENIED: &[&str] = &[
    "content-length",
    "content-type",
    "content-encoding",
    "vary",
    "cache-control",
    "access-control-allow-origin",
    "access-control-allow-credentials",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-expose-headers",
    "access-control-max-age",
];

fn denied(list: &[&str], name: &HeaderName) -> bool {
    HOP_BY_HOP.contains(&name.as_str()) || list.contains(&name.as_str())
}

/// Which headers a rule applies to.
#[derive(Debug)]
enum Matcher {
    Names(Vec<HeaderName>),
    Pattern(Regex),
}

impl Matcher {
    fn new(
        named: Option<&Names>,
        matching: Option<&str>,
        deny: &[&str],
        rule: &str,
    ) -> anyhow::Result<Self> {
        match (named, matching) {
            (Some(names), None) => Ok(Matcher::Names(
                names
                    .list()
                    .into_iter()
                    .map(|name| header_name(name, deny, rule))
                    .collect::<anyhow::Result<_>>()?,
            )),
            (None, Some(pattern)) => Ok(Matcher::Pattern(Regex::new(pattern).map_err(|e| {
                anyhow::anyhow!("{rule}: matching {pattern:?} is not a regular expression: {e}")
            })?)),
            _ => anyhow::bail!("{rule}: give exactly one of named and matching"),
        }
    }

    fn single(&self) -> Option<&HeaderName> {
        match self {
            Matcher::Names(names) if names.len() == 1 => names.first(),
            _ => None,
        }
    }

    fn matches(&self, name: &HeaderName) -> bool {
        match self {
            Matcher::Names(names) => names.contains(name),
            Matcher::Pattern(pattern) => pattern.is_match(name.as_str()),
        }
    }
}

fn header_name(name: &str, deny: &[&str], rule: &str) -> anyhow::Result<HeaderName> {
    let parsed = HeaderName::try_from(name)
        .map_err(|_| anyhow::anyhow!("{rule}: {name:?} is not a header name"))?;
    if denied(deny, &parsed) {
        anyhow::bail!(
            "{rule}: {} is set by the router and cannot be copied or written",
            parsed.as_str()
        );
    }
    Ok(parsed)
}

fn header_value(value: &str, rule: &str) -> anyhow::Result<HeaderValue> {
    HeaderValue::try_from(value)
        .map_err(|_| anyhow::anyhow!("{rule}: {value:?} is not a header value"))
}

/// A compiled rule, for either direction.
#[derive(Debug)]
enum Step {
    Propagate {
        from: Matcher,
        rename: Option<HeaderName>,
        /// Requests only.
        default: Option<HeaderValue>,
        /// Responses only.
        algorithm: Algorithm,
    },
    Insert(HeaderName, HeaderValue),
    Remove(Matcher),
}

/// Which way a rule's headers go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Request,
    Response,
}

impl Side {
    fn denied(self) -> &'static [&'static str] {
        match self {
            Side::Request => REQUEST_DENIED,
            Side::Response => RESPONSE_DENIED,
        }
    }
}

/// The configured rules, by subgraph (indexed like the planner's subgraphs).
#[derive(Debug)]
pub struct Rules {
    request_all: Vec<Step>,
    request_own: Vec<Vec<Step>>,
    response_all: Vec<Step>,
    response_own: Vec<Vec<Step>>,
    merge_cache_control: bool,
    forward_token: bool,
    /// The subgraphs told the client's address, and the secret it is signed with.
    address_to: Vec<(usize, String)>,
    address_secret: Option<crate::config::headers::SecretText>,
}

/// What the requests to each subgraph carry for one client request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubgraphHeaders {
    common: HeaderMap,
    /// The subgraphs with rules of their own.
    own: Vec<(usize, HeaderMap)>,
}

impl SubgraphHeaders {
    /// The headers of a request to `subgraph`.
    pub fn of(&self, subgraph: usize) -> &HeaderMap {
        self.own
            .iter()
            .find(|(s, _)| *s == subgraph)
            .map_or(&self.common, |(_, headers)| headers)
    }

    /// Every header with the subgraph it is for (`None`: all without rules of their own), to
    /// tell two requests' headers apart.
    pub fn pairs(&self) -> Vec<(Option<usize>, String, Vec<u8>)> {
        let list = |subgraph: Option<usize>, headers: &HeaderMap| {
            headers
                .iter()
                .map(|(n, v)| (subgraph, n.as_str().to_owned(), v.as_bytes().to_vec()))
                .collect::<Vec<_>>()
        };
        let mut out = list(None, &self.common);
        for (subgraph, headers) in &self.own {
            out.extend(list(Some(*subgraph), headers));
        }
        out
    }

    /// The same headers for every subgraph.
    pub fn same(headers: HeaderMap) -> Self {
        Self {
            common: headers,
            own: Vec::new(),
        }
    }
}

impl Rules {
    /// Compiles `config` for the supergraph's `subgraphs` (by name, in the planner's order).
    pub fn new(config: &HeadersConfig, subgraphs: &[&str]) -> anyhow::Result<Self> {
        for name in config.subgraphs.keys() {
            if !subgraphs.contains(&name.as_str()) {
                anyhow::bail!("headers.subgraphs names {name}, which the supergraph does not have");
            }
        }
        let mut request_all = Vec::new();
        if !config.propagate.is_empty() {
            request_all.push(Step::Propagate {
                from: Matcher::new(
                    Some(&Names::Many(config.propagate.clone())),
                    None,
                    REQUEST_DENIED,
                    "headers.propagate",
                )?,
                rename: None,
                default: None,
                algorithm: Algorithm::Last,
            });
        }
        request_all.extend(steps(
            &config.all.request,
            Side::Request,
            "headers.all.request",
        )?);
        let no_rules = HeaderRules::default();
        let own = |name: &str| config.subgraphs.get(name).unwrap_or(&no_rules);
        Ok(Self {
            request_all,
            request_own: subgraphs
                .iter()
                .map(|name| {
                    steps(
                        &own(name).request,
                        Side::Request,
                        &format!("headers.subgraphs.{name}.request"),
                    )
                })
                .collect::<anyhow::Result<_>>()?,
            response_all: steps(&config.all.response, Side::Response, "headers.all.response")?,
            response_own: subgraphs
                .iter()
                .map(|name| {
                    steps(
                        &own(name).response,
                        Side::Response,
                        &format!("headers.subgraphs.{name}.response"),
                    )
                })
                .collect::<anyhow::Result<_>>()?,
            merge_cache_control: config.merge_cache_control,
            forward_token: config.forward_token,
            address_to: config
                .client_address
                .subgraphs
                .iter()
                .map(|name| {
                    subgraphs.iter().position(|s| s == name).map(|i| (i, name.clone())).ok_or_else(|| {
                        anyhow::anyhow!(
                            "headers.client_address names subgraph {name}, which the supergraph does not have"
                        )
                    })
                })
                .collect::<anyhow::Result<_>>()?,
            address_secret: config.client_address.secret.clone(),
        })
    }

    /// The subgraph requests' headers for a client request with `client` headers, and the
    /// verified `token` of its caller, if any.
    pub fn requests(
        &self,
        client: &HeaderMap,
        token: Option<&str>,
        address: Option<std::net::IpAddr>,
    ) -> SubgraphHeaders {
        let mut common = HeaderMap::new();
        apply_request(&self.request_all, client, &mut common);
        let told = |subgraph: usize| {
            address.and_then(|address| {
                let (_, name) = self.address_to.iter().find(|(s, _)| *s == subgraph)?;
                let secret = self.address_secret.as_ref().map(|s| s.0.as_str());
                Some(super::client_address::vouch(address, name, secret))
            })
        };
        let own = self
            .request_own
            .iter()
            .enumerate()
            .filter(|(subgraph, steps)| {
                !steps.is_empty()
                    || (address.is_some() && self.address_to.iter().any(|(s, _)| s == subgraph))
            })
            .map(|(subgraph, steps)| {
                let mut headers = common.clone();
                apply_request(steps, client, &mut headers);
                self.finish_request(&mut headers, token);
                if let Some(value) = told(subgraph) {
                    headers.insert(super::client_address::HEADER, value);
                }
                (subgraph, headers)
            })
            .collect();
        self.finish_request(&mut common, token);
        SubgraphHeaders { common, own }
    }

    fn finish_request(&self, headers: &mut HeaderMap, token: Option<&str>) {
        if self.forward_token
            && let Some(token) = token
            && !headers.contains_key(header::AUTHORIZATION)
            && let Ok(mut value) = HeaderValue::try_from(format!("Bearer {token}"))
        {
            value.set_sensitive(true);
            headers.insert(header::AUTHORIZATION, value);
        }
    }

    /// Whether subgraph response headers matter at all.
    pub fn reads_responses(&self) -> bool {
        self.merge_cache_control
            || !self.response_all.is_empty()
            || self.response_own.iter().any(|steps| !steps.is_empty())
    }

    /// Whether a rule copies subgraph response headers to the client.
    pub fn copies_responses(&self) -> bool {
        !self.response_all.is_empty() || self.response_own.iter().any(|steps| !steps.is_empty())
    }

    /// A subgraph request that got no answer: its part promised nothing about caching.
    pub fn collect_failure(&self, into: &mut Collected) {
        if self.merge_cache_control {
            into.cache.add(None);
        }
    }

    /// Takes what `subgraph`'s response `headers` give the client's response.
    pub fn collect(&self, into: &mut Collected, subgraph: usize, headers: &HeaderMap) {
        for steps in [
            &self.response_all[..],
            self.response_own.get(subgraph).map_or(&[][..], |s| s),
        ] {
            apply_response(steps, headers, &mut into.headers);
        }
        if self.merge_cache_control {
            let directives: Vec<&str> = headers
                .get_all(header::CACHE_CONTROL)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            into.cache
                .add((!directives.is_empty()).then(|| CacheControl::parse(&directives)));
            // What the subgraph's answer varies with, the merged answer varies with too.
            for value in headers.get_all(header::VARY) {
                if !into.vary.contains(value) {
                    into.vary.push(value.clone());
                }
            }
        }
    }
}

fn steps(rules: &[Rule], side: Side, at: &str) -> anyhow::Result<Vec<Step>> {
    let deny = side.denied();
    rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let at = format!("{at}[{i}]");
            Ok(match rule {
                Rule::Propagate(Propagate {
                    named,
                    matching,
                    rename,
                    default,
                    algorithm,
                }) => {
                    let from = Matcher::new(named.as_ref(), matching.as_deref(), deny, &at)?;
                    if (rename.is_some() || default.is_some()) && from.single().is_none() {
                        anyhow::bail!("{at}: rename and default need one named header");
                    }
                    match side {
                        Side::Request if algorithm.is_some() => {
                            anyhow::bail!("{at}: algorithm is for response rules")
                        }
                        Side::Response if default.is_some() => {
                            anyhow::bail!("{at}: default is for request rules")
                        }
                        _ => {}
                    }
                    Step::Propagate {
                        from,
                        rename: rename
                            .as_deref()
                            .map(|n| header_name(n, deny, &at))
                            .transpose()?,
                        default: default
                            .as_deref()
                            .map(|v| header_value(v, &at))
                            .transpose()?,
                        algorithm: algorithm.unwrap_or_default(),
                    }
                }
                Rule::Insert(insert) => Step::Insert(
                    header_name(&insert.name, deny, &at)?,
                    header_value(&insert.value, &at)?,
                ),
                Rule::Remove(Select { named, matching }) => {
                    Step::Remove(Matcher::new(named.as_ref(), matching.as_deref(), &[], &at)?)
                }
            })
        })
        .collect()
}

/// The (name, value) pairs of `from` that `matcher` selects, skipping what no rule may copy.
fn selected<'h>(
    matcher: &'h Matcher,
    from: &'h HeaderMap,
    deny: &'h [&'h str],
) -> impl Iterator<Item = (&'h HeaderName, &'h HeaderValue)> + 'h {
    let named: Box<dyn Iterator<Item = (&HeaderName, &HeaderValue)>> = match matcher {
        Matcher::Names(names) => Box::new(
            names
                .iter()
                .flat_map(move |name| from.get_all(name).iter().map(move |value| (name, value))),
        ),
        Matcher::Pattern(_) => Box::new(from.iter()),
    };
    named.filter(move |(name, _)| matcher.matches(name) && !denied(deny, name))
}

fn remove(matcher: &Matcher, out: &mut HeaderMap) {
    match matcher {
        Matcher::Names(names) => {
            for name in names {
                out.remove(name);
            }
        }
        Matcher::Pattern(pattern) => {
            let doomed: Vec<HeaderName> = out
                .keys()
                .filter(|name| pattern.is_match(name.as_str()))
                .cloned()
                .collect();
            for name in doomed {
                out.remove(name);
            }
        }
    }
}

fn apply_request(steps: &[Step], client: &HeaderMap, out: &mut HeaderMap) {
    for step in steps {
        match step {
            Step::Propagate {
                from,
                rename,
                default,
                ..
            } => {
                let mut copied: Vec<(HeaderName, HeaderValue)> =
                    selected(from, client, REQUEST_DENIED)
                        .map(|(name, value)| {
                            (
                                rename.clone().unwrap_or_else(|| name.clone()),
                                value.clone(),
                            )
                        })
                        .collect();
                if copied.is_empty()
                    && let (Some(value), Some(name)) = (default, from.single())
                {
                    copied.push((
                        rename.clone().unwrap_or_else(|| name.clone()),
                        value.clone(),
                    ));
                }
                // A header copied again replaces what an earlier rule wrote under its name.
                for (name, _) in &copied {
                    out.remove(name);
                }
                for (name, value) in copied {
                    out.append(name, value);
                }
            }
            Step::Insert(name, value) => {
                out.insert(name.clone(), value.clone());
            }
            Step::Remove(matcher) => remove(matcher, out),
        }
    }
}

fn apply_response(steps: &[Step], answer: &HeaderMap, out: &mut HeaderMap) {
    for step in steps {
        match step {
            Step::Propagate {
                from,
                rename,
                algorithm,
                ..
            } => {
                let mut replaced: Vec<HeaderName> = Vec::new();
                for (name, value) in selected(from, answer, RESPONSE_DENIED) {
                    let target = rename.clone().unwrap_or_else(|| name.clone());
                    match algorithm {
                        Algorithm::First
                            if out.contains_key(&target) && !replaced.contains(&target) => {}
                        Algorithm::First | Algorithm::Last => {
                            // Every value of this response's header, in place of any
                            // earlier response's.
                            if !replaced.contains(&target) {
                                out.remove(&target);
                                replaced.push(target.clone());
                            }
                            out.append(target, value.clone());
                        }
                        Algorithm::Append => {
                            out.append(target, value.clone());
                        }
                    }
                }
            }
            Step::Insert(name, value) => {
                out.insert(name.clone(), value.clone());
            }
            Step::Remove(matcher) => remove(matcher, out),
        }
    }
}

/// The client response's headers from the subgraph responses of one request.
#[derive(Debug, Default)]
pub struct Collected {
    headers: HeaderMap,
    cache: CacheMerge,
    vary: Vec<HeaderValue>,
}

impl Collected {
    /// The headers for the client's response. `personal`: the answer depends on who asked
    /// (a verified caller, fields withheld by authorization), so no shared cache may keep it.
    pub fn finish(mut self, personal: bool) -> HeaderMap {
        if personal && let Some(merged) = self.cache.merged.as_mut() {
            merged.private = true;
        }
        if let Some(value) = self.cache.value() {
            self.headers.insert(header::CACHE_CONTROL, value);
            for value in self.vary {
                self.headers.append(header::VARY, value);
            }
        }
        self.headers
    }
}

/// The parts of `Cache-Control` a merged response can promise.
#[derive(Debug, Clone, Default, PartialEq)]
struct CacheControl {
    no_store: bool,
    no_cache: bool,
    private: bool,
    public: bool,
    must_revalidate: bool,
    max_age: Option<u64>,
    s_maxage: Option<u64>,
}

impl CacheControl {
    fn parse(values: &[&str]) -> Self {
        let mut out = Self::default();
        for directive in values.iter().flat_map(|v| v.split(',')) {
            let directive = directive.trim().to_ascii_lowercase();
            let (name, argument) = match directive.split_once('=') {
                Some((name, argument)) => (name.trim(), Some(argument.trim().trim_matches('"'))),
                None => (directive.as_str(), None),
            };
            let seconds = argument.and_then(|a| a.parse::<u64>().ok());
            match name {
                "no-store" => out.no_store = true,
                "no-cache" => out.no_cache = true,
                "private" => out.private = true,
                "public" => out.public = true,
                "must-revalidate" | "proxy-revalidate" => out.must_revalidate = true,
                // A malformed age promises nothing.
                "max-age" => out.max_age = Some(seconds.unwrap_or(0)),
                "s-maxage" => out.s_maxage = Some(seconds.unwrap_or(0)),
                _ => {}
            }
        }
        out
    }
}

/// The most restrictive `Cache-Control` of the responses seen so far.
#[derive(Debug, Default)]
struct CacheMerge {
    /// Whether any response carried one.
    any: bool,
    /// Whether any response carried none.
    missing: bool,
    merged: Option<CacheControl>,
}

impl CacheMerge {
    fn add(&mut self, answer: Option<CacheControl>) {
        let Some(answer) = answer else {
            self.missing = true;
            return;
        };
        self.any = true;
        self.merged = Some(match self.merged.take() {
            None => answer,
            Some(merged) => CacheControl {
                no_store: merged.no_store || answer.no_store,
                no_cache: merged.no_cache || answer.no_cache,
                private: merged.private || answer.private,
                public: merged.public && answer.public,
                must_revalidate: merged.must_revalidate || answer.must_revalidate,
                max_age: min_age(merged.max_age, answer.max_age),
                // A shared cache falls back on max-age where s-maxage is absent.
                s_maxage: match (merged.s_maxage, answer.s_maxage) {
                    (None, None) => None,
                    (a, b) => min_age(a.or(merged.max_age), b.or(answer.max_age)),
                },
            },
        });
    }

    fn value(&self) -> Option<HeaderValue> {
        if !self.any {
            return None;
        }
        let merged = self.merged.as_ref()?;
        if self.missing || merged.no_store {
            return Some(HeaderValue::from_static("no-store"));
        }
        let mut parts: Vec<String> = Vec::new();
        if merged.no_cache {
            parts.push("no-cache".into());
        }
        if merged.private {
            parts.push("private".into());
        } else if merged.public {
            parts.push("public".into());
        }
        if let Some(age) = merged.max_age {
            parts.push(format!("max-age={age}"));
        }
        if let Some(age) = merged.s_maxage.filter(|_| !merged.private) {
            parts.push(format!("s-maxage={age}"));
        }
        if merged.must_revalidate {
            parts.push("must-revalidate".into());
        }
        if parts.is_empty() || (merged.max_age.is_none() && !merged.no_cache) {
            // Nothing that bounds how long it may be kept: promise nothing.
            return Some(HeaderValue::from_static("no-cache"));
        }
        HeaderValue::try_from(parts.join(", ")).ok()
    }
}

/// The shorter of two ages, where an absent one means the response gave none.
fn min_age(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        // One part without an age bounds nothing: the merged response has none either,
        // which `value` answers with no-cache.
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merged(answers: &[Option<&str>]) -> Option<String> {
        let mut merge = CacheMerge::default();
        for answer in answers {
            merge.add(answer.map(|v| CacheControl::parse(&[v])));
        }
        merge.value().map(|v| v.to_str().expect("text").to_owned())
    }

    #[test]
    fn cache_control_is_the_most_restrictive_of_the_answers() {
        assert_eq!(merged(&[None, None]), None, "no subgraph said anything");
        assert_eq!(
            merged(&[Some("public, max-age=60"), Some("public, max-age=30")]).as_deref(),
            Some("public, max-age=30")
        );
        assert_eq!(
            merged(&[Some("public, max-age=60"), Some("private, max-age=300")]).as_deref(),
            Some("private, max-age=60")
        );
        assert_eq!(
            merged(&[Some("max-age=60"), Some("no-store")]).as_deref(),
            Some("no-store")
        );
        assert_eq!(
            merged(&[Some("public, max-age=60"), None]).as_deref(),
            Some("no-store"),
            "a part that promised nothing makes the whole uncacheable"
        );
        assert_eq!(
            merged(&[
                Some("public, max-age=60, s-maxage=600"),
                Some("public, max-age=120")
            ])
            .as_deref(),
            Some("public, max-age=60, s-maxage=120")
        );
        assert_eq!(
            merged(&[Some("public, max-age=60"), Some("public")]).as_deref(),
            Some("no-cache"),
            "an answer without an age bounds nothing"
        );
        assert_eq!(
            merged(&[Some("no-cache, max-age=0"), Some("public, max-age=60")]).as_deref(),
            Some("no-cache, max-age=0")
        );
    }

    #[test]
    fn a_failed_part_or_a_personal_answer_is_never_shared_and_vary_is_kept() {
        let rules = Rules::new(&HeadersConfig::default(), &["a", "b"]).expect("rules");
        let mut public = HeaderMap::new();
        public.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        );
        public.insert(header::VARY, HeaderValue::from_static("accept-language"));

        let mut failed = Collected::default();
        rules.collect(&mut failed, 0, &public);
        rules.collect_failure(&mut failed);
        assert_eq!(failed.finish(false)[header::CACHE_CONTROL], "no-store");

        let mut personal = Collected::default();
        rules.collect(&mut personal, 0, &public);
        rules.collect(&mut personal, 1, &public);
        let headers = personal.finish(true);
        assert_eq!(headers[header::CACHE_CONTROL], "private, max-age=60");
        assert_eq!(
            headers.get_all(header::VARY).iter().collect::<Vec<_>>(),
            ["accept-language"]
        );
    }
}
