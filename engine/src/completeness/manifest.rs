//! The restore manifest: what the database held after the restore task's load, before the
//! snapshot was taken. Written by the restore task (its shape is fixed there), read here.
//!
//! ```json
//! {"version":1,"snapshot_id":"sql-to-parquet-24-06-04-101500","import_date":"2024-06-04",
//!  "created_at":"2024-06-04T10:15:00Z",
//!  "dump":{"bucket":"landing","key":"parking/liberator_dump_240604.zip","size":123,"entries":["liberator.sql"]},
//!  "tables":[{"database":"liberator","table":"pcn","rows":12000}]}
//! ```
//!
//! Unknown fields are ignored, so the restore task may add some without breaking readers.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::error::CompletenessError;

/// The manifest version this engine reads.
pub const MANIFEST_VERSION: u64 = 1;

/// Rows per table of every database the restore task loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u64,
    /// The manual snapshot taken after the load; the export's source.
    pub snapshot_id: String,
    pub import_date: NaiveDate,
    pub created_at: DateTime<Utc>,
    pub dump: DumpInfo,
    pub tables: Vec<ManifestTable>,
}

/// The dump the database was loaded from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DumpInfo {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    /// The zip entries that were loaded.
    #[serde(default)]
    pub entries: Vec<String>,
}

/// One table's exact row count after the load (`COUNT(*)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestTable {
    /// The database's real name (no export substitution).
    pub database: String,
    pub table: String,
    pub rows: u64,
}

impl ManifestTable {
    /// `<db>.<table>` with the real names.
    pub fn name(&self) -> String {
        format!("{}.{}", self.database, self.table)
    }
}

impl Manifest {
    /// Parses and validates a manifest; `key` names the object in errors. Refuses a version
    /// other than [`MANIFEST_VERSION`] and a table listed twice.
    pub fn parse(key: &str, body: &[u8]) -> Result<Self, CompletenessError> {
        // Read the version first so that a future manifest fails as "unsupported version"
        // rather than as "malformed" when its shape changed.
        #[derive(Deserialize)]
        struct Version {
            version: u64,
        }
        let malformed = |source| CompletenessError::MalformedManifest {
            key: key.to_string(),
            source,
        };
        let Version { version } = serde_json::from_slice(body).map_err(malformed)?;
        if version != MANIFEST_VERSION {
            return Err(CompletenessError::ManifestVersion {
                key: key.to_string(),
                version,
            });
        }
        let manifest: Manifest = serde_json::from_slice(body).map_err(malformed)?;
        let mut seen = BTreeSet::new();
        for t in &manifest.tables {
            if !seen.insert((t.database.as_str(), t.table.as_str())) {
                return Err(CompletenessError::ManifestDuplicate {
                    key: key.to_string(),
                    table: t.name(),
                });
            }
        }
        Ok(manifest)
    }

    /// The databases the manifest covers (real names).
    pub fn databases(&self) -> BTreeSet<&str> {
        self.tables.iter().map(|t| t.database.as_str()).collect()
    }
}
