//! Reading a Federation v2 supergraph: the `@link`ed specifications it uses, the subgraphs
//! (`join__Graph`), which subgraphs define each type and field (`join__type`, `join__field`,
//! `join__implements`, `join__unionMember`), and the API schema clients see.
//!
//! - [`links`]: which specifications the supergraph links, and whether this router supports them.
//! - [`model`]: the join information, per type and field.
//! - [`api`]: the API schema (join, link and inaccessible elements removed).
//!
//! The GraphQL specification's `@oneOf` (OneOf input objects) is built in, as in graphql-js:
//! apollo-compiler does not know it yet, so a supergraph that uses it without declaring it
//! gets its definition here, and every API schema lists it.

pub mod api;
pub mod links;
pub mod model;

use apollo_compiler::schema::{DirectiveDefinition, DirectiveLocation};
use apollo_compiler::validation::Valid;
use apollo_compiler::{Node, Schema, name};

pub use model::{FieldJoin, Subgraph, TypeJoin};

/// Why a supergraph cannot be served. The message names the problem.
#[derive(Debug, thiserror::Error)]
pub enum SupergraphError {
    #[error("the supergraph is not a valid GraphQL schema:\n{0}")]
    Invalid(String),
    #[error("the supergraph does not link the {0} specification")]
    MissingSpec(&'static str),
    #[error("the supergraph links {url}, which this router does not support ({reason})")]
    UnsupportedSpec { url: String, reason: String },
    #[error("the supergraph is malformed: {0}")]
    Malformed(String),
}

/// A supergraph ready for planning.
#[derive(Debug)]
pub struct Supergraph {
    /// The whole supergraph schema, join elements included.
    pub schema: Valid<Schema>,
    /// What clients see.
    pub api: Valid<Schema>,
    /// The join information.
    pub joins: model::Joins,
    /// The specifications it links.
    pub links: links::Links,
    /// Whether the API schema has a OneOf input object: only then do variable values need
    /// walking for the OneOf rules, so requests to any other supergraph skip the walk.
    pub has_one_of: bool,
}

impl Supergraph {
    /// Parses, validates and reads `sdl`.
    pub fn parse(sdl: &str) -> Result<Self, SupergraphError> {
        let invalid = |errors: apollo_compiler::validation::DiagnosticList| {
            SupergraphError::Invalid(errors.to_string())
        };
        let mut schema = Schema::parse(sdl, "supergraph.graphql")
            .map_err(|invalid_sdl| invalid(invalid_sdl.errors))?;
        declare_one_of(&mut schema);
        let schema = schema.validate().map_err(|e| invalid(e.errors))?;
        let links = links::read(&schema)?;
        let joins = model::read(&schema, &links)?;
        let api = api::derive(&schema, &links)?;
        let has_one_of = check_one_of_types(&api)?;
        Ok(Self {
            schema,
            api,
            joins,
            links,
            has_one_of,
        })
    }
}

/// The type-system rules of OneOf input objects, which apollo-compiler does not check: every
/// field nullable and without a default (a client gives exactly one, so no field can be
/// required, and a default would give a second). Returns whether there is any OneOf input.
fn check_one_of_types(api: &Schema) -> Result<bool, SupergraphError> {
    let mut any = false;
    for ty in api.types.values() {
        let apollo_compiler::schema::ExtendedType::InputObject(input) = ty else {
            continue;
        };
        if !crate::validation::one_of::is_one_of(input) {
            continue;
        }
        any = true;
        for (name, field) in &input.fields {
            if field.ty.is_non_null() {
                return Err(SupergraphError::Malformed(format!(
                    "the OneOf input {}.{name} must be nullable",
                    input.name
                )));
            }
            if field.default_value.is_some() {
                return Err(SupergraphError::Malformed(format!(
                    "the OneOf input {}.{name} must have no default value",
                    input.name
                )));
            }
        }
    }
    Ok(any)
}

/// Declares `directive @oneOf on INPUT_OBJECT` unless `schema` declares a `@oneOf` itself.
fn declare_one_of(schema: &mut Schema) {
    schema
        .directive_definitions
        .entry(name!("oneOf"))
        .or_insert_with(|| {
            Node::new(DirectiveDefinition {
                description: Some(
                    "The input object takes exactly one of its fields, and its value must not \
                     be null."
                        .into(),
                ),
                name: name!("oneOf"),
                arguments: Vec::new(),
                repeatable: false,
                locations: vec![DirectiveLocation::InputObject],
            })
        });
}
