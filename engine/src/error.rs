//! The engine's one error type.
//!
//! Every variant names the bucket and key (or the export id / location) it concerns, so an
//! operator reading a report or a log line knows exactly which object to look at.

use crate::retry::Class;

/// Boxed source error, kept so callers can walk the chain.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The export id does not follow `sql-to-parquet-YY-MM-DD-HHMMSS` or
    /// `sql-to-parquet-YYYY-MM-DD-backdated`, or names an impossible date.
    #[error(transparent)]
    ExportId(#[from] liberator_export_id::ExportIdError),

    /// A `s3://` / path location could not be parsed or used.
    #[error("location {location:?}: {reason}")]
    Location { location: String, reason: String },

    /// A request failed for good: not retryable, or still failing after the last attempt.
    #[error("{op} on bucket {bucket:?} key {key:?} failed after {attempts} attempt(s): {detail}")]
    Request {
        op: &'static str,
        bucket: String,
        key: String,
        attempts: u32,
        /// How the last failure was classified: [`Class::Permanent`] was refused (403, 404,
        /// a malformed request); the others ran out of attempts or time.
        class: Class,
        detail: String,
        #[source]
        source: BoxError,
    },

    /// The source object is not a readable Parquet file (bad magic, truncated or corrupt footer).
    #[error("bucket {bucket:?} key {key:?} is not a valid Parquet file: {reason}")]
    Parquet {
        bucket: String,
        key: String,
        reason: String,
    },

    /// The key does not fit the RDS export layout `<export-id>/<db>/<db.table>/[<batch>/]<file>`.
    #[error("key {key:?} does not fit the export layout: {reason}")]
    Layout { key: String, reason: String },

    /// Two source keys map to the same target key; neither is copied.
    #[error("key {key:?} and key {other:?} both map to target {target:?}; neither is copied")]
    Collision {
        key: String,
        other: String,
        target: String,
    },

    /// The copied object does not match its source (size or ETag).
    #[error(
        "copy of bucket {bucket:?} key {key:?} to {target:?} does not match the source: {detail}"
    )]
    Mismatch {
        bucket: String,
        key: String,
        target: String,
        detail: String,
    },

    /// The object cannot be copied at all (over S3's 5 TiB object limit).
    #[error("bucket {bucket:?} key {key:?}: {reason}")]
    Unsupported {
        bucket: String,
        key: String,
        reason: String,
    },

    /// A local-filesystem operation failed.
    #[error("{op} on {path:?} failed: {source}")]
    Local {
        op: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// The export's completeness could not be checked: its metadata is missing or
    /// malformed (the message names the file).
    #[error("completeness check: {0}")]
    Completeness(String),

    /// A report kept for schema-drift checks (`_liberator/reports/…`) cannot be read.
    #[error("kept report in bucket {bucket:?} key {key:?}: {reason}")]
    KeptReport {
        bucket: String,
        key: String,
        reason: String,
    },

    /// The run was stopped (deadline or cancellation) before it finished.
    #[error("stopped before the export was finished: {0}")]
    Interrupted(String),
}

impl Error {
    /// Whether trying again later may succeed: requests that ran out of attempts on
    /// throttling, 5xx or network errors, and interrupted runs. A bad file, a refused request
    /// (403, 404, 412) or an impossible object is not.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Request { class, .. } => *class != Class::Permanent,
            Error::Mismatch { .. } | Error::Interrupted(_) | Error::Local { .. } => true,
            _ => false,
        }
    }

    /// The key this error concerns, when it concerns one object.
    pub fn key(&self) -> Option<&str> {
        match self {
            Error::Request { key, .. }
            | Error::Parquet { key, .. }
            | Error::Layout { key, .. }
            | Error::Collision { key, .. }
            | Error::Mismatch { key, .. }
            | Error::Unsupported { key, .. }
            | Error::KeptReport { key, .. } => Some(key),
            Error::Local { path, .. } => Some(path),
            _ => None,
        }
    }
}

impl Error {
    /// One failed attempt of a request (stores make one attempt per call; the retrying
    /// wrapper raises `attempts` on the error it finally returns).
    pub fn attempt(
        op: &'static str,
        bucket: &str,
        key: &str,
        class: Class,
        detail: impl Into<String>,
        source: impl Into<BoxError>,
    ) -> Self {
        Error::Request {
            op,
            bucket: bucket.to_string(),
            key: key.to_string(),
            attempts: 1,
            class,
            detail: detail.into(),
            source: source.into(),
        }
    }

    /// The retry class of a failed request; `None` for errors that are not request failures.
    pub fn class(&self) -> Option<Class> {
        match self {
            Error::Request { class, .. } => Some(*class),
            _ => None,
        }
    }
}
