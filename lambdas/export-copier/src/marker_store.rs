//! Every read and write of the exactly-once markers, and nothing else: the claim protocol
//! ([`crate::glue`]) sees markers and ETags, never an S3 request.
//!
//! Shaped like the engine's storage seam (`ObjectStore::get` / `put(…, &PutCondition)` →
//! `PutOutcome`), which this will move onto: [`PutCondition`] and [`PutOutcome`] mirror
//! those types one for one. Until then it runs on the engine's `S3Store`: the conditional
//! create and the unconditional write through the engine's retrying call, the read and the
//! `If-Match` write as single SDK requests (as before the split).
//!
//! S3 conditional writes:
//! <https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html>
//! (`If-None-Match: *` and `If-Match: <etag>` answer 412 when the condition fails, 409 when
//! a concurrent conditional write to the key won).

use bytes::Bytes;
use liberator_engine::Store;
use liberator_engine::stats::JobStats;
use liberator_engine::store::S3Store;

use crate::Error;
use crate::marker::{self, Marker};

/// The precondition of a marker write (the engine seam's `PutCondition`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PutCondition {
    /// Write whatever is there.
    #[default]
    None,
    /// `If-None-Match: *`: only if there is no marker yet.
    IfAbsent,
    /// `If-Match: <etag>`: only if the marker is still the version read.
    IfMatch(String),
}

/// What a marker write did (the engine seam's `PutOutcome`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// Written; the new version's ETag where the store gave one.
    Written { etag: Option<String> },
    /// The condition did not hold; nothing was written.
    PreconditionFailed,
}

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
    store: S3Store,
    bucket: String,
    prefix: String,
}

impl MarkerStore {
    /// Markers at `s3://bucket/prefix/<export-id>.json`.
    pub fn new(store: S3Store, bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
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
            .client()
            .get_object()
            .bucket(&self.bucket)
            .key(self.key(export_id))
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => {
                return Err(self.error(
                    export_id,
                    aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
                ));
            }
        };
        let etag = out.e_tag().unwrap_or_default().to_string();
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| self.error(export_id, e.to_string()))?
            .into_bytes();
        let marker = serde_json::from_slice(&body)
            .map_err(|e| self.error(export_id, format!("not a marker: {e}")))?;
        Ok(Some(StoredMarker { marker, etag }))
    }

    /// Writes `marker` under `condition`.
    pub async fn put(
        &self,
        marker: &Marker,
        condition: &PutCondition,
    ) -> Result<PutOutcome, Error> {
        let id = marker.export_id.as_str();
        let key = self.key(id);
        let body = Bytes::from(serde_json::to_vec_pretty(marker).expect("markers serialize"));
        let stats = JobStats::default();
        match condition {
            PutCondition::None => Store::S3(self.store.clone())
                .put(&self.bucket, &key, body, &stats)
                .await
                .map(|()| PutOutcome::Written { etag: None })
                .map_err(|e| self.error(id, e.to_string())),
            PutCondition::IfAbsent => self
                .store
                .put_if_absent(&self.bucket, &key, body, &stats)
                .await
                .map(|created| {
                    if created {
                        PutOutcome::Written { etag: None }
                    } else {
                        PutOutcome::PreconditionFailed
                    }
                })
                .map_err(|e| self.error(id, e.to_string())),
            PutCondition::IfMatch(etag) => {
                let out = self
                    .store
                    .client()
                    .put_object()
                    .bucket(&self.bucket)
                    .key(&key)
                    .if_match(etag)
                    .body(body.into())
                    .send()
                    .await;
                match out {
                    Ok(out) => Ok(PutOutcome::Written {
                        etag: out.e_tag().map(str::to_string),
                    }),
                    Err(e)
                        if e.raw_response()
                            .is_some_and(|r| matches!(r.status().as_u16(), 409 | 412)) =>
                    {
                        Ok(PutOutcome::PreconditionFailed)
                    }
                    Err(e) => {
                        Err(self.error(id, aws_sdk_s3::error::DisplayErrorContext(&e).to_string()))
                    }
                }
            }
        }
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
