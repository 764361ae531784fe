//! The object stores the engine talks to: S3 (any S3-compatible endpoint) through the AWS
//! SDK, or a local folder through object_store.
//!
//! Both sides of a copy live in one store: a server-side copy cannot cross from a local
//! folder to S3, so mixing the two is refused up front.

pub mod local;
pub mod s3;

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;

use crate::error::{Error, Result};
use crate::limiter::Limiter;
use crate::location::Location;
use crate::retry::RetryConfig;
use crate::stats::JobStats;

pub use local::LocalStore;
pub use s3::{S3Config, S3Store, WriteOptions};

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

/// One page of a delimiter listing.
#[derive(Debug, Clone, Default)]
pub struct DelimitedPage {
    pub objects: Vec<ObjectInfo>,
    pub prefixes: Vec<String>,
}

/// Strips the quotes S3 puts around ETags (SeaweedFS leaves them off on copy results).
pub fn normalize_etag(etag: &str) -> String {
    etag.trim().trim_matches('"').to_string()
}

/// A single-part S3 ETag is the MD5 of the content; only those compare across copies.
pub fn is_md5_etag(etag: &str) -> bool {
    etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit())
}

/// An S3 client or a local folder.
#[derive(Debug, Clone)]
pub enum Store {
    S3(S3Store),
    Local(LocalStore),
}

impl Store {
    /// The store serving both locations.
    pub async fn for_locations(
        source: &Location,
        target: &Location,
        s3: &S3Config,
        limiter: Arc<Limiter>,
        retry: RetryConfig,
    ) -> Result<Store> {
        match (source, target) {
            (Location::S3 { .. }, Location::S3 { .. }) => {
                Ok(Store::S3(S3Store::new(s3, limiter, retry).await))
            }
            (Location::Local { .. }, Location::Local { .. }) => Ok(Store::Local(LocalStore::new())),
            _ => Err(Error::Location {
                location: format!("{source} -> {target}"),
                reason: "source and target must both be s3:// or both local: a server-side copy cannot cross stores".into(),
            }),
        }
    }

    /// Streams every object under `prefix`, a page at a time (S3: one ListObjectsV2 page).
    pub fn list(
        &self,
        bucket: &str,
        prefix: &str,
        stats: Arc<JobStats>,
    ) -> BoxStream<'static, Result<Vec<ObjectInfo>>> {
        match self {
            Store::S3(s) => s.list(bucket, prefix, stats),
            Store::Local(l) => l.list(bucket, prefix),
        }
    }

    /// One level of a `/`-delimited listing, all pages.
    pub async fn list_delimited(
        &self,
        bucket: &str,
        prefix: &str,
        stats: &JobStats,
    ) -> Result<DelimitedPage> {
        match self {
            Store::S3(s) => s.list_delimited(bucket, prefix, stats).await,
            Store::Local(l) => l.list_delimited(bucket, prefix).await,
        }
    }

    /// Whether anything exists under `prefix`.
    pub async fn any_under(&self, bucket: &str, prefix: &str, stats: &JobStats) -> Result<bool> {
        match self {
            Store::S3(s) => s.any_under(bucket, prefix, stats).await,
            Store::Local(l) => l.any_under(bucket, prefix).await,
        }
    }

    /// HEAD; `None` when the object does not exist.
    pub async fn head(
        &self,
        bucket: &str,
        key: &str,
        stats: &JobStats,
    ) -> Result<Option<ObjectHead>> {
        match self {
            Store::S3(s) => s.head(bucket, key, stats).await,
            Store::Local(l) => l.head(bucket, key).await,
        }
    }

    /// A byte range of an object.
    pub async fn get_range(
        &self,
        bucket: &str,
        key: &str,
        range: Range<u64>,
        stats: &JobStats,
    ) -> Result<Bytes> {
        match self {
            Store::S3(s) => s.get_range(bucket, key, range, stats).await,
            Store::Local(l) => l.get_range(bucket, key, range).await,
        }
    }

    /// Writes an object (sample exports, markers).
    pub async fn put(&self, bucket: &str, key: &str, body: Bytes, stats: &JobStats) -> Result<()> {
        match self {
            Store::S3(s) => s.put(bucket, key, body, stats).await,
            Store::Local(l) => l.put(bucket, key, body).await,
        }
    }
}
