//! Composition checks beyond what the composition library reports.

use std::collections::{BTreeMap, BTreeSet};

use async_graphql_parser::types::{TypeKind, TypeSystemDefinition};

use super::SubgraphSdl;

/// Fields each subgraph defines (`Type.field`), and its `@override(from:)` uses.
struct Inventory {
    fields: BTreeSet<String>,
    overrides: Vec<(String, String)>,
}

fn inventory(sdl: &str) -> Option<Inventory> {
    let document = async_graphql_parser::parse_schema(sdl).ok()?;
    let mut inventory = Inventory {
        fields: BTreeSet::new(),
        overrides: Vec::new(),
    };
    for definition in document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let ty = ty.node;
        let fields = match &ty.kind {
            TypeKind::Object(object) => &object.fields,
            TypeKind::Interface(interface) => &interface.fields,
            _ => continue,
        };
        for field in fields {
            let coordinate = format!("{}.{}", ty.name.node, field.node.name.node);
            for directive in &field.node.directives {
                if directive.node.name.node != "override" {
                    continue;
                }
                if let Some(from) = directive.node.get_argument("from")
                    && let async_graphql_value::ConstValue::String(from) = &from.node
                {
                    inventory.overrides.push((coordinate.clone(), from.clone()));
                }
            }
            inventory.fields.insert(coordinate);
        }
    }
    Some(inventory)
}

/// `@override(from: "x")` must name another subgraph of the set that defines the same field.
pub(super) fn overrides(subgraphs: &[SubgraphSdl]) -> Vec<String> {
    let inventories: BTreeMap<&str, Inventory> = subgraphs
        .iter()
        .filter_map(|s| Some((s.name.as_str(), inventory(&s.sdl)?)))
        .collect();
    let mut errors = Vec::new();
    for (name, inventory) in &inventories {
        for (coordinate, from) in &inventory.overrides {
            match inventories.get(from.as_str()) {
                None => errors.push(format!(
                    "[{name}] @override on {coordinate} names subgraph \"{from}\", which is not part of the composition"
                )),
                Some(_) if from == name => errors.push(format!(
                    "[{name}] @override on {coordinate} names its own subgraph as the source"
                )),
                Some(source) if !source.fields.contains(coordinate) => errors.push(format!(
                    "[{name}] @override on {coordinate} takes the field from \"{from}\", which does not define {coordinate}"
                )),
                Some(_) => {}
            }
        }
    }
    errors
}
