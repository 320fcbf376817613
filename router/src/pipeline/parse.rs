//! Step 1: parse and validate the operation against the API schema, once per distinct
//! document (cached). A syntax error is reported alone, as graphql-js does: the parser's
//! recovery makes the errors after the first guesses, often several for one mistake.
//! Validation reports each mistake once ([`crate::validation`]).

use std::sync::Arc;

use apollo_compiler::ExecutableDocument;
use apollo_compiler::parser::Parser;
use apollo_compiler::response::JsonValue as Value;
use apollo_compiler::validation::{DiagnosticList, Valid};

use super::Engine;
use super::request::RequestError;

/// Nesting beyond this is refused while parsing, before anything else looks at the document
/// (the depth limit proper applies later, to the operation with its fragments expanded).
const RECURSION_LIMIT: usize = 256;

/// A parsed and validated document, or why it is not one.
pub type Parsed = Result<Arc<Valid<ExecutableDocument>>, Arc<RequestError>>;

/// The cache key of a document: its text, with the hash computed once. Two keys are equal only
/// when their texts are, so documents that happen to share a hash never share an entry.
#[derive(Debug, Clone)]
pub struct DocumentKey {
    hash: u64,
    text: Arc<str>,
}

impl std::hash::Hash for DocumentKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl PartialEq for DocumentKey {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && (Arc::ptr_eq(&self.text, &other.text) || self.text == other.text)
    }
}

impl Eq for DocumentKey {}

/// The cache key of a document text.
pub fn fingerprint(engine: &Engine, query: &str) -> DocumentKey {
    DocumentKey {
        hash: engine.hasher.hash_one(query),
        text: Arc::from(query),
    }
}

/// Parses and validates `query`.
pub fn parse(engine: &Engine, key: &DocumentKey, query: &str) -> Parsed {
    if let Some(hit) = engine
        .documents
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(key)
    {
        return hit.clone();
    }
    let parsed = parse_uncached(engine, query);
    engine
        .documents
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .put(key.clone(), parsed.clone());
    parsed
}

fn parse_uncached(engine: &Engine, query: &str) -> Parsed {
    let limits = &engine.config.limits;
    let ast = Parser::new()
        .recursion_limit(RECURSION_LIMIT)
        .token_limit(limits.max_tokens)
        .parse_ast(query, "operation.graphql")
        .map_err(|invalid| {
            let over = invalid
                .errors
                .iter()
                .any(|d| d.error.to_string().contains("token limit reached"));
            Arc::new(if over {
                RequestError::MaxTokens(limits.max_tokens)
            } else {
                RequestError::Parse(first_error(&invalid.errors))
            })
        })?;
    // Validation and normalization follow fragment spreads recursively, so selection sets
    // nested through chains of fragments are bounded before either runs.
    let nesting = nesting(&ast);
    if nesting > RECURSION_LIMIT {
        return Err(Arc::new(RequestError::MaxNesting {
            found: nesting,
            limit: RECURSION_LIMIT,
        }));
    }
    let document = crate::validation::validate(&ast, &engine.supergraph.api)
        .map_err(|errors| Arc::new(RequestError::Validation(errors)))?;
    let directives = super::limits::count_directives(&document);
    if directives > limits.max_directives {
        return Err(Arc::new(RequestError::MaxDirectives {
            found: directives,
            limit: limits.max_directives,
        }));
    }
    Ok(Arc::new(document))
}

/// How deeply the document's selection sets nest (fields, inline fragments and spreads, each
/// one level), following spreads into their fragments. Each fragment is measured once, after
/// the fragments it spreads, so no recursion follows spreads; within one definition the
/// parser's recursion limit bounds it. A spread in a cycle (which validation refuses) counts
/// its fragment as empty.
fn nesting(document: &apollo_compiler::ast::Document) -> usize {
    use std::collections::HashMap;

    use apollo_compiler::ast::{Definition, Selection};

    let fragments: HashMap<&str, &[Selection]> = document
        .definitions
        .iter()
        .filter_map(|d| match d {
            Definition::FragmentDefinition(f) => {
                Some((f.name.as_str(), f.selection_set.as_slice()))
            }
            _ => None,
        })
        .collect();
    fn spreads<'d>(set: &'d [Selection], out: &mut Vec<&'d str>) {
        for item in set {
            match item {
                Selection::Field(f) => spreads(&f.selection_set, out),
                Selection::FragmentSpread(s) => out.push(s.fragment_name.as_str()),
                Selection::InlineFragment(i) => spreads(&i.selection_set, out),
            }
        }
    }
    fn depth(set: &[Selection], done: &HashMap<&str, usize>) -> usize {
        set.iter()
            .map(|item| match item {
                Selection::Field(f) => 1 + depth(&f.selection_set, done),
                Selection::InlineFragment(i) => 1 + depth(&i.selection_set, done),
                Selection::FragmentSpread(s) => {
                    1 + done.get(s.fragment_name.as_str()).copied().unwrap_or(0)
                }
            })
            .max()
            .unwrap_or(0)
    }
    // Post-order over spreads, with an explicit stack.
    let mut done: HashMap<&str, usize> = HashMap::new();
    let mut open: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for &start in fragments.keys() {
        if done.contains_key(start) || open.contains(start) {
            continue;
        }
        let mut inner = Vec::new();
        spreads(fragments[start], &mut inner);
        let mut stack: Vec<(&str, Vec<&str>)> = vec![(start, inner)];
        open.insert(start);
        while let Some((name, pending)) = stack.last_mut() {
            match pending.pop() {
                Some(next) => {
                    if let Some(set) = fragments.get(next)
                        && !done.contains_key(next)
                        && open.insert(next)
                    {
                        let mut inner = Vec::new();
                        spreads(set, &mut inner);
                        stack.push((next, inner));
                    }
                }
                None => {
                    let name = *name;
                    done.insert(name, depth(fragments[name], &done));
                    stack.pop();
                }
            }
        }
    }
    document
        .definitions
        .iter()
        .filter_map(|d| match d {
            Definition::OperationDefinition(op) => Some(depth(&op.selection_set, &done)),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// The first of the parser's errors (in document order).
fn first_error(errors: &DiagnosticList) -> Vec<Value> {
    errors
        .iter()
        .next()
        .and_then(|d| crate::validation::to_json(&d.to_json()))
        .into_iter()
        .collect()
}
