//! `lambda_start`: cold starts of the export-trigger and export-copier zips through a Lambda
//! runtime API emulator on loopback, against moto (`LIBERATOR_MOTO_ENDPOINT`, else started
//! here). Prints a markdown table and writes a CSV. See benches/LAMBDA.md.
//!
//! ```sh
//! lambda_start --build before=/tmp/before --build after=$CARGO_TARGET_DIR/lambda --runs 10 \
//!     --csv benches/lambda-results.csv
//! ```

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use liberator_benches::lambda_start::{Build, Fixture, Function, Row, cold_start, csv, markdown};

#[derive(Parser, Debug)]
#[command(
    name = "lambda_start",
    about = "Lambda cold starts through a runtime API emulator"
)]
struct Cli {
    /// LABEL=DIR, DIR holding `export-trigger/bootstrap.zip` and `export-copier/bootstrap.zip`
    /// (cargo lambda's `--lambda-dir` layout). Repeat to compare builds; their cold starts
    /// are interleaved.
    #[arg(long = "build", required = true, value_parser = parse_build)]
    builds: Vec<Build>,
    /// Cold starts per function and build.
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Only this function (`export-trigger` or `export-copier`).
    #[arg(long)]
    only: Option<String>,
    /// Write the CSV here.
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Extra KEY=VALUE for the functions' environment (e.g. `RUST_LOG=debug` to see where
    /// start-up time goes).
    #[arg(long = "env", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// Keep the unpacked zips and the functions' logs (their folder is printed).
    #[arg(long)]
    keep: bool,
    /// Run each bootstrap under this command (split on spaces; e.g. `strace -f -tt -o
    /// /tmp/st`, `perf record -g -o /tmp/p.data --`) to see where start-up time goes. RSS
    /// and CPU are then the wrapper's.
    #[arg(long)]
    wrap: Option<String>,
    /// Longest a cold start may take to answer, seconds.
    #[arg(long, default_value_t = 120)]
    limit: u64,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected KEY=VALUE"))?;
    Ok((k.to_string(), v.to_string()))
}

fn parse_build(s: &str) -> Result<Build, String> {
    let (label, dir) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected LABEL=DIR"))?;
    Ok(Build {
        label: label.to_string(),
        dir: PathBuf::from(dir),
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let functions: Vec<Function> = Function::ALL
        .into_iter()
        .filter(|f| cli.only.as_deref().is_none_or(|o| o == f.package()))
        .collect();
    if functions.is_empty() {
        bail!("--only {:?}: no such function", cli.only);
    }
    let endpoint = liberator_tests::moto().endpoint.clone();
    let work = tempdir()?;
    let mut rows = Vec::new();
    for function in functions {
        let mut fixture = Fixture::new(function, &endpoint).await?;
        let first = rows.len();
        for build in &cli.builds {
            rows.push(Row {
                unpacked: build.unpack(function, &work)?,
                samples: Vec::new(),
            });
        }
        for run in 0..cli.runs {
            for row in &mut rows[first..] {
                let event = fixture.next_event().await?;
                let bootstrap = row.unpacked.bootstrap.clone();
                let mut env = fixture.env(bootstrap.parent().expect("unpacked into a folder"));
                env.extend(cli.env.iter().cloned());
                let log = work.join(format!(
                    "{}-{}-{run}.log",
                    row.unpacked.build,
                    function.package()
                ));
                let wrap: Vec<String> = cli
                    .wrap
                    .iter()
                    .flat_map(|w| w.split_whitespace().map(str::to_string))
                    .collect();
                let sample = cold_start(
                    &wrap,
                    &bootstrap,
                    &env,
                    event,
                    &log,
                    Duration::from_secs(cli.limit),
                )
                .await?;
                fixture.check(&sample.answer)?;
                eprintln!(
                    "{} {} run {}: init {:.2} ms (CPU {:.2} ms), first event {:.1} ms, RSS {:.1} MiB",
                    function.package(),
                    row.unpacked.build,
                    run + 1,
                    sample.init.as_secs_f64() * 1e3,
                    sample.init_cpu.as_secs_f64() * 1e3,
                    sample.first_event.as_secs_f64() * 1e3,
                    sample.peak_rss as f64 / (1024.0 * 1024.0)
                );
                row.samples.push(sample);
            }
        }
    }
    println!("{}", markdown(&rows));
    let table = csv(&rows);
    match &cli.csv {
        Some(path) => {
            std::fs::write(path, &table).with_context(|| format!("{}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{table}"),
    }
    if cli.keep {
        eprintln!("unpacked zips and logs kept in {}", work.display());
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }
    Ok(())
}

/// A fresh folder for the unpacked zips and the functions' logs.
fn tempdir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("lambda-start-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("{}", dir.display()))?;
    Ok(dir)
}
