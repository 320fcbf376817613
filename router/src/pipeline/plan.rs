//! Step 3: normalize the operation and plan it, once per (document, operation, override
//! labels) (cached); `@skip`/`@include` on variables are part of the plan, not of the key.

use std::sync::Arc;

use apollo_compiler::ExecutableDocument;
use apollo_compiler::executable::Operation as ExecutableOperation;
use apollo_compiler::response::JsonMap;

use super::Engine;
use super::parse::DocumentKey;
use super::request::RequestError;
use crate::edge::authorization::{self, Guard};
use crate::planner::operation::{self, Operation};
use crate::planner::{self, QueryPlan};

/// An operation ready to execute.
#[derive(Debug)]
pub struct Planned {
    pub operation: Arc<Operation>,
    pub plan: QueryPlan,
    /// The conditions of each of the operation's root introspection fields (`__schema`,
    /// `__type`): introspection runs when any holds.
    pub introspection: Vec<Vec<operation::Condition>>,
    /// Its size, for the operation limits.
    pub measure: super::limits::Measure,
    /// How long its last response's data was, in bytes: the buffer the next one is written
    /// into starts that large.
    pub response_size: std::sync::atomic::AtomicUsize,
    /// Its selections with authorization requirements, outermost first.
    pub guards: Vec<Guard>,
    /// The `@policy` names among `guards`.
    pub policies: Vec<String>,
    /// Plans with some guarded selections removed, by which (see `authorize`).
    pub(crate) filtered: std::sync::Mutex<Vec<(Vec<bool>, Arc<Planned>)>>,
    /// What the response must answer null (or leave out) whatever the subgraphs send; its
    /// addresses point into `operation`.
    pub withheld: crate::executor::shape::Withheld,
    /// The progressive `@override` labels active when it was planned.
    pub labels: Vec<bool>,
}

/// What the plan cache is keyed by.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PlanKey {
    document: super::parse::DocumentKey,
    operation: Option<apollo_compiler::Name>,
    /// The active override labels (empty when the supergraph has none).
    labels: Vec<bool>,
}

/// Plans a normalized operation within the configured budget, with the override `labels`
/// active.
pub(crate) fn plan_normalized(
    engine: &Engine,
    normalized: &Operation,
    labels: &[bool],
) -> Result<QueryPlan, RequestError> {
    let config = &engine.config.query_plan;
    let budget = planner::Budget::new(
        config.max_steps,
        Some(std::time::Duration::from_millis(config.timeout_ms)),
    );
    let labelled = engine.overrides.graph(&engine.graph, labels);
    planner::plan_within(
        labelled.as_deref().unwrap_or(&engine.graph),
        &engine.supergraph.schema,
        normalized,
        &budget,
    )
    .map_err(|e| match e {
        planner::PlanError::BudgetExceeded => RequestError::PlanningBudget {
            steps: budget.used(),
        },
        e => RequestError::Planning(e.to_string()),
    })
}

/// Plannings under way, by key; each ends with its result for everyone waiting on it.
pub type InFlight = std::sync::Mutex<
    std::collections::HashMap<
        PlanKey,
        Arc<tokio::sync::OnceCell<Result<Arc<Planned>, RequestError>>>,
    >,
>;

/// Plans `operation` of `document`, with the override `labels` active. The plan serves every
/// value of the variables: `@skip`/`@include` are decided when it runs.
pub async fn plan(
    engine: &Engine,
    document_key: DocumentKey,
    document: &ExecutableDocument,
    operation: &ExecutableOperation,
    variables: &JsonMap,
    labels: Vec<bool>,
) -> Result<Arc<Planned>, RequestError> {
    let key = PlanKey {
        document: document_key,
        operation: operation.name.clone(),
        labels,
    };
    let hit = engine
        .plans
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
        .cloned();
    let planned = match hit {
        Some(hit) => {
            request_checks(engine, &hit.operation, variables)?;
            hit
        }
        None => miss(engine, key, document, operation, variables).await?,
    };
    // A selection the supergraph cannot answer fails the request only where it is selected.
    if let Some(refused) = planned
        .plan
        .refused
        .iter()
        .find(|r| operation::holds(&r.conditions, variables))
    {
        return Err(RequestError::Planning(refused.reason.clone()));
    }
    Ok(planned)
}

/// What depends on the request's variables: the conditions' values are Booleans, and the
/// cost is within the limit.
fn request_checks(
    engine: &Engine,
    operation: &Operation,
    variables: &JsonMap,
) -> Result<(), RequestError> {
    operation
        .check_conditions(variables)
        .map_err(|e| RequestError::BadParameter(e.to_string()))?;
    super::cost::check(engine, operation, variables)
}

/// Plans on a miss: the limits, measured on the document before anything is expanded, and the
/// cost come first; then one planning per key, however many requests miss it at once.
/// Planning is synchronous inside the cell's initializer, so it runs to its end once started:
/// the request that runs it takes the entry out right after (the plan is in the plan cache by
/// then, or the error is given to those already waiting), and nothing is left behind whatever
/// happens to the requests.
async fn miss(
    engine: &Engine,
    key: PlanKey,
    document: &ExecutableDocument,
    operation: &ExecutableOperation,
    variables: &JsonMap,
) -> Result<Arc<Planned>, RequestError> {
    let measure = super::limits::measure(document, operation);
    super::limits::check(&engine.config.limits, &measure)?;
    let normalized = operation::normalize(&engine.supergraph.schema, document, operation);
    request_checks(engine, &normalized, variables)?;
    let cell = engine
        .planning
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(key.clone())
        .or_default()
        .clone();
    cell.get_or_init(|| async {
        let built = build(engine, normalized, measure, key.clone());
        let mut planning = engine.planning.lock().unwrap_or_else(|p| p.into_inner());
        if planning
            .get(&key)
            .is_some_and(|entry| Arc::ptr_eq(entry, &cell))
        {
            planning.remove(&key);
        }
        built
    })
    .await
    .clone()
}

fn build(
    engine: &Engine,
    normalized: Arc<Operation>,
    measure: super::limits::Measure,
    key: PlanKey,
) -> Result<Arc<Planned>, RequestError> {
    let plan = plan_normalized(engine, &normalized, &key.labels)?;
    let introspection = normalized
        .selection
        .0
        .iter()
        .filter_map(|s| match s {
            operation::Selection::Field(f) if f.name == "__schema" || f.name == "__type" => {
                Some(f.conditions.clone())
            }
            _ => None,
        })
        .collect();
    let guards = authorization::guards(&engine.edge.rules, &engine.supergraph.schema, &normalized);
    let planned = Arc::new(Planned {
        policies: authorization::policies(&guards),
        guards,
        operation: normalized,
        plan,
        introspection,
        measure,
        response_size: Default::default(),
        filtered: Default::default(),
        withheld: Default::default(),
        labels: key.labels.clone(),
    });
    engine
        .plans
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .put(key, planned.clone());
    Ok(planned)
}
