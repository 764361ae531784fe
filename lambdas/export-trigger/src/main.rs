//! Lambda entry point of export-trigger: JSON logs, the configuration from the environment
//! (checked before any AWS call: a missing variable ends the process with one line naming
//! it), then the library's runtime loop.

use std::process::ExitCode;

use export_trigger::Config;

#[tokio::main]
async fn main() -> ExitCode {
    liberator_lambda_common::logging::init();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(error = %e, "export-trigger: invalid configuration");
            return ExitCode::FAILURE;
        }
    };
    match export_trigger::runtime::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "export-trigger: Lambda runtime failed");
            ExitCode::FAILURE
        }
    }
}
