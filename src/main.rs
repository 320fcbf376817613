//! The `tessera` binary: parse arguments, start the chosen role.

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    tessera::cli::Cli::parse().run()
}
