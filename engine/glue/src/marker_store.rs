//! Every read and write of the exactly-once markers, and nothing else: the claim protocol
//! ([`crate::start`]) sees markers and ETags, never an S3 request.
//!
//! It runs on the engine's storage seam (`ObjectStore::get` / `put(…, &PutCondition)` →
//! `PutOutcome`) through the governed [`Store`]: every marker read and write is retried,
//! limited and counted like the engine's own requests.
//!
//! S3 conditional writes:
//! <https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html>
//! (`If-None-Match: *` and `If-Match: <etag>` answer 412 when the condition fails, 409 when
//! a concurrent conditional write to the key won).

use bytes::Bytes;
use liberator_engine::Store;
pub use liberator_engine::store::{ObjectStore, PutCondition, PutOutcome};

use crate::Error;
use crate::marker::{self, Marker};

/// A marker as read, with the version to write against.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMarker {
    pub marker: Marker,
    /// The ETag read (empty when the store gave none).
    pub etag: String,
}

/// The markers of one landing bucket, under one prefix.
#[derive(Debug, Clone)]
pub struct MarkerStore {
    store: Store,
    bucket: String,
    prefix: String,
}

impl MarkerStore {
    /// Markers at `s3://bucket/prefix/<export-id>.json`.
    pub fn new(store: Store, bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        MarkerStore {
            store,
            bucket: bucket.into(),
            prefix: prefix.into(),
        }
    }

    /// The bucket the markers live in.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The key of an export's marker.
    pub fn key(&self, export_id: &str) -> String {
        marker::key(&self.prefix, export_id)
    }

    /// An error about the marker of `export_id`, naming its bucket and key.
    pub fn error(&self, export_id: &str, detail: impl Into<String>) -> Error {
        Error::Marker {
            export_id: export_id.into(),
            bucket: self.bucket.clone(),
            key: self.key(export_id),
            detail: detail.into(),
        }
    }

    /// The marker of `export_id` and its ETag; `None` when there is none.
    pub async fn read(&self, export_id: &str) -> Result<Option<StoredMarker>, Error> {
        let out = self
            .store
            .get(&self.bucket, &self.key(export_id))
            .await
            .map_err(|e| self.error(export_id, e.to_string()))?;
        let Some(out) = out else { return Ok(None) };
        let marker = serde_json::from_slice(&out.body)
            .map_err(|e| self.error(export_id, format!("not a marker: {e}")))?;
        Ok(Some(StoredMarker {
            marker,
            etag: out.etag.unwrap_or_default(),
        }))
    }

    /// Writes `marker` under `condition`.
    pub async fn put(
        &self,
        marker: &Marker,
        condition: &PutCondition,
    ) -> Result<PutOutcome, Error> {
        let id = marker.export_id.as_str();
        let body = Bytes::from(serde_json::to_vec_pretty(marker).expect("markers serialize"));
        self.store
            .put(&self.bucket, &self.key(id), body, condition)
            .await
            .map_err(|e| self.error(id, e.to_string()))
    }

    /// Creates the marker only if there is none (`If-None-Match: *`).
    pub async fn claim(&self, marker: &Marker) -> Result<PutOutcome, Error> {
        self.put(marker, &PutCondition::IfAbsent).await
    }

    /// Replaces the marker only if it is still the version `etag` (`If-Match`).
    pub async fn replace_if_match(&self, marker: &Marker, etag: &str) -> Result<PutOutcome, Error> {
        self.put(marker, &PutCondition::IfMatch(etag.to_string()))
            .await
    }

    /// Writes the marker whatever is there (the claim holder recording progress).
    pub async fn write(&self, marker: &Marker) -> Result<(), Error> {
        self.put(marker, &PutCondition::None).await.map(|_| ())
    }
}
