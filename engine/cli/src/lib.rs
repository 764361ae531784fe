//! The `engine` command line: one module per command, shared progress and output helpers.
//!
//! The binary only parses arguments and calls [`run`], which sets up logging (stderr, JSON
//! lines when not on a terminal), the metrics summary and the closed-pipe guard, runs the
//! command and turns its result into the exit code: 0 success, 1 a run that failed or was
//! incomplete, 2 bad input or an error before the run, 3 `engine status` of a day still in
//! progress, 141 when the output pipe closed, 130 / 143 when SIGINT / SIGTERM stopped `copy` or `backfill` (the report is written with
//! `complete: false`; see [`signals`]).
//!
//! ```no_run
//! use clap::Parser;
//!
//! # async fn example() {
//! let cli = liberator_cli::Cli::parse_from(["engine", "demo", "--dir", "/tmp/demo"]);
//! let code = liberator_cli::run(cli).await;
//! # }
//! ```

pub mod args;
pub mod commands;
pub mod output;
pub mod progress;
pub mod signals;

use std::process::ExitCode;

use liberator_engine::AwsOptions;
use liberator_telemetry::summary::Summary;
use liberator_telemetry::{LogConfig, LogFormat, errln, pipe};

pub use args::{Cli, Command};

/// Runs a parsed command line to its exit code.
pub async fn run(cli: Cli) -> ExitCode {
    pipe::install();
    let log = LogConfig {
        // The report is the CLI's output; logs are for trouble.
        default_filter: "warn".into(),
        format: if cli.json_logs {
            LogFormat::Json
        } else {
            cli.log_format.into()
        },
        ..LogConfig::default()
    };
    // A second subscriber (run called twice in one process) keeps the first: nothing to do.
    let _ = liberator_telemetry::init(&log);
    let metrics = Summary::install().ok();
    let show_metrics = cli.metrics || cli.command.is_a_run();
    let result = dispatch(cli).await;
    if show_metrics && let Some(m) = metrics.filter(|m| !m.is_empty()) {
        pipe::eprint(format_args!("{}", m.render()));
    }
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) if e.is::<commands::status::InProgress>() => {
            ExitCode::from(commands::status::EXIT_IN_PROGRESS)
        }
        Err(e) => match e.downcast_ref::<signals::Stopped>() {
            Some(stopped) => {
                errln!("engine: {stopped}");
                ExitCode::from(stopped.exit_code())
            }
            None => {
                errln!("error: {e:#}");
                ExitCode::from(2)
            }
        },
    }
}

/// Runs the command: `Ok(false)` when it ran but did not succeed.
pub async fn dispatch(cli: Cli) -> anyhow::Result<bool> {
    let s3 = AwsOptions {
        endpoint_url: cli.endpoint_url.clone(),
        ..AwsOptions::default()
    };
    if cli.command.needs_aws() {
        output::require_credentials(&s3).await?;
    }
    match cli.command {
        Command::Copy(c) => c.run(&s3).await,
        Command::Backfill(c) => c.run(&s3).await,
        Command::Verify(c) => c.run(&s3).await,
        Command::ExportLocal(c) => c.run(&s3).await,
        Command::Sample(c) => c.run(&s3).await,
        Command::Demo(c) => c.run().await,
        Command::Status(c) => c.run(&s3).await,
    }
}
