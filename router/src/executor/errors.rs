//! The errors of subgraph fetches as the client's response reports them: subgraph errors
//! with their paths mapped into the client's response and the subgraph named, and the
//! router's own errors for fetches that failed.
//!
//! A failed `_entities` fetch (transport, status, unreadable response) is reported once per
//! object it stood for, at that object's path, and so is an error the subgraph returned
//! without a path among the entities. A failed root fetch is one error, at its root field
//! when it fetched one, else without a path.

use crate::json::{Map, Str, Value};

use super::FetchError;
use super::merge::Step;
use crate::planner::FetchNode;

/// A root fetch's errors as the client's response reports them (paths kept, the subgraph
/// named in `extensions.service`).
pub fn root_errors(errors: Vec<Value>, service: &str) -> Vec<Value> {
    errors
        .into_iter()
        .flat_map(|e| subgraph_error(e, service, root_path))
        .collect()
}

/// A root fetch's error path is the client's: kept as it is.
pub(super) fn root_path(path: Option<&[Value]>) -> Vec<Vec<Value>> {
    path.map(|p| vec![p.to_vec()]).unwrap_or_default()
}

/// `_entities.<i>.rest` → `rest` under every object representation `i` stands for; `None`
/// when the path does not name an entity of the fetch.
pub(super) fn entity_paths(path: &[Value], targets: &[Vec<Vec<Step>>]) -> Option<Vec<Vec<Value>>> {
    let (Value::String(first), rest) = path.split_first()? else {
        return None;
    };
    if first.as_str() != "_entities" {
        return None;
    }
    let (index, rest) = rest.split_first()?;
    let objects = targets.get(usize::try_from(index.as_u64()?).ok()?)?;
    let mapped: Vec<Vec<Value>> = objects
        .iter()
        .map(|p| {
            let mut full: Vec<Value> = p.iter().map(Step::to_json).collect();
            full.extend(rest.iter().cloned());
            full
        })
        .collect();
    (!mapped.is_empty()).then_some(mapped)
}

/// The response keys of a root fetch's fields, as the client's response has them. Read
/// only once a root fetch has failed, so the operation text is parsed off the usual path.
pub(super) fn root_keys(fetch: &FetchNode) -> Vec<Str> {
    fn collect(selections: &[apollo_compiler::ast::Selection], out: &mut Map) {
        for selection in selections {
            match selection {
                apollo_compiler::ast::Selection::Field(field) => {
                    let key = field.alias.as_ref().unwrap_or(&field.name);
                    if !key.starts_with("__") && out.get(key.as_str()).is_none() {
                        out.push(key.as_str(), Value::Null);
                    }
                }
                apollo_compiler::ast::Selection::InlineFragment(fragment) => {
                    collect(&fragment.selection_set, out);
                }
                apollo_compiler::ast::Selection::FragmentSpread(_) => {}
            }
        }
    }
    let Ok(document) = apollo_compiler::ast::Document::parse(fetch.operation.as_str(), "fetch")
    else {
        return Vec::new();
    };
    let mut keys = Map::new();
    for definition in &document.definitions {
        if let apollo_compiler::ast::Definition::OperationDefinition(operation) = definition {
            collect(&operation.selection_set, &mut keys);
        }
    }
    let mut keys = Value::Object(keys);
    if fetch.renames {
        crate::planner::rename_back(&mut keys);
    }
    match keys {
        Value::Object(map) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// A subgraph's error, with its path mapped into the client's response (one copy per path
/// `map_path` gives; none: no path) and the subgraph named in its extensions.
pub(super) fn subgraph_error(
    error: Value,
    service: &str,
    map_path: impl Fn(Option<&[Value]>) -> Vec<Vec<Value>>,
) -> Vec<Value> {
    let Value::Object(mut error) = error else {
        return vec![invalid_error(service)];
    };
    let message = match error.remove("message") {
        Some(Value::String(m)) => Value::String(m),
        _ => return vec![invalid_error(service)],
    };
    let mut extensions = match error.remove("extensions") {
        Some(Value::Object(e)) => e,
        _ => Map::new(),
    };
    extensions.insert("service", Value::String(service.into()));
    let paths: Vec<Option<Vec<Value>>> = match error.remove("path") {
        Some(Value::Array(path)) => map_path(Some(&path)),
        _ => map_path(None),
    }
    .into_iter()
    .map(Some)
    .collect();
    let paths = if paths.is_empty() { vec![None] } else { paths };
    paths
        .into_iter()
        .map(|path| {
            let mut out = Map::new();
            out.insert("message", message.clone());
            if let Some(path) = path {
                out.insert("path", Value::Array(path));
            }
            out.insert("extensions", Value::Object(extensions.clone()));
            Value::Object(out)
        })
        .collect()
}

fn invalid_error(service: &str) -> Value {
    error_value(
        &format!("subgraph {service} returned a malformed error"),
        "SUBGRAPH_RESPONSE_INVALID",
        Some(service),
        None,
    )
}

pub(super) fn fetch_error(error: &FetchError, service: &str, path: Option<&[Step]>) -> Value {
    error_value(&error.to_string(), error.code(), Some(service), path)
}

/// A router-made error object.
pub fn error_value(
    message: &str,
    code: &str,
    service: Option<&str>,
    path: Option<&[Step]>,
) -> Value {
    let mut extensions = Map::new();
    extensions.insert("code", Value::String(code.into()));
    if let Some(service) = service {
        extensions.insert("service", Value::String(service.into()));
    }
    let mut out = Map::new();
    out.insert("message", Value::String(message.into()));
    if let Some(path) = path {
        out.insert(
            "path",
            Value::Array(path.iter().map(Step::to_json).collect()),
        );
    }
    out.insert("extensions", Value::Object(extensions));
    Value::Object(out)
}
