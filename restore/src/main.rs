//! `restore`: the ECS task that loads the day's dump into RDS and snapshots it. Everything
//! but parsing lives in [`liberator_restore::cli`].

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // The snapshot's timestamp is the task's start, not the end of a load that may cross midnight.
    let started = chrono::Utc::now();
    let args = liberator_restore::cli::Args::parse();
    liberator_restore::cli::main(args, started).await
}
