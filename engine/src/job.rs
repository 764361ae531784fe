//! One export run: list → map → verify → copy → report.
//!
//! The listing runs in its own task, a page ahead, into a bounded channel; the dispatcher
//! groups each table's keys (listings are grouped by table: S3 lists in key order, local
//! walks are depth-first), checks the group for target collisions, then hands objects to
//! workers, each holding one limiter permit. Memory is bounded by the largest table's key
//! count and the number of permits, never by the export's size.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::copy::{CopyPlan, CopySettings, CopyTask, copy_object, is_same, plan};
use crate::error::{Error, Result};
use crate::export_id::ExportId;
use crate::layout::{Layout, Mapped, ParquetKey};
use crate::limiter::{Limiter, LimiterConfig, Permit};
use crate::location::Location;
use crate::metrics as names;
use crate::report::{Failure, Report, TableReport};
use crate::retry::RetryConfig;
use crate::stats::JobStats;
use crate::store::{ObjectInfo, S3Config, Store, WriteOptions};
use crate::verify::{DEFAULT_FOOTER_READ, verify_object};

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
pub struct CopyConfig {
    /// Concurrency: one limiter for every request. Default: [`LimiterConfig::default`]
    /// (256 in flight, adaptive).
    pub limiter: LimiterConfig,
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
    /// Bytes read from the end of each file for the footer. Default 64 KiB.
    pub footer_read_size: u64,
    /// Copy even what is already at the target. Default false.
    pub force: bool,
    /// Plan and report without writing. Default false.
    pub dry_run: bool,
    /// Default [`FailurePolicy::Continue`].
    pub failure_policy: FailurePolicy,
}

impl Default for CopyConfig {
    fn default() -> Self {
        CopyConfig {
            limiter: LimiterConfig::default(),
            retry: RetryConfig::default(),
            multipart_threshold: 256 * crate::copy::plan::MIB,
            part_size: 64 * crate::copy::plan::MIB,
            write: WriteOptions::default(),
            verify: true,
            footer_read_size: DEFAULT_FOOTER_READ,
            force: false,
            dry_run: false,
            failure_policy: FailurePolicy::Continue,
        }
    }
}

/// One export to land.
#[derive(Debug, Clone)]
pub struct CopyRequest {
    pub export_id: ExportId,
    /// Overrides the date in the export id.
    pub import_date: Option<NaiveDate>,
    /// Export bucket and the prefix the export folders sit under.
    pub source: Location,
    /// Landing bucket and prefix.
    pub target: Location,
}

/// What happened to one object, for progress displays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Copied(CopyPlan),
    Skipped,
    /// Dry run: what would be done.
    Planned(CopyPlan),
    Failed(String),
}

/// Progress callbacks (the CLI's progress bars and dry-run listing).
pub trait Progress: Send + Sync {
    /// Objects seen by the listing so far grew by `n` (`bytes` in all).
    fn listed(&self, _n: u64, _bytes: u64) {}
    /// One object is done.
    fn object(&self, _source_key: &str, _target_key: &str, _size: u64, _outcome: &Outcome) {}
}

/// No progress output.
#[derive(Debug, Default)]
pub struct NoProgress;
impl Progress for NoProgress {}

/// The copy engine: a store, one limiter, a configuration.
#[derive(Debug)]
pub struct Engine {
    store: Store,
    limiter: Arc<Limiter>,
    config: CopyConfig,
}

impl Engine {
    /// An engine for copies between `source` and `target` (both `s3://` or both local).
    pub async fn connect(
        source: &Location,
        target: &Location,
        s3: &S3Config,
        config: CopyConfig,
    ) -> Result<Arc<Self>> {
        let limiter = Limiter::new(config.limiter.clone());
        let store =
            Store::for_locations(source, target, s3, limiter.clone(), config.retry.clone()).await?;
        Ok(Arc::new(Engine {
            store,
            limiter,
            config,
        }))
    }

    /// An engine over an existing store; `limiter` must be the one the store reports
    /// throttling to.
    pub fn with_store(store: Store, limiter: Arc<Limiter>, config: CopyConfig) -> Arc<Self> {
        Arc::new(Engine {
            store,
            limiter,
            config,
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn config(&self) -> &CopyConfig {
        &self.config
    }

    /// Starts landing one export; the handle stops or awaits it.
    pub fn start(
        self: &Arc<Self>,
        request: CopyRequest,
        progress: Arc<dyn Progress>,
    ) -> CopyHandle {
        let cancel = CancellationToken::new();
        let stats = Arc::new(JobStats::default());
        let mut tasks = JoinSet::new();
        let span = tracing::info_span!("export", export_id = %request.export_id);
        tasks.spawn(
            run(
                self.clone(),
                request,
                cancel.clone(),
                stats.clone(),
                progress,
            )
            .instrument(span),
        );
        CopyHandle {
            tasks,
            cancel,
            stats,
        }
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
    ) -> Result<(Outcome, Option<u64>)> {
        let stats = Arc::new(JobStats::default());
        let permit = self.limiter.acquire().await;
        let head = self
            .store
            .head(src_bucket, src_key, &stats)
            .await?
            .ok_or_else(|| Error::Unsupported {
                bucket: src_bucket.to_string(),
                key: src_key.to_string(),
                reason: "source object does not exist".into(),
            })?;
        let task = CopyTask {
            src_bucket: src_bucket.to_string(),
            src: ObjectInfo {
                key: src_key.to_string(),
                size: head.size,
                etag: head.etag,
            },
            dst_bucket: dst_bucket.to_string(),
            dst_key: dst_key.to_string(),
        };
        land(self, &task, false, permit, &stats).await
    }

    /// Lands one export and returns its report.
    pub async fn copy(
        self: &Arc<Self>,
        request: CopyRequest,
        progress: Arc<dyn Progress>,
    ) -> Result<Report> {
        self.start(request, progress).join().await
    }
}

/// A running export. Dropping it aborts the run.
#[derive(Debug)]
pub struct CopyHandle {
    tasks: JoinSet<Report>,
    cancel: CancellationToken,
    stats: Arc<JobStats>,
}

/// Stops a run from elsewhere (e.g. a deadline timer) while its handle is being joined.
#[derive(Debug, Clone)]
pub struct Stopper(CancellationToken);

impl Stopper {
    /// Stop starting new copies; those in flight finish and the report says `complete: false`.
    pub fn stop(&self) {
        self.0.cancel();
    }
}

impl CopyHandle {
    /// Stop starting new copies; those in flight finish and the report says `complete: false`.
    pub fn stop(&self) {
        self.cancel.cancel();
    }

    /// A [`Stopper`] for this run, usable while [`CopyHandle::join`] is awaited.
    pub fn stopper(&self) -> Stopper {
        Stopper(self.cancel.clone())
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

/// One object's result, sent back to the dispatcher.
struct Done {
    table: String,
    source_key: String,
    target_key: String,
    size: u64,
    rows: Option<u64>,
    outcome: Result<Outcome>,
}

struct Dispatcher {
    engine: Arc<Engine>,
    stats: Arc<JobStats>,
    progress: Arc<dyn Progress>,
    cancel: CancellationToken,
    layout: Layout,
    src_bucket: Arc<str>,
    dst_bucket: Arc<str>,
    tasks: JoinSet<Done>,
    report: Report,
    finished_tables: HashSet<String>,
    stop: bool,
}

async fn run(
    engine: Arc<Engine>,
    req: CopyRequest,
    cancel: CancellationToken,
    stats: Arc<JobStats>,
    progress: Arc<dyn Progress>,
) -> Report {
    let started = Instant::now();
    let cfg = &engine.config;
    let date = req.import_date.unwrap_or(req.export_id.date());
    let layout = Layout::new(
        req.source.prefix(),
        req.export_id.as_str(),
        req.target.prefix(),
        date,
    );
    let report = Report {
        export_id: req.export_id.to_string(),
        import_date: date.format("%Y-%m-%d").to_string(),
        source: format!("{}", req.source.join(req.export_id.as_str())),
        target: format!("{}", req.target),
        dry_run: cfg.dry_run,
        force: cfg.force,
        verify: cfg.verify,
        complete: true,
        ..Default::default()
    };
    let src_bucket: Arc<str> = req.source.bucket().into();
    let mut d = Dispatcher {
        stats: stats.clone(),
        progress,
        cancel: cancel.clone(),
        dst_bucket: req.target.bucket().into(),
        src_bucket: src_bucket.clone(),
        tasks: JoinSet::new(),
        report,
        finished_tables: HashSet::new(),
        stop: false,
        layout,
        engine: engine.clone(),
    };
    tracing::info!(source = %d.report.source, target = %d.report.target, "landing export");

    // The listing runs a page ahead of the dispatcher.
    let (tx, mut rx) = mpsc::channel(2);
    let mut pages = engine
        .store
        .list(&src_bucket, d.layout.export_root(), stats.clone());
    let lister = tokio::spawn(async move {
        while let Some(page) = pages.next().await {
            if tx.send(page).await.is_err() {
                break;
            }
        }
    });

    let mut group: Option<(String, Vec<(ObjectInfo, ParquetKey)>)> = None;
    loop {
        let page = tokio::select! {
            _ = cancel.cancelled() => { d.stop = true; None }
            page = rx.recv() => page,
        };
        let objects = match page {
            None => break,
            Some(Err(e)) => {
                d.report.complete = false;
                d.report.failures.push(Failure {
                    key: d.layout.export_root().to_string(),
                    reason: format!("listing failed: {e}"),
                });
                break;
            }
            Some(Ok(objects)) => objects,
        };
        let bytes: u64 = objects.iter().map(|o| o.size).sum();
        JobStats::add(&stats.listed, objects.len() as u64);
        JobStats::add(&stats.listed_bytes, bytes);
        metrics::counter!(names::OBJECTS_LISTED).increment(objects.len() as u64);
        d.progress.listed(objects.len() as u64, bytes);
        for obj in objects {
            d.report.listed += 1;
            d.report.bytes_listed += obj.size;
            match d.layout.map(&obj.key) {
                Ok(Mapped::Other) => {
                    d.report.non_parquet += 1;
                    JobStats::add(&stats.non_parquet, 1);
                    metrics::counter!(names::OBJECTS_NON_PARQUET).increment(1);
                }
                Ok(Mapped::Parquet(pk)) => {
                    if group.as_ref().is_some_and(|(t, _)| *t != pk.table)
                        && let Some((table, items)) = group.take()
                    {
                        d.dispatch_table(table, items).await;
                    }
                    group
                        .get_or_insert_with(|| (pk.table.clone(), Vec::new()))
                        .1
                        .push((obj, pk));
                }
                Err(e) => d.fail(&obj.key, &e),
            }
        }
        if d.stop {
            break;
        }
    }
    if let Some((table, items)) = group.take()
        && !d.stop
    {
        d.dispatch_table(table, items).await;
    }
    lister.abort();
    while let Some(res) = d.tasks.join_next().await {
        d.record(res);
    }
    if d.stop || cancel.is_cancelled() {
        d.report.complete = false;
    }
    if d.report.complete && d.report.listed == 0 {
        d.report.failures.push(Failure {
            key: d.layout.export_root().to_string(),
            reason: "no objects under the export folder: wrong export id or source?".into(),
        });
    } else if d.report.complete && d.report.listed == d.report.non_parquet && d.report.failed == 0 {
        d.report.failures.push(Failure {
            key: d.layout.export_root().to_string(),
            reason: format!(
                "the export holds no Parquet files ({} other objects)",
                d.report.non_parquet
            ),
        });
    }
    let s = &stats;
    d.report.retries = JobStats::get(&s.retries);
    d.report.throttles = JobStats::get(&s.throttles);
    d.report.multipart_copies = JobStats::get(&s.multipart);
    d.report.duration_secs = started.elapsed().as_secs_f64();
    metrics::histogram!(names::EXPORT_SECONDS).record(d.report.duration_secs);
    if d.report.is_success() || d.report.dry_run && d.report.failures.is_empty() {
        tracing::info!(
            copied = d.report.copied,
            skipped = d.report.skipped,
            "export landed"
        );
    } else {
        tracing::error!(
            failed = d.report.failed,
            complete = d.report.complete,
            "export did not land completely"
        );
    }
    d.report
}

impl Dispatcher {
    fn fail(&mut self, key: &str, err: &Error) {
        tracing::error!(key, error = %err, "object failed");
        self.report.failed += 1;
        JobStats::add(&self.stats.failed, 1);
        metrics::counter!(names::OBJECTS_FAILED).increment(1);
        self.report.failures.push(Failure {
            key: key.to_string(),
            reason: err.to_string(),
        });
        self.progress
            .object(key, "", 0, &Outcome::Failed(err.to_string()));
        if self.engine.config.failure_policy == FailurePolicy::FailFast {
            self.stop = true;
        }
    }

    /// Checks one table's keys for collisions, then starts their copies.
    async fn dispatch_table(&mut self, table: String, items: Vec<(ObjectInfo, ParquetKey)>) {
        if !self.finished_tables.insert(table.clone()) {
            for (obj, _) in &items {
                let err = Error::Layout {
                    key: obj.key.clone(),
                    reason: format!(
                        "listing returned table {table} in two separate runs; not copied"
                    ),
                };
                self.fail(&obj.key, &err);
            }
            return;
        }
        let mut by_target: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, (_, pk)) in items.iter().enumerate() {
            by_target.entry(pk.target_key.as_str()).or_default().push(i);
        }
        let mut colliding = vec![false; items.len()];
        let mut collisions = Vec::new();
        for (target, idx) in &by_target {
            if idx.len() > 1 {
                for &i in idx {
                    colliding[i] = true;
                    let other = idx.iter().find(|&&j| j != i).copied().unwrap_or(i);
                    collisions.push(Error::Collision {
                        key: items[i].0.key.clone(),
                        other: items[other].0.key.clone(),
                        target: target.to_string(),
                    });
                }
            }
        }
        drop(by_target);
        for err in collisions {
            let key = err.key().unwrap_or_default().to_string();
            self.fail(&key, &err);
        }
        // A table with nothing at its target yet needs no per-object HEAD: the usual first run.
        let cfg = &self.engine.config;
        let fresh = if cfg.force || cfg.dry_run {
            true
        } else {
            let _permit = self.engine.limiter.acquire().await;
            let prefix = self.layout.table_target_prefix(&table);
            match self
                .engine
                .store
                .any_under(&self.dst_bucket, &prefix, &self.stats)
                .await
            {
                Ok(any) => !any,
                Err(e) => {
                    tracing::warn!(table, error = %e, "could not list the target; checking each object");
                    false
                }
            }
        };
        for ((obj, pk), collides) in items.into_iter().zip(colliding) {
            if collides {
                continue;
            }
            let permit = tokio::select! {
                _ = self.cancel.cancelled() => { self.stop = true; return; }
                p = self.engine.limiter.acquire() => p,
            };
            while let Some(res) = self.tasks.try_join_next() {
                self.record(res);
            }
            if self.stop {
                return;
            }
            let span = tracing::info_span!("object", key = %obj.key);
            let work = process(
                self.engine.clone(),
                self.stats.clone(),
                self.src_bucket.clone(),
                self.dst_bucket.clone(),
                obj,
                pk,
                fresh,
                permit,
            );
            self.tasks.spawn(work.instrument(span));
        }
    }

    fn record(&mut self, res: std::result::Result<Done, tokio::task::JoinError>) {
        let done = match res {
            Ok(done) => done,
            Err(e) => {
                let err = Error::Interrupted(format!("copy task ended abnormally: {e}"));
                self.fail("(unknown)", &err);
                return;
            }
        };
        match &done.outcome {
            Ok(outcome) => {
                let t: &mut TableReport = self.report.tables.entry(done.table.clone()).or_default();
                t.files += 1;
                t.bytes += done.size;
                t.rows += done.rows.unwrap_or(0);
                match outcome {
                    Outcome::Copied(_) => {
                        self.report.copied += 1;
                        self.report.bytes_copied += done.size;
                        JobStats::add(&self.stats.copied, 1);
                        JobStats::add(&self.stats.bytes_copied, done.size);
                        metrics::counter!(names::OBJECTS_COPIED).increment(1);
                        metrics::counter!(names::BYTES_COPIED).increment(done.size);
                    }
                    Outcome::Skipped => {
                        self.report.skipped += 1;
                        self.report.bytes_skipped += done.size;
                        JobStats::add(&self.stats.skipped, 1);
                        JobStats::add(&self.stats.bytes_skipped, done.size);
                        metrics::counter!(names::OBJECTS_SKIPPED).increment(1);
                    }
                    Outcome::Planned(_) => self.report.planned += 1,
                    Outcome::Failed(_) => {}
                }
                self.progress
                    .object(&done.source_key, &done.target_key, done.size, outcome);
            }
            Err(e) => self.fail(&done.source_key, e),
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn process(
    engine: Arc<Engine>,
    stats: Arc<JobStats>,
    src_bucket: Arc<str>,
    dst_bucket: Arc<str>,
    obj: ObjectInfo,
    pk: ParquetKey,
    fresh: bool,
    permit: Permit,
) -> Done {
    let started = Instant::now();
    let task = CopyTask {
        src_bucket: src_bucket.to_string(),
        dst_bucket: dst_bucket.to_string(),
        dst_key: pk.target_key.clone(),
        src: obj,
    };
    let (outcome, rows) = match land(&engine, &task, fresh, permit, &stats).await {
        Ok((outcome, rows)) => (Ok(outcome), rows),
        Err(e) => (Err(e), None),
    };
    metrics::histogram!(names::OBJECT_SECONDS).record(started.elapsed().as_secs_f64());
    Done {
        table: pk.table,
        source_key: task.src.key,
        target_key: task.dst_key,
        size: task.src.size,
        rows,
        outcome,
    }
}

/// Verify, skip-check, copy and check one object; `fresh` skips the target HEAD (nothing
/// is at the table's target yet).
async fn land(
    engine: &Engine,
    task: &CopyTask,
    fresh: bool,
    permit: Permit,
    stats: &Arc<JobStats>,
) -> Result<(Outcome, Option<u64>)> {
    let cfg = &engine.config;
    let mut rows = None;
    if cfg.verify {
        let info = verify_object(
            &engine.store,
            &task.src_bucket,
            &task.src.key,
            task.src.size,
            cfg.footer_read_size,
            stats,
        )
        .await?;
        rows = Some(info.rows);
    }
    if cfg.dry_run {
        let p = plan(task.src.size, cfg.multipart_threshold, cfg.part_size).ok_or_else(|| {
            Error::Unsupported {
                bucket: task.src_bucket.clone(),
                key: task.src.key.clone(),
                reason: format!("{} bytes is over S3's 5 TiB object limit", task.src.size),
            }
        })?;
        return Ok((Outcome::Planned(p), rows));
    }
    if !cfg.force && !fresh {
        match engine
            .store
            .head(&task.dst_bucket, &task.dst_key, stats)
            .await?
        {
            Some(existing) if is_same(&task.src, &existing) => return Ok((Outcome::Skipped, rows)),
            Some(existing) => tracing::warn!(
                target_key = %task.dst_key,
                target_size = existing.size,
                "target differs from source; overwriting"
            ),
            None => {}
        }
    }
    let settings = CopySettings {
        threshold: cfg.multipart_threshold,
        part_size: cfg.part_size,
        write: &cfg.write,
    };
    let plan = copy_object(
        &engine.store,
        &engine.limiter,
        &settings,
        task,
        permit,
        stats,
    )
    .await?;
    Ok((Outcome::Copied(plan), rows))
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
