//! `engine`: land RDS Parquet exports in the landing zone (see the README). Parses the
//! command line and hands it to [`liberator_cli::run`].

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: the SDK allocates per request, and glibc's malloc/free were a quarter of the
/// engine's client CPU per object (profile in benches/RESULTS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    liberator_cli::run(liberator_cli::Cli::parse()).await
}
