//! The dispatcher of one export run.
//!
//! The listing runs in its own task, a page ahead, into a bounded channel; the dispatcher
//! groups each table's keys (listings come in key order, so a table's keys are together),
//! checks the group for target collisions, then hands objects to workers, at most
//! [`EngineConfig::objects_in_flight`] at once. Memory is bounded by the largest table's key
//! count and the objects in flight, never by the export's size.
//!
//! Stops ([`Shutdown`]): once draining, nothing new is listed or dispatched and the objects
//! in flight finish; once cancelled, they are dropped where they are, and before the run
//! returns every multipart upload it opened and did not complete is aborted. Uploads a
//! killed run left open on this export's targets are aborted before those keys are copied.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use futures::{FutureExt, StreamExt};
use parquet::schema::types::SchemaDescPtr;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::complete;
use super::drift;
use super::object::{Fresh, process};
use super::{Engine, ExportProgress, ExportRequest, FailurePolicy, ObjectOutcome, Shutdown};
use crate::copy::OpenUploads;
use crate::error::{Error, Result};
use crate::export_id::partition_path;
use crate::layout::{Layout, Mapped, ParquetKey};
use crate::metrics as names;
use crate::report::{Failure, Report, TableReport};
use crate::schema::TableSchemas;
use crate::stats::JobStats;
use crate::store::{ObjectInfo, ObjectStore, Store};

/// One object's result, sent back to the dispatcher.
pub(super) struct Done {
    pub(super) table: String,
    pub(super) source_key: String,
    pub(super) target_key: String,
    pub(super) size: u64,
    pub(super) rows: Option<u64>,
    /// The footer's schema (verification on).
    pub(super) schema: Option<SchemaDescPtr>,
    pub(super) outcome: Result<ObjectOutcome>,
}

struct Dispatcher {
    engine: Arc<Engine>,
    /// The engine's store counting into this run's stats, stopping with it.
    store: Store,
    /// Objects in flight.
    slots: Arc<Semaphore>,
    stats: Arc<JobStats>,
    progress: Arc<dyn ExportProgress>,
    shutdown: Shutdown,
    /// Multipart uploads of this run not yet completed or aborted.
    uploads: Arc<OpenUploads>,
    /// Open uploads found at the start on this import date's partitions (a killed run's),
    /// by target key: aborted before that key is copied.
    strays: BTreeMap<String, Vec<String>>,
    layout: Layout,
    src_bucket: Arc<str>,
    dst_bucket: Arc<str>,
    tasks: JoinSet<Done>,
    report: Report,
    finished_tables: HashSet<String>,
    /// Each table's footer schemas so far.
    schemas: TableSchemas,
    stop: bool,
}

pub(super) async fn run(
    engine: Arc<Engine>,
    req: ExportRequest,
    shutdown: Shutdown,
    stats: Arc<JobStats>,
    progress: Arc<dyn ExportProgress>,
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
    // Backoff sleeps end only when copies are cancelled: while draining, a copy in flight
    // still retries its way to the end.
    let store = engine
        .store
        .for_run(stats.clone(), shutdown.cancel_token().clone());
    let strays = if cfg.dry_run || !store.supports_multipart() {
        BTreeMap::new()
    } else {
        open_uploads(&store, &req.target.bucket(), req.target.prefix(), date).await
    };
    let mut d = Dispatcher {
        store: store.clone(),
        slots: Arc::new(Semaphore::new(cfg.objects_in_flight.max(1))),
        stats: stats.clone(),
        progress,
        shutdown: shutdown.clone(),
        uploads: Arc::new(OpenUploads::new()),
        strays,
        dst_bucket: req.target.bucket().into(),
        src_bucket: src_bucket.clone(),
        tasks: JoinSet::new(),
        report,
        finished_tables: HashSet::new(),
        schemas: TableSchemas::default(),
        stop: false,
        layout,
        engine: engine.clone(),
    };
    tracing::info!(source = %d.report.source, target = %d.report.target, "landing export");

    // The listing runs a page ahead of the dispatcher.
    let (tx, mut rx) = mpsc::channel(2);
    let mut pages = store.list(&src_bucket, d.layout.export_root());
    let lister = tokio::spawn(async move {
        while let Some(page) = pages.next().await {
            if tx.send(page).await.is_err() {
                break;
            }
        }
    });

    let mut group: Option<(String, Vec<(ObjectInfo, ParquetKey)>)> = None;
    let mut listing_done = false;
    loop {
        let page = tokio::select! {
            biased;
            _ = shutdown.drained() => { d.stop = true; None }
            page = rx.recv() => page,
        };
        let objects = match page {
            None => {
                listing_done = !d.stop;
                break;
            }
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
    if !d.uploads.is_empty() {
        // Copies were cancelled (or could not abort their own upload): abort what is open
        // with a store whose retries the cancellation does not cut short.
        let cleanup = engine
            .store
            .for_run(stats.clone(), CancellationToken::new());
        for (key, reason) in d.uploads.abort_all(&cleanup).await {
            d.report.failures.push(Failure {
                key,
                reason: format!("a multipart upload could not be aborted and is still open (a bucket lifecycle rule or the next run must abort it): {reason}"),
            });
        }
    }
    drift::record_schemas(std::mem::take(&mut d.schemas), &mut d.report);
    if d.stop || shutdown.is_draining() {
        d.report.complete = false;
        let r = &d.report;
        let done = r.copied + r.skipped + r.failed + r.non_parquet + r.planned;
        d.report.not_landed = r.listed.saturating_sub(done);
        if shutdown.is_draining() {
            let note = shutdown.note(d.report.not_landed, d.report.listed, listing_done);
            tracing::warn!(export_id = %req.export_id, "{note}");
            d.report.stopped = Some(note);
        }
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
    if d.report.complete && cfg.verify && d.report.listed > 0 {
        // Before the completeness check's end (which removes other exports' files only
        // after a clean run): a blocked schema change keeps the date as it was.
        drift::compare(&store, &d.dst_bucket, &d.layout, cfg, date, &mut d.report).await;
    }
    complete::conclude(
        &store,
        cfg,
        &src_bucket,
        &d.dst_bucket,
        &d.layout,
        req.export_id.as_str(),
        req.task.as_ref(),
        &mut d.report,
    )
    .await;
    let s = &stats;
    d.report.retries = JobStats::get(&s.retries);
    d.report.throttles = JobStats::get(&s.throttles);
    d.report.multipart_copies = JobStats::get(&s.multipart);
    d.report.duration_secs = started.elapsed().as_secs_f64();
    metrics::histogram!(names::EXPORT_SECONDS).record(d.report.duration_secs);
    if d.report.passed() && cfg.verify && !cfg.dry_run {
        drift::keep(&store, &d.dst_bucket, &d.layout, cfg, date, &mut d.report).await;
    }
    if d.report.passed() || d.report.dry_run && d.report.failures.is_empty() {
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
            .object(key, "", 0, &ObjectOutcome::Failed(err.to_string()));
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
        self.abort_strays(&items).await;
        // A table with nothing at its target yet needs no per-object HEAD: the usual first run.
        // Its objects read their footers meanwhile; the listing is not waited for here.
        let cfg = &self.engine.config;
        let fresh = if cfg.force {
            Fresh::known(true)
        } else {
            let prefix = self.layout.table_target_prefix(&table);
            let (store, bucket) = (self.store.clone(), self.dst_bucket.clone());
            Fresh::checked(
                async move {
                    match store.any_under(&bucket, &prefix).await {
                        Ok(any) => !any,
                        Err(e) => {
                            tracing::warn!(table, error = %e, "could not list the target; checking each object");
                            false
                        }
                    }
                }
                .boxed(),
            )
        };
        for ((obj, pk), collides) in items.into_iter().zip(colliding) {
            if collides {
                continue;
            }
            let slot: OwnedSemaphorePermit = tokio::select! {
                biased;
                _ = self.shutdown.drained() => { self.stop = true; return; }
                p = self.slots.clone().acquire_owned() => p.expect("never closed"),
            };
            while let Some(res) = self.tasks.try_join_next() {
                self.record(res);
            }
            if self.stop {
                return;
            }
            // Debug level: an info span per object costs measurable CPU on the hot path.
            let span = tracing::debug_span!("object", key = %obj.key);
            let work = process(
                self.engine.clone(),
                self.store.clone(),
                self.stats.clone(),
                self.src_bucket.clone(),
                self.dst_bucket.clone(),
                obj,
                pk,
                fresh.clone(),
                slot,
                self.uploads.clone(),
                self.shutdown.cancel_token().clone(),
            );
            self.tasks.spawn(work.instrument(span));
        }
    }

    /// Aborts the uploads a killed run left open on these objects' targets, before they
    /// are copied (so none of this run's own uploads is touched).
    async fn abort_strays(&mut self, items: &[(ObjectInfo, ParquetKey)]) {
        if self.strays.is_empty() {
            return;
        }
        for (_, pk) in items {
            for id in self.strays.remove(&pk.target_key).unwrap_or_default() {
                match self
                    .store
                    .abort_multipart(&self.dst_bucket, &pk.target_key, &id)
                    .await
                {
                    Ok(()) => tracing::warn!(
                        key = pk.target_key,
                        upload_id = id,
                        "aborted a multipart upload an earlier run left open"
                    ),
                    Err(e) => {
                        tracing::error!(key = pk.target_key, upload_id = id, error = %e, "could not abort a multipart upload an earlier run left open")
                    }
                }
            }
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
                if let Some(schema) = &done.schema {
                    self.schemas.add(&done.table, &done.source_key, schema);
                }
                match outcome {
                    ObjectOutcome::Copied(_) => {
                        self.report.copied += 1;
                        self.report.bytes_copied += done.size;
                        JobStats::add(&self.stats.copied, 1);
                        JobStats::add(&self.stats.bytes_copied, done.size);
                        metrics::counter!(names::OBJECTS_COPIED).increment(1);
                        metrics::counter!(names::BYTES_COPIED).increment(done.size);
                    }
                    ObjectOutcome::Skipped => {
                        self.report.skipped += 1;
                        self.report.bytes_skipped += done.size;
                        JobStats::add(&self.stats.skipped, 1);
                        JobStats::add(&self.stats.bytes_skipped, done.size);
                        metrics::counter!(names::OBJECTS_SKIPPED).increment(1);
                    }
                    ObjectOutcome::Planned(_) => self.report.planned += 1,
                    ObjectOutcome::Failed(_) => {}
                }
                self.progress
                    .object(&done.source_key, &done.target_key, done.size, outcome);
            }
            // Cancelled in flight: not landed, not failed (the report counts it as not landed).
            Err(Error::Interrupted(_)) if self.shutdown.is_cancelled() => {}
            Err(e) => self.fail(&done.source_key, e),
        }
    }
}

/// Open multipart uploads on `import_date`'s partitions under the target prefix, by key:
/// what a killed run left behind (a run that is stopped aborts its own). A failure to list
/// (a role without `s3:ListBucketMultipartUploads`) is logged, not fatal: each multipart
/// copy also aborts strays of its own key.
async fn open_uploads(
    store: &Store,
    bucket: &str,
    prefix: &str,
    import_date: chrono::NaiveDate,
) -> BTreeMap<String, Vec<String>> {
    let partition = format!("/{}/", partition_path(import_date));
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    match store.list_multipart_uploads(bucket, prefix).await {
        Ok(uploads) => {
            for u in uploads.into_iter().filter(|u| u.key.contains(&partition)) {
                out.entry(u.key).or_default().push(u.upload_id);
            }
        }
        Err(e) => {
            tracing::warn!(bucket, prefix, error = %e, "could not list open multipart uploads of the target; uploads a killed run left open stay open")
        }
    }
    out
}
