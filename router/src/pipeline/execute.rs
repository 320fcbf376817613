//! Step 4: run the plan, answer introspection from the API schema, and shape the response.

use apollo_compiler::executable::Operation as ExecutableOperation;
use apollo_compiler::response::JsonMap;
use http::HeaderMap;

use super::Engine;
use super::request::RequestError;
use crate::executor::{self, shape};
use crate::json::Value;

/// A GraphQL response: `data` already as JSON text, written after the opening of the
/// response body so that encoding it copies nothing.
#[derive(Debug)]
pub struct Response {
    /// `{"data":` and the data.
    body: Vec<u8>,
    pub errors: Vec<Value>,
    /// What the subgraphs' responses give the client's response (header rules, the merged
    /// `Cache-Control`).
    pub headers: HeaderMap,
}

/// The most a response buffer reserves ahead from the size of the last response.
const MAX_SIZE_HINT: usize = 1 << 20;

/// What every response body starts with.
const OPENING: &[u8] = b"{\"data\":";

impl Response {
    /// A buffer to write the data into, with room for `capacity` bytes of it.
    pub fn buffer(capacity: usize) -> Vec<u8> {
        let mut body = Vec::with_capacity(OPENING.len() + capacity + 64);
        body.extend_from_slice(OPENING);
        body
    }

    /// A response whose data a shaper wrote into a [`Response::buffer`].
    pub fn written(body: Vec<u8>, errors: Vec<Value>) -> Self {
        debug_assert!(body.starts_with(OPENING));
        Self {
            body,
            errors,
            headers: HeaderMap::new(),
        }
    }

    /// A response with `data` as given.
    pub fn new(data: &[u8], errors: Vec<Value>) -> Self {
        let mut body = Self::buffer(data.len());
        body.extend_from_slice(data);
        Self {
            body,
            errors,
            headers: HeaderMap::new(),
        }
    }

    /// The data's JSON text.
    pub fn data(&self) -> &[u8] {
        &self.body[OPENING.len()..]
    }

    /// `{"data":…,"errors":[…],"extensions":{…}}`, with the plan in `extensions` when given.
    pub fn encode(self, plan: Option<&crate::planner::QueryPlan>) -> Vec<u8> {
        let mut body = self.body;
        if !self.errors.is_empty() {
            body.extend_from_slice(b",\"errors\":");
            let _ = serde_json::to_writer(&mut body, &self.errors);
        }
        if let Some(plan) = plan {
            body.extend_from_slice(b",\"extensions\":{\"queryPlan\":");
            let _ = serde_json::to_writer(&mut body, plan);
            body.extend_from_slice(b",\"queryPlanText\":");
            let _ = serde_json::to_writer(&mut body, &plan.to_string());
            body.push(b'}');
        }
        body.push(b'}');
        body
    }
}

/// Executes a prepared operation; its `errors` hold what the response reports already
/// (authorization).
pub async fn execute(engine: &Engine, prepared: super::Prepared) -> Result<Response, RequestError> {
    let super::Prepared {
        document,
        operation,
        variables,
        planned,
        mut errors,
        headers,
        personal,
        supplied: _,
    } = prepared;
    let (planned, document, variables, headers) = (&*planned, &*document, &variables, &headers);
    let operation: &ExecutableOperation = &operation;
    let introspects = planned
        .introspection
        .iter()
        .any(|conditions| crate::planner::operation::holds(conditions, variables));
    let introspection = if introspects {
        if !engine.config.introspection.enabled {
            return Err(RequestError::IntrospectionDisabled);
        }
        apollo_compiler::introspection::check_max_depth(document, operation)
            .map_err(|e| RequestError::Validation(vec![message(&e.message().to_string())]))?;
        let response = crate::introspection::execute(
            &engine.supergraph.api,
            &engine.implementers,
            document,
            operation,
            variables,
        )
        .map_err(|e| RequestError::Validation(vec![message(&e.message().to_string())]))?;
        errors.extend(response.errors.iter().map(Value::from_serialize));
        response.data
    } else {
        None
    };
    let mut output = engine
        .executor
        .execute(executor::Request {
            plan: &planned.plan,
            graph: &engine.graph,
            variables,
            headers,
            rules: engine.headers.reads_responses().then_some(&engine.headers),
            personal,
        })
        .await;
    if !planned.plan.unresolvable.is_empty() {
        unresolvable_errors(
            &engine.graph,
            &planned.plan,
            variables,
            &output.data,
            &mut output.errors,
        );
    }
    planned.operation.client_error_paths(&mut output.errors);
    errors.extend(output.errors);
    // Room for as much as this operation answered last time: the response is written once,
    // without growing.
    let hint = planned
        .response_size
        .load(std::sync::atomic::Ordering::Relaxed);
    let body = shape::shape_into(
        Response::buffer(hint.clamp(4096, MAX_SIZE_HINT)),
        &engine.supergraph.api,
        &engine.graph,
        shape::Selected {
            operation: &planned.operation,
            withheld: &planned.withheld,
            variables,
        },
        &output.data,
        introspection.as_ref(),
        &mut errors,
    );
    planned
        .response_size
        .store(body.len(), std::sync::atomic::Ordering::Relaxed);
    let mut response = Response::written(body, errors);
    response.headers = output.headers;
    Ok(response)
}

/// A field error at every place the plan could not resolve a field: each object of the
/// field's parent type at the field's path, list indexes included. The field stays null.
pub(crate) fn unresolvable_errors(
    graph: &crate::planner::Graph,
    plan: &crate::planner::QueryPlan,
    variables: &apollo_compiler::response::JsonMap,
    data: &Value,
    errors: &mut Vec<Value>,
) {
    use crate::json::Map;
    for field in &plan.unresolvable {
        if !crate::planner::operation::holds(&field.conditions, variables) {
            continue;
        }
        let paths = executor::merge::collect_paths(data, &field.path);
        let mut objects = Vec::with_capacity(paths.len());
        executor::merge::for_each_object(data, &field.path, &mut |object| objects.push(object));
        for (path, object) in paths.into_iter().zip(objects) {
            let applies = object
                .get("__typename")
                .and_then(Value::as_str)
                .is_none_or(|t| {
                    t == field.parent_type
                        || graph
                            .possible_types(&field.parent_type)
                            .iter()
                            .any(|p| p == t)
                });
            if !applies {
                continue;
            }
            let mut at: Vec<Value> = path.iter().map(executor::merge::Step::to_json).collect();
            at.push(Value::String(field.key.as_str().into()));
            let mut extensions = Map::new();
            extensions.insert("code", Value::String("UNRESOLVABLE_FIELD".into()));
            let mut error = Map::new();
            error.insert(
                "message",
                Value::String(
                    format!(
                        "no subgraph can resolve {}.{} here",
                        field.parent_type, field.field
                    )
                    .as_str()
                    .into(),
                ),
            );
            error.insert("path", Value::Array(at));
            error.insert("extensions", Value::Object(extensions));
            errors.push(Value::Object(error));
        }
    }
}

fn message(text: &str) -> apollo_compiler::response::JsonValue {
    use apollo_compiler::response::JsonValue;
    let mut map = JsonMap::new();
    map.insert("message", JsonValue::String(text.into()));
    JsonValue::Object(map)
}
