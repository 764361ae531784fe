//! Lambda entry point of export-trigger: JSON logs, the configuration from the environment
//! (checked before any AWS call: a missing variable ends the process with one line naming
//! it), then the library's runtime loop.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    liberator_lambda_common::main_loop::serve(
        "export-trigger",
        export_trigger::Config::from_env,
        export_trigger::runtime::run,
    )
    .await
}
