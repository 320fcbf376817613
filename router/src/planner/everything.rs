//! Operations that select everything, for tests and benchmarks.

use apollo_compiler::schema::ExtendedType;

/// A selection set of every field of `ty`, recursively to `depth`, with placeholder values
/// for required arguments; unions get a fragment per member. Tests and benchmarks plan it to
/// cover a whole supergraph.
pub fn everything(api: &apollo_compiler::Schema, ty: &str, depth: usize) -> String {
    if depth == 0 {
        return "{ __typename }".to_owned();
    }
    let fields: Vec<(
        &apollo_compiler::Name,
        &apollo_compiler::schema::FieldDefinition,
    )> = match api.types.get(ty) {
        Some(ExtendedType::Object(o)) => o.fields.iter().map(|(n, f)| (n, &***f)).collect(),
        Some(ExtendedType::Interface(i)) => i.fields.iter().map(|(n, f)| (n, &***f)).collect(),
        Some(ExtendedType::Union(u)) => {
            let parts: Vec<String> = u
                .members
                .iter()
                .map(|m| format!("... on {} {}", m.name, everything(api, &m.name, depth)))
                .collect();
            return format!("{{ __typename {} }}", parts.join(" "));
        }
        _ => return String::new(),
    };
    let mut out = String::from("{ __typename");
    for (name, field) in fields {
        if name.starts_with("__") {
            continue;
        }
        let args: Vec<String> = field
            .arguments
            .iter()
            .filter(|a| a.ty.is_non_null() && a.default_value.is_none())
            .map(|a| format!("{}: {}", a.name, placeholder(api, &a.ty)))
            .collect();
        out.push(' ');
        out.push_str(name);
        if !args.is_empty() {
            out.push_str(&format!("({})", args.join(", ")));
        }
        let inner = field.ty.inner_named_type();
        if matches!(
            api.types.get(inner),
            Some(ExtendedType::Object(_) | ExtendedType::Interface(_) | ExtendedType::Union(_))
        ) {
            out.push(' ');
            out.push_str(&everything(api, inner, depth - 1));
        }
    }
    out.push_str(" }");
    out
}

fn placeholder(api: &apollo_compiler::Schema, ty: &apollo_compiler::ast::Type) -> String {
    if ty.is_list() {
        return "[]".to_owned();
    }
    match api.types.get(ty.inner_named_type()) {
        Some(ExtendedType::Enum(e)) => e
            .values
            .keys()
            .next()
            .map(|v| v.to_string())
            .unwrap_or_default(),
        Some(ExtendedType::InputObject(input)) => {
            let fields: Vec<String> = input
                .fields
                .iter()
                .filter(|(_, f)| f.ty.is_non_null() && f.default_value.is_none())
                .map(|(n, f)| format!("{n}: {}", placeholder(api, &f.ty)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        _ => match ty.inner_named_type().as_str() {
            "Int" => "1".to_owned(),
            "Float" => "1.5".to_owned(),
            "Boolean" => "true".to_owned(),
            _ => "\"x\"".to_owned(),
        },
    }
}
