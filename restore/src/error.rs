//! The crate's one error type. Variants carry the context an operator needs to act
//! (S3 key, zip entry, statement number, table) and keep the underlying error as `source`.
//! Nothing here ever holds the database password.

/// Boxed source for SDK errors, whose concrete types are long and differ per operation.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can stop a restore.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// None of the candidate keys exists in the bucket.
    #[error("no dump found in s3://{bucket}; keys tried: {}", tried.join(", "))]
    DumpNotFound { bucket: String, tried: Vec<String> },

    /// An S3 call failed.
    #[error("S3 {operation} on s3://{bucket}/{key} failed")]
    S3 {
        operation: &'static str,
        bucket: String,
        key: String,
        #[source]
        source: BoxError,
    },

    /// A local file (for `--from-file` loads) could not be read.
    #[error("reading {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// The object is not a zip we can read (truncated, unsupported method, corrupt).
    #[error("zip {object}: {reason}")]
    Zip { object: String, reason: String },

    /// An entry name that would escape the extraction root; the whole dump is refused.
    #[error("zip {object}: entry {entry:?} rejected: {reason}")]
    UnsafeEntry {
        object: String,
        entry: String,
        reason: &'static str,
    },

    /// An entry inflates past the configured size or ratio limit.
    #[error("zip {object}: entry {entry:?} stopped after {produced} bytes: {reason}")]
    Bomb {
        object: String,
        entry: String,
        produced: u64,
        reason: String,
    },

    /// Inflating an entry failed (corrupt deflate stream or CRC mismatch).
    #[error("zip {object}: entry {entry:?} is corrupt")]
    Corrupt {
        object: String,
        entry: String,
        #[source]
        source: BoxError,
    },

    /// Connecting to (or setting up a session on) the database failed. `tls` says whether
    /// TLS was asked for, so a refused certificate reads as such.
    #[error("connecting to MySQL at {host}:{port} as {user} ({})", if *tls { "TLS" } else { "no TLS" })]
    Connect {
        host: String,
        port: u16,
        user: String,
        tls: bool,
        #[source]
        source: mysql_async::Error,
    },

    /// The server rejected a statement of the dump.
    #[error("SQL error in entry {entry:?}, statement {statement} (table {table}): {head}")]
    Sql {
        entry: String,
        statement: u64,
        table: String,
        head: String,
        #[source]
        source: mysql_async::Error,
    },

    /// A statement of the loader's own (reset, session setup, commit) failed.
    #[error("{action} failed")]
    Database {
        action: String,
        #[source]
        source: mysql_async::Error,
    },

    /// An RDS call failed.
    #[error("RDS {operation} for {id} failed")]
    Rds {
        operation: &'static str,
        id: String,
        #[source]
        source: BoxError,
    },

    /// Waiting for the snapshot ended in a bad state or timed out.
    #[error("snapshot {id}: {reason}")]
    Snapshot { id: String, reason: String },

    /// Reading the password from Secrets Manager failed.
    #[error("reading secret {secret_id} from Secrets Manager")]
    Secret {
        secret_id: String,
        #[source]
        source: BoxError,
    },

    /// A task of the restore (the dump reader, a loader worker, an index build) panicked,
    /// was cancelled, or ended without finishing its input.
    #[error("{task} task failed: {reason}")]
    Task { task: String, reason: String },

    /// SIGTERM (ECS stopping the task) or SIGINT arrived: the restore stopped where it was.
    #[error("stopped by {signal} while {phase}")]
    Stopped {
        signal: &'static str,
        phase: &'static str,
    },

    /// The restore manifest could not be made (the S3 write itself is an [`RestoreError::S3`]).
    #[error("restore manifest {location}")]
    Manifest {
        location: String,
        #[source]
        source: BoxError,
    },

    /// Inconsistent or missing configuration.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// Result alias for this crate.
pub type Result<T, E = RestoreError> = std::result::Result<T, E>;
