//! Server-side copy of one object: CopyObject, or multipart UploadPartCopy above the
//! threshold, then a check that the target matches the source.

mod multipart;
pub mod plan;

pub use multipart::OpenUploads;

use crate::error::{Error, Result};
use crate::stats::JobStats;
use crate::store::{
    CopyObject, ObjectHead, ObjectInfo, ObjectStore, SOURCE_ETAG_METADATA, Store, WriteOptions,
    is_md5_etag,
};
pub use plan::{CopyPlan, plan};

/// One object to copy, and where to.
#[derive(Debug, Clone)]
pub struct ObjectTask {
    pub src_bucket: String,
    pub src: ObjectInfo,
    pub dst_bucket: String,
    pub dst_key: String,
}

/// The copy settings [`copy_object`] needs.
#[derive(Debug, Clone)]
pub(crate) struct CopySettings<'a> {
    pub threshold: u64,
    pub part_size: u64,
    pub write: &'a WriteOptions,
    /// The run's multipart uploads not yet completed or aborted.
    pub uploads: &'a OpenUploads,
}

/// Whether an object already at the target is the source's copy.
pub fn is_same(src: &ObjectInfo, dst: &ObjectHead) -> bool {
    if src.size != dst.size {
        return false;
    }
    match (&src.etag, &dst.etag) {
        (Some(s), Some(d)) => {
            s == d
                || dst
                    .metadata
                    .get(SOURCE_ETAG_METADATA)
                    .is_some_and(|m| m == s)
        }
        // Local files: size is all there is to compare.
        _ => true,
    }
}

/// Copies one object and checks the result.
// Debug level: a span per object is measurable CPU on the hot path at info; the
// log lines inside name their key themselves.
#[tracing::instrument(level = "debug", skip_all, fields(key = %task.src.key, size = task.src.size))]
pub(crate) async fn copy_object(
    store: &Store,
    settings: &CopySettings<'_>,
    task: &ObjectTask,
    stats: &JobStats,
) -> Result<CopyPlan> {
    let unsupported = || Error::Unsupported {
        bucket: task.src_bucket.clone(),
        key: task.src.key.clone(),
        reason: format!("{} bytes is over S3's 5 TiB object limit", task.src.size),
    };
    let plan =
        plan(task.src.size, settings.threshold, settings.part_size).ok_or_else(unsupported)?;
    if !store.supports_multipart() {
        // A local folder copies whole files whatever their size.
        single(store, settings, task, None).await?;
        check_target_size(store, task).await?;
        return Ok(CopyPlan::Single);
    }
    match plan {
        CopyPlan::Single => {
            // A multipart source ETag will not survive the copy; record it so a re-run
            // recognises the target (this costs a HEAD, only for such sources).
            let replace = match &task.src.etag {
                Some(etag) if !is_md5_etag(etag) => Some(source_head(store, task).await?),
                _ => None,
            };
            let etag = single(store, settings, task, replace.as_ref()).await?;
            match (&task.src.etag, &etag) {
                (Some(s), Some(d)) if is_md5_etag(s) && is_md5_etag(d) => {
                    if !s.eq_ignore_ascii_case(d) {
                        return Err(mismatch(task, format!("source ETag {s}, target ETag {d}")));
                    }
                }
                _ => check_target_size(store, task).await?,
            }
        }
        CopyPlan::Multipart { part_size, parts } => {
            let head = source_head(store, task).await?;
            multipart::copy(store, settings, task, &head, part_size, parts).await?;
            JobStats::add(&stats.multipart, 1);
            check_target_size(store, task).await?;
        }
    }
    Ok(plan)
}

async fn single(
    store: &Store,
    settings: &CopySettings<'_>,
    task: &ObjectTask,
    replace: Option<&ObjectHead>,
) -> Result<Option<String>> {
    store
        .copy_object(&CopyObject {
            src_bucket: &task.src_bucket,
            src_key: &task.src.key,
            if_match: task.src.etag.as_deref(),
            dst_bucket: &task.dst_bucket,
            dst_key: &task.dst_key,
            write: settings.write,
            replace,
        })
        .await
}

pub(crate) fn mismatch(task: &ObjectTask, detail: String) -> Error {
    Error::Mismatch {
        bucket: task.src_bucket.clone(),
        key: task.src.key.clone(),
        target: task.dst_key.clone(),
        detail,
    }
}

/// HEAD of the source, with its ETag added to the metadata to carry over.
async fn source_head(store: &Store, task: &ObjectTask) -> Result<ObjectHead> {
    let mut head = store
        .head(&task.src_bucket, &task.src.key)
        .await?
        .ok_or_else(|| mismatch(task, "source disappeared after listing".into()))?;
    if head.size != task.src.size {
        return Err(mismatch(
            task,
            format!(
                "source changed after listing: {} bytes listed, {} now",
                task.src.size, head.size
            ),
        ));
    }
    if let Some(etag) = &task.src.etag {
        head.metadata
            .insert(SOURCE_ETAG_METADATA.into(), etag.clone());
    }
    Ok(head)
}

async fn check_target_size(store: &Store, task: &ObjectTask) -> Result<()> {
    match store.head(&task.dst_bucket, &task.dst_key).await? {
        Some(h) if h.size == task.src.size => Ok(()),
        Some(h) => Err(mismatch(
            task,
            format!("source has {} bytes, target {}", task.src.size, h.size),
        )),
        None => Err(mismatch(task, "target missing after copy".into())),
    }
}

#[cfg(test)]
mod tests;
