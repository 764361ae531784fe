//! One object of a run: verify its footer, skip it when already landed, else copy it and
//! check the copy. A cancelled run drops the object's work wherever it is: reads and
//! CopyObject calls leave nothing behind, and a multipart upload stays registered in the
//! run's [`OpenUploads`] for the dispatcher to abort.

use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use tokio::sync::OwnedSemaphorePermit;
use tokio_util::sync::CancellationToken;

use super::dispatch::Done;
use super::{Engine, EngineConfig, ObjectOutcome};
use crate::copy::{CopySettings, ObjectTask, OpenUploads, copy_object, is_same, plan};
use crate::error::{Error, Result};
use crate::layout::ParquetKey;
use crate::metrics as names;
use crate::stats::JobStats;
use crate::store::{ObjectInfo, ObjectStore, Store};
use crate::verify::{FooterInfo, verify_object};

/// Whether a table's target held nothing when its objects were dispatched: one listing per
/// table, shared by its objects. It runs while their footers are read, so the dispatcher
/// never waits a round trip per table.
#[derive(Clone)]
pub(super) struct Fresh(Shared<BoxFuture<'static, bool>>);

impl Fresh {
    /// Already known.
    pub(super) fn known(fresh: bool) -> Self {
        Fresh(futures::future::ready(fresh).boxed().shared())
    }

    /// Found out by `check`, started now (not when the first object asks, a footer read
    /// later). Should the check task fail, every object is checked on its own: `false`.
    pub(super) fn checked(check: BoxFuture<'static, bool>) -> Self {
        let task = tokio::spawn(check);
        Fresh(async move { task.await.unwrap_or(false) }.boxed().shared())
    }

    async fn get(&self) -> bool {
        self.0.clone().await
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn process(
    engine: Arc<Engine>,
    store: Store,
    stats: Arc<JobStats>,
    src_bucket: Arc<str>,
    dst_bucket: Arc<str>,
    obj: ObjectInfo,
    pk: ParquetKey,
    fresh: Fresh,
    slot: OwnedSemaphorePermit,
    uploads: Arc<OpenUploads>,
    cancel: CancellationToken,
) -> Done {
    let _slot = slot;
    let started = Instant::now();
    let task = ObjectTask {
        src_bucket: src_bucket.to_string(),
        dst_bucket: dst_bucket.to_string(),
        dst_key: pk.target_key.clone(),
        src: obj,
    };
    let landed = tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(Error::Interrupted(format!(
            "the copy of {} was cancelled in flight", task.src.key
        ))),
        r = land(&store, &engine.config, &task, &fresh, &stats, &uploads) => r,
    };
    let (outcome, footer) = match landed {
        Ok((outcome, footer)) => (Ok(outcome), footer),
        Err(e) => (Err(e), None),
    };
    metrics::histogram!(names::OBJECT_SECONDS).record(started.elapsed().as_secs_f64());
    Done {
        table: pk.table,
        source_key: task.src.key,
        target_key: task.dst_key,
        size: task.src.size,
        rows: footer.as_ref().map(|f| f.rows),
        schema: footer.map(|f| f.schema),
        outcome,
    }
}

/// Verify, skip-check, copy and check one object; `fresh` (nothing is at the table's target
/// yet) skips the target HEAD. With the outcome, what the footer said (verification
/// on): rows and schema, also for an object already landed.
pub(super) async fn land(
    store: &Store,
    cfg: &EngineConfig,
    task: &ObjectTask,
    fresh: &Fresh,
    stats: &JobStats,
    uploads: &OpenUploads,
) -> Result<(ObjectOutcome, Option<FooterInfo>)> {
    let mut footer = None;
    if cfg.verify {
        let info = verify_object(
            store,
            &task.src_bucket,
            &task.src.key,
            task.src.size,
            cfg.footer_read_size,
        )
        .await?;
        footer = Some(info);
    }
    // A dry run checks the target too, so its plan is what a real run would copy (the
    // manifest of a Batch Operations backfill is such a plan).
    if !cfg.force && !fresh.get().await {
        match store.head(&task.dst_bucket, &task.dst_key).await? {
            Some(existing) if is_same(&task.src, &existing) => {
                return Ok((ObjectOutcome::Skipped, footer));
            }
            Some(existing) => tracing::warn!(
                target_key = %task.dst_key,
                target_size = existing.size,
                "target differs from source; overwriting"
            ),
            None => {}
        }
    }
    if cfg.dry_run {
        let p = plan(task.src.size, cfg.multipart_threshold, cfg.part_size).ok_or_else(|| {
            Error::Unsupported {
                bucket: task.src_bucket.clone(),
                key: task.src.key.clone(),
                reason: format!("{} bytes is over S3's 5 TiB object limit", task.src.size),
            }
        })?;
        return Ok((ObjectOutcome::Planned(p), footer));
    }
    let settings = CopySettings {
        threshold: cfg.multipart_threshold,
        part_size: cfg.part_size,
        write: &cfg.write,
        uploads,
    };
    let plan = copy_object(store, &settings, task, stats).await?;
    Ok((ObjectOutcome::Copied(plan), footer))
}
