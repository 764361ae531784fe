//! S3 (any S3-compatible endpoint) through the AWS SDK: one attempt per call.
//!
//! The SDK's own retries are off (the client comes from [`liberator_aws::ClientFactory`]
//! with `s3_sdk_retries: false`): every attempt's failure is classified here
//! ([`crate::retry::classify`]) and returned as [`Error::Request`], and the retrying
//! wrapper ([`crate::store::Governed`]) decides, counts and tells the limiter. S3's "200 OK
//! with an `<Error>` body" on CopyObject / UploadPartCopy / CompleteMultipartUpload is turned
//! into a service error by the SDK's deserialisers, so it is retried like any 500.

mod errors;
mod reads;
mod writes;

use std::fmt;
use std::ops::Range;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use bytes::Bytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::api::{
    CopyObject, CopyPart, GetOutput, ListPage, ListRequest, ObjectHead, ObjectStore, PutCondition,
    PutOutcome, Upload, WriteOptions,
};
use crate::error::Result;

/// Metadata key under which a multipart-copied object records its source's ETag, so that a
/// re-run can recognise it (its own ETag is a multipart one and never equals the source's).
pub const SOURCE_ETAG_METADATA: &str = "liberator-source-etag";

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

/// An S3 client as an [`ObjectStore`]. Build the client with
/// [`liberator_aws::ClientFactory::s3`], which turns the SDK's retries off; with retries on,
/// attempts multiply and throttling never reaches the limiter.
#[derive(Clone)]
pub struct S3Store {
    client: Client,
}

impl fmt::Debug for S3Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Store").finish_non_exhaustive()
    }
}

impl S3Store {
    pub fn new(client: Client) -> Self {
        S3Store { client }
    }

    /// The SDK client (tests and tools that need an operation the seam does not have).
    pub fn client(&self) -> &Client {
        &self.client
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    fn name(&self) -> &'static str {
        "s3"
    }

    async fn list_page(&self, req: &ListRequest) -> Result<ListPage> {
        self.list_page_impl(req).await
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectHead>> {
        self.head_impl(bucket, key).await
    }

    async fn get_range(&self, bucket: &str, key: &str, range: Range<u64>) -> Result<Bytes> {
        self.get_range_impl(bucket, key, range).await
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<GetOutput>> {
        self.get_impl(bucket, key).await
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        condition: &PutCondition,
    ) -> Result<PutOutcome> {
        self.put_impl(bucket, key, body, condition).await
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<()> {
        self.delete_impl(bucket, key).await
    }

    async fn copy_object(&self, req: &CopyObject<'_>) -> Result<Option<String>> {
        self.copy_object_impl(req).await
    }

    async fn create_multipart(
        &self,
        bucket: &str,
        key: &str,
        write: &WriteOptions,
        head: &ObjectHead,
    ) -> Result<String> {
        self.create_multipart_impl(bucket, key, write, head).await
    }

    async fn upload_part_copy(&self, req: &CopyPart<'_>) -> Result<String> {
        self.upload_part_copy_impl(req).await
    }

    async fn complete_multipart(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(i32, String)],
    ) -> Result<Option<String>> {
        self.complete_multipart_impl(bucket, key, upload_id, parts)
            .await
    }

    async fn abort_multipart(&self, bucket: &str, key: &str, upload_id: &str) -> Result<()> {
        self.abort_multipart_impl(bucket, key, upload_id).await
    }

    async fn list_multipart_uploads(&self, bucket: &str, prefix: &str) -> Result<Vec<Upload>> {
        self.list_multipart_uploads_impl(bucket, prefix).await
    }
}

#[cfg(test)]
mod tests;
