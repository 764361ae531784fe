//! `side_by_side`: land the same export-shaped object set with the engine, s5cmd, rclone,
//! the aws CLI and a sequential CopyObject loop through a latency-injecting proxy, and print
//! a markdown table. See benches/README.md.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use liberator_benches::data;
use liberator_benches::tools::Tool;
use liberator_benches::{ChartsDir, Config, Level, Scenario, render_with_charts, run_scenario};
use liberator_engine::{
    AwsOptions, Engine, EngineConfig, ExportId, ExportRequest, LimiterConfig, Location, NoProgress,
};

#[derive(Parser, Debug)]
#[command(name = "side_by_side", about = "Side-by-side copy benchmark")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run scenarios and print the table.
    Run(RunArgs),
    /// A bar chart (SVG) from a CSV `<name>,<metric>,...`: one panel per metric column.
    Chart(ChartArgs),
    /// The engine library, as `engine copy` runs it (used when no engine binary is given).
    #[command(hide = true)]
    EngineLib(EngineLibArgs),
    /// One CopyObject at a time: the replaced copier's loop.
    #[command(hide = true)]
    Sequential(SequentialArgs),
    /// Run a command and write its wall time, CPU and peak RSS (wait4) as JSON.
    #[command(hide = true)]
    Measure {
        #[arg(long)]
        out: PathBuf,
        #[arg(last = true, required = true)]
        argv: Vec<std::ffi::OsString>,
    },
}

#[derive(Args, Debug)]
struct RunArgs {
    /// The S3 server (SeaweedFS).
    #[arg(long, env = "LIBERATOR_SEAWEED_ENDPOINT")]
    endpoint: String,
    /// Latency the proxy adds in each direction, milliseconds.
    #[arg(long, default_value_t = 15)]
    delay_ms: u64,
    /// Scenarios: a (many small), b (few large), c (multipart), d (listing scale), custom.
    #[arg(long, value_delimiter = ',', default_value = "a")]
    scenario: Vec<String>,
    /// Tools to run (absent peers are reported as absent): engine, engine-no-verify, s5cmd,
    /// rclone, aws, sequential.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "engine,s5cmd,rclone,aws,sequential"
    )]
    tools: Vec<String>,
    /// Rounds; the tool order rotates each round.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// The engine binary (a release build); default: the engine library inside this binary.
    #[arg(long, env = "LIBERATOR_ENGINE_BIN")]
    engine_bin: Option<PathBuf>,
    /// The engine's --concurrency.
    #[arg(long, default_value_t = LimiterConfig::default().max)]
    concurrency: usize,
    /// One cap on requests in flight for every tool (engine --concurrency, s5cmd
    /// --numworkers, rclone --transfers/--checkers, aws max_concurrent_requests): compare
    /// the tools at equal connections, e.g. with a long --delay-ms (a client-bound store).
    #[arg(long)]
    connections: Option<usize>,
    /// Bytes of each file's tail the engine reads for its footer check (experiments; only
    /// with the library engine, i.e. without --engine-bin).
    #[arg(long)]
    footer_read_size: Option<u64>,
    /// Scenario d: object counts, one level each.
    #[arg(long, value_delimiter = ',', default_value = "50000,100000,200000")]
    counts: Vec<usize>,
    /// Scenario custom: tables.
    #[arg(long, default_value_t = 2)]
    tables: usize,
    /// Scenario custom: batch folders per table (0: none).
    #[arg(long, default_value_t = 2)]
    batches: usize,
    /// Scenario custom: files per batch folder.
    #[arg(long, default_value_t = 5)]
    files: usize,
    /// Scenario custom: bytes per Parquet file.
    #[arg(long, default_value_t = 32 * 1024)]
    size: usize,
    /// Scenario custom: multipart threshold and part size, bytes (both or neither).
    #[arg(long, num_args = 2, value_names = ["THRESHOLD", "PART"])]
    multipart: Option<Vec<u64>>,
    /// Logs, reports and tool configuration go here (default: a temporary folder).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Also append the markdown to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep the buckets afterwards.
    #[arg(long)]
    keep: bool,
    /// The S3 server's pid (same machine): its CPU per run is added to the table.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Write one SVG chart per scenario level here (`<scenario>-<level>.svg`), linked from
    /// the markdown.
    #[arg(long)]
    charts: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct ChartArgs {
    /// Header `<name column>,<metric>,...`, rows `<name>,<number>,...`.
    #[arg(long)]
    csv: PathBuf,
    #[arg(long)]
    title: String,
    /// The SVG to write.
    #[arg(long)]
    out: PathBuf,
    /// Highlight the rows whose name starts with this (repeatable).
    #[arg(long)]
    highlight: Vec<String>,
}

#[derive(Args, Debug)]
struct EngineLibArgs {
    export_id: String,
    #[arg(long)]
    endpoint_url: String,
    #[arg(long)]
    source: String,
    #[arg(long)]
    target: String,
    #[arg(long, default_value_t = LimiterConfig::default().max)]
    concurrency: usize,
    #[arg(long, default_value_t = EngineConfig::default().multipart_threshold)]
    multipart_threshold: u64,
    #[arg(long, default_value_t = EngineConfig::default().part_size)]
    part_size: u64,
    #[arg(long)]
    no_verify: bool,
    #[arg(long, default_value_t = EngineConfig::default().footer_read_size)]
    footer_read_size: u64,
    #[arg(long)]
    report: PathBuf,
}

#[derive(Args, Debug)]
struct SequentialArgs {
    #[arg(long)]
    endpoint_url: String,
    #[arg(long)]
    source_bucket: String,
    /// Source prefix, ending in `/`.
    #[arg(long)]
    prefix: String,
    #[arg(long)]
    target_bucket: String,
    /// Target prefix, ending in `/`.
    #[arg(long)]
    target_prefix: String,
}

fn scenario(name: &str, args: &RunArgs) -> Result<Scenario> {
    Ok(match name {
        "a" => Scenario::many_small(),
        "b" => Scenario::few_large(),
        "c" => Scenario::multipart(),
        "d" => Scenario::listing_scale(&args.counts),
        "custom" => {
            let shape = data::Shape {
                tables: args.tables,
                batches: args.batches,
                files_per_batch: args.files,
                object_size: args.size,
            };
            let multipart = match args.multipart.as_deref() {
                Some([t, p]) => Some((*t, *p)),
                _ => None,
            };
            Scenario {
                name: "custom".into(),
                levels: vec![Level {
                    label: format!(
                        "{} × {:.1} KiB",
                        shape.parquet_files(),
                        args.size as f64 / 1024.0
                    ),
                    shape,
                    multipart,
                }],
            }
        }
        other => bail!("unknown scenario {other:?} (a, b, c, d, custom)"),
    })
}

async fn run(args: RunArgs) -> Result<bool> {
    let tools = args
        .tools
        .iter()
        .map(|t| Tool::parse(t))
        .collect::<Result<Vec<_>>>()?;
    let tmp;
    let work_dir = match &args.work_dir {
        Some(d) => d.clone(),
        None => {
            tmp = std::env::temp_dir().join(format!("side_by_side-{}", std::process::id()));
            tmp.clone()
        }
    };
    let config = Config {
        endpoint: args.endpoint.clone(),
        delay: Duration::from_millis(args.delay_ms),
        tools,
        rounds: args.rounds.max(1),
        engine_bin: args.engine_bin.clone(),
        harness_bin: std::env::current_exe().context("locating this binary")?,
        engine_concurrency: args.concurrency,
        connections: args.connections,
        footer_read_size: args.footer_read_size,
        work_dir,
        keep: args.keep,
        server_pid: args.server_pid,
    };
    if let Some(bin) = &config.engine_bin
        && !bin.is_file()
    {
        bail!("engine binary {} does not exist", bin.display());
    }
    if config.engine_bin.is_some() && config.footer_read_size.is_some() {
        bail!("--footer-read-size needs the library engine (drop --engine-bin)");
    }
    let command: Vec<String> = std::env::args().collect();
    let mut all_ok = true;
    for name in &args.scenario {
        let scenario = scenario(name, &args)?;
        let outcome = run_scenario(&config, &scenario).await?;
        all_ok &= outcome.all_ok();
        let charts = args
            .charts
            .as_deref()
            .map(|d| ChartsDir::new(d, args.out.as_deref()));
        let mut text = render_with_charts(&scenario, &config, &outcome, charts.as_ref())?;
        text.push_str(&format!(
            "Command: `{}`; proxy connections: {}\n\n",
            command.join(" "),
            outcome.proxy_connections
        ));
        print!("{text}");
        if let Some(out) = &args.out {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(out)?;
            f.write_all(text.as_bytes())?;
        }
    }
    Ok(all_ok)
}

async fn engine_lib(args: EngineLibArgs) -> Result<bool> {
    let s3 = AwsOptions {
        endpoint_url: Some(args.endpoint_url),
        ..AwsOptions::default()
    };
    let config = EngineConfig {
        limiter: LimiterConfig {
            initial: args.concurrency.max(1),
            max: args.concurrency.max(1),
            ..LimiterConfig::default()
        },
        objects_in_flight: args.concurrency.max(1),
        multipart_threshold: args.multipart_threshold,
        part_size: args.part_size,
        verify: !args.no_verify,
        footer_read_size: args.footer_read_size,
        ..EngineConfig::default()
    };
    let (source, target) = (
        Location::parse(&args.source)?,
        Location::parse(&args.target)?,
    );
    let engine = Engine::connect(&source, &target, &s3, config).await?;
    let report = engine
        .land_export(
            ExportRequest {
                export_id: ExportId::parse(&args.export_id)?,
                import_date: None,
                task: None,
                source,
                target,
            },
            Arc::new(NoProgress),
        )
        .await?;
    eprint!("{report}");
    std::fs::write(&args.report, serde_json::to_string_pretty(&report)?)?;
    Ok(report.passed())
}

async fn sequential(args: SequentialArgs) -> Result<bool> {
    let client = data::client(&args.endpoint_url).await;
    let keys = data::list(&client, &args.source_bucket, &args.prefix).await?;
    for (key, _) in &keys {
        let rel = key.strip_prefix(&args.prefix).unwrap_or(key);
        client
            .copy_object()
            .copy_source(format!("{}/{key}", args.source_bucket))
            .bucket(&args.target_bucket)
            .key(format!("{}{rel}", args.target_prefix))
            .send()
            .await
            .with_context(|| format!("copying {key}"))?;
    }
    eprintln!("copied {} objects", keys.len());
    Ok(true)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Measure { out, argv } = &cli.command {
        // No runtime, no allocations to speak of: the tool's RSS floor stays small.
        return match liberator_benches::measure::measure_main(out, argv) {
            Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
            Err(e) => {
                eprintln!("side_by_side measure: {e}");
                ExitCode::from(125)
            }
        };
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("side_by_side: starting tokio: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run(args).await,
            Command::Chart(a) => {
                liberator_benches::chart::from_csv_file(&a.csv, &a.title, &a.highlight)
                    .and_then(|c| liberator_benches::chart::write_svg(&c, &a.out))
                    .map(|()| true)
            }
            Command::EngineLib(args) => engine_lib(args).await,
            Command::Sequential(args) => sequential(args).await,
            Command::Measure { .. } => unreachable!("handled above"),
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("side_by_side: {e:#}");
            ExitCode::from(2)
        }
    }
}
