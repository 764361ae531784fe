//! Benchmarks of the liberator engine: a side-by-side harness that lands the same
//! export-shaped object set with the engine and with s5cmd, rclone, the aws CLI and a
//! sequential one-CopyObject-at-a-time loop, through a latency-injecting proxy, and prints
//! a markdown table. See `benches/README.md`.

pub mod chart;
pub mod data;
pub mod lambda_start;
pub mod measure;
pub mod proxy;
mod render;
pub mod tools;

pub use render::{ChartsDir, level_charts, render, render_with_charts};

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::data::{EXPORT_ID, Shape};
use crate::measure::{Measured, process_cpu, read_measured, run_measured};
use crate::proxy::LatencyProxy;
use crate::tools::{Invocation, Tool};

/// 1 MiB.
pub const MIB: u64 = 1024 * 1024;

/// One object set to land (a scenario has one or more, e.g. growing object counts).
#[derive(Debug, Clone)]
pub struct Level {
    pub label: String,
    pub shape: Shape,
    /// (threshold, part size) handed to every tool that has such knobs.
    pub multipart: Option<(u64, u64)>,
}

/// A named list of levels.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub levels: Vec<Level>,
}

impl Scenario {
    /// (a) many small objects: 40 tables × 3 batch folders × 84 files × 32 KiB = 10,080.
    pub fn many_small() -> Self {
        Scenario {
            name: "a: many small objects".into(),
            levels: vec![Level {
                label: "10,080 × 32 KiB".into(),
                shape: Shape {
                    tables: 40,
                    batches: 3,
                    files_per_batch: 84,
                    object_size: 32 * 1024,
                },
                multipart: None,
            }],
        }
    }

    /// (b) a few large objects: 4 × 256 MiB (one CopyObject each at the default threshold).
    pub fn few_large() -> Self {
        Scenario {
            name: "b: a few large objects".into(),
            levels: vec![Level {
                label: "4 × 256 MiB".into(),
                shape: Shape {
                    tables: 1,
                    batches: 1,
                    files_per_batch: 4,
                    object_size: 256 * MIB as usize,
                },
                multipart: None,
            }],
        }
    }

    /// (c) one 512 MiB object above a 64 MiB multipart threshold, 32 MiB parts (16 part
    /// copies in parallel).
    pub fn multipart() -> Self {
        Scenario {
            name: "c: one multipart object".into(),
            levels: vec![Level {
                label: "1 × 512 MiB, 32 MiB parts".into(),
                shape: Shape {
                    tables: 1,
                    batches: 1,
                    files_per_batch: 1,
                    object_size: 512 * MIB as usize,
                },
                multipart: Some((64 * MIB, 32 * MIB)),
            }],
        }
    }

    /// (d) listing scale: 40 tables × 3 batches of 4 KiB files, one level per count.
    pub fn listing_scale(counts: &[usize]) -> Self {
        Scenario {
            name: "d: listing scale".into(),
            levels: counts
                .iter()
                .map(|&n| {
                    let shape = Shape {
                        tables: 40,
                        batches: 3,
                        files_per_batch: n.div_ceil(120),
                        object_size: 4 * 1024,
                    };
                    Level {
                        label: format!("{} × 4 KiB", shape.parquet_files()),
                        shape,
                        multipart: None,
                    }
                })
                .collect(),
        }
    }
}

/// How the harness runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The S3 server (seeding, counting and clearing go here directly).
    pub endpoint: String,
    /// Latency added each way by the proxy the tools talk through.
    pub delay: Duration,
    pub tools: Vec<Tool>,
    pub rounds: usize,
    pub engine_bin: Option<PathBuf>,
    pub harness_bin: PathBuf,
    pub engine_concurrency: usize,
    /// See [`Invocation::connections`].
    pub connections: Option<usize>,
    /// See [`Invocation::footer_read_size`].
    pub footer_read_size: Option<u64>,
    pub work_dir: PathBuf,
    /// Keep the buckets afterwards.
    pub keep: bool,
    /// The S3 server's process id (same machine): its CPU per run goes in the table.
    pub server_pid: Option<u32>,
}

/// One run of one tool.
#[derive(Debug, Clone)]
pub struct Row {
    pub level: String,
    pub tool: Tool,
    pub round: usize,
    /// Objects and bytes found at the target afterwards.
    pub objects: u64,
    pub bytes: u64,
    pub measured: Measured,
    /// The server's CPU during the run, when its pid is known.
    pub server_cpu: Option<Duration>,
    pub ok: bool,
    pub note: String,
}

impl Row {
    fn secs(&self) -> f64 {
        self.measured.wall.as_secs_f64()
    }
    pub fn objects_per_sec(&self) -> f64 {
        self.objects as f64 / self.secs()
    }
    pub fn mib_per_sec(&self) -> f64 {
        self.bytes as f64 / MIB as f64 / self.secs()
    }
}

/// Every run of a scenario, plus the tools that were absent.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub rows: Vec<Row>,
    pub absent: Vec<Tool>,
    pub proxy_connections: u64,
}

impl Outcome {
    pub fn all_ok(&self) -> bool {
        !self.rows.is_empty() && self.rows.iter().all(|r| r.ok)
    }
}

/// Runs every level of `scenario` with every available tool, `rounds` times, rotating the
/// tool order each round.
pub async fn run_scenario(config: &Config, scenario: &Scenario) -> Result<Outcome> {
    std::fs::create_dir_all(&config.work_dir)?;
    let direct = data::client(&config.endpoint).await;
    let proxy = LatencyProxy::for_endpoint(&config.endpoint, config.delay)
        .await
        .with_context(|| format!("starting the latency proxy in front of {}", config.endpoint))?;
    let id = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis()
            % 1_000_000
    );
    let (src, dst) = (format!("lbb-src-{id}"), format!("lbb-dst-{id}"));
    data::ensure_bucket(&direct, &src).await?;
    data::ensure_bucket(&direct, &dst).await?;
    let result = run_levels(config, scenario, &direct, &proxy, &src, &dst).await;
    if !config.keep {
        data::remove_bucket(&direct, &src).await;
        data::remove_bucket(&direct, &dst).await;
    }
    let mut outcome = result?;
    outcome.proxy_connections = proxy.connections();
    Ok(outcome)
}

async fn run_levels(
    config: &Config,
    scenario: &Scenario,
    direct: &aws_sdk_s3::Client,
    proxy: &LatencyProxy,
    src: &str,
    dst: &str,
) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    let tools: Vec<Tool> = config
        .tools
        .iter()
        .copied()
        .filter(|t| {
            let ok = tools::available(*t);
            if !ok {
                outcome.absent.push(*t);
            }
            ok
        })
        .collect();
    if tools.is_empty() {
        bail!("none of the tools asked for is installed");
    }
    let mut seeded: Option<Shape> = None;
    for (li, level) in scenario.levels.iter().enumerate() {
        let shape = level.shape;
        let from = match seeded {
            Some(s)
                if s.tables == shape.tables
                    && s.batches == shape.batches
                    && s.object_size == shape.object_size
                    && s.files_per_batch <= shape.files_per_batch =>
            {
                s.files_per_batch
            }
            Some(_) => {
                data::clear(direct, src, "").await?;
                0
            }
            None => 0,
        };
        let seed_concurrency = if shape.object_size >= 64 * MIB as usize {
            2
        } else {
            64
        };
        let t = std::time::Instant::now();
        data::seed(
            direct,
            src,
            EXPORT_ID,
            &shape,
            from..shape.files_per_batch,
            seed_concurrency,
        )
        .await
        .context("seeding the source export")?;
        eprintln!(
            "[{}] seeded {} Parquet files in {:.1}s",
            level.label,
            shape.parquet_files(),
            t.elapsed().as_secs_f64()
        );
        seeded = Some(shape);
        for round in 0..config.rounds {
            for k in 0..tools.len() {
                let tool = tools[(k + round) % tools.len()];
                let row = run_one(config, level, li, round, tool, direct, proxy, src, dst).await?;
                eprintln!(
                    "[{}] round {} {:<16} {:>8.2}s {:>8.1} obj/s {:>7.1} MiB/s cpu {:>6.2}s rss {:>6.1} MiB server cpu {:>6.2}s {}{}",
                    level.label,
                    round + 1,
                    tool.name(),
                    row.measured.wall.as_secs_f64(),
                    row.objects_per_sec(),
                    row.mib_per_sec(),
                    row.measured.cpu().as_secs_f64(),
                    row.measured.max_rss as f64 / MIB as f64,
                    row.server_cpu.unwrap_or_default().as_secs_f64(),
                    if row.ok { "ok" } else { "FAILED" },
                    if row.note.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", row.note)
                    }
                );
                outcome.rows.push(row);
            }
        }
    }
    Ok(outcome)
}

#[allow(clippy::too_many_arguments)]
async fn run_one(
    config: &Config,
    level: &Level,
    level_index: usize,
    round: usize,
    tool: Tool,
    direct: &aws_sdk_s3::Client,
    proxy: &LatencyProxy,
    src: &str,
    dst: &str,
) -> Result<Row> {
    let invocation = Invocation {
        endpoint: proxy.endpoint(),
        src_bucket: src.to_string(),
        dst_bucket: dst.to_string(),
        export_id: EXPORT_ID.to_string(),
        dst_prefix: format!("{}-l{level_index}-r{round}", tool.name()),
        engine_bin: config.engine_bin.clone(),
        harness_bin: config.harness_bin.clone(),
        engine_concurrency: config.engine_concurrency,
        connections: config.connections,
        footer_read_size: config.footer_read_size,
        multipart: level.multipart,
        work_dir: config.work_dir.clone(),
    };
    let mut cmd = invocation.measured_command(tool)?;
    let rusage = invocation.rusage_path();
    let _ = std::fs::remove_file(&rusage);
    let server_before = config.server_pid.and_then(|p| process_cpu(p).ok());
    let outer = tokio::task::spawn_blocking(move || run_measured(&mut cmd))
        .await?
        .with_context(|| format!("running {}", tool.name()))?;
    let server_cpu = match (config.server_pid, server_before) {
        (Some(p), Some(before)) => process_cpu(p)
            .ok()
            .map(|after| after.saturating_sub(before)),
        _ => None,
    };
    // The wrapper's numbers are the tool's own; fall back to the wrapper's if it failed.
    let measured = read_measured(&rusage).unwrap_or(outer);
    let prefix = format!("{}/", invocation.dst_prefix);
    let (objects, bytes) = data::count(direct, dst, &prefix).await?;
    let expected = level.shape.parquet_files() as u64 + if tool.copies_metadata() { 3 } else { 0 };
    let mut ok = measured.success() && objects == expected;
    let mut notes = Vec::new();
    if !measured.success() {
        notes.push(format!(
            "exit {:?}: {}",
            measured.exit_code,
            invocation.log_tail(5).replace('\n', " / ")
        ));
    }
    if objects != expected {
        notes.push(format!("{objects} objects landed, {expected} expected"));
    }
    if tool.is_engine() {
        match std::fs::read_to_string(invocation.report_path())
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        {
            Some(report) => {
                let verify = tool == Tool::Engine;
                if report["verify"] != serde_json::Value::Bool(verify) {
                    ok = false;
                    notes.push(format!("verification was not {verify}"));
                }
                let failed = report["failed"].as_u64().unwrap_or(u64::MAX);
                if failed != 0 {
                    ok = false;
                    notes.push(format!("{failed} failed"));
                }
                let multipart = report["multipart_copies"].as_u64().unwrap_or(0);
                if multipart > 0 {
                    notes.push(format!("{multipart} multipart"));
                }
                let retries = report["retries"].as_u64().unwrap_or(0);
                if retries > 0 {
                    notes.push(format!("{retries} retries"));
                }
            }
            None => {
                ok = false;
                notes.push("no engine report".into());
            }
        }
    }
    data::clear(direct, dst, &prefix).await?;
    Ok(Row {
        level: level.label.clone(),
        tool,
        round,
        objects,
        bytes,
        measured,
        server_cpu,
        ok,
        note: notes.join("; "),
    })
}
