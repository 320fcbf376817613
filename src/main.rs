//! The `tessera` binary: parse arguments, start the chosen role.

use clap::Parser as _;

// The router allocates many small, short-lived values per request (JSON trees, selection
// sets); mimalloc handles that pattern markedly faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    tessera::cli::Cli::parse().run()
}
