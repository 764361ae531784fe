//! Server-side copy of one object: CopyObject, or multipart UploadPartCopy above the
//! threshold, then a check that the target matches the source.

pub mod plan;

use std::sync::Arc;

use tokio::task::JoinSet;

use crate::error::{Error, Result};
use crate::limiter::{Limiter, Permit};
use crate::stats::JobStats;
use crate::store::s3::SOURCE_ETAG_METADATA;
use crate::store::{ObjectHead, ObjectInfo, S3Store, Store, is_md5_etag};
pub use plan::{CopyPlan, plan};

/// What to copy where.
#[derive(Debug, Clone)]
pub struct CopyTask {
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
    pub write: &'a crate::store::s3::WriteOptions,
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

/// Copies one object and checks the result. `permit` is the object's limiter permit; a
/// multipart copy gives it back and takes one per part instead.
#[tracing::instrument(skip_all, fields(key = %task.src.key, size = task.src.size))]
pub(crate) async fn copy_object(
    store: &Store,
    limiter: &Arc<Limiter>,
    settings: &CopySettings<'_>,
    task: &CopyTask,
    permit: Permit,
    stats: &Arc<JobStats>,
) -> Result<CopyPlan> {
    let unsupported = || Error::Unsupported {
        bucket: task.src_bucket.clone(),
        key: task.src.key.clone(),
        reason: format!("{} bytes is over S3's 5 TiB object limit", task.src.size),
    };
    let plan =
        plan(task.src.size, settings.threshold, settings.part_size).ok_or_else(unsupported)?;
    let s3 = match store {
        Store::Local(local) => {
            local
                .copy(
                    &task.src_bucket,
                    &task.src.key,
                    &task.dst_bucket,
                    &task.dst_key,
                )
                .await?;
            check_target_size(store, task, stats).await?;
            return Ok(CopyPlan::Single);
        }
        Store::S3(s3) => s3,
    };
    match plan {
        CopyPlan::Single => {
            // A multipart source ETag will not survive the copy; record it so a re-run
            // recognises the target (this costs a HEAD, only for such sources).
            let replace = match &task.src.etag {
                Some(etag) if !is_md5_etag(etag) => Some(source_head(s3, task, stats).await?),
                _ => None,
            };
            let etag = s3
                .copy_object(
                    &task.src_bucket,
                    &task.src.key,
                    task.src.etag.as_deref(),
                    &task.dst_bucket,
                    &task.dst_key,
                    settings.write,
                    replace.as_ref(),
                    stats,
                )
                .await?;
            match (&task.src.etag, &etag) {
                (Some(s), Some(d)) if is_md5_etag(s) && is_md5_etag(d) => {
                    if !s.eq_ignore_ascii_case(d) {
                        return Err(mismatch(task, format!("source ETag {s}, target ETag {d}")));
                    }
                }
                _ => check_target_size(store, task, stats).await?,
            }
        }
        CopyPlan::Multipart { part_size, parts } => {
            let head = source_head(s3, task, stats).await?;
            drop(permit);
            multipart(s3, limiter, settings, task, &head, part_size, parts, stats).await?;
            JobStats::add(&stats.multipart, 1);
            check_target_size(store, task, stats).await?;
        }
    }
    Ok(plan)
}

fn mismatch(task: &CopyTask, detail: String) -> Error {
    Error::Mismatch {
        bucket: task.src_bucket.clone(),
        key: task.src.key.clone(),
        target: task.dst_key.clone(),
        detail,
    }
}

/// HEAD of the source, with its ETag added to the metadata to carry over.
async fn source_head(s3: &S3Store, task: &CopyTask, stats: &JobStats) -> Result<ObjectHead> {
    let mut head = s3
        .head(&task.src_bucket, &task.src.key, stats)
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

async fn check_target_size(store: &Store, task: &CopyTask, stats: &JobStats) -> Result<()> {
    match store.head(&task.dst_bucket, &task.dst_key, stats).await? {
        Some(h) if h.size == task.src.size => Ok(()),
        Some(h) => Err(mismatch(
            task,
            format!("source has {} bytes, target {}", task.src.size, h.size),
        )),
        None => Err(mismatch(task, "target missing after copy".into())),
    }
}

/// UploadPartCopy of every part, concurrently under the limiter; aborted on any failure so
/// no invisible half-upload is left behind accruing storage.
#[allow(clippy::too_many_arguments)]
async fn multipart(
    s3: &S3Store,
    limiter: &Arc<Limiter>,
    settings: &CopySettings<'_>,
    task: &CopyTask,
    head: &ObjectHead,
    part_size: u64,
    parts: u64,
    stats: &Arc<JobStats>,
) -> Result<()> {
    let upload_id = {
        let _permit = limiter.acquire().await;
        s3.create_multipart(&task.dst_bucket, &task.dst_key, settings.write, head, stats)
            .await?
    };
    let result = copy_parts(s3, limiter, task, &upload_id, part_size, parts, stats).await;
    let result = match result {
        Ok(etags) => {
            let _permit = limiter.acquire().await;
            s3.complete_multipart(&task.dst_bucket, &task.dst_key, &upload_id, etags, stats)
                .await
                .map(|_| ())
        }
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        let _permit = limiter.acquire().await;
        if let Err(abort) = s3
            .abort_multipart(&task.dst_bucket, &task.dst_key, &upload_id, stats)
            .await
        {
            tracing::error!(upload_id, error = %abort, "could not abort the multipart upload; a bucket lifecycle rule must clean it up");
        }
        return Err(e);
    }
    Ok(())
}

async fn copy_parts(
    s3: &S3Store,
    limiter: &Arc<Limiter>,
    task: &CopyTask,
    upload_id: &str,
    part_size: u64,
    parts: u64,
    stats: &Arc<JobStats>,
) -> Result<Vec<(i32, String)>> {
    let mut set = JoinSet::new();
    let mut etags = Vec::with_capacity(parts as usize);
    let mut collect =
        |res: std::result::Result<Result<(i32, String)>, tokio::task::JoinError>| match res {
            Ok(Ok(part)) => {
                etags.push(part);
                Ok(())
            }
            Ok(Err(e)) => Err(e),
            Err(join) => Err(Error::Interrupted(format!("part copy task ended: {join}"))),
        };
    for n in 1..=parts {
        let permit = limiter.acquire().await;
        while let Some(res) = set.try_join_next() {
            collect(res)?; // dropping `set` aborts the parts still running
        }
        let (s3, task, upload_id, stats) = (
            s3.clone(),
            task.clone(),
            upload_id.to_string(),
            stats.clone(),
        );
        set.spawn(async move {
            let _permit = permit;
            let range = plan::part_range(n, part_size, task.src.size);
            let etag = s3
                .upload_part_copy(
                    &task.src_bucket,
                    &task.src.key,
                    task.src.etag.as_deref(),
                    &task.dst_bucket,
                    &task.dst_key,
                    &upload_id,
                    n as i32,
                    range,
                    &stats,
                )
                .await?;
            Ok((n as i32, etag))
        });
    }
    while let Some(res) = set.join_next().await {
        collect(res)?;
    }
    etags.sort_by_key(|(n, _)| *n);
    Ok(etags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limiter::LimiterConfig;
    use crate::retry::RetryConfig;
    use crate::store::s3::WriteOptions;
    use aws_sdk_s3::Client;
    use aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput;
    use aws_sdk_s3::operation::create_multipart_upload::CreateMultipartUploadOutput;
    use aws_sdk_s3::operation::head_object::HeadObjectOutput;
    use aws_sdk_s3::operation::upload_part_copy::UploadPartCopyOutput;
    use aws_sdk_s3::types::CopyPartResult;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use std::sync::Mutex;

    const SIZE: u64 = 6 * plan::GIB + 12_345;

    /// A 6 GiB object never goes through CopyObject, whatever the threshold: the engine plans
    /// UploadPartCopy ranges that tile the object. Checked on the requests sent, since local
    /// servers accept oversized CopyObject calls.
    #[tokio::test]
    async fn objects_over_5_gib_are_copied_in_parts_whatever_the_threshold() {
        let ranges = Arc::new(Mutex::new(Vec::new()));
        let seen = ranges.clone();
        let copy = mock!(Client::copy_object)
            .then_error(|| panic!("CopyObject must not be sent for 6 GiB"));
        let head = mock!(Client::head_object).then_output(|| {
            HeadObjectOutput::builder()
                .content_length(SIZE as i64)
                .e_tag("\"abc-3\"")
                .build()
        });
        let create = mock!(Client::create_multipart_upload).then_output(|| {
            CreateMultipartUploadOutput::builder()
                .upload_id("up-1")
                .build()
        });
        let part = mock!(Client::upload_part_copy)
            .match_requests(move |r| {
                seen.lock().unwrap().push((
                    r.part_number().unwrap(),
                    r.copy_source_range().unwrap().to_string(),
                ));
                r.upload_id() == Some("up-1") && r.copy_source() == Some("src/big%20file.parquet")
            })
            .then_output(|| {
                UploadPartCopyOutput::builder()
                    .copy_part_result(CopyPartResult::builder().e_tag("\"p\"").build())
                    .build()
            });
        let complete = mock!(Client::complete_multipart_upload)
            .match_requests(|r| r.multipart_upload().map(|u| u.parts().len()) == Some(97))
            .then_output(|| {
                CompleteMultipartUploadOutput::builder()
                    .e_tag("\"x-97\"")
                    .build()
            });
        let client = mock_client!(
            aws_sdk_s3,
            RuleMode::MatchAny,
            [&copy, &head, &create, &part, &complete],
            |b| b.retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        );
        let limiter = Limiter::new(LimiterConfig::default());
        let store = Store::S3(S3Store::from_client(
            client,
            limiter.clone(),
            RetryConfig::default(),
        ));
        let task = CopyTask {
            src_bucket: "src".into(),
            src: ObjectInfo {
                key: "big file.parquet".into(),
                size: SIZE,
                etag: Some("abc-3".into()),
            },
            dst_bucket: "dst".into(),
            dst_key: "t/big file.parquet".into(),
        };
        let write = WriteOptions::default();
        let settings = CopySettings {
            threshold: u64::MAX,
            part_size: 64 * plan::MIB,
            write: &write,
        };
        let stats = Arc::new(JobStats::default());
        let permit = limiter.acquire().await;
        let result = copy_object(&store, &limiter, &settings, &task, permit, &stats)
            .await
            .unwrap();
        assert_eq!(
            result,
            CopyPlan::Multipart {
                part_size: 64 * plan::MIB,
                parts: 97
            }
        );
        assert_eq!(copy.num_calls(), 0);
        assert_eq!(create.num_calls(), 1);
        assert_eq!(complete.num_calls(), 1);
        let mut ranges = ranges.lock().unwrap().clone();
        ranges.sort();
        ranges.dedup();
        assert_eq!(ranges.len(), 97);
        assert_eq!(ranges[0], (1, format!("bytes=0-{}", 64 * plan::MIB - 1)));
        assert_eq!(
            ranges[96],
            (97, format!("bytes={}-{}", 96 * 64 * plan::MIB, SIZE - 1))
        );
    }
}
