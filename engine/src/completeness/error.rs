//! Errors of the completeness check: each names the object (key) it concerns.

/// Reading the export's metadata or the restore manifest failed.
///
/// The check itself never fails: a table that is not complete is a verdict in the
/// [`Completeness`](super::Completeness) report, not an error. These errors mean a witness
/// could not be read at all, so nothing can be concluded and the caller must not start Glue.
#[derive(Debug, thiserror::Error)]
pub enum CompletenessError {
    /// The file is not JSON, or not of the shape AWS writes (for example `perTableStatus`
    /// missing or a `target` that is not a string).
    #[error("export metadata {key:?} is malformed: {source}")]
    MalformedMetadata {
        key: String,
        #[source]
        source: serde_json::Error,
    },

    /// The restore manifest is not JSON of the expected shape.
    #[error("restore manifest {key:?} is malformed: {source}")]
    MalformedManifest {
        key: String,
        #[source]
        source: serde_json::Error,
    },

    /// The restore manifest is of a version this engine does not understand.
    #[error("restore manifest {key:?} has version {version}; this engine reads version 1")]
    ManifestVersion { key: String, version: u64 },

    /// The restore manifest lists one table twice (with the rows of which?).
    #[error("restore manifest {key:?} lists table {table:?} more than once")]
    ManifestDuplicate { key: String, table: String },

    /// The key does not look like `…export_tables_info_<export-id>_from_<N>_to_<M>.json`.
    #[error("key {key:?} is not an export_tables_info file name: {reason}")]
    TablesInfoName { key: String, reason: String },
}
