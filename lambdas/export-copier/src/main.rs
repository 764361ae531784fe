//! Lambda entry point of export-copier: JSON logs, the configuration from the environment
//! (checked before any AWS call: a missing variable ends the process with one line naming
//! it), then the library's runtime loop.

// The handler's future nests the engine's governed store calls several layers deep; the
// compiler's default query depth (128) is not enough to lay it out.
#![recursion_limit = "256"]

use std::process::ExitCode;

/// mimalloc, as in the `engine` binary: the copy path allocates per S3 request, and on a
/// 1-vCPU Lambda the client's CPU per object sets the rate (glibc's malloc/free were a
/// quarter of it, benches/RESULTS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    liberator_lambda_common::main_loop::serve(
        "export-copier",
        export_copier::Config::from_env,
        export_copier::runtime::run,
    )
    .await
}
