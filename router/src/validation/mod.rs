//! Operations checked against the API schema: apollo-compiler's validation, the OneOf input
//! object rules it does not know yet, and one error per mistake.
//!
//! - [`derived`]: recognizes the diagnostics apollo-compiler adds for what it dropped while
//!   typing the document (a selection set emptied by unknown fields, a variable whose only
//!   use was in one), so that each mistake is reported once.
//! - [`one_of`]: the OneOf input object rules of the GraphQL specification (September 2025),
//!   for literals in the document and for variable values.

pub mod derived;
pub mod one_of;

use apollo_compiler::ast;
use apollo_compiler::diagnostic::ToCliReport;
use apollo_compiler::response::{GraphQLError, JsonValue};
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};

/// Validates `document` against the API schema `api`: the typed document, or every error,
/// in document order, each as the response's `errors` show it (without `extensions`).
pub fn validate(
    document: &ast::Document,
    api: &Valid<Schema>,
) -> Result<Valid<ExecutableDocument>, Vec<JsonValue>> {
    match document.to_executable_validate(api) {
        Ok(typed) => {
            let errors = one_of_errors(api, &typed);
            if errors.is_empty() {
                Ok(typed)
            } else {
                Err(in_order(errors))
            }
        }
        Err(invalid) => {
            let causes = derived::Causes::of(document, api);
            let mut errors: Vec<Located> = invalid
                .errors
                .iter()
                .filter(|diagnostic| !causes.derived(diagnostic))
                .map(|diagnostic| Located {
                    offset: ToCliReport::location(diagnostic.error).map(|span| span.offset()),
                    error: diagnostic.to_json(),
                })
                .collect();
            // What could be typed still gets the OneOf rules: every error at once.
            errors.extend(one_of_errors(api, &invalid.partial));
            Err(in_order(errors))
        }
    }
}

/// An error and where in the document it is, for ordering.
struct Located {
    offset: Option<usize>,
    error: GraphQLError,
}

fn one_of_errors(api: &Schema, document: &ExecutableDocument) -> Vec<Located> {
    one_of::check_document(api, document)
        .into_iter()
        .map(|(location, message)| Located {
            offset: location.map(|span| span.offset()),
            error: GraphQLError::new(message, location, &document.sources),
        })
        .collect()
}

fn in_order(mut errors: Vec<Located>) -> Vec<JsonValue> {
    // Stable: errors at one place keep apollo-compiler's order.
    errors.sort_by_key(|located| located.offset.unwrap_or(usize::MAX));
    errors
        .into_iter()
        .filter_map(|located| to_json(&located.error))
        .collect()
}

/// `error` as a response value.
pub fn to_json(error: &GraphQLError) -> Option<JsonValue> {
    let text = serde_json::to_vec(error).ok()?;
    serde_json::from_slice(&text).ok()
}
