//! The one `main` of both Lambda binaries: JSON logs, the configuration from the
//! environment, then the runtime loop.
//!
//! The configuration is read before any AWS call, so a missing or malformed variable ends
//! the process at once with one log line naming it, before the AWS SDK could look for a
//! region or credentials (and print its own warnings about them).

use std::fmt::Display;
use std::future::Future;
use std::process::ExitCode;

/// Sets up logging, reads the configuration with `config`, and runs `run` with it;
/// `function` names the binary in the two log lines that can end it.
pub async fn serve<C, E, R, F>(
    function: &str,
    config: impl FnOnce() -> Result<C, E>,
    run: impl FnOnce(C) -> F,
) -> ExitCode
where
    E: Display,
    R: Display,
    F: Future<Output = Result<(), R>>,
{
    crate::logging::init();
    let config = match config() {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(error = %e, "{function}: invalid configuration");
            return ExitCode::FAILURE;
        }
    };
    match run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "{function}: Lambda runtime failed");
            ExitCode::FAILURE
        }
    }
}
