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

/// The first of the parser's errors (in document order).
fn first_error(errors: &DiagnosticList) -> Vec<Value> {
    errors
        .iter()
        .next()
        .and_then(|d| crate::validation::to_json(&d.to_json()))
        .into_iter()
        .collect()
}
