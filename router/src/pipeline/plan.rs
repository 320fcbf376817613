//! Step 3: normalize the operation for the request's `@skip`/`@include` values and plan it,
//! once per distinct (document, operation, conditions) (cached).

use std::sync::Arc;

use apollo_compiler::ExecutableDocument;
use apollo_compiler::executable::Operation as ExecutableOperation;
use apollo_compiler::response::{JsonMap, JsonValue as Value};

use super::Engine;
use super::request::RequestError;
use crate::planner::operation::{self, Operation};
use crate::planner::{self, QueryPlan};

/// An operation ready to execute.
#[derive(Debug)]
pub struct Planned {
    pub operation: Arc<Operation>,
    pub plan: QueryPlan,
    /// Whether the operation has root introspection fields (`__schema`, `__type`).
    pub introspection: bool,
}

/// What the plan cache is keyed by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlanKey {
    document: u64,
    operation: Option<String>,
    conditions: Vec<bool>,
}

/// Plans `operation` of `document` for the coerced `variables`.
pub fn plan(
    engine: &Engine,
    document_key: u64,
    document: &ExecutableDocument,
    operation: &ExecutableOperation,
    variables: &JsonMap,
) -> Result<Arc<Planned>, RequestError> {
    let variable = |name: &str| match variables.get(name) {
        Some(Value::Bool(b)) => Some(*b),
        _ => None,
    };
    let (normalized, conditions) = operation::normalize(document, operation, &variable)
        .map_err(|e| RequestError::BadParameter(e.to_string()))?;
    let key = PlanKey {
        document: document_key,
        operation: operation.name.as_ref().map(|n| n.to_string()),
        conditions,
    };
    if let Some(hit) = engine
        .plans
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
    {
        return Ok(hit.clone());
    }
    let plan = planner::plan(&engine.graph, &engine.supergraph.schema, &normalized)
        .map_err(|e| RequestError::Planning(e.to_string()))?;
    let introspection = normalized.selection.0.iter().any(|s| {
        matches!(s, operation::Selection::Field(f) if f.name == "__schema" || f.name == "__type")
    });
    let planned = Arc::new(Planned {
        operation: normalized,
        plan,
        introspection,
    });
    engine
        .plans
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .put(key, planned.clone());
    Ok(planned)
}
