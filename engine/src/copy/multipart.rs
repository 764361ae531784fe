//! UploadPartCopy of every part, concurrently under the store's limiter; aborted on any
//! failure so no invisible half-upload is left behind accruing storage. A
//! CompleteMultipartUpload whose reply was lost (the retry then hears `NoSuchUpload`) is
//! resolved by checking the target: the right size with our recorded source ETag means the
//! first Complete landed.
//!
//! Every upload is registered in the run's [`OpenUploads`] before it is created and leaves
//! it only once completed or aborted, so a copy cancelled at any await point (its future
//! dropped) leaves an entry the run aborts before it returns.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::{CopySettings, ObjectTask, plan};
use crate::error::{Error, Result};
use crate::store::{CopyPart, ObjectHead, ObjectStore, SOURCE_ETAG_METADATA, Store};

pub(super) async fn copy(
    store: &Store,
    settings: &CopySettings<'_>,
    task: &ObjectTask,
    head: &ObjectHead,
    part_size: u64,
    parts: u64,
) -> Result<()> {
    let uploads = settings.uploads;
    uploads.opening(&task.dst_bucket, &task.dst_key);
    let upload_id = match store
        .create_multipart(&task.dst_bucket, &task.dst_key, settings.write, head)
        .await
    {
        Ok(id) => id,
        Err(e) => {
            // A create whose reply was lost may have opened one: find it by the key.
            abort_strays(store, task).await;
            uploads.closed(&task.dst_bucket, &task.dst_key);
            return Err(e);
        }
    };
    uploads.opened(&task.dst_bucket, &task.dst_key, &upload_id);
    let result = match copy_parts(store, task, &upload_id, part_size, parts).await {
        Ok(etags) => complete(store, task, &upload_id, &etags).await,
        Err(e) => Err(e),
    };
    let mut left_open = false;
    if result.is_err()
        && let Err(abort) = store
            .abort_multipart(&task.dst_bucket, &task.dst_key, &upload_id)
            .await
    {
        // Left registered: the run tries again before it returns.
        left_open = true;
        tracing::error!(key = task.dst_key, upload_id, error = %abort, "could not abort the multipart upload; the run tries again before it ends");
    }
    abort_strays(store, task).await;
    if !left_open {
        uploads.closed(&task.dst_bucket, &task.dst_key);
    }
    result
}

/// The multipart uploads of one run that are not yet completed or aborted, by target: a key
/// is registered before `CreateMultipartUpload` is sent and removed once its upload is
/// completed or aborted. What is left when a run's copies were cancelled is aborted by
/// [`OpenUploads::abort_all`].
#[derive(Debug, Default)]
pub struct OpenUploads(Mutex<BTreeMap<(String, String), Vec<String>>>);

impl OpenUploads {
    /// An empty registry (usable in a `static`).
    pub const fn new() -> Self {
        OpenUploads(Mutex::new(BTreeMap::new()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String), Vec<String>>> {
        // A panic while holding this lock leaves a consistent map: keep using it.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn opening(&self, bucket: &str, key: &str) {
        self.lock()
            .entry((bucket.to_string(), key.to_string()))
            .or_default();
    }

    fn opened(&self, bucket: &str, key: &str, upload_id: &str) {
        self.lock()
            .entry((bucket.to_string(), key.to_string()))
            .or_default()
            .push(upload_id.to_string());
    }

    fn closed(&self, bucket: &str, key: &str) {
        self.lock().remove(&(bucket.to_string(), key.to_string()));
    }

    /// Targets with an upload that may be open.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Aborts every upload still registered: the known upload ids, then whatever a listing
    /// of each key finds (a create whose reply never came). Returns the uploads that could
    /// not be aborted, as `(key, reason)`.
    pub async fn abort_all(&self, store: &Store) -> Vec<(String, String)> {
        let entries: Vec<_> = std::mem::take(&mut *self.lock()).into_iter().collect();
        let mut left = Vec::new();
        for ((bucket, key), ids) in entries {
            for id in &ids {
                if let Err(e) = store.abort_multipart(&bucket, &key, id).await {
                    tracing::error!(bucket, key, upload_id = id, error = %e, "could not abort a multipart upload of a stopped copy");
                    left.push((key.clone(), format!("upload {id}: {e}")));
                } else {
                    tracing::info!(
                        bucket,
                        key,
                        upload_id = id,
                        "aborted the multipart upload of a stopped copy"
                    );
                }
            }
            if let Err(e) = abort_key(store, &bucket, &key).await {
                left.push((key.clone(), e.to_string()));
            }
        }
        left
    }
}

/// Aborts other uploads of this exact key: a CreateMultipartUpload whose reply was lost
/// left one behind (invisible, and billed until aborted), as does a process killed
/// mid-copy before this run.
async fn abort_strays(store: &Store, task: &ObjectTask) {
    if let Err(e) = abort_key(store, &task.dst_bucket, &task.dst_key).await {
        tracing::warn!(key = task.dst_key, error = %e, "stray multipart uploads of the target may be left open");
    }
}

/// Aborts every open upload of exactly `bucket`/`key`; the first error, after trying all.
async fn abort_key(store: &Store, bucket: &str, key: &str) -> Result<()> {
    let uploads = store.list_multipart_uploads(bucket, key).await?;
    let mut first = None;
    for u in uploads.into_iter().filter(|u| u.key == key) {
        if let Err(e) = store.abort_multipart(bucket, &u.key, &u.upload_id).await {
            tracing::error!(key, upload_id = u.upload_id, error = %e, "could not abort a stray multipart upload");
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
}

async fn complete(
    store: &Store,
    task: &ObjectTask,
    upload_id: &str,
    etags: &[(i32, String)],
) -> Result<()> {
    match store
        .complete_multipart(&task.dst_bucket, &task.dst_key, upload_id, etags)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            // The reply may have been lost after S3 completed the upload.
            match store.head(&task.dst_bucket, &task.dst_key).await {
                Ok(Some(h))
                    if h.size == task.src.size
                        && task.src.etag.is_some()
                        && h.metadata.get(SOURCE_ETAG_METADATA) == task.src.etag.as_ref() =>
                {
                    tracing::info!(key = task.dst_key, upload_id, error = %e, "CompleteMultipartUpload failed but the target is complete: its reply was lost");
                    Ok(())
                }
                _ => Err(e),
            }
        }
    }
}

async fn copy_parts(
    store: &Store,
    task: &ObjectTask,
    upload_id: &str,
    part_size: u64,
    parts: u64,
) -> Result<Vec<(i32, String)>> {
    // Parts in flight: as many as the limiter allows now (each part call also takes a
    // limiter permit; this bound only keeps thousands of parts from queueing as tasks).
    let slots = Arc::new(Semaphore::new(store.limiter().limit().max(1)));
    let mut set = JoinSet::new();
    let mut etags = Vec::with_capacity(parts as usize);
    let collect =
        |etags: &mut Vec<(i32, String)>,
         res: std::result::Result<Result<(i32, String)>, tokio::task::JoinError>| {
            match res {
                Ok(Ok(part)) => {
                    etags.push(part);
                    Ok(())
                }
                Ok(Err(e)) => Err(e),
                Err(join) => Err(Error::Interrupted(format!("part copy task ended: {join}"))),
            }
        };
    for n in 1..=parts {
        let slot = slots.clone().acquire_owned().await.expect("never closed");
        while let Some(res) = set.try_join_next() {
            collect(&mut etags, res)?; // dropping `set` aborts the parts still running
        }
        let (store, task, upload_id) = (store.clone(), task.clone(), upload_id.to_string());
        set.spawn(async move {
            let _slot = slot;
            let range = plan::part_range(n, part_size, task.src.size);
            let etag = store
                .upload_part_copy(&CopyPart {
                    src_bucket: &task.src_bucket,
                    src_key: &task.src.key,
                    if_match: task.src.etag.as_deref(),
                    dst_bucket: &task.dst_bucket,
                    dst_key: &task.dst_key,
                    upload_id: &upload_id,
                    part_number: n as i32,
                    range,
                })
                .await?;
            Ok((n as i32, etag))
        });
    }
    while let Some(res) = set.join_next().await {
        collect(&mut etags, res)?;
    }
    etags.sort_by_key(|(n, _)| *n);
    Ok(etags)
}
