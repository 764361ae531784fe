//! S3 through the AWS SDK, with the engine's own retry loop.
//!
//! The SDK's retries are disabled: each attempt goes through [`S3Store::call`], which
//! classifies the failure ([`crate::retry::classify`]), counts it, tells the limiter about
//! throttling and sleeps a jittered backoff. S3's "200 OK with an `<Error>` body" on
//! CopyObject / UploadPartCopy / CompleteMultipartUpload is turned into a service error by
//! the SDK's deserialisers, so it is retried like any 500.

use std::fmt;
use std::future::Future;
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::Region;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, MetadataDirective, ObjectCannedAcl,
    ServerSideEncryption,
};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::{DelimitedPage, ObjectHead, ObjectInfo, normalize_etag};
use crate::error::{BoxError, Error, Result};
use crate::limiter::Limiter;
use crate::retry::{Class, RetryConfig, classify};
use crate::stats::JobStats;

/// Metadata key under which a multipart-copied object records its source's ETag, so that a
/// re-run can recognise it (its own ETag is a multipart one and never equals the source's).
pub const SOURCE_ETAG_METADATA: &str = "liberator-source-etag";

/// How to reach S3.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// Custom endpoint (`--endpoint-url`, else `AWS_ENDPOINT_URL`); path-style addressing is
    /// used whenever one is set. Default: none (AWS).
    pub endpoint_url: Option<String>,
    /// Region; default: the standard provider chain, else `us-east-1`.
    pub region: Option<String>,
    /// Per-attempt timeout. Default 300 s: a part copy of up to 5 GiB runs inside S3 and
    /// answers only when done.
    pub attempt_timeout: Duration,
    /// TCP connect timeout. Default 5 s.
    pub connect_timeout: Duration,
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            endpoint_url: None,
            region: None,
            attempt_timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// Options applied to every object written to the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOptions {
    /// Canned ACL. Default `bucket-owner-full-control`, so the landing account owns what the
    /// export account writes. `None` sends no ACL (buckets with ACLs disabled accept both).
    pub acl: Option<String>,
    /// SSE-KMS key id for the target. Default: none (the bucket's default encryption).
    pub sse_kms_key_id: Option<String>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            acl: Some("bucket-owner-full-control".into()),
            sse_kms_key_id: None,
        }
    }
}

/// Characters left as they are in `CopySource`: RFC 3986 unreserved plus `/`. Everything
/// else is percent-encoded, `+` included: unencoded, S3 reads `+` as a space (the trap of
/// aws-sdk-rust issue 1357).
const COPY_SOURCE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// The `x-amz-copy-source` value for a bucket and key.
pub fn copy_source(bucket: &str, key: &str) -> String {
    format!("{bucket}/{}", utf8_percent_encode(key, COPY_SOURCE))
}

/// `a: b: c` from an error and its sources, without the Debug dump `DisplayErrorContext` adds.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        let msg = s.to_string();
        if !out.ends_with(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        next = s.source();
    }
    out
}

/// One failed attempt.
pub(crate) struct AttemptError {
    class: Class,
    detail: String,
    source: BoxError,
}

impl<E> From<SdkError<E, HttpResponse>> for AttemptError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    fn from(e: SdkError<E, HttpResponse>) -> Self {
        // Service errors read best as "Code: message (HTTP status, request id)"; the full
        // chain (raw response included) stays available through `source`.
        let detail = match &e {
            SdkError::ServiceError(se) => {
                let meta = se.err().meta();
                let mut d = format!(
                    "{}: {} (HTTP {}",
                    meta.code().unwrap_or("unknown error"),
                    meta.message().unwrap_or("no message"),
                    se.raw().status().as_u16()
                );
                if let Some(id) = meta.extra("aws_request_id") {
                    d.push_str(&format!(", request id {id}"));
                }
                d.push(')');
                d
            }
            _ => error_chain(&e),
        };
        AttemptError {
            class: classify(&e),
            detail,
            source: Box::new(e),
        }
    }
}

/// S3 client plus the engine's retry policy and limiter.
#[derive(Clone)]
pub struct S3Store {
    client: Client,
    limiter: Arc<Limiter>,
    retry: RetryConfig,
}

impl fmt::Debug for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Store")
            .field("limit", &self.limiter.limit())
            .field("retry", &self.retry)
            .finish()
    }
}

/// Builds an SDK client from the standard credential and region chain, with the SDK's
/// retries off (the engine retries) and path-style addressing when an endpoint is set.
pub async fn build_client(cfg: &S3Config) -> Client {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(cfg.connect_timeout)
                .operation_attempt_timeout(cfg.attempt_timeout)
                .build(),
        );
    if let Some(endpoint) = &cfg.endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    if let Some(region) = &cfg.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let sdk = loader.load().await;
    let mut builder = aws_sdk_s3::config::Builder::from(&sdk);
    if sdk.region().is_none() {
        builder = builder.region(Region::new("us-east-1"));
    }
    if sdk.endpoint_url().is_some() {
        builder = builder.force_path_style(true);
    }
    Client::from_conf(builder.build())
}

impl S3Store {
    /// A store with a client built from `cfg`.
    pub async fn new(cfg: &S3Config, limiter: Arc<Limiter>, retry: RetryConfig) -> Self {
        Self::from_client(build_client(cfg).await, limiter, retry)
    }

    /// A store around an existing client (Lambdas, tests). Turn the client's own retries
    /// off, or attempts multiply.
    pub fn from_client(client: Client, limiter: Arc<Limiter>, retry: RetryConfig) -> Self {
        S3Store {
            client,
            limiter,
            retry,
        }
    }

    /// The SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs `attempt` until it succeeds, fails permanently or runs out of attempts.
    pub(crate) async fn call<T, E, F, Fut>(
        &self,
        op: &'static str,
        bucket: &str,
        key: &str,
        stats: &JobStats,
        mut attempt: F,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: Into<AttemptError>,
    {
        let mut n = 0;
        loop {
            n += 1;
            match attempt().await.map_err(Into::into) {
                Ok(v) => {
                    self.limiter.on_success();
                    return Ok(v);
                }
                Err(e) => {
                    if e.class == Class::Permanent || n >= self.retry.max_attempts {
                        return Err(Error::Request {
                            op,
                            bucket: bucket.to_string(),
                            key: key.to_string(),
                            attempts: n,
                            transient: e.class != Class::Permanent,
                            detail: e.detail,
                            source: e.source,
                        });
                    }
                    let throttled = e.class == Class::Throttle;
                    if throttled {
                        self.limiter.on_throttle();
                    }
                    stats.retry(op, throttled);
                    let delay = self.retry.backoff(n);
                    tracing::debug!(op, bucket, key, attempt = n, ?delay, error = %e.detail, "retrying");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    pub(crate) fn list(
        &self,
        bucket: &str,
        prefix: &str,
        stats: Arc<JobStats>,
    ) -> BoxStream<'static, Result<Vec<ObjectInfo>>> {
        struct St {
            store: S3Store,
            bucket: String,
            prefix: String,
            token: Option<String>,
            done: bool,
            stats: Arc<JobStats>,
        }
        let init = St {
            store: self.clone(),
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            token: None,
            done: false,
            stats,
        };
        stream::unfold(init, |mut st| async move {
            if st.done {
                return None;
            }
            let page = st
                .store
                .call("ListObjectsV2", &st.bucket, &st.prefix, &st.stats, || {
                    st.store
                        .client
                        .list_objects_v2()
                        .bucket(&st.bucket)
                        .prefix(&st.prefix)
                        .set_continuation_token(st.token.clone())
                        .send()
                })
                .await;
            let page = match page {
                Ok(p) => p,
                Err(e) => {
                    st.done = true;
                    return Some((Err(e), st));
                }
            };
            st.token = page.next_continuation_token().map(str::to_string);
            st.done = !page.is_truncated().unwrap_or(false) || st.token.is_none();
            let objects = page
                .contents()
                .iter()
                .filter_map(|o| {
                    Some(ObjectInfo {
                        key: o.key()?.to_string(),
                        size: o.size().unwrap_or(0).max(0) as u64,
                        etag: o.e_tag().map(normalize_etag),
                    })
                })
                .collect();
            Some((Ok(objects), st))
        })
        .boxed()
    }

    pub(crate) async fn list_delimited(
        &self,
        bucket: &str,
        prefix: &str,
        stats: &JobStats,
    ) -> Result<DelimitedPage> {
        let mut out = DelimitedPage::default();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .call("ListObjectsV2", bucket, prefix, stats, || {
                    self.client
                        .list_objects_v2()
                        .bucket(bucket)
                        .prefix(prefix)
                        .delimiter("/")
                        .set_continuation_token(token.clone())
                        .send()
                })
                .await?;
            out.prefixes.extend(
                page.common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(str::to_string)),
            );
            out.objects.extend(page.contents().iter().filter_map(|o| {
                Some(ObjectInfo {
                    key: o.key()?.to_string(),
                    size: o.size().unwrap_or(0).max(0) as u64,
                    etag: o.e_tag().map(normalize_etag),
                })
            }));
            token = page.next_continuation_token().map(str::to_string);
            if !page.is_truncated().unwrap_or(false) || token.is_none() {
                return Ok(out);
            }
        }
    }

    pub(crate) async fn any_under(
        &self,
        bucket: &str,
        prefix: &str,
        stats: &JobStats,
    ) -> Result<bool> {
        let page = self
            .call("ListObjectsV2", bucket, prefix, stats, || {
                self.client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix)
                    .max_keys(1)
                    .send()
            })
            .await?;
        Ok(!page.contents().is_empty())
    }

    pub(crate) async fn head(
        &self,
        bucket: &str,
        key: &str,
        stats: &JobStats,
    ) -> Result<Option<ObjectHead>> {
        self.call("HeadObject", bucket, key, stats, || async {
            match self
                .client
                .head_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
            {
                Ok(o) => Ok(Some(ObjectHead {
                    size: o.content_length().unwrap_or(0).max(0) as u64,
                    etag: o.e_tag().map(normalize_etag),
                    content_type: o.content_type().map(str::to_string),
                    content_encoding: o.content_encoding().map(str::to_string),
                    content_disposition: o.content_disposition().map(str::to_string),
                    content_language: o.content_language().map(str::to_string),
                    cache_control: o.cache_control().map(str::to_string),
                    metadata: o.metadata().cloned().unwrap_or_default(),
                })),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
                Err(e) => Err(AttemptError::from(e)),
            }
        })
        .await
    }

    pub(crate) async fn get_range(
        &self,
        bucket: &str,
        key: &str,
        range: Range<u64>,
        stats: &JobStats,
    ) -> Result<Bytes> {
        let header = format!("bytes={}-{}", range.start, range.end.saturating_sub(1));
        let want = range.end - range.start;
        self.call("GetObject", bucket, key, stats, || async {
            let out = self
                .client
                .get_object()
                .bucket(bucket)
                .key(key)
                .range(&header)
                .send()
                .await?;
            let body = out.body.collect().await.map_err(|e| AttemptError {
                class: Class::Transient,
                detail: format!("reading the response body: {e}"),
                source: Box::new(e),
            })?;
            let bytes = body.into_bytes();
            if bytes.len() as u64 != want {
                return Err(AttemptError {
                    class: Class::Transient,
                    detail: format!("asked for {want} bytes ({header}), got {}", bytes.len()),
                    source: format!("short read of {header}").into(),
                });
            }
            Ok(bytes)
        })
        .await
    }

    pub(crate) async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        stats: &JobStats,
    ) -> Result<()> {
        self.call("PutObject", bucket, key, stats, || {
            self.client
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(ByteStream::from(body.clone()))
                .send()
        })
        .await
        .map(|_| ())
    }

    /// Writes `body` only if nothing exists at the key (`If-None-Match: *`). `Ok(false)` when
    /// something was there already. Used for exactly-once markers.
    pub async fn put_if_absent(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        stats: &JobStats,
    ) -> Result<bool> {
        self.call("PutObject", bucket, key, stats, || async {
            match self
                .client
                .put_object()
                .bucket(bucket)
                .key(key)
                .if_none_match("*")
                .body(ByteStream::from(body.clone()))
                .send()
                .await
            {
                Ok(_) => Ok(true),
                Err(e)
                    if e.raw_response()
                        .is_some_and(|r| matches!(r.status().as_u16(), 409 | 412)) =>
                {
                    Ok(false)
                }
                Err(e) => Err(AttemptError::from(e)),
            }
        })
        .await
    }

    /// CopyObject. With `replace`, the target gets those headers and metadata (used when the
    /// source ETag is a multipart one, to record it); otherwise S3 copies them.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn copy_object(
        &self,
        src_bucket: &str,
        src_key: &str,
        if_match: Option<&str>,
        dst_bucket: &str,
        dst_key: &str,
        opts: &WriteOptions,
        replace: Option<&ObjectHead>,
        stats: &JobStats,
    ) -> Result<Option<String>> {
        let source = copy_source(src_bucket, src_key);
        let out = self
            .call("CopyObject", src_bucket, src_key, stats, || {
                let mut req = self
                    .client
                    .copy_object()
                    .copy_source(&source)
                    .bucket(dst_bucket)
                    .key(dst_key)
                    .set_copy_source_if_match(if_match.map(|e| format!("\"{e}\"")))
                    .set_acl(opts.acl.as_deref().map(ObjectCannedAcl::from));
                if let Some(kms) = &opts.sse_kms_key_id {
                    req = req
                        .server_side_encryption(ServerSideEncryption::AwsKms)
                        .ssekms_key_id(kms);
                }
                if let Some(h) = replace {
                    req = req
                        .metadata_directive(MetadataDirective::Replace)
                        .set_content_type(h.content_type.clone())
                        .set_content_encoding(h.content_encoding.clone())
                        .set_content_disposition(h.content_disposition.clone())
                        .set_content_language(h.content_language.clone())
                        .set_cache_control(h.cache_control.clone())
                        .set_metadata(Some(h.metadata.clone()));
                }
                req.send()
            })
            .await?;
        Ok(out
            .copy_object_result()
            .and_then(|r| r.e_tag())
            .map(normalize_etag))
    }

    pub(crate) async fn create_multipart(
        &self,
        bucket: &str,
        key: &str,
        opts: &WriteOptions,
        head: &ObjectHead,
        stats: &JobStats,
    ) -> Result<String> {
        let out = self
            .call("CreateMultipartUpload", bucket, key, stats, || {
                let mut req = self
                    .client
                    .create_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .set_acl(opts.acl.as_deref().map(ObjectCannedAcl::from))
                    .set_content_type(head.content_type.clone())
                    .set_content_encoding(head.content_encoding.clone())
                    .set_content_disposition(head.content_disposition.clone())
                    .set_content_language(head.content_language.clone())
                    .set_cache_control(head.cache_control.clone())
                    .set_metadata(Some(head.metadata.clone()));
                if let Some(kms) = &opts.sse_kms_key_id {
                    req = req
                        .server_side_encryption(ServerSideEncryption::AwsKms)
                        .ssekms_key_id(kms);
                }
                req.send()
            })
            .await?;
        out.upload_id()
            .map(str::to_string)
            .ok_or_else(|| Error::Request {
                op: "CreateMultipartUpload",
                bucket: bucket.to_string(),
                key: key.to_string(),
                attempts: 1,
                transient: false,
                detail: "response carried no UploadId".into(),
                source: "no UploadId".into(),
            })
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn upload_part_copy(
        &self,
        src_bucket: &str,
        src_key: &str,
        if_match: Option<&str>,
        dst_bucket: &str,
        dst_key: &str,
        upload_id: &str,
        part_number: i32,
        range: Range<u64>,
        stats: &JobStats,
    ) -> Result<String> {
        let source = copy_source(src_bucket, src_key);
        let byte_range = format!("bytes={}-{}", range.start, range.end - 1);
        let out = self
            .call("UploadPartCopy", src_bucket, src_key, stats, || {
                self.client
                    .upload_part_copy()
                    .copy_source(&source)
                    .copy_source_range(&byte_range)
                    .set_copy_source_if_match(if_match.map(|e| format!("\"{e}\"")))
                    .bucket(dst_bucket)
                    .key(dst_key)
                    .upload_id(upload_id)
                    .part_number(part_number)
                    .send()
            })
            .await?;
        out.copy_part_result()
            .and_then(|r| r.e_tag())
            .map(str::to_string)
            .ok_or_else(|| Error::Request {
                op: "UploadPartCopy",
                bucket: src_bucket.to_string(),
                key: src_key.to_string(),
                attempts: 1,
                transient: false,
                detail: format!("part {part_number} answer carried no ETag"),
                source: "no ETag".into(),
            })
    }

    pub(crate) async fn complete_multipart(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: Vec<(i32, String)>,
        stats: &JobStats,
    ) -> Result<Option<String>> {
        let upload = CompletedMultipartUpload::builder()
            .set_parts(Some(
                parts
                    .into_iter()
                    .map(|(n, etag)| CompletedPart::builder().part_number(n).e_tag(etag).build())
                    .collect(),
            ))
            .build();
        let out = self
            .call("CompleteMultipartUpload", bucket, key, stats, || {
                self.client
                    .complete_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(upload_id)
                    .multipart_upload(upload.clone())
                    .send()
            })
            .await?;
        Ok(out.e_tag().map(normalize_etag))
    }

    pub(crate) async fn abort_multipart(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        stats: &JobStats,
    ) -> Result<()> {
        self.call("AbortMultipartUpload", bucket, key, stats, || {
            self.client
                .abort_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(upload_id)
                .send()
        })
        .await
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limiter::LimiterConfig;
    use aws_sdk_s3::operation::copy_object::CopyObjectOutput;
    use aws_sdk_s3::types::CopyObjectResult;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    const ETAG: &str = "0123456789abcdef0123456789abcdef";

    fn store(client: Client, max: usize) -> S3Store {
        let limiter = Limiter::new(LimiterConfig {
            max,
            min: 1,
            decrease_interval: Duration::ZERO,
        });
        let retry = RetryConfig {
            max_attempts: 4,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
        };
        S3Store::from_client(client, limiter, retry)
    }

    /// The engine retries; the SDK's own retries are off, as in [`build_client`].
    fn no_sdk_retries(b: aws_sdk_s3::config::Builder) -> aws_sdk_s3::config::Builder {
        b.retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
    }

    fn ok_output() -> CopyObjectOutput {
        CopyObjectOutput::builder()
            .copy_object_result(
                CopyObjectResult::builder()
                    .e_tag(format!("\"{ETAG}\""))
                    .build(),
            )
            .build()
    }

    async fn copy(s: &S3Store, stats: &JobStats) -> Result<Option<String>> {
        s.copy_object(
            "src",
            "k 1+2.parquet",
            Some(ETAG),
            "dst",
            "t/k.parquet",
            &WriteOptions::default(),
            None,
            stats,
        )
        .await
    }

    #[tokio::test]
    async fn a_200_with_an_error_body_is_retried() {
        let rule = mock!(Client::copy_object)
            .sequence()
            .http_status(
                200,
                Some("<?xml version=\"1.0\"?><Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>".into()),
            )
            .output(ok_output)
            .build();
        let client = mock_client!(aws_sdk_s3, RuleMode::Sequential, [&rule], no_sdk_retries);
        let stats = JobStats::default();
        let etag = copy(&store(client, 8), &stats).await.unwrap();
        assert_eq!(etag.as_deref(), Some(ETAG));
        assert_eq!(rule.num_calls(), 2);
        assert_eq!(JobStats::get(&stats.retries), 1);
        assert_eq!(JobStats::get(&stats.throttles), 0);
    }

    #[tokio::test]
    async fn slow_down_is_retried_and_lowers_concurrency() {
        let slow = "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
        let rule = mock!(Client::copy_object)
            .sequence()
            .http_status(503, Some(slow.into()))
            .times(3)
            .output(ok_output)
            .build();
        let client = mock_client!(aws_sdk_s3, RuleMode::Sequential, [&rule], no_sdk_retries);
        let stats = JobStats::default();
        let s = store(client, 64);
        copy(&s, &stats).await.unwrap();
        assert_eq!(rule.num_calls(), 4);
        assert_eq!(JobStats::get(&stats.throttles), 3);
        assert_eq!(s.limiter.limit(), 8, "halved three times from 64");
    }

    #[tokio::test]
    async fn gives_up_after_max_attempts_naming_the_key() {
        let rule = mock!(Client::copy_object)
            .sequence()
            .http_status(
                500,
                Some("<Error><Code>InternalError</Code></Error>".into()),
            )
            .repeatedly()
            .build();
        let client = mock_client!(aws_sdk_s3, RuleMode::Sequential, [&rule], no_sdk_retries);
        let err = copy(&store(client, 8), &JobStats::default())
            .await
            .unwrap_err();
        assert_eq!(rule.num_calls(), 4);
        let msg = err.to_string();
        assert!(
            msg.contains("\"k 1+2.parquet\"") && msg.contains("after 4 attempt(s)"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn access_denied_is_not_retried() {
        let rule = mock!(Client::copy_object)
            .sequence()
            .http_status(
                403,
                Some(
                    "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
                        .into(),
                ),
            )
            .repeatedly()
            .build();
        let client = mock_client!(aws_sdk_s3, RuleMode::Sequential, [&rule], no_sdk_retries);
        let stats = JobStats::default();
        let err = copy(&store(client, 8), &stats).await.unwrap_err();
        assert_eq!(rule.num_calls(), 1);
        assert_eq!(JobStats::get(&stats.retries), 0);
        assert!(err.to_string().contains("AccessDenied"), "{err}");
    }

    #[tokio::test]
    async fn copy_source_is_encoded_on_the_wire() {
        let rule = mock!(Client::copy_object)
            .match_requests(|r| {
                r.copy_source() == Some("src/k%201%2B2.parquet")
                    && r.copy_source_if_match() == Some("\"0123456789abcdef0123456789abcdef\"")
            })
            .then_output(ok_output);
        let client = mock_client!(aws_sdk_s3, RuleMode::Sequential, [&rule], no_sdk_retries);
        copy(&store(client, 8), &JobStats::default()).await.unwrap();
        assert_eq!(rule.num_calls(), 1);
    }

    #[test]
    fn copy_source_encodes_reserved_characters() {
        assert_eq!(copy_source("b", "a/b c.parquet"), "b/a/b%20c.parquet");
        assert_eq!(copy_source("b", "t+1/x"), "b/t%2B1/x");
        assert_eq!(copy_source("b", "100%/x#y"), "b/100%25/x%23y");
        assert_eq!(copy_source("b", "straße/ü"), "b/stra%C3%9Fe/%C3%BC");
        assert_eq!(copy_source("b", "a-b_c.d~e"), "b/a-b_c.d~e");
        assert_eq!(copy_source("b", "q?x=1&y"), "b/q%3Fx%3D1%26y");
    }
}
