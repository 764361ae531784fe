//! Lambda entry point of export-trigger: JSON logs, the configuration from the environment
//! (checked before any AWS call: a missing variable ends the process with one line naming
//! it), then the library's runtime loop.

use std::process::ExitCode;

// One thread: an invocation is a short chain of RDS calls, one after another, so worker
// threads (one per visible CPU, spawned before the first event) would only delay start-up.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    liberator_lambda_common::main_loop::serve(
        "export-trigger",
        export_trigger::Config::from_env,
        export_trigger::runtime::run,
    )
    .await
}
