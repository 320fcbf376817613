//! Step 4: decide the operation's authorization guards for the caller. Denied selections are
//! removed before execution (`filter`) or the request is refused (`reject`).

use std::collections::HashSet;
use std::sync::Arc;

use super::Engine;
use super::error::unauthorized_error;
use super::plan::Planned;
use super::request::RequestError;
use crate::config::AuthorizationMode;
use crate::edge::authorization::{self, Caller};
use crate::edge::jwt::Identity;
use crate::json::Value;
use crate::planner::QueryPlan;

/// The filtered plans one operation keeps, at most (callers fall into few classes).
const FILTERED_PLANS: usize = 16;

/// The plan to run for this caller, and the errors for what it may not see.
pub async fn authorize(
    engine: &Engine,
    planned: Arc<Planned>,
    identity: Option<&Identity>,
    variables: &apollo_compiler::response::JsonMap,
) -> Result<(Arc<Planned>, Vec<Value>), RequestError> {
    if planned.guards.is_empty() {
        return Ok((planned, Vec::new()));
    }
    // The hook decides every policy guard, skipped or not, so that the plan filtered for its
    // answer depends on the caller alone, never on the variables; it is not asked when the
    // variables skip every guarded selection (they are then denied, which removes nothing
    // the response shows).
    let selected =
        |g: &authorization::Guard| crate::planner::operation::holds(&g.conditions, variables);
    let allowed = match (&engine.edge.policy_hook, planned.policies.is_empty()) {
        (Some(hook), false) if identity.is_some() && planned.guards.iter().any(selected) => {
            hook.allowed(&planned.policies, identity.map(|i| &*i.claims))
                .await
        }
        _ => HashSet::new(),
    };
    let scopes: HashSet<&str> = identity.map(|i| i.scopes().collect()).unwrap_or_default();
    let caller = Caller {
        authenticated: identity.is_some(),
        scope: &|s| scopes.contains(s),
        policy: &|p| allowed.contains(p),
    };
    let denied = authorization::decide(&planned.guards, &caller);
    if !denied.contains(&true) {
        return Ok((planned, Vec::new()));
    }
    // Denied selections the request's variables skip are removed all the same, but reported
    // only when selected.
    let paths: Vec<_> = planned
        .guards
        .iter()
        .zip(&denied)
        .filter(|(g, d)| **d && crate::planner::operation::holds(&g.conditions, variables))
        .map(|(g, _)| g.path.clone())
        .collect();
    if engine.config.authorization.mode == AuthorizationMode::Reject && !paths.is_empty() {
        return Err(RequestError::Unauthorized {
            paths,
            authenticated: identity.is_some(),
        });
    }
    let errors = paths
        .iter()
        .map(|p| Value::from_serialize(&unauthorized_error(p)))
        .collect();
    Ok((filtered(engine, &planned, denied)?, errors))
}

/// The plan for `planned` without the `denied` selections (cached on `planned`). The response
/// is still shaped by the whole operation, so what was removed comes out as null.
fn filtered(
    engine: &Engine,
    planned: &Planned,
    denied: Vec<bool>,
) -> Result<Arc<Planned>, RequestError> {
    let mut cache = planned.filtered.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, hit)) = cache.iter().find(|(key, _)| *key == denied) {
        return Ok(hit.clone());
    }
    let operation = authorization::remove(&planned.operation, &planned.guards, &denied);
    let plan = if operation.selection.0.is_empty() {
        QueryPlan {
            root: None,
            unresolvable: Vec::new(),
            refused: Vec::new(),
        }
    } else {
        super::plan::plan_normalized(engine, &operation, &planned.labels)?
    };
    let out = Arc::new(Planned {
        operation: planned.operation.clone(),
        plan,
        introspection: planned.introspection.clone(),
        measure: planned.measure,
        response_size: Default::default(),
        guards: Vec::new(),
        policies: Vec::new(),
        filtered: Default::default(),
        withheld: authorization::withheld(&planned.operation, &planned.guards, &denied),
        labels: planned.labels.clone(),
    });
    if cache.len() >= FILTERED_PLANS {
        cache.clear();
    }
    cache.push((denied, out.clone()));
    Ok(out)
}
