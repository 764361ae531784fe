//! `make e2e DUMP=path/to/dump.zip`: run the whole pipeline locally on any zipped MySQL dump
//! and print the per-table report. Servers: moto from `LIBERATOR_MOTO_ENDPOINT` (or started
//! here) and a MariaDB started here; `scripts/e2e` installs both.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

#[tokio::main]
async fn main() -> ExitCode {
    let Some(dump) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: e2e DUMP.zip");
        return ExitCode::from(2);
    };
    let endpoint = liberator_tests::moto().endpoint.clone();
    let db = liberator_tests::mariadb::mariadb();
    let run = match liberator_tests::pipeline::run(&endpoint, db, &dump, true)
        .await
        .with_context(|| format!("pipeline on {}", dump.display()))
    {
        Ok(run) => run,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(1);
        }
    };
    println!("dump      s3://…/{}", run.dump_key);
    println!("snapshot  {}", run.snapshot);
    println!("trigger   {:?}", run.trigger);
    println!("copier    {:?}", run.copier);
    println!(
        "landing   s3://{}/{}/ ({} objects)",
        run.landing_bucket,
        liberator_tests::pipeline::LANDING_PREFIX,
        run.landed.len()
    );
    if let Some(key) = run
        .landed
        .iter()
        .map(|(k, _)| k)
        .find(|k| k.starts_with(&format!("{}/", liberator_tests::pipeline::LANDING_PREFIX)))
    {
        println!("          e.g. {key}");
    }
    println!(
        "glue      {} run(s) of {}\n",
        run.workflow_runs, run.workflow
    );
    print!("{}", run.table_report());
    match run.check() {
        Ok(()) => {
            println!(
                "\nOK: every table landed with the database's rows and values; one Glue run; re-delivery changed nothing"
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("\nFAILED: {e}");
            ExitCode::from(1)
        }
    }
}
