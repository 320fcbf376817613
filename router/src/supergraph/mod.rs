//! Reading a Federation v2 supergraph: the `@link`ed specifications it uses, the subgraphs
//! (`join__Graph`), which subgraphs define each type and field (`join__type`, `join__field`,
//! `join__implements`, `join__unionMember`), and the API schema clients see.
//!
//! - [`links`]: which specifications the supergraph links, and whether this router supports them.
//! - [`model`]: the join information, per type and field.
//! - [`api`]: the API schema (join, link and inaccessible elements removed).

pub mod api;
pub mod links;
pub mod model;

use apollo_compiler::Schema;
use apollo_compiler::validation::Valid;

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
}

impl Supergraph {
    /// Parses, validates and reads `sdl`.
    pub fn parse(sdl: &str) -> Result<Self, SupergraphError> {
        let schema = Schema::parse_and_validate(sdl, "supergraph.graphql")
            .map_err(|invalid| SupergraphError::Invalid(invalid.errors.to_string()))?;
        let links = links::read(&schema)?;
        let joins = model::read(&schema, &links)?;
        let api = api::derive(&schema, &links)?;
        Ok(Self {
            schema,
            api,
            joins,
            links,
        })
    }
}
