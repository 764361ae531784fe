//! Retries, the adaptive limiter and the counters, as one wrapper around any
//! [`ObjectStore`]: every call takes a limiter permit for its attempt, failures are retried
//! by their [`Class`] with full-jitter backoff inside [`RetryConfig`]'s attempts and time
//! budget, throttling halves the limit, and every retry is counted (run counters and the
//! `metrics` facade). Backoff sleeps end as soon as the run is stopped.

use std::future::Future;
use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use super::api::{
    CopyObject, CopyPart, GetOutput, ListPage, ListRequest, ObjectHead, ObjectStore, PutCondition,
    PutOutcome, Upload, WriteOptions,
};
use crate::error::{Error, Result};
use crate::limiter::Limiter;
use crate::retry::{Class, RetryConfig};
use crate::stats::JobStats;

/// A store under the engine's retry policy and limiter.
#[derive(Debug, Clone)]
pub struct Governed {
    inner: Arc<dyn ObjectStore>,
    limiter: Arc<Limiter>,
    retry: RetryConfig,
    stats: Arc<JobStats>,
    stop: CancellationToken,
}

impl Governed {
    pub fn new(inner: Arc<dyn ObjectStore>, limiter: Arc<Limiter>, retry: RetryConfig) -> Self {
        Governed {
            inner,
            limiter,
            retry,
            stats: Arc::new(JobStats::default()),
            stop: CancellationToken::new(),
        }
    }

    /// The same store counting into `stats` and ending backoff sleeps when `stop` fires:
    /// one per export run, sharing the backend and the limiter.
    pub fn for_run(&self, stats: Arc<JobStats>, stop: CancellationToken) -> Self {
        Governed {
            stats,
            stop,
            ..self.clone()
        }
    }

    pub fn limiter(&self) -> &Arc<Limiter> {
        &self.limiter
    }

    pub fn retry_config(&self) -> &RetryConfig {
        &self.retry
    }

    /// The counters retries and throttles go to.
    pub fn stats(&self) -> &Arc<JobStats> {
        &self.stats
    }

    /// The backend, ungoverned.
    pub fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.inner
    }

    /// Runs `attempt` under a permit until it succeeds, fails permanently, runs out of
    /// attempts or budget, or the run is stopped during a backoff.
    async fn call<T, F, Fut>(&self, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let started = Instant::now();
        let mut n = 0;
        loop {
            n += 1;
            let result = {
                let _permit = self.limiter.acquire().await;
                attempt().await
            };
            let err = match result {
                Ok(v) => {
                    self.limiter.on_success();
                    return Ok(v);
                }
                Err(e) => e,
            };
            let Some(class) = err.class().filter(|c| *c != Class::Permanent) else {
                return Err(with_attempts(err, n));
            };
            let delay = self.retry.backoff(n);
            if !self.retry.may_retry(n, started.elapsed(), delay) {
                return Err(with_attempts(err, n));
            }
            let throttled = class == Class::Throttle;
            if throttled {
                self.limiter.on_throttle();
            }
            let op = match &err {
                Error::Request { op, .. } => *op,
                _ => "request",
            };
            self.stats.retry(op, throttled);
            tracing::debug!(op, attempt = n, ?delay, error = %err, "retrying");
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.stop.cancelled() => return Err(with_attempts(err, n)),
            }
        }
    }
}

fn with_attempts(err: Error, n: u32) -> Error {
    match err {
        Error::Request {
            op,
            bucket,
            key,
            class,
            detail,
            source,
            ..
        } => Error::Request {
            op,
            bucket,
            key,
            attempts: n,
            class,
            detail,
            source,
        },
        other => other,
    }
}

#[async_trait]
impl ObjectStore for Governed {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn supports_multipart(&self) -> bool {
        self.inner.supports_multipart()
    }

    async fn list_page(&self, req: &ListRequest) -> Result<ListPage> {
        self.call(|| self.inner.list_page(req)).await
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectHead>> {
        self.call(|| self.inner.head(bucket, key)).await
    }

    async fn get_range(&self, bucket: &str, key: &str, range: Range<u64>) -> Result<Bytes> {
        self.call(|| self.inner.get_range(bucket, key, range.clone()))
            .await
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<GetOutput>> {
        self.call(|| self.inner.get(bucket, key)).await
    }

    /// A conditional write whose reply was lost is retried as it is: a 412 on the retry may
    /// mean our own first attempt landed. Callers recognise their own write by its content
    /// (the marker protocol puts a token in the body).
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        condition: &PutCondition,
    ) -> Result<PutOutcome> {
        self.call(|| self.inner.put(bucket, key, body.clone(), condition))
            .await
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<()> {
        self.call(|| self.inner.delete(bucket, key)).await
    }

    async fn copy_object(&self, req: &CopyObject<'_>) -> Result<Option<String>> {
        self.call(|| self.inner.copy_object(req)).await
    }

    async fn create_multipart(
        &self,
        bucket: &str,
        key: &str,
        write: &WriteOptions,
        head: &ObjectHead,
    ) -> Result<String> {
        self.call(|| self.inner.create_multipart(bucket, key, write, head))
            .await
    }

    async fn upload_part_copy(&self, req: &CopyPart<'_>) -> Result<String> {
        self.call(|| self.inner.upload_part_copy(req)).await
    }

    async fn complete_multipart(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(i32, String)],
    ) -> Result<Option<String>> {
        self.call(|| self.inner.complete_multipart(bucket, key, upload_id, parts))
            .await
    }

    async fn abort_multipart(&self, bucket: &str, key: &str, upload_id: &str) -> Result<()> {
        self.call(|| self.inner.abort_multipart(bucket, key, upload_id))
            .await
    }

    async fn list_multipart_uploads(&self, bucket: &str, prefix: &str) -> Result<Vec<Upload>> {
        self.call(|| self.inner.list_multipart_uploads(bucket, prefix))
            .await
    }
}
