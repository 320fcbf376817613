//! Query plans: the tree of subgraph fetches the executor runs, and how it reads in a snapshot.

use std::fmt;
use std::fmt::Write as _;

use apollo_compiler::Name;
use apollo_compiler::ast::OperationType;
use serde::Serialize;

use super::graph::SubgraphId;
use super::operation::SelectionSet;

/// One step of a response path: a response key, or every item of a list (`@`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathSegment {
    Key(Name),
    List,
}

impl Serialize for PathSegment {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PathSegment::Key(k) => s.serialize_str(k),
            PathSegment::List => s.serialize_str("@"),
        }
    }
}

/// A plan: `None` when nothing needs a subgraph (introspection only).
#[derive(Debug, Clone, Serialize)]
pub struct QueryPlan {
    pub root: Option<PlanNode>,
    /// Fields no subgraph can resolve where the operation asks for them: answered null with
    /// a field error at each place, while the rest of the operation runs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unresolvable: Vec<Unresolvable>,
    /// Selections the supergraph cannot answer, each under `@skip`/`@include` conditions: a
    /// request whose variables select one is refused as a plan that fails is; the others
    /// run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<Refused>,
}

/// A selection the plan cannot answer, selected only where `conditions` all hold.
#[derive(Debug, Clone, Serialize)]
pub struct Refused {
    /// Why it cannot be planned.
    pub reason: String,
    #[serde(skip)]
    pub conditions: Vec<super::operation::Condition>,
}

/// A field the plan cannot resolve, on the objects of `parent_type` at `path`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unresolvable {
    pub path: Vec<PathSegment>,
    pub parent_type: String,
    /// The field's response key in the merged data.
    pub key: String,
    pub field: String,
    /// Its `@skip`/`@include` conditions: no error where they do not hold.
    #[serde(skip)]
    pub conditions: Vec<super::operation::Condition>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind")]
// Plans are built once and cached; a fetch inline in its node is read without a pointer hop.
#[allow(clippy::large_enum_variant)]
pub enum PlanNode {
    Sequence {
        nodes: Vec<PlanNode>,
    },
    Parallel {
        nodes: Vec<PlanNode>,
    },
    /// Runs `node` for the objects found at `path`.
    Flatten {
        path: Vec<PathSegment>,
        node: Box<PlanNode>,
    },
    Fetch(FetchNode),
}

/// One request to one subgraph.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchNode {
    #[serde(skip)]
    pub subgraph: SubgraphId,
    pub service_name: String,
    #[serde(skip)]
    pub kind: OperationType,
    /// The client's variables the operation uses.
    pub variable_usages: Vec<Name>,
    /// The GraphQL operation sent to the subgraph.
    pub operation: String,
    /// Fields the operation had to alias (same response key, different types in the
    /// subgraph); their values move back to the client's key when the response arrives.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub renames: bool,
    /// For an entity fetch: the variable the operation takes the representations in, named
    /// so that no variable of the client's operation has its name.
    #[serde(skip)]
    pub representations_variable: Name,
    /// For an entity fetch: how to build each object's representation.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<Representation>,
    /// When every field the fetch selects is under `@skip`/`@include` conditions: the
    /// conditions of each. The fetch is sent only when one of them holds. Empty for a fetch
    /// that is always sent.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        serialize_with = "serialize_gate"
    )]
    pub gate: Vec<Vec<super::operation::Condition>>,
    /// For an entity fetch: variables whose values are read above each object (context
    /// arguments). Objects whose values differ are sent in separate `_entities` calls.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contexts: Vec<ContextValue>,
    /// For an entity fetch, the parts of `operation` a request holding several `_entities`
    /// calls is written from: the operation's name, its variable definitions other than the
    /// representations, and the selection of its `_entities` field.
    #[serde(skip)]
    pub operation_name: Option<String>,
    #[serde(skip)]
    pub definitions: Vec<String>,
    #[serde(skip)]
    pub entity_selection: String,
}

/// A variable of an entity fetch whose value is read on an ancestor of each object.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextValue {
    pub variable: Name,
    /// Its type in the subgraph, as GraphQL text.
    #[serde(rename = "type")]
    pub ty: String,
    /// The ancestors that may set the context, nearest first: the value is read on the first
    /// whose concrete type is one of its sources (an ancestor of an abstract type may be of a
    /// type that does not set it, and then the one above is asked).
    pub from: Vec<ContextSource>,
}

/// An ancestor a context value may be read on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContextSource {
    /// How many field levels above the object the ancestor sits.
    pub up: usize,
    /// For each concrete type the ancestor may have that sets the context, the selection
    /// whose one field is the value.
    #[serde(serialize_with = "serialize_sources")]
    pub sources: Vec<(Name, SelectionSet)>,
}

impl ContextValue {
    /// As the plan prints it: `$v = ../../... on T { prop }`, ancestors farther up after
    /// `||`.
    fn text(&self) -> String {
        let mut out = format!("${} = ", self.variable);
        for (t, tier) in self.from.iter().enumerate() {
            if t > 0 {
                out.push_str(" || ");
            }
            out.push_str(&"../".repeat(tier.up));
            for (i, (on, selection)) in tier.sources.iter().enumerate() {
                if i > 0 {
                    out.push_str(" | ");
                }
                let _ = write!(out, "... on {on} ");
                super::operation::write_selection_set(&mut out, selection);
            }
        }
        out
    }
}

fn serialize_sources<S: serde::Serializer>(
    sources: &[(Name, SelectionSet)],
    s: S,
) -> Result<S::Ok, S::Error> {
    let text: Vec<String> = sources
        .iter()
        .map(|(on, selection)| {
            let mut out = format!("... on {on} ");
            super::operation::write_selection_set(&mut out, selection);
            out
        })
        .collect();
    text.serialize(s)
}

fn serialize_gate<S: serde::Serializer>(
    gate: &[Vec<super::operation::Condition>],
    s: S,
) -> Result<S::Ok, S::Error> {
    // As the directives read: `["@include(if:$a) @skip(if:$b)", ...]`, one per field.
    let text: Vec<String> = gate.iter().map(|all| conditions_text(all)).collect();
    text.serialize(s)
}

/// `conditions` as directives: `@include(if:$a) @skip(if:$b)`.
fn conditions_text(conditions: &[super::operation::Condition]) -> String {
    let mut out = String::new();
    for c in conditions {
        if !out.is_empty() {
            out.push(' ');
        }
        let _ = write!(out, "{c}");
    }
    out
}

/// How to turn a response object into an `_entities` representation.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Representation {
    /// The `__typename` objects must have for this representation.
    pub match_types: Vec<Name>,
    /// The `__typename` the representation carries (an interface for `@interfaceObject`).
    pub typename: Name,
    /// The key and required fields, by the response keys the plan fetched them under.
    #[serde(serialize_with = "serialize_selection")]
    pub selection: SelectionSet,
}

impl FetchNode {
    /// Whether the request's `variables` leave anything for this fetch to select.
    pub fn open(&self, variables: &apollo_compiler::response::JsonMap) -> bool {
        self.gate.is_empty()
            || self
                .gate
                .iter()
                .any(|all| super::operation::holds(all, variables))
    }

    /// Whether `other` sends the same request as this fetch apart from its representations
    /// (the same entity fetch reached along another path, under the same conditions), so that
    /// the two can be one `_entities` call.
    pub fn same_request(&self, other: &FetchNode) -> bool {
        self.subgraph == other.subgraph
            && self.operation == other.operation
            // A fetch waiting for other conditions is sent when they hold, not these.
            && self.gate == other.gate
            && self.requires.len() == other.requires.len()
            && self.requires.iter().zip(&other.requires).all(|(x, y)| {
                x.typename == y.typename
                    && x.match_types == y.match_types
                    && x.selection == y.selection
            })
    }
}

fn serialize_selection<S: serde::Serializer>(set: &SelectionSet, s: S) -> Result<S::Ok, S::Error> {
    let mut text = String::new();
    super::operation::write_selection_set(&mut text, set);
    s.serialize_str(&text)
}

impl fmt::Display for QueryPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "QueryPlan {{")?;
        if let Some(root) = &self.root {
            root.write(f, 1)?;
        }
        for field in &self.unresolvable {
            let path: Vec<&str> = field
                .path
                .iter()
                .map(|p| match p {
                    PathSegment::Key(k) => k.as_str(),
                    PathSegment::List => "@",
                })
                .collect();
            writeln!(
                f,
                "  Unresolvable(path: \"{}\", field: \"{}.{}\")",
                path.join("."),
                field.parent_type,
                field.field
            )?;
        }
        write!(f, "}}")
    }
}

impl PlanNode {
    fn write(&self, f: &mut fmt::Formatter<'_>, depth: usize) -> fmt::Result {
        let pad = "  ".repeat(depth);
        match self {
            PlanNode::Sequence { nodes } | PlanNode::Parallel { nodes } => {
                let name = if matches!(self, PlanNode::Sequence { .. }) {
                    "Sequence"
                } else {
                    "Parallel"
                };
                writeln!(f, "{pad}{name} {{")?;
                for node in nodes {
                    node.write(f, depth + 1)?;
                }
                writeln!(f, "{pad}}}")
            }
            PlanNode::Flatten { path, node } => {
                let path: Vec<&str> = path
                    .iter()
                    .map(|p| match p {
                        PathSegment::Key(k) => k.as_str(),
                        PathSegment::List => "@",
                    })
                    .collect();
                writeln!(f, "{pad}Flatten(path: \"{}\") {{", path.join("."))?;
                node.write(f, depth + 1)?;
                writeln!(f, "{pad}}}")
            }
            PlanNode::Fetch(fetch) => {
                writeln!(f, "{pad}Fetch(service: \"{}\") {{", fetch.service_name)?;
                if !fetch.gate.is_empty() {
                    let when: Vec<String> =
                        fetch.gate.iter().map(|all| conditions_text(all)).collect();
                    writeln!(f, "{pad}  when {}", when.join(" or "))?;
                }
                for rep in &fetch.requires {
                    let mut text = String::new();
                    super::operation::write_selection_set(&mut text, &rep.selection);
                    writeln!(f, "{pad}  ... on {} {text} =>", rep.typename)?;
                }
                for context in &fetch.contexts {
                    writeln!(f, "{pad}  {}", context.text())?;
                }
                writeln!(f, "{pad}  {}", fetch.operation)?;
                writeln!(f, "{pad}}}")
            }
        }
    }
}
