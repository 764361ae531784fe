//! `engine`: land RDS Parquet exports in the landing zone (see the README). Parses the
//! command line and hands it to [`liberator_cli::run`].

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    liberator_cli::run(liberator_cli::Cli::parse()).await
}
