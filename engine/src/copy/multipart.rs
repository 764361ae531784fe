//! UploadPartCopy of every part, concurrently under the store's limiter; aborted on any
//! failure so no invisible half-upload is left behind accruing storage. A
//! CompleteMultipartUpload whose reply was lost (the retry then hears `NoSuchUpload`) is
//! resolved by checking the target: the right size with our recorded source ETag means the
//! first Complete landed.

use std::sync::Arc;

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
    let upload_id = store
        .create_multipart(&task.dst_bucket, &task.dst_key, settings.write, head)
        .await?;
    let result = match copy_parts(store, task, &upload_id, part_size, parts).await {
        Ok(etags) => complete(store, task, &upload_id, &etags).await,
        Err(e) => Err(e),
    };
    if result.is_err()
        && let Err(abort) = store
            .abort_multipart(&task.dst_bucket, &task.dst_key, &upload_id)
            .await
    {
        tracing::error!(upload_id, error = %abort, "could not abort the multipart upload; a bucket lifecycle rule must clean it up");
    }
    abort_strays(store, task).await;
    result
}

/// Aborts other uploads of this exact key: a CreateMultipartUpload whose reply was lost
/// left one behind (invisible, and billed until aborted), as does a process killed
/// mid-copy before this run.
async fn abort_strays(store: &Store, task: &ObjectTask) {
    let uploads = match store
        .list_multipart_uploads(&task.dst_bucket, &task.dst_key)
        .await
    {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(error = %e, "could not list open multipart uploads of the target");
            return;
        }
    };
    for u in uploads.into_iter().filter(|u| u.key == task.dst_key) {
        if let Err(e) = store
            .abort_multipart(&task.dst_bucket, &u.key, &u.upload_id)
            .await
        {
            tracing::error!(upload_id = u.upload_id, error = %e, "could not abort a stray multipart upload");
        }
    }
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
                    tracing::info!(upload_id, error = %e, "CompleteMultipartUpload failed but the target is complete: its reply was lost");
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
