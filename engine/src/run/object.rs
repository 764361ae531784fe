//! One object of a run: verify its footer, skip it when already landed, else copy it and
//! check the copy.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::OwnedSemaphorePermit;

use super::dispatch::Done;
use super::{Engine, EngineConfig, ObjectOutcome};
use crate::copy::{CopySettings, ObjectTask, copy_object, is_same, plan};
use crate::error::{Error, Result};
use crate::layout::ParquetKey;
use crate::metrics as names;
use crate::stats::JobStats;
use crate::store::{ObjectInfo, ObjectStore, Store};
use crate::verify::verify_object;

#[allow(clippy::too_many_arguments)]
pub(super) async fn process(
    engine: Arc<Engine>,
    store: Store,
    stats: Arc<JobStats>,
    src_bucket: Arc<str>,
    dst_bucket: Arc<str>,
    obj: ObjectInfo,
    pk: ParquetKey,
    fresh: bool,
    slot: OwnedSemaphorePermit,
) -> Done {
    let _slot = slot;
    let started = Instant::now();
    let task = ObjectTask {
        src_bucket: src_bucket.to_string(),
        dst_bucket: dst_bucket.to_string(),
        dst_key: pk.target_key.clone(),
        src: obj,
    };
    let (outcome, rows) = match land(&store, &engine.config, &task, fresh, &stats).await {
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
pub(super) async fn land(
    store: &Store,
    cfg: &EngineConfig,
    task: &ObjectTask,
    fresh: bool,
    stats: &JobStats,
) -> Result<(ObjectOutcome, Option<u64>)> {
    let mut rows = None;
    if cfg.verify {
        let info = verify_object(
            store,
            &task.src_bucket,
            &task.src.key,
            task.src.size,
            cfg.footer_read_size,
        )
        .await?;
        rows = Some(info.rows);
    }
    // A dry run checks the target too, so its plan is what a real run would copy (the
    // manifest of a Batch Operations backfill is such a plan).
    if !cfg.force && !fresh {
        match store.head(&task.dst_bucket, &task.dst_key).await? {
            Some(existing) if is_same(&task.src, &existing) => {
                return Ok((ObjectOutcome::Skipped, rows));
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
        return Ok((ObjectOutcome::Planned(p), rows));
    }
    let settings = CopySettings {
        threshold: cfg.multipart_threshold,
        part_size: cfg.part_size,
        write: &cfg.write,
    };
    let plan = copy_object(store, &settings, task, stats).await?;
    Ok((ObjectOutcome::Copied(plan), rows))
}
