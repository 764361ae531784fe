//! The job's CSV manifest, written to S3 as it is produced: lines are buffered up to a part
//! and sent with `UploadPart` once the manifest outgrows one part (a single `PutObject`
//! otherwise), so memory holds one part whatever the backfill's size. A failure aborts the
//! multipart upload, so no half manifest is left behind (nor an upload billed until aborted).
//!
//! Format: `bucket,key` per line, keys URL-encoded, no version ids
//! (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-create-job.html#specify-batchjob-manifest>;
//! [`liberator_engine::batch::manifest_line`]).

use anyhow::{Context, Result, anyhow};
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

/// Default size of a manifest part: above S3's 5 MiB minimum for every part but the last.
pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;

/// A manifest in S3 as CreateJob needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestObject {
    pub bucket: String,
    pub key: String,
    /// The ETag S3 gave the manifest (CreateJob requires it, unquoted or quoted).
    pub etag: String,
    /// Objects listed (lines).
    pub objects: u64,
}

/// Streams manifest lines into `s3://bucket/key`.
pub struct ManifestWriter {
    s3: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    part_size: usize,
    buf: Vec<u8>,
    upload_id: Option<String>,
    parts: Vec<CompletedPart>,
    objects: u64,
}

impl ManifestWriter {
    pub fn new(s3: aws_sdk_s3::Client, bucket: &str, key: &str) -> Self {
        ManifestWriter {
            s3,
            bucket: bucket.into(),
            key: key.into(),
            part_size: DEFAULT_PART_SIZE,
            buf: Vec::new(),
            upload_id: None,
            parts: Vec::new(),
            objects: 0,
        }
    }

    /// Parts of `bytes` (at least 5 MiB: S3 refuses smaller parts but the last).
    pub fn with_part_size(mut self, bytes: usize) -> Self {
        self.part_size = bytes.max(5 * 1024 * 1024);
        self
    }

    fn location(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// Appends one line (with its newline); a full part is uploaded. On error the upload is
    /// aborted and the writer must not be used again.
    pub async fn write_line(&mut self, line: &str) -> Result<()> {
        self.buf.extend_from_slice(line.as_bytes());
        self.objects += 1;
        if self.buf.len() >= self.part_size
            && let Err(e) = self.flush_part().await
        {
            self.abort().await;
            return Err(e);
        }
        Ok(())
    }

    async fn flush_part(&mut self) -> Result<()> {
        let id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let out = self
                    .s3
                    .create_multipart_upload()
                    .bucket(&self.bucket)
                    .key(&self.key)
                    .content_type("text/csv")
                    .send()
                    .await
                    .map_err(|e| anyhow!("{}", DisplayErrorContext(e)))
                    .with_context(|| format!("starting the manifest upload {}", self.location()))?;
                let id = out
                    .upload_id()
                    .ok_or_else(|| anyhow!("no UploadId for {}", self.location()))?
                    .to_string();
                self.upload_id = Some(id.clone());
                id
            }
        };
        let number = self.parts.len() as i32 + 1;
        let body = std::mem::take(&mut self.buf);
        let out = self
            .s3
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| anyhow!("{}", DisplayErrorContext(e)))
            .with_context(|| format!("uploading part {number} of {}", self.location()))?;
        self.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(out.e_tag().map(str::to_string))
                .build(),
        );
        Ok(())
    }

    async fn abort(&mut self) {
        if let Some(id) = self.upload_id.take()
            && let Err(e) = self
                .s3
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(&self.key)
                .upload_id(&id)
                .send()
                .await
        {
            tracing::error!(manifest = %self.location(), upload_id = id, error = %DisplayErrorContext(e),
                "could not abort the manifest's multipart upload: abort it by hand");
        }
    }

    /// Writes what is left and completes the manifest; `None` when no line was written
    /// (nothing to land: no job is needed).
    pub async fn finish(mut self) -> Result<Option<ManifestObject>> {
        if self.objects == 0 {
            return Ok(None);
        }
        let result = self.complete().await;
        if result.is_err() {
            self.abort().await;
        }
        result.map(Some)
    }

    async fn complete(&mut self) -> Result<ManifestObject> {
        let etag = match self.upload_id.clone() {
            None => {
                let body = std::mem::take(&mut self.buf);
                let out = self
                    .s3
                    .put_object()
                    .bucket(&self.bucket)
                    .key(&self.key)
                    .content_type("text/csv")
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .map_err(|e| anyhow!("{}", DisplayErrorContext(e)))
                    .with_context(|| format!("writing the manifest {}", self.location()))?;
                out.e_tag().map(str::to_string)
            }
            Some(id) => {
                if !self.buf.is_empty() {
                    self.flush_part().await?;
                }
                let out = self
                    .s3
                    .complete_multipart_upload()
                    .bucket(&self.bucket)
                    .key(&self.key)
                    .upload_id(&id)
                    .multipart_upload(
                        CompletedMultipartUpload::builder()
                            .set_parts(Some(self.parts.clone()))
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| anyhow!("{}", DisplayErrorContext(e)))
                    .with_context(|| format!("completing the manifest {}", self.location()))?;
                self.upload_id = None;
                out.e_tag().map(str::to_string)
            }
        };
        let etag = etag.ok_or_else(|| anyhow!("S3 gave no ETag for {}", self.location()))?;
        Ok(ManifestObject {
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            etag: etag.trim_matches('"').to_string(),
            objects: self.objects,
        })
    }
}

/// The manifest already at `bucket/key` (a re-run after a submission whose record was
/// lost): CreateJob with the same token and the same manifest returns the job already
/// created instead of a second one. Its line count is not known here (0).
pub async fn existing(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<ManifestObject>> {
    match s3.head_object().bucket(bucket).key(key).send().await {
        Ok(out) => Ok(Some(ManifestObject {
            bucket: bucket.into(),
            key: key.into(),
            etag: out
                .e_tag()
                .unwrap_or_default()
                .trim_matches('"')
                .to_string(),
            objects: 0,
        })),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
        Err(e) => Err(anyhow!("{}", DisplayErrorContext(e)))
            .with_context(|| format!("looking for the manifest s3://{bucket}/{key}")),
    }
}
