//! The storage seam: exactly the object operations the engine and the Lambdas need, as one
//! trait. Implementations talk to one backend and make one attempt per call (S3 through the
//! AWS SDK, a local folder through the file system, memory for fast tests); retries, the
//! adaptive limiter and the counters are one wrapper around any of them
//! ([`crate::store::Governed`]), and faults are injected by another
//! ([`crate::store::Faulty`]), in the way object_store's `LimitStore`/`ThrottledStore`
//! compose.
//!
//! Every error is an [`Error`]: a failed attempt is [`Error::Request`] with its
//! [`Class`](crate::retry::Class), which is all the retrying wrapper looks at.

use std::collections::HashMap;
use std::fmt::Debug;
use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;

#[allow(unused_imports)] // named in the docs above
use crate::error::Error;
use crate::error::Result;

/// One object from a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    /// Normalised (unquoted) ETag; `None` where the store has no comparable ETag (local files).
    pub etag: Option<String>,
}

/// What a HEAD request tells; the headers kept on copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectHead {
    pub size: u64,
    pub etag: Option<String>,
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    pub metadata: HashMap<String, String>,
}

/// What to list: one page of keys under `prefix`, in key order (UTF-8 byte order, as S3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListRequest {
    pub bucket: String,
    pub prefix: String,
    /// `Some("/")` for one level of a folder tree: deeper keys come back as `prefixes`.
    pub delimiter: Option<String>,
    /// The previous page's [`ListPage::next`].
    pub continuation: Option<String>,
    /// At most this many entries (objects and prefixes). Default (None): the store's page
    /// size (1,000 on S3).
    pub max_keys: Option<u32>,
}

/// One page of a listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    pub objects: Vec<ObjectInfo>,
    /// Common prefixes (each ending in the delimiter) of a delimited listing.
    pub prefixes: Vec<String>,
    /// Token of the next page; `None` on the last page.
    pub next: Option<String>,
}

/// A whole object read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetOutput {
    pub body: Bytes,
    /// The version read, for a later `If-Match` write.
    pub etag: Option<String>,
}

/// The precondition of a write.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PutCondition {
    /// Write whatever is there.
    #[default]
    None,
    /// `If-None-Match: *`: only if nothing is at the key.
    IfAbsent,
    /// `If-Match: <etag>`: only if the object is still that version.
    IfMatch(String),
}

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// Written; the new version's ETag where the store gives one.
    Written { etag: Option<String> },
    /// The condition did not hold (HTTP 412, or 409 for a concurrent conditional write);
    /// nothing was written.
    PreconditionFailed,
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

/// A server-side copy of a whole object (CopyObject).
#[derive(Debug, Clone)]
pub struct CopyObject<'a> {
    pub src_bucket: &'a str,
    pub src_key: &'a str,
    /// `CopySourceIfMatch`: pins the version that was verified.
    pub if_match: Option<&'a str>,
    pub dst_bucket: &'a str,
    pub dst_key: &'a str,
    pub write: &'a WriteOptions,
    /// Replace headers and metadata with these (used to record a multipart source's ETag);
    /// `None` copies the source's.
    pub replace: Option<&'a ObjectHead>,
}

/// One part of a multipart copy (UploadPartCopy).
#[derive(Debug, Clone)]
pub struct CopyPart<'a> {
    pub src_bucket: &'a str,
    pub src_key: &'a str,
    pub if_match: Option<&'a str>,
    pub dst_bucket: &'a str,
    pub dst_key: &'a str,
    pub upload_id: &'a str,
    /// 1 to 10,000.
    pub part_number: i32,
    /// Bytes of the source, end exclusive.
    pub range: Range<u64>,
}

/// An open multipart upload (ListMultipartUploads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub key: String,
    pub upload_id: String,
}

/// The object operations of the engine and the Lambdas. One attempt per call; see the
/// module docs for how retries and faults compose around it.
#[async_trait]
pub trait ObjectStore: Debug + Send + Sync + 'static {
    /// A short name for logs and reports (`s3`, `local`, `memory`, or a wrapper's).
    fn name(&self) -> &'static str;

    /// Whether the multipart copy calls work. Default true; a local folder copies whole
    /// files (a server-side copy there is one `copy`, whatever the size).
    fn supports_multipart(&self) -> bool {
        true
    }

    /// One page of a listing.
    async fn list_page(&self, req: &ListRequest) -> Result<ListPage>;

    /// HEAD; `None` when the object does not exist.
    async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectHead>>;

    /// A byte range of an object (end exclusive); exactly that many bytes or an error.
    async fn get_range(&self, bucket: &str, key: &str, range: Range<u64>) -> Result<Bytes>;

    /// A whole (small) object; `None` when it does not exist.
    async fn get(&self, bucket: &str, key: &str) -> Result<Option<GetOutput>>;

    /// Writes a whole (small) object under a condition.
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        condition: &PutCondition,
    ) -> Result<PutOutcome>;

    /// Deletes an object; deleting nothing is not an error.
    async fn delete(&self, bucket: &str, key: &str) -> Result<()>;

    /// Server-side copy of a whole object; the target's new ETag where the store gives one.
    async fn copy_object(&self, req: &CopyObject<'_>) -> Result<Option<String>>;

    /// Starts a multipart upload with the source's headers (`head`); its upload id.
    async fn create_multipart(
        &self,
        bucket: &str,
        key: &str,
        write: &WriteOptions,
        head: &ObjectHead,
    ) -> Result<String>;

    /// Copies one part; the part's ETag.
    async fn upload_part_copy(&self, req: &CopyPart<'_>) -> Result<String>;

    /// Completes an upload from its parts `(number, etag)` in order; the object's ETag.
    async fn complete_multipart(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(i32, String)],
    ) -> Result<Option<String>>;

    /// Aborts an upload; an upload that no longer exists is not an error.
    async fn abort_multipart(&self, bucket: &str, key: &str, upload_id: &str) -> Result<()>;

    /// Open multipart uploads under `prefix` (all pages).
    async fn list_multipart_uploads(&self, bucket: &str, prefix: &str) -> Result<Vec<Upload>>;
}
