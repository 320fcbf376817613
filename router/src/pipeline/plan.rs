//! Step 3: normalize the operation for the request's `@skip`/`@include` values and plan it,
//! once per distinct (document, operation, conditions) (cached).

use std::sync::Arc;

use apollo_compiler::ExecutableDocument;
use apollo_compiler::executable::Operation as ExecutableOperation;
use apollo_compiler::response::{JsonMap, JsonValue as Value};

use super::Engine;
use super::request::RequestError;
use crate::edge::authorization::{self, Guard};
use crate::planner::operation::{self, Operation};
use crate::planner::{self, QueryPlan};

/// An operation ready to execute.
#[derive(Debug)]
pub struct Planned {
    pub operation: Arc<Operation>,
    pub plan: QueryPlan,
    /// Whether the operation has root introspection fields (`__schema`, `__type`).
    pub introspection: bool,
    /// Whether `@skip`/`@include` depend on variables, so each request must be normalized.
    pub conditional: bool,
    /// Its size, for the operation limits.
    pub measure: super::limits::Measure,
    /// Its selections with authorization requirements, outermost first.
    pub guards: Vec<Guard>,
    /// The `@policy` names among `guards`.
    pub policies: Vec<String>,
    /// Plans with some guarded selections removed, by which (see `authorize`).
    pub(crate) filtered: std::sync::Mutex<Vec<(Vec<bool>, Arc<Planned>)>>,
    /// What the response must answer null (or leave out) whatever the subgraphs send; its
    /// addresses point into `operation`.
    pub withheld: crate::executor::shape::Withheld,
}

/// What the plan cache is keyed by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlanKey {
    document: u64,
    operation: Option<apollo_compiler::Name>,
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
    let operation_name = operation.name.clone();
    let unconditional = PlanKey {
        document: document_key,
        operation: operation_name.clone(),
        conditions: Vec::new(),
    };
    // Most operations have no variable conditions: one lookup, no normalization.
    if let Some(hit) = engine
        .plans
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&unconditional)
        && !hit.conditional
    {
        return Ok(hit.clone());
    }
    let variable = |name: &str| match variables.get(name) {
        Some(Value::Bool(b)) => Some(*b),
        _ => None,
    };
    let (normalized, conditions) =
        operation::normalize(&engine.supergraph.schema, document, operation, &variable)
            .map_err(|e| RequestError::BadParameter(e.to_string()))?;
    let conditional = !conditions.is_empty();
    let key = PlanKey {
        document: document_key,
        operation: operation_name,
        conditions,
    };
    if conditional
        && let Some(hit) = engine
            .plans
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
    {
        return Ok(hit.clone());
    }
    let measure = super::limits::measure(&normalized);
    super::limits::check(&engine.config.limits, &measure)?;
    let plan = planner::plan(&engine.graph, &engine.supergraph.schema, &normalized)
        .map_err(|e| RequestError::Planning(e.to_string()))?;
    let introspection = normalized.selection.0.iter().any(|s| {
        matches!(s, operation::Selection::Field(f) if f.name == "__schema" || f.name == "__type")
    });
    let guards = authorization::guards(&engine.edge.rules, &engine.supergraph.schema, &normalized);
    let planned = Arc::new(Planned {
        policies: authorization::policies(&guards),
        guards,
        operation: normalized,
        plan,
        introspection,
        conditional,
        measure,
        filtered: Default::default(),
        withheld: Default::default(),
    });
    let mut plans = engine.plans.lock().unwrap_or_else(|p| p.into_inner());
    if conditional {
        // Marks the operation as one that needs normalizing per request.
        plans.put(unconditional, planned.clone());
    }
    plans.put(key, planned.clone());
    drop(plans);
    Ok(planned)
}
