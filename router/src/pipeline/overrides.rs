//! Progressive `@override`: which labels are active for a request, and the graph its
//! operation is planned against.
//!
//! A label is active for a request when the configuration names it, when the configured
//! request header names it, or, for a `percent(p)` label, in p% of requests drawn at random.
//! Plans are cached per set of active labels among those that change a field the document
//! names: an operation touching `j` of a supergraph's labelled fields has at most `2^j`
//! plans, and one when it touches none.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use apollo_compiler::ExecutableDocument;
use apollo_compiler::executable;
use http::{HeaderMap, HeaderName};
use lru::LruCache;
use rand::Rng;

use crate::config::OverrideLabelsConfig;
use crate::planner::Graph;

/// How many graphs with labels active are kept, so that a plan cache miss need not copy the
/// graph again.
const GRAPHS: usize = 16;

/// How one label's activity is decided.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Rule {
    Always,
    /// Active for this share of requests, in `0.0..=1.0`.
    Share(f64),
    /// Only when the request header names it.
    Named,
}

/// The override labels of one supergraph and configuration.
pub struct Overrides {
    labels: Vec<String>,
    rules: Vec<Rule>,
    header: Option<HeaderName>,
    graphs: Mutex<LruCache<Vec<bool>, Arc<Graph>>>,
    /// Per label, the names of the fields it changes; `None` for a label whose fields plans
    /// reach through keys or requirements, which is always part of the key.
    fields: Vec<Option<Vec<apollo_compiler::Name>>>,
}

impl std::fmt::Debug for Overrides {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overrides")
            .field("labels", &self.labels)
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl Overrides {
    /// Reads the labels of `graph` with `config`. A `percent(p)` label with `p` outside
    /// 0 to 100 is an error; labels the configuration names but the supergraph lacks are not
    /// (a supergraph may drop a label once its migration is done).
    pub fn new(graph: &Graph, config: &OverrideLabelsConfig) -> anyhow::Result<Self> {
        let labels = graph.override_labels().to_vec();
        let rules = labels
            .iter()
            .map(|label| {
                if config.active.iter().any(|a| a == label) {
                    return Ok(Rule::Always);
                }
                match percent(label) {
                    Some(Ok(share)) => Ok(Rule::Share(share)),
                    Some(Err(())) => Err(anyhow::anyhow!(
                        "the supergraph's override label {label:?} is not percent(0 to 100)"
                    )),
                    None => Ok(Rule::Named),
                }
            })
            .collect::<anyhow::Result<Vec<Rule>>>()?;
        let header = match &config.header {
            Some(name) => Some(HeaderName::try_from(name.as_str())?),
            None => None,
        };
        Ok(Self {
            labels,
            rules,
            header,
            graphs: Mutex::new(LruCache::new(NonZeroUsize::new(GRAPHS).expect("not 0"))),
            fields: (0..graph.override_labels().len())
                .map(|i| (!graph.label_reached(i)).then(|| graph.label_fields(i).to_vec()))
                .collect(),
        })
    }

    /// The labels active for a request with `headers`, indexed like the supergraph's labels:
    /// empty when it has none.
    pub fn decide(&self, headers: &HeaderMap) -> Vec<bool> {
        if self.labels.is_empty() {
            return Vec::new();
        }
        let mut active: Vec<bool> = self
            .rules
            .iter()
            .map(|rule| match *rule {
                Rule::Always => true,
                Rule::Share(share) => share >= 1.0 || rand::thread_rng().gen_bool(share.max(0.0)),
                Rule::Named => false,
            })
            .collect();
        if let Some(header) = &self.header {
            for value in headers.get_all(header) {
                let Ok(text) = value.to_str() else { continue };
                for name in text.split(',').map(str::trim) {
                    if let Ok(i) = self.labels.binary_search_by(|l| l.as_str().cmp(name)) {
                        active[i] = true;
                    }
                }
            }
        }
        active
    }

    /// `active` without the labels that change no field `document` names: those cannot
    /// change its plan, so they stay out of the plan key.
    pub fn relevant(&self, mut active: Vec<bool>, document: &ExecutableDocument) -> Vec<bool> {
        if !active.contains(&true) {
            return active;
        }
        let mut names: Vec<&apollo_compiler::Name> = Vec::new();
        let mut sets: Vec<&executable::SelectionSet> = document
            .operations
            .iter()
            .map(|o| &o.selection_set)
            .chain(document.fragments.values().map(|f| &f.selection_set))
            .collect();
        while let Some(set) = sets.pop() {
            for selection in &set.selections {
                match selection {
                    executable::Selection::Field(field) => {
                        names.push(&field.name);
                        sets.push(&field.selection_set);
                    }
                    executable::Selection::InlineFragment(fragment) => {
                        sets.push(&fragment.selection_set);
                    }
                    executable::Selection::FragmentSpread(_) => {}
                }
            }
        }
        for (on, fields) in active.iter_mut().zip(&self.fields) {
            if let Some(fields) = fields {
                *on = *on && fields.iter().any(|f| names.contains(&f));
            }
        }
        active
    }

    /// The graph to plan with when `active` labels are active: `None` for `base` itself
    /// (no label active).
    pub fn graph(&self, base: &Graph, active: &[bool]) -> Option<Arc<Graph>> {
        if !active.contains(&true) {
            return None;
        }
        if let Some(graph) = self
            .graphs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(active)
        {
            return Some(graph.clone());
        }
        // Copied outside the lock: other plannings need not wait for it.
        let graph = Arc::new(base.with_labels(active));
        self.graphs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .put(active.to_vec(), graph.clone());
        Some(graph)
    }
}

/// `percent(p)`'s share (`p / 100`): `None` for another label, `Err` for a bad percentage.
fn percent(label: &str) -> Option<Result<f64, ()>> {
    let value = label.strip_prefix("percent(")?.strip_suffix(')')?;
    Some(match value.trim().parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p / 100.0),
        _ => Err(()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_are_read_and_bounded() {
        assert_eq!(percent("percent(25)"), Some(Ok(0.25)));
        assert_eq!(percent("percent(0.5)"), Some(Ok(0.005)));
        assert_eq!(percent("percent(100)"), Some(Ok(1.0)));
        assert_eq!(percent("percent(101)"), Some(Err(())));
        assert_eq!(percent("percent(x)"), Some(Err(())));
        assert_eq!(percent("use-new-service"), None);
    }
}
