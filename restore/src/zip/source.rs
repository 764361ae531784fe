//! Where a zip's bytes come from: an S3 object read with ranged GETs, or a local file.

use std::future::Future;
use std::path::PathBuf;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::error::{BoxError, RestoreError, Result};

/// A stream of byte chunks from one ranged read.
pub type ByteChunks = BoxStream<'static, std::result::Result<Bytes, BoxError>>;

/// Something we can read byte ranges of: an S3 object, or a local file in tests and benchmarks.
pub trait RangeSource: Send + Sync {
    /// A name for logs and errors (`s3://bucket/key`, a path).
    fn name(&self) -> String;
    /// Total length in bytes.
    fn size(&self) -> impl Future<Output = Result<u64>> + Send;
    /// Bytes `start..end` (end exclusive) as a stream.
    fn range(&self, start: u64, end: u64) -> impl Future<Output = Result<ByteChunks>> + Send;
}

/// An S3 object read with ranged GETs.
#[derive(Debug, Clone)]
pub struct S3Object {
    pub client: aws_sdk_s3::Client,
    pub bucket: String,
    pub key: String,
}

impl S3Object {
    fn err(&self, operation: &'static str, e: impl Into<BoxError>) -> RestoreError {
        RestoreError::S3 {
            operation,
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            source: e.into(),
        }
    }
}

impl RangeSource for S3Object {
    fn name(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    async fn size(&self) -> Result<u64> {
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .send()
            .await;
        let head = head.map_err(|e| self.err("HeadObject", e))?;
        let len = head.content_length().unwrap_or(0);
        u64::try_from(len).map_err(|_| self.err("HeadObject", format!("negative length {len}")))
    }

    async fn range(&self, start: u64, end: u64) -> Result<ByteChunks> {
        let range = format!("bytes={}-{}", start, end.saturating_sub(1));
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .range(range)
            .send()
            .await;
        let body = out.map_err(|e| self.err("GetObject", e))?.body;
        Ok(futures::stream::unfold(body, |mut body| async move {
            body.next().await.map(|r| (r.map_err(BoxError::from), body))
        })
        .boxed())
    }
}

/// A local file, read the same way (used by `--from-file`, tests and the benchmark).
#[derive(Debug, Clone)]
pub struct LocalFile {
    pub path: PathBuf,
}

impl RangeSource for LocalFile {
    fn name(&self) -> String {
        self.path.display().to_string()
    }

    async fn size(&self) -> Result<u64> {
        let meta = tokio::fs::metadata(&self.path).await;
        Ok(meta
            .map_err(|e| RestoreError::Io {
                path: self.name(),
                source: e,
            })?
            .len())
    }

    async fn range(&self, start: u64, end: u64) -> Result<ByteChunks> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let io = |e| RestoreError::Io {
            path: self.name(),
            source: e,
        };
        let mut file = tokio::fs::File::open(&self.path).await.map_err(io)?;
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(io)?;
        let remaining = end.saturating_sub(start);
        Ok(
            futures::stream::unfold((file, remaining), |(mut file, remaining)| async move {
                if remaining == 0 {
                    return None;
                }
                let mut buf = vec![0u8; remaining.min(1 << 20) as usize];
                match file.read(&mut buf).await {
                    Ok(0) => None,
                    Ok(n) => {
                        buf.truncate(n);
                        Some((Ok(Bytes::from(buf)), (file, remaining - n as u64)))
                    }
                    Err(e) => Some((Err(BoxError::from(e)), (file, 0))),
                }
            })
            .boxed(),
        )
    }
}
