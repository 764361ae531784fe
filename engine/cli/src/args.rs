//! The command line: global flags and the arguments several commands share.

use clap::{Args, Parser, Subcommand};
use liberator_engine::{EngineConfig, LimiterConfig, Location, WriteOptions};
use liberator_telemetry::LogFormat;

use crate::commands::{backfill, copy, demo, export_local, sample, status, verify};

#[derive(Parser, Debug)]
#[command(
    name = "engine",
    version,
    about = "Land RDS Parquet exports in the Liberator landing zone"
)]
pub struct Cli {
    /// S3 endpoint (S3-compatible servers); path-style addressing is used when set.
    #[arg(long, global = true, env = "AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
    /// Log lines as JSON or text; auto: JSON unless stderr is a terminal.
    #[arg(long, global = true, value_enum, default_value = "auto")]
    pub log_format: LogFormatArg,
    /// Same as --log-format json.
    #[arg(long, global = true)]
    pub json_logs: bool,
    /// Print the metrics summary on stderr at the end of any command (copy and backfill
    /// always print it).
    #[arg(long, global = true)]
    pub metrics: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// `--log-format`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormatArg {
    Auto,
    Json,
    Text,
}

impl From<LogFormatArg> for LogFormat {
    fn from(a: LogFormatArg) -> Self {
        match a {
            LogFormatArg::Auto => LogFormat::Auto,
            LogFormatArg::Json => LogFormat::Json,
            LogFormatArg::Text => LogFormat::Text,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Land one export.
    Copy(copy::Copy),
    /// Discover the sql-to-parquet-* exports under the source and land each, oldest first.
    Backfill(backfill::Backfill),
    /// Check the Parquet footer of every .parquet file under a location.
    Verify(verify::Verify),
    /// Export every table of a MySQL/MariaDB database as Parquet in the RDS export layout:
    /// the local stand-in for RDS's StartExportTask. Password from MYSQL_PASS.
    ExportLocal(export_local::ExportLocal),
    /// Write a realistic sample export (RDS layout, metadata files, real Parquet).
    Sample(sample::Sample),
    /// Write a sample export into DIR/exports and land it in DIR/landing: no server needed.
    Demo(demo::Demo),
    /// Where a day's pipeline stands, read from AWS: dump, restore, export, landing, Glue.
    /// Exit 0 complete, 1 failed, 3 in progress, 2 bad input.
    Status(status::Status),
}

impl Command {
    /// Whether this command lands exports, whose end prints the metrics summary.
    pub fn is_a_run(&self) -> bool {
        matches!(self, Command::Copy(_) | Command::Backfill(_))
    }

    /// Whether this command calls AWS (an `s3://` location, or `status`), so credentials
    /// are checked once before it starts.
    pub fn needs_aws(&self) -> bool {
        let s3 = |l: &str| l.starts_with("s3://");
        match self {
            Command::Copy(c) => s3(&c.locations.source) || s3(&c.locations.target),
            Command::Backfill(c) => s3(&c.locations.source) || s3(&c.locations.target),
            Command::Verify(c) => s3(&c.location),
            Command::Sample(c) => s3(&c.location),
            Command::ExportLocal(c) => s3(&c.target),
            Command::Status(_) => true,
            Command::Demo(_) => false,
        }
    }
}

#[derive(Args, Debug)]
pub struct Locations {
    /// Export bucket: s3://BUCKET[/PREFIX] or a local folder.
    #[arg(long)]
    pub source: String,
    /// Landing zone: s3://BUCKET/PREFIX or a local folder.
    #[arg(long)]
    pub target: String,
}

#[derive(Args, Debug)]
pub struct CopyArgs {
    /// Requests (connections) in flight at the start; halved on throttling.
    #[arg(long, default_value_t = LimiterConfig::default().initial)]
    pub concurrency: usize,
    /// Most requests in flight: above --concurrency, the engine probes up to this while
    /// nothing is throttled (for stores far away, where requests in flight set the rate).
    /// Also the number of objects in flight. Default: --concurrency.
    #[arg(long)]
    pub max_concurrency: Option<usize>,
    /// Print the mapping without writing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Copy even what is already at the target.
    #[arg(long)]
    pub force: bool,
    /// Skip the Parquet footer checks.
    #[arg(long)]
    pub no_verify: bool,
    /// Write the JSON report here.
    #[arg(long)]
    pub report: Option<std::path::PathBuf>,
    /// The JSON report on stdout even on a terminal (off a terminal it is there unless
    /// --report names a file).
    #[arg(long)]
    pub json: bool,
    /// Largest object copied with one CopyObject (bytes); 5 GiB at most.
    #[arg(long, default_value_t = EngineConfig::default().multipart_threshold)]
    pub multipart_threshold: u64,
    /// Preferred multipart part size (bytes).
    #[arg(long, default_value_t = EngineConfig::default().part_size)]
    pub part_size: u64,
    /// SSE-KMS key id for the landed objects.
    #[arg(long)]
    pub sse_kms_key_id: Option<String>,
    /// Canned ACL for landed objects ("none" to send none).
    #[arg(long, default_value = "bucket-owner-full-control")]
    pub acl: String,
    /// Where the restore task writes its manifests (s3://BUCKET/PREFIX/): landed rows are
    /// checked against the manifest of the export's snapshot. Without it, only the export's
    /// own table list and statuses are checked.
    #[arg(long, env = "MANIFEST_LOCATION")]
    pub manifests: Option<String>,
    /// Keep files of other exports in this export's date partitions (by default they are
    /// removed once this export landed whole, so a date landed twice holds its rows once).
    #[arg(long)]
    pub keep_other_files: bool,
    /// After SIGTERM or SIGINT, how long the copies in flight may take to finish before
    /// they are cancelled and their multipart uploads aborted. Default 20: ECS sends
    /// SIGKILL 30 s after SIGTERM, which leaves 10 s to abort uploads and write the report.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::signals::DEFAULT_STOP_GRACE_SECS)]
    pub stop_grace: u64,
    /// Fail the run (exit 1) when a column was removed or retyped since the previous import
    /// date landed on the target (its report is kept under _liberator/reports/ in the
    /// landing bucket). Without it schema changes are only reported; added columns and
    /// nullability changes never fail.
    #[arg(long)]
    pub fail_on_schema_change: bool,
}

impl CopyArgs {
    /// `--stop-grace`.
    pub fn stop_grace(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.stop_grace)
    }

    /// The probe's ceiling: `--max-concurrency`, never below `--concurrency`.
    fn max_concurrency(&self) -> usize {
        self.max_concurrency
            .unwrap_or(self.concurrency)
            .max(self.concurrency)
            .max(1)
    }

    /// The engine configuration these flags describe.
    pub fn config(&self) -> anyhow::Result<EngineConfig> {
        let manifests = match &self.manifests {
            Some(m) => {
                Some(Location::parse(m).map_err(|e| anyhow::anyhow!("--manifests {m:?}: {e}"))?)
            }
            None => None,
        };
        Ok(EngineConfig {
            limiter: LimiterConfig {
                initial: self.concurrency.max(1),
                max: self.max_concurrency(),
                ..LimiterConfig::default()
            },
            objects_in_flight: self.max_concurrency(),
            multipart_threshold: self.multipart_threshold,
            part_size: self.part_size,
            write: WriteOptions {
                acl: (self.acl != "none").then(|| self.acl.clone()),
                sse_kms_key_id: self.sse_kms_key_id.clone(),
            },
            verify: !self.no_verify,
            force: self.force,
            dry_run: self.dry_run,
            keep_other_files: self.keep_other_files,
            fail_on_schema_change: self.fail_on_schema_change,
            manifests,
            ..EngineConfig::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn copy_flags_make_the_engine_config() {
        let cli = Cli::parse_from([
            "engine",
            "copy",
            "sql-to-parquet-24-06-04-101500",
            "--source",
            "a",
            "--target",
            "b",
            "--acl",
            "none",
            "--concurrency",
            "0",
            "--dry-run",
        ]);
        let Command::Copy(c) = cli.command else {
            panic!("parsed {cli:?}")
        };
        let config = c.copy.config().unwrap();
        assert_eq!(config.write.acl, None);
        assert_eq!(config.limiter.max, 1);
        assert!(config.dry_run && config.verify && !config.force);
        assert!(
            !config.fail_on_schema_change,
            "schema changes only warn by default"
        );
    }
}
