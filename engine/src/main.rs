//! `engine`: land RDS Parquet exports in the landing zone (see the README).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use liberator_engine::backfill::{BackfillFilter, backfill, discover};
use liberator_engine::export_id::parse_date;
use liberator_engine::sample::{SampleSpec, write_sample_export};
use liberator_engine::verify::verify_location;
use liberator_engine::{
    CopyConfig, CopyRequest, Engine, ExportId, LimiterConfig, Location, Outcome, Progress, Report,
    S3Config, WriteOptions,
};
use tracing_subscriber::EnvFilter;

#[derive(Parser, Debug)]
#[command(
    name = "engine",
    version,
    about = "Land RDS Parquet exports in the Liberator landing zone"
)]
struct Cli {
    /// S3 endpoint (S3-compatible servers); path-style addressing is used when set.
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL")]
    endpoint_url: Option<String>,
    /// Log as JSON lines instead of text.
    #[arg(long, global = true)]
    json_logs: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Land one export.
    Copy {
        /// Export id, e.g. sql-to-parquet-24-06-04-101500.
        export_id: String,
        #[command(flatten)]
        locations: Locations,
        /// Import date (YYYY-MM-DD) instead of the one in the export id.
        #[arg(long)]
        import_date: Option<String>,
        #[command(flatten)]
        copy: CopyArgs,
    },
    /// Discover the sql-to-parquet-* exports under the source and land each, oldest first.
    Backfill {
        #[command(flatten)]
        locations: Locations,
        /// Earliest import date (YYYY-MM-DD), inclusive.
        #[arg(long)]
        since: Option<String>,
        /// Latest import date (YYYY-MM-DD), inclusive.
        #[arg(long)]
        until: Option<String>,
        /// Only these export ids (comma-separated).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        #[command(flatten)]
        copy: CopyArgs,
    },
    /// Check the Parquet footer of every .parquet file under a location.
    Verify {
        location: String,
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Write the JSON report here instead of stdout.
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Export every table of a MySQL/MariaDB database as Parquet in the RDS export layout:
    /// the local stand-in for RDS's StartExportTask. Password from MYSQL_PASS.
    #[cfg(feature = "local-export")]
    ExportLocal {
        export_id: String,
        /// Where export folders go (like the export bucket): s3://BUCKET[/PREFIX] or a folder.
        #[arg(long)]
        target: String,
        #[arg(long)]
        database: String,
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        #[arg(long, default_value_t = 3306)]
        port: u16,
        /// Unix socket (instead of host/port).
        #[arg(long)]
        socket: Option<String>,
        #[arg(long, default_value = "root")]
        user: String,
        #[arg(long, default_value_t = 100_000)]
        rows_per_file: usize,
    },
    /// Write a realistic sample export (RDS layout, metadata files, real Parquet).
    Sample {
        /// Where export folders go, e.g. ./exports or s3://bucket.
        location: String,
        #[arg(long, default_value = "sql-to-parquet-24-06-04-101500")]
        export_id: String,
        /// Uniform shape instead of the Liberator-like default: tables, batches, files, rows.
        #[arg(long, num_args = 4, value_names = ["TABLES", "BATCHES", "FILES", "ROWS"])]
        uniform: Option<Vec<usize>>,
    },
    /// Write a sample export into DIR/exports and land it in DIR/landing: no server needed.
    Demo {
        #[arg(long, default_value = "liberator-demo")]
        dir: PathBuf,
    },
}

#[derive(Args, Debug)]
struct Locations {
    /// Export bucket: s3://BUCKET[/PREFIX] or a local folder.
    #[arg(long)]
    source: String,
    /// Landing zone: s3://BUCKET/PREFIX or a local folder.
    #[arg(long)]
    target: String,
}

#[derive(Args, Debug)]
struct CopyArgs {
    /// Most requests in flight (adaptive below this when throttled).
    #[arg(long, default_value_t = LimiterConfig::default().max)]
    concurrency: usize,
    /// Print the mapping without writing anything.
    #[arg(long)]
    dry_run: bool,
    /// Copy even what is already at the target.
    #[arg(long)]
    force: bool,
    /// Skip the Parquet footer checks.
    #[arg(long)]
    no_verify: bool,
    /// Write the JSON report here instead of stdout.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Largest object copied with one CopyObject (bytes); 5 GiB at most.
    #[arg(long, default_value_t = CopyConfig::default().multipart_threshold)]
    multipart_threshold: u64,
    /// Preferred multipart part size (bytes).
    #[arg(long, default_value_t = CopyConfig::default().part_size)]
    part_size: u64,
    /// SSE-KMS key id for the landed objects.
    #[arg(long)]
    sse_kms_key_id: Option<String>,
    /// Canned ACL for landed objects ("none" to send none).
    #[arg(long, default_value = "bucket-owner-full-control")]
    acl: String,
}

impl CopyArgs {
    fn config(&self) -> CopyConfig {
        CopyConfig {
            limiter: LimiterConfig {
                max: self.concurrency.max(1),
                ..LimiterConfig::default()
            },
            multipart_threshold: self.multipart_threshold,
            part_size: self.part_size,
            write: WriteOptions {
                acl: (self.acl != "none").then(|| self.acl.clone()),
                sse_kms_key_id: self.sse_kms_key_id.clone(),
            },
            verify: !self.no_verify,
            force: self.force,
            dry_run: self.dry_run,
            ..CopyConfig::default()
        }
    }
}

/// Progress bars on a terminal; periodic log lines otherwise; the plan on a dry run.
struct CliProgress {
    bars: Option<(MultiProgress, ProgressBar, ProgressBar)>,
    exports: Option<ProgressBar>,
    dry_run: bool,
    done: std::sync::atomic::AtomicU64,
}

impl CliProgress {
    fn new(dry_run: bool, exports: Option<u64>) -> Arc<Self> {
        let mut exports_bar = None;
        let bars = std::io::stderr().is_terminal().then(|| {
            let multi = MultiProgress::new();
            if let Some(n) = exports {
                let e = multi.add(ProgressBar::new(n));
                e.set_style(
                    ProgressStyle::with_template("exports {pos}/{len} {wide_bar}").unwrap(),
                );
                e.tick();
                exports_bar = Some(e);
            }
            let objects = multi.add(ProgressBar::new(0));
            objects.set_style(
                ProgressStyle::with_template("objects {pos}/{len} {wide_bar} {per_sec} eta {eta}")
                    .unwrap(),
            );
            let bytes = multi.add(ProgressBar::new(0));
            bytes.set_style(
                ProgressStyle::with_template(
                    "bytes   {bytes}/{total_bytes} {wide_bar} {bytes_per_sec}",
                )
                .unwrap(),
            );
            objects.enable_steady_tick(Duration::from_millis(200));
            (multi, objects, bytes)
        });
        Arc::new(CliProgress {
            bars,
            exports: exports_bar,
            dry_run,
            done: Default::default(),
        })
    }
}

impl CliProgress {
    fn export_done(&self, report: &Report) {
        match &self.exports {
            Some(bar) => {
                bar.inc(1);
                bar.println(report.to_string());
            }
            None => eprint!("{report}"),
        }
    }
}

impl Progress for CliProgress {
    fn listed(&self, n: u64, bytes: u64) {
        if let Some((_, objects, b)) = &self.bars {
            objects.inc_length(n);
            b.inc_length(bytes);
        }
    }

    fn object(&self, source_key: &str, target_key: &str, size: u64, outcome: &Outcome) {
        if let Some((_, objects, bytes)) = &self.bars {
            objects.inc(1);
            bytes.inc(size);
        } else {
            let done = self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            if done.is_multiple_of(1000) {
                eprintln!("progress: {done} objects done");
            }
        }
        if self.dry_run
            && let Outcome::Planned(plan) = outcome
        {
            println!("{source_key} -> {target_key} ({size} bytes, {plan:?})");
        }
    }
}

fn write_json(path: Option<&Path>, value: &impl serde::Serialize) -> Result<()> {
    let json = serde_json::to_string_pretty(value)?;
    match path {
        Some(p) => std::fs::write(p, json + "\n")
            .with_context(|| format!("writing report {}", p.display())),
        None => {
            println!("{json}");
            Ok(())
        }
    }
}

fn location(s: &str) -> Result<Location> {
    Location::parse(s).with_context(|| format!("parsing location {s:?}"))
}

async fn run(cli: Cli) -> Result<bool> {
    let s3 = S3Config {
        endpoint_url: cli.endpoint_url.clone(),
        ..S3Config::default()
    };
    match cli.command {
        Command::Copy {
            export_id,
            locations,
            import_date,
            copy,
        } => {
            let export_id = ExportId::parse(&export_id)?;
            let import_date = import_date.as_deref().map(parse_date).transpose()?;
            let (source, target) = (location(&locations.source)?, location(&locations.target)?);
            let engine = Engine::connect(&source, &target, &s3, copy.config()).await?;
            let progress = CliProgress::new(copy.dry_run, None);
            let request = CopyRequest {
                export_id,
                import_date,
                source,
                target,
            };
            let report = engine.copy(request, progress).await?;
            eprint!("{report}");
            write_json(copy.report.as_deref(), &report)?;
            Ok(report.is_success() || (report.dry_run && report.failures.is_empty()))
        }
        Command::Backfill {
            locations,
            since,
            until,
            only,
            copy,
        } => {
            let filter = BackfillFilter {
                since: since.as_deref().map(parse_date).transpose()?,
                until: until.as_deref().map(parse_date).transpose()?,
                only,
            };
            let (source, target) = (location(&locations.source)?, location(&locations.target)?);
            let engine = Engine::connect(&source, &target, &s3, copy.config()).await?;
            let discovery = discover(&engine, &source, &filter).await?;
            eprintln!(
                "{} export(s) to land: {}",
                discovery.exports.len(),
                discovery.exports.join(", ")
            );
            for (name, reason) in &discovery.ignored {
                eprintln!("ignored folder {name}: {reason}");
            }
            let progress = CliProgress::new(copy.dry_run, Some(discovery.exports.len() as u64));
            let bars = progress.clone();
            let reports = backfill(
                &engine,
                &source,
                &target,
                &discovery,
                progress,
                |r: &Report| bars.export_done(r),
            )
            .await?;
            write_json(copy.report.as_deref(), &reports)?;
            Ok(reports
                .iter()
                .all(|r| r.is_success() || (r.dry_run && r.failures.is_empty())))
        }
        Command::Verify {
            location: loc,
            concurrency,
            report,
        } => {
            let loc = location(&loc)?;
            let engine = Engine::connect(&loc, &loc, &s3, CopyConfig::default()).await?;
            let out = verify_location(
                engine.store(),
                &loc,
                CopyConfig::default().footer_read_size,
                concurrency,
            )
            .await?;
            eprintln!(
                "{}: {} Parquet file(s), {} ok, {} rows, {} failed",
                out.location,
                out.files,
                out.ok,
                out.rows,
                out.failures.len()
            );
            for f in &out.failures {
                eprintln!("  FAILED {}: {}", f.key, f.reason);
            }
            write_json(report.as_deref(), &out)?;
            Ok(out.failures.is_empty() && out.files > 0)
        }
        Command::Sample {
            location: loc,
            export_id,
            uniform,
        } => {
            let loc = location(&loc)?;
            ExportId::parse(&export_id)?;
            let spec = match uniform.as_deref() {
                Some([t, b, f, r]) => SampleSpec::uniform(&export_id, *t, *b, *f, *r),
                _ => SampleSpec::liberator(&export_id),
            };
            let engine = Engine::connect(&loc, &loc, &s3, CopyConfig::default()).await?;
            let summary = write_sample_export(engine.store(), &loc, &spec).await?;
            eprintln!(
                "wrote {} objects ({} Parquet files, {} bytes) under {}",
                summary.objects,
                summary.parquet_files,
                summary.bytes,
                loc.join(&export_id)
            );
            Ok(true)
        }
        Command::Demo { dir } => demo(&dir).await,
        #[cfg(feature = "local-export")]
        Command::ExportLocal {
            export_id,
            target,
            database,
            host,
            port,
            socket,
            user,
            rows_per_file,
        } => {
            use liberator_engine::export_local::{LocalExportConfig, export_database};
            ExportId::parse(&export_id)?;
            let loc = location(&target)?;
            let opts = mysql_async::OptsBuilder::default()
                .ip_or_hostname(host)
                .tcp_port(port)
                .socket(socket)
                .user(Some(user))
                .pass(std::env::var("MYSQL_PASS").ok())
                .db_name(Some(database.clone()));
            let engine = Engine::connect(&loc, &loc, &s3, CopyConfig::default()).await?;
            let config = LocalExportConfig {
                rows_per_file,
                ..LocalExportConfig::default()
            };
            let summary = export_database(
                opts.into(),
                &database,
                engine.store(),
                &loc,
                &export_id,
                &config,
            )
            .await
            .with_context(|| format!("exporting database {database}"))?;
            for (table, rows) in &summary.tables {
                eprintln!("  {table:<40} {rows:>10} rows");
            }
            eprintln!(
                "exported {} tables to {} Parquet files ({} bytes) under {}",
                summary.tables.len(),
                summary.parquet_files,
                summary.bytes,
                loc.join(&export_id)
            );
            write_json(None, &summary)?;
            Ok(true)
        }
    }
}

async fn demo(dir: &Path) -> Result<bool> {
    let export_id = "sql-to-parquet-24-06-04-101500";
    let exports_dir = dir.join("exports");
    let landing_dir = dir.join("landing");
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&exports_dir)
        .with_context(|| format!("creating {}", exports_dir.display()))?;
    std::fs::create_dir_all(&landing_dir)
        .with_context(|| format!("creating {}", landing_dir.display()))?;
    let source = location(exports_dir.to_str().context("non-UTF-8 demo path")?)?;
    let target =
        location(landing_dir.to_str().context("non-UTF-8 demo path")?)?.join("parking/liberator");
    let engine = Engine::connect(
        &source,
        &target,
        &S3Config::default(),
        CopyConfig::default(),
    )
    .await?;
    let sample =
        write_sample_export(engine.store(), &source, &SampleSpec::liberator(export_id)).await?;
    println!(
        "1. wrote a sample RDS export: {} objects ({} Parquet files, {} KiB) in {}",
        sample.objects,
        sample.parquet_files,
        sample.bytes / 1024,
        source.join(export_id)
    );
    let request = CopyRequest {
        export_id: ExportId::parse(export_id)?,
        import_date: None,
        source: source.clone(),
        target: target.clone(),
    };
    let report = engine
        .copy(request.clone(), CliProgress::new(false, None))
        .await?;
    println!("2. landed it with `engine copy {export_id} --source {source} --target {target}`:\n");
    print!("{report}");
    let report_path = dir.join("report.json");
    write_json(Some(&report_path), &report)?;
    println!("\n   JSON report: {}", report_path.display());
    let rerun = engine.copy(request, CliProgress::new(false, None)).await?;
    println!(
        "3. ran it again: copied {}, skipped {} (already landed)",
        rerun.copied, rerun.skipped
    );
    let example = sample
        .parquet_keys
        .first()
        .map(String::as_str)
        .unwrap_or_default();
    if let Ok(liberator_engine::layout::Mapped::Parquet(p)) = liberator_engine::layout::Layout::new(
        "",
        export_id,
        target.prefix(),
        ExportId::parse(export_id)?.date(),
    )
    .map(example)
    {
        println!(
            "\n   e.g. {example}\n     -> {}",
            landing_dir.join(&p.target_key).display()
        );
    }
    Ok(report.is_success() && rerun.is_success() && rerun.copied == 0)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,liberator_engine=warn"));
    if cli.json_logs {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_ansi(std::io::stderr().is_terminal())
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    match run(cli).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
