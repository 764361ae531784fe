//! The whole task: find the dump, load it, record the manifest, replace the snapshots.
//!
//! The order is what makes a half-loaded database impossible to snapshot: the load must
//! end with the dump's explicit end and every task joined ([`crate::pipeline`]); only
//! then are the rows counted and the manifest written, and only after that are the old
//! snapshots deleted and the new one requested. A stop ([`Stop`]) before that point
//! abandons the run with nothing deleted or created.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use crate::config::MysqlConfig;
use crate::error::{RestoreError, Result};
use crate::load::{LoadConfig, LoadReport};
use crate::manifest::{self, DumpInfo, Manifest, ManifestLocation};
use crate::stop::Stop;
use crate::zip::{RangeSource, S3Object, ZipLimits};
use crate::{dump, snapshot};

pub use crate::pipeline::{load_plain, load_zip};

/// Everything the task needs besides AWS clients.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskConfig {
    /// Database settings.
    pub mysql: MysqlConfig,
    /// Bucket the dumps are dropped in. Default empty (must be set).
    pub bucket: String,
    /// RDS instance to snapshot. Default empty (must be set).
    pub rds_instance_id: String,
    /// Load the dump of this date and backdate the snapshot. Default `None`: the task's
    /// start date (UTC). Set per run (`aws ecs run-task --overrides`), never in the task
    /// definition.
    pub import_date_override: Option<NaiveDate>,
    /// Key from the triggering S3 event, if any. Default `None`: look for the date's dump.
    pub event_key: Option<String>,
    /// Parallel loader settings.
    pub load: LoadConfig,
    /// Decompression-bomb limits.
    pub limits: ZipLimits,
    /// Where the restore manifest goes. Default `None`:
    /// `s3://<bucket>/liberator-manifests/` ([`ManifestLocation::default_for`]).
    pub manifest_location: Option<ManifestLocation>,
    /// Wait for the snapshot to become available, polling every 30 s, up to this long.
    /// Default `None`: return once the snapshot is requested.
    pub wait_for_snapshot: Option<Duration>,
}

impl TaskConfig {
    /// Where the manifest goes: the configured location, else the dump bucket's default.
    pub fn manifest_location(&self) -> ManifestLocation {
        self.manifest_location
            .clone()
            .unwrap_or_else(|| ManifestLocation::default_for(&self.bucket))
    }
}

/// What the task did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub key: String,
    pub report: LoadReport,
    pub deleted_snapshots: Vec<String>,
    pub snapshot_id: String,
    /// The manifest written before the snapshot, and its key under the manifest location.
    pub manifest: Manifest,
    pub manifest_key: String,
}

/// Runs the task, timestamped now and with no way to stop it: [`Run`] with its defaults.
/// The snapshot is only requested after every statement succeeded and the manifest is
/// written.
pub async fn run(
    cfg: &TaskConfig,
    s3: &aws_sdk_s3::Client,
    rds: &aws_sdk_rds::Client,
) -> Result<Outcome> {
    Run::new(cfg).execute(s3, rds).await
}

/// One run of the task, with the moment it started and what may stop it.
#[derive(Debug, Clone)]
pub struct Run<'a> {
    cfg: &'a TaskConfig,
    started: DateTime<Utc>,
    stop: Stop,
}

impl<'a> Run<'a> {
    /// A run starting now, never stopped.
    pub fn new(cfg: &'a TaskConfig) -> Self {
        Run {
            cfg,
            started: Utc::now(),
            stop: Stop::new(),
        }
    }

    /// When the task started: the snapshot id's timestamp and (without an override) the
    /// import date, so a load that crosses midnight UTC still stands for the day it began.
    pub fn started_at(mut self, started: DateTime<Utc>) -> Self {
        self.started = started;
        self
    }

    /// Stop when `stop` is requested (SIGTERM, SIGINT): see [`crate::stop`].
    pub fn stop_on(mut self, stop: Stop) -> Self {
        self.stop = stop;
        self
    }

    /// Runs the task, reading the dump straight from S3.
    pub async fn execute(
        self,
        s3: &aws_sdk_s3::Client,
        rds: &aws_sdk_rds::Client,
    ) -> Result<Outcome> {
        self.execute_with(s3, rds, |object| object).await
    }

    /// Runs the task, reading the dump through `wrap(object)`: a hook for sources that
    /// observe or alter the bytes (tests inject a reader that panics mid-entry here).
    #[tracing::instrument(skip_all, fields(bucket = %self.cfg.bucket, instance = %self.cfg.rds_instance_id))]
    pub async fn execute_with<S, F>(
        self,
        s3: &aws_sdk_s3::Client,
        rds: &aws_sdk_rds::Client,
        wrap: F,
    ) -> Result<Outcome>
    where
        S: RangeSource + Clone + 'static,
        F: FnOnce(S3Object) -> S,
    {
        let cfg = self.cfg;
        if cfg.bucket.is_empty() || cfg.rds_instance_id.is_empty() {
            return Err(RestoreError::Config(
                "bucket and RDS instance id are required".into(),
            ));
        }
        let date = cfg
            .import_date_override
            .unwrap_or_else(|| self.started.date_naive());
        let snapshot_id = snapshot::snapshot_id(self.started, cfg.import_date_override);
        let location = cfg.manifest_location();
        tracing::info!(import_date = %date, snapshot = %snapshot_id, started = %self.started.to_rfc3339(), "restore starting");

        // Everything up to the manifest can be abandoned on a stop: nothing is changed yet
        // but the database being loaded.
        const LOADING: &str = "loading the dump (no snapshot taken, no snapshot deleted)";
        let (key, src, report, tables) = self
            .stop
            .guard(LOADING, async {
                let key = dump::locate(s3, &cfg.bucket, cfg.event_key.as_deref(), date).await?;
                let src = wrap(S3Object {
                    client: s3.clone(),
                    bucket: cfg.bucket.clone(),
                    key: key.clone(),
                });
                let report = load_zip(&src, &cfg.mysql, &cfg.load, &cfg.limits).await?;
                log_report(&report);
                let tables = manifest::count_rows(&cfg.mysql, &report.databases, &report).await?;
                Ok((key, src, report, tables))
            })
            .await?;
        let size = self.stop.guard(LOADING, src.size()).await?;
        let manifest = Manifest {
            version: manifest::VERSION,
            snapshot_id: snapshot_id.clone(),
            import_date: date,
            created_at: Utc::now(),
            dump: DumpInfo {
                bucket: cfg.bucket.clone(),
                key: key.clone(),
                size,
                entries: report.entries.clone(),
            },
            tables,
        };
        if let Some(signal) = self.stop.requested() {
            return Err(RestoreError::Stopped {
                signal,
                phase: LOADING,
            });
        }

        // From here on the few calls run to their end even if a stop arrives: a manifest
        // without its snapshot, or old snapshots deleted without a new one, would be worse.
        let manifest_key = manifest::write(s3, &location, &manifest).await?;
        let deleted = snapshot::delete_old(rds, &cfg.rds_instance_id).await?;
        snapshot::create(rds, &cfg.rds_instance_id, &snapshot_id).await?;
        if let Some(timeout) = cfg.wait_for_snapshot {
            const WAITING: &str = "waiting for the snapshot to become available (it was requested)";
            self.stop
                .guard(
                    WAITING,
                    snapshot::wait_available(rds, &snapshot_id, Duration::from_secs(30), timeout),
                )
                .await?;
        }
        if let Some(signal) = self.stop.requested() {
            tracing::warn!(
                signal,
                "stop requested while the snapshot was being requested; it was completed first"
            );
        }
        Ok(Outcome {
            key,
            report,
            deleted_snapshots: deleted,
            snapshot_id,
            manifest,
            manifest_key,
        })
    }
}

/// Logs rows per table, bytes and throughput.
pub fn log_report(report: &LoadReport) {
    for (table, rows) in &report.rows {
        tracing::info!(table = %table, rows, "loaded");
    }
    tracing::info!(
        statements = report.statements,
        bytes = report.bytes,
        seconds = format!("{:.1}", report.elapsed.as_secs_f64()),
        mb_per_s = format!("{:.1}", report.mb_per_s()),
        "load complete"
    );
}
