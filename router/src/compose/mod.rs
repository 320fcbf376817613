//! Composition: subgraph SDLs → a Federation v2 supergraph SDL (`@link` to the link, join and
//! inaccessible specs, `join__Graph`, `join__type`, `join__field`, `join__implements`,
//! `join__unionMember`, `join__enumValue`), the format standard composition produces.
//!
//! The composition rules themselves come from the `graphql-composition` crate (see
//! docs/adr/0005); this module owns the inputs, the error report, the checks that crate leaves
//! out ([`checks`]) and the output.

mod checks;
pub mod sources;

use std::fmt;

/// One subgraph to compose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubgraphSdl {
    /// The subgraph's name (becomes its `join__Graph` value).
    pub name: String,
    /// Where the router reaches it.
    pub url: String,
    /// Its Federation v2 SDL, as `_service { sdl }` returns it.
    pub sdl: String,
}

/// Why composition failed: one readable line per problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompositionError {
    pub errors: Vec<String>,
}

impl fmt::Display for CompositionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "error: {error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CompositionError {}

/// Composes `subgraphs` into a supergraph SDL.
pub fn compose(subgraphs: &[SubgraphSdl]) -> Result<String, CompositionError> {
    let mut input = graphql_composition::Subgraphs::default();
    let mut errors = Vec::new();
    for subgraph in subgraphs {
        if let Err(err) = input.ingest_str(&subgraph.sdl, &subgraph.name, Some(&subgraph.url)) {
            errors.push(format!(
                "[{}] the SDL does not parse: {}",
                subgraph.name,
                one_line(&err.to_string())
            ));
        }
    }
    errors.extend(checks::overrides(subgraphs));
    if !errors.is_empty() {
        return Err(CompositionError { errors });
    }
    let result = graphql_composition::compose(&mut input);
    let graph = result
        .into_result()
        .map_err(|diagnostics| CompositionError {
            errors: diagnostics.iter_errors().map(one_line).collect(),
        })?;
    let rendered =
        graphql_composition::render_federated_sdl(&graph).map_err(|err| CompositionError {
            errors: vec![format!("cannot render the supergraph: {err}")],
        })?;
    Ok(join_root_types(&standardize(&rendered)))
}

/// The definitions of the link v1.0, join v0.3 (with the progressive-override arguments of
/// later join versions) and inaccessible v0.2 elements, as the specifications declare them:
/// the join directives other than `@join__graph` are repeatable.
const SPEC_DEFINITIONS: &str = r#"directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA

directive @inaccessible on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION

directive @join__enumValue(graph: join__Graph!) repeatable on ENUM_VALUE

directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String, external: Boolean, override: String, overrideLabel: String, usedOverridden: Boolean) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION

directive @join__graph(name: String!, url: String!) on ENUM_VALUE

directive @join__implements(graph: join__Graph!, interface: String!) repeatable on OBJECT | INTERFACE

directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR

directive @join__unionMember(graph: join__Graph!, member: String!) repeatable on UNION

scalar join__FieldSet

scalar link__Import

enum link__Purpose {
  """Metadata needed to resolve fields securely."""
  SECURITY
  """Metadata needed to execute operations."""
  EXECUTION
}
"#;

/// The authorization specifications: (link, definitions), added when the supergraph uses the
/// directive. The library writes the directives but neither links nor declares them.
const SECURITY_SPECS: [(&str, &str, &str); 3] = [
    (
        "@authenticated",
        r#"@link(url: "https://specs.apollo.dev/authenticated/v0.1", import: ["@authenticated"], for: SECURITY)"#,
        "directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM\n",
    ),
    (
        "@requiresScopes(",
        r#"@link(url: "https://specs.apollo.dev/requiresScopes/v0.1", import: ["@requiresScopes"], for: SECURITY)"#,
        "directive @requiresScopes(scopes: [[requiresScopes__Scope!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM\n\nscalar requiresScopes__Scope\n",
    ),
    (
        "@policy(",
        r#"@link(url: "https://specs.apollo.dev/policy/v0.1", import: ["@policy"], for: SECURITY)"#,
        "directive @policy(policies: [[policy__Policy!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM\n\nscalar policy__Policy\n",
    ),
];

/// The GraphQL specification's `@oneOf`, which the library keeps on input objects but does not
/// declare; parsers that do not build it in (apollo-compiler among them) need the definition.
const ONE_OF_DEFINITION: &str = "directive @oneOf on INPUT_OBJECT\n";

/// Replaces the library's own declarations of the join elements with the specifications'
/// (the library leaves out `repeatable` and the link elements, which standard routers check),
/// links and declares the authorization directives it uses, and declares `@oneOf` when used.
fn standardize(rendered: &str) -> String {
    let one_of = rendered.contains("@oneOf") && !rendered.contains("directive @oneOf");
    let used: Vec<_> = SECURITY_SPECS
        .iter()
        .filter(|(usage, _, _)| rendered.contains(usage))
        .collect();
    let mut out = String::with_capacity(rendered.len() + SPEC_DEFINITIONS.len());
    let mut in_schema_block = false;
    let mut inserted = false;
    let mut previous_blank = false;
    for line in rendered.lines() {
        if line.starts_with("directive @join__") || line == "scalar join__FieldSet" {
            continue;
        }
        let blank = line.trim().is_empty();
        if blank && previous_blank {
            continue;
        }
        previous_blank = blank;
        out.push_str(line);
        out.push('\n');
        if line.contains("specs.apollo.dev/inaccessible/") {
            for (_, link, _) in &used {
                out.push_str("  ");
                out.push_str(link);
                out.push('\n');
            }
        }
        if line.starts_with("schema") {
            in_schema_block = true;
        } else if in_schema_block && line == "}" && !inserted {
            out.push('\n');
            out.push_str(SPEC_DEFINITIONS);
            for (_, _, definitions) in &used {
                out.push('\n');
                out.push_str(definitions);
            }
            if one_of {
                out.push('\n');
                out.push_str(ONE_OF_DEFINITION);
            }
            inserted = true;
            in_schema_block = false;
            previous_blank = false;
        }
    }
    out
}

/// Root operation types carry `@join__type` for each subgraph that contributes to them, as in
/// standard supergraphs (planners use it to find the entry points): `Query` for every subgraph,
/// `Mutation` and `Subscription` for those owning one of their fields. The library leaves these
/// out.
fn join_root_types(sdl: &str) -> String {
    let graphs: Vec<&str> = enum_values(sdl, "enum join__Graph");
    let lines: Vec<&str> = sdl.lines().collect();
    let mut out = String::with_capacity(sdl.len() + 256);
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        out.push_str(line);
        out.push('\n');
        let root = ["type Query", "type Mutation", "type Subscription"]
            .iter()
            .find(|t| line == **t);
        if let Some(root) = root {
            let header_end = lines[i + 1..]
                .iter()
                .position(|l| *l == "{")
                .map(|p| i + 1 + p);
            let body_end =
                header_end.and_then(|h| lines[h..].iter().position(|l| *l == "}").map(|p| h + p));
            if let (Some(h), Some(b)) = (header_end, body_end) {
                let annotated = lines[i + 1..h].iter().any(|l| l.contains("@join__type"));
                if !annotated {
                    let owners: Vec<&str> = if *root == "type Query" {
                        graphs.clone()
                    } else {
                        graphs
                            .iter()
                            .copied()
                            .filter(|g| {
                                lines[h..b]
                                    .iter()
                                    .any(|l| l.contains(&format!("@join__field(graph: {g}")))
                            })
                            .collect()
                    };
                    for graph in owners {
                        out.push_str(&format!("  @join__type(graph: {graph})\n"));
                    }
                }
            }
        }
        i += 1;
    }
    out
}

/// The value names of the enum whose definition starts with `header`.
fn enum_values<'a>(sdl: &'a str, header: &str) -> Vec<&'a str> {
    let mut lines = sdl.lines().skip_while(|l| !l.starts_with(header));
    if lines.next().is_none() {
        return Vec::new();
    }
    lines
        .skip_while(|l| l.trim() != "{")
        .skip(1)
        .take_while(|l| l.trim() != "}")
        .filter_map(|l| l.split_whitespace().next())
        .filter(|v| !v.starts_with('"') && !v.starts_with('@'))
        .collect()
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}
