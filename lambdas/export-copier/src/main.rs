//! Lambda entry point of export-copier: JSON logs, the configuration from the environment
//! (checked before any AWS call: a missing variable ends the process with one line naming
//! it), then the library's runtime loop.

// The handler's future nests the engine's governed store calls several layers deep; the
// compiler's default query depth (128) is not enough to lay it out.
#![recursion_limit = "256"]

use std::process::ExitCode;

use export_copier::Config;

#[tokio::main]
async fn main() -> ExitCode {
    liberator_lambda_common::logging::init();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(error = %e, "export-copier: invalid configuration");
            return ExitCode::FAILURE;
        }
    };
    match export_copier::runtime::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "export-copier: Lambda runtime failed");
            ExitCode::FAILURE
        }
    }
}
