//! One export run: list → map → verify → copy → report. [`Engine`] holds the store and the
//! configuration; [`Engine::start_export`] returns an [`ExportHandle`] that stops or awaits
//! the run; [`Engine::land_object`] lands one object outside any run (S3 Batch Operations
//! tasks, tools). A caller that stops runs from outside (signals, deadlines) passes a
//! [`Shutdown`] in ([`Engine::start_export_with`]).

mod complete;
mod dispatch;
mod drift;
mod object;
mod prune;
mod stop;

pub use stop::Shutdown;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use liberator_aws::AwsOptions;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::completeness::ExportOutcome;
use crate::copy::{CopyPlan, ObjectTask, OpenUploads};
use crate::error::{Error, Result};
use crate::export_id::ExportId;
use crate::limiter::{Limiter, LimiterConfig};
use crate::location::Location;
use crate::report::{Failure, Report};
use crate::retry::RetryConfig;
use crate::stats::JobStats;
use crate::store::{ObjectInfo, ObjectStore, Store, WriteOptions};
use crate::verify::DEFAULT_FOOTER_READ;

/// What to do when an object fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FailurePolicy {
    /// Land everything that can land and report every failure (the run still fails).
    #[default]
    Continue,
    /// Stop dispatching at the first failure; objects in flight finish.
    FailFast,
}

/// How the engine copies.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Requests in flight: one adaptive limiter for every request. Default:
    /// [`LimiterConfig::default`] (256, halving on throttling; may probe up to a higher
    /// configured maximum).
    pub limiter: LimiterConfig,
    /// Objects in flight (each makes a few requests in turn: footer read, copy, check).
    /// Default 256, the limiter's maximum: each object has one request in flight at a time,
    /// so as many objects as permits keep every permit busy, one object's footer read
    /// overlapping others' copies.
    pub objects_in_flight: usize,
    /// Retries. Default: [`RetryConfig::default`].
    pub retry: RetryConfig,
    /// Largest object copied with one CopyObject; larger ones use UploadPartCopy. Default
    /// 256 MiB. Objects over 5 GiB are always multipart, whatever this says.
    pub multipart_threshold: u64,
    /// Preferred part size for multipart copies. Default 64 MiB (raised to stay within
    /// 10,000 parts).
    pub part_size: u64,
    /// ACL and encryption of target objects. Default: `bucket-owner-full-control`, no KMS key.
    pub write: WriteOptions,
    /// Check each source file's Parquet footer before copying. Default true.
    pub verify: bool,
    /// Bytes read from the end of each file for the footer. Default 16 KiB
    /// ([`DEFAULT_FOOTER_READ`]).
    pub footer_read_size: u64,
    /// Copy even what is already at the target. Default false.
    pub force: bool,
    /// Plan and report without writing. Default false.
    pub dry_run: bool,
    /// Default [`FailurePolicy::Continue`].
    pub failure_policy: FailurePolicy,
    /// Where the restore task writes its manifests (`<prefix><snapshot-id>.json`): the
    /// rows each table held, compared with the rows landed. Default: none, so only the
    /// export's own table list and statuses are checked (historic exports), which the
    /// report says.
    pub manifests: Option<Location>,
    /// Leave files of other exports in this export's date partitions. Default false: after
    /// a complete, checked landing they are removed (listed in the report), so landing a
    /// date again replaces it instead of adding its rows twice.
    pub keep_other_files: bool,
    /// Fail the run (the copier: start no Glue workflow) when a column was removed or
    /// retyped since the previous import date landed on the target ([`crate::schema`]).
    /// Default false: schema changes are reported and logged, and fail nothing.
    pub fail_on_schema_change: bool,
    /// Where clean landings' reports are kept in the landing bucket, per target prefix and
    /// import date, for the next date's schema comparison. Default `_liberator/reports/`
    /// ([`crate::schema::history`]).
    pub reports_prefix: String,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            limiter: LimiterConfig::default(),
            objects_in_flight: 256,
            retry: RetryConfig::default(),
            multipart_threshold: 256 * crate::copy::plan::MIB,
            part_size: 64 * crate::copy::plan::MIB,
            write: WriteOptions::default(),
            verify: true,
            footer_read_size: DEFAULT_FOOTER_READ,
            force: false,
            dry_run: false,
            failure_policy: FailurePolicy::Continue,
            keep_other_files: false,
            manifests: None,
            fail_on_schema_change: false,
            reports_prefix: crate::schema::history::DEFAULT_REPORTS_PREFIX.into(),
        }
    }
}

/// One export to land.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub export_id: ExportId,
    /// Overrides the date in the export id.
    pub import_date: Option<NaiveDate>,
    /// Export bucket and the prefix the export folders sit under.
    pub source: Location,
    /// Landing bucket and prefix.
    pub target: Location,
    /// The export task as DescribeExportTasks reported it (status, `WarningMessage`,
    /// `FailureCause`), when the caller asked (the copier does); it overlays what the
    /// export's own `export_info_*.json` says. `None`: the file alone.
    pub task: Option<ExportOutcome>,
}

/// What happened to one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectOutcome {
    Copied(CopyPlan),
    Skipped,
    /// Dry run: what would be done.
    Planned(CopyPlan),
    Failed(String),
}

/// Progress callbacks of an export run (the CLI's progress bars and dry-run listing).
pub trait ExportProgress: Send + Sync {
    /// Objects seen by the listing so far grew by `n` (`bytes` in all).
    fn listed(&self, _n: u64, _bytes: u64) {}
    /// One object is done.
    fn object(&self, _source_key: &str, _target_key: &str, _size: u64, _outcome: &ObjectOutcome) {}
}

/// No progress output.
#[derive(Debug, Default)]
pub struct NoProgress;
impl ExportProgress for NoProgress {}

/// The copy engine: a governed store and a configuration.
#[derive(Debug)]
pub struct Engine {
    store: Store,
    config: EngineConfig,
}

impl Engine {
    /// An engine for copies between `source` and `target` (both `s3://` or both local).
    pub async fn connect(
        source: &Location,
        target: &Location,
        aws: &AwsOptions,
        config: EngineConfig,
    ) -> Result<Arc<Self>> {
        let limiter = Limiter::new(config.limiter.clone());
        let store =
            Store::for_locations(source, target, aws, limiter, config.retry.clone()).await?;
        Ok(Arc::new(Engine { store, config }))
    }

    /// An engine over any backend, governed by the configuration's limiter and retries.
    pub fn with_backend(backend: Arc<dyn ObjectStore>, config: EngineConfig) -> Arc<Self> {
        let limiter = Limiter::new(config.limiter.clone());
        let store = Store::new(backend, limiter, config.retry.clone());
        Arc::new(Engine { store, config })
    }

    /// An engine over an already governed store.
    pub fn with_store(store: Store, config: EngineConfig) -> Arc<Self> {
        Arc::new(Engine { store, config })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Starts landing one export; the handle stops or awaits it.
    pub fn start_export(
        self: &Arc<Self>,
        request: ExportRequest,
        progress: Arc<dyn ExportProgress>,
    ) -> ExportHandle {
        self.start_export_with(request, progress, Shutdown::new())
    }

    /// Starts landing one export that stops when `shutdown` asks (see [`Shutdown`]); the
    /// handle's own [`ExportHandle::stop`] requests the same shutdown.
    pub fn start_export_with(
        self: &Arc<Self>,
        request: ExportRequest,
        progress: Arc<dyn ExportProgress>,
        shutdown: Shutdown,
    ) -> ExportHandle {
        let stats = Arc::new(JobStats::default());
        let mut tasks = JoinSet::new();
        let span = tracing::info_span!("export", export_id = %request.export_id);
        tasks.spawn(
            dispatch::run(
                self.clone(),
                request,
                shutdown.clone(),
                stats.clone(),
                progress,
            )
            .instrument(span),
        );
        ExportHandle {
            tasks,
            shutdown,
            stats,
        }
    }

    /// Lands one export and returns its report.
    pub async fn land_export(
        self: &Arc<Self>,
        request: ExportRequest,
        progress: Arc<dyn ExportProgress>,
    ) -> Result<Report> {
        self.start_export(request, progress).join().await
    }

    /// Lands one export, stopping when `shutdown` asks; the report says how far it got.
    pub async fn land_export_with(
        self: &Arc<Self>,
        request: ExportRequest,
        progress: Arc<dyn ExportProgress>,
        shutdown: Shutdown,
    ) -> Result<Report> {
        self.start_export_with(request, progress, shutdown)
            .join()
            .await
    }

    /// The end of a landing whose objects were copied outside this engine's runs (S3
    /// Batch Operations tasks): `report` holds what landed (`tables` with the rows the
    /// tasks read from the footers, `listed`, `complete`, failures); the completeness
    /// check and, for a clean landing, the removal of other exports' files of the date
    /// (unless `keep_other_files`) run exactly as at the end of [`Engine::land_export`],
    /// and write into `report`.
    pub async fn conclude_export(&self, request: &ExportRequest, report: &mut Report) {
        let date = request.import_date.unwrap_or(request.export_id.date());
        let layout = crate::layout::Layout::new(
            request.source.prefix(),
            request.export_id.as_str(),
            request.target.prefix(),
            date,
        );
        complete::conclude(
            &self.store,
            &self.config,
            &request.source.bucket(),
            &request.target.bucket(),
            &layout,
            request.export_id.as_str(),
            request.task.as_ref(),
            report,
        )
        .await;
    }

    /// Lands one object, outside any export run (S3 Batch Operations tasks, tools): HEAD the
    /// source, check its footer (when verification is on), skip it when already at the
    /// target, else copy it (multipart above the threshold) and check the copy. Returns what
    /// was done and the footer's row count.
    #[tracing::instrument(skip_all, fields(bucket = src_bucket, key = src_key))]
    pub async fn land_object(
        &self,
        src_bucket: &str,
        src_key: &str,
        dst_bucket: &str,
        dst_key: &str,
    ) -> Result<(ObjectOutcome, Option<u64>)> {
        let stats = JobStats::default();
        let head =
            self.store
                .head(src_bucket, src_key)
                .await?
                .ok_or_else(|| Error::Unsupported {
                    bucket: src_bucket.to_string(),
                    key: src_key.to_string(),
                    reason: "source object does not exist".into(),
                })?;
        let task = ObjectTask {
            src_bucket: src_bucket.to_string(),
            src: ObjectInfo {
                key: src_key.to_string(),
                size: head.size,
                etag: head.etag,
            },
            dst_bucket: dst_bucket.to_string(),
            dst_key: dst_key.to_string(),
        };
        let uploads = OpenUploads::new();
        let (outcome, footer) = object::land(
            &self.store,
            &self.config,
            &task,
            &object::Fresh::known(false),
            &stats,
            &uploads,
        )
        .await?;
        Ok((outcome, footer.map(|f| f.rows)))
    }
}

/// A running export. Dropping it aborts the run outright (nothing is cleaned up): stop it
/// with [`ExportHandle::stop`] or its [`Shutdown`] and join it instead.
#[derive(Debug)]
pub struct ExportHandle {
    tasks: JoinSet<Report>,
    shutdown: Shutdown,
    stats: Arc<JobStats>,
}

/// Stops a run from elsewhere (a deadline timer, a signal) while its handle is joined.
#[derive(Debug, Clone)]
pub struct Stopper(Shutdown);

impl Stopper {
    /// Stop starting new copies; those in flight finish (retrying as needed) and the report
    /// says `complete: false`.
    pub fn stop(&self) {
        self.0.drain("a stop request");
    }

    /// Cancel the copies in flight too; their multipart uploads are aborted before the
    /// run returns.
    pub fn cancel(&self) {
        self.0.cancel("a stop request");
    }
}

impl ExportHandle {
    /// Stop starting new copies; those in flight finish and the report says `complete: false`.
    pub fn stop(&self) {
        self.shutdown.drain("a stop request");
    }

    /// A [`Stopper`] for this run, usable while [`ExportHandle::join`] is awaited.
    pub fn stopper(&self) -> Stopper {
        Stopper(self.shutdown.clone())
    }

    /// Live counters.
    pub fn stats(&self) -> &Arc<JobStats> {
        &self.stats
    }

    /// Waits for the report.
    pub async fn join(mut self) -> Result<Report> {
        match self.tasks.join_next().await {
            Some(Ok(report)) => Ok(report),
            Some(Err(e)) => Err(Error::Interrupted(format!(
                "export task ended abnormally: {e}"
            ))),
            None => Err(Error::Interrupted("export task missing".into())),
        }
    }
}

/// Report of a run that could not start, e.g. a bad export id given to a Lambda.
pub fn failed_report(export_id: &str, reason: &str) -> Report {
    Report {
        export_id: export_id.to_string(),
        complete: false,
        failures: vec![Failure {
            key: export_id.to_string(),
            reason: reason.to_string(),
        }],
        tables: BTreeMap::new(),
        ..Default::default()
    }
}
