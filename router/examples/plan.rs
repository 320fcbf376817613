//! Prints the query plan the router makes for an operation, without running anything.
//!
//!     cargo run -p tessera-router --example plan -- SUPERGRAPH [OPERATION_FILE]
//!
//! The operation is read from OPERATION_FILE, or from standard input when it is missing or `-`.
//! The plan is printed in the text form of the `x-tessera-query-plan` header.

use std::io::{Read, Write};
use std::process::ExitCode;

use apollo_compiler::ExecutableDocument;
use tessera_router::planner::{self, Graph, operation};
use tessera_router::supergraph::Supergraph;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(supergraph_path) = args.next() else {
        let _ = writeln!(std::io::stderr(), "usage: plan SUPERGRAPH [OPERATION_FILE]");
        return ExitCode::from(2);
    };
    match run(&supergraph_path, args.next().as_deref()) {
        Ok(text) => match writeln!(std::io::stdout(), "{text}") {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        },
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "plan: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(supergraph_path: &str, operation_path: Option<&str>) -> Result<String, String> {
    let sdl = std::fs::read_to_string(supergraph_path)
        .map_err(|e| format!("reading {supergraph_path}: {e}"))?;
    let query = match operation_path {
        None | Some("-") => {
            let mut query = String::new();
            std::io::stdin()
                .read_to_string(&mut query)
                .map_err(|e| format!("reading the operation: {e}"))?;
            query
        }
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))?,
    };
    let supergraph = Supergraph::parse(&sdl).map_err(|e| format!("loading the supergraph: {e}"))?;
    let graph = Graph::new(&supergraph).map_err(|e| format!("reading the supergraph: {e}"))?;
    let document =
        ExecutableDocument::parse_and_validate(&supergraph.api, &query, "operation.graphql")
            .map_err(|e| format!("invalid operation:\n{}", e.errors))?;
    let op = document
        .operations
        .get(None)
        .map_err(|_| "the document must hold exactly one operation".to_string())?;
    let normalized = operation::normalize(&supergraph.schema, &document, op);
    let plan = planner::plan(&graph, &supergraph.schema, &normalized).map_err(|e| e.to_string())?;
    Ok(plan.to_string())
}
