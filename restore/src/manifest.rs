//! The restore manifest: what the database held when the snapshot was taken.
//!
//! After a complete load and before the snapshot, the task counts the rows of every table
//! of every database the load wrote to (`SELECT COUNT(*)`, exact, not the statistics
//! estimate) and writes them as JSON to S3, keyed by the snapshot id, outside every export
//! and table folder: `<prefix><snapshot-id>.json` under `MANIFEST_LOCATION`
//! (`s3://bucket/prefix/`, default `s3://<dump bucket>/liberator-manifests/`). The engine's
//! completeness check compares the rows landed per table with these counts.
//!
//! ```json
//! {"version":1,"snapshot_id":"sql-to-parquet-24-06-04-101500","import_date":"2024-06-04",
//!  "created_at":"2024-06-04T10:41:07Z",
//!  "dump":{"bucket":"b","key":"parking/liberator_dump_240604.zip","size":123,"entries":["liberator.sql"]},
//!  "tables":[{"database":"liberator","table":"pcn","rows":12000}]}
//! ```
//!
//! Readers should ignore fields they do not know (later versions may add some) and refuse
//! a `version` they do not understand.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use mysql_async::prelude::Queryable;
use serde::{Deserialize, Serialize};

use crate::config::MysqlConfig;
use crate::error::{RestoreError, Result};
use crate::load::{LoadReport, connect, quote_ident};

/// The manifest format's version; readers refuse others.
pub const VERSION: u32 = 1;

/// Default key prefix in the dump bucket, outside the dumps' `parking/` and every export.
pub const DEFAULT_PREFIX: &str = "liberator-manifests/";

/// Schemas that belong to the server, never to a dump.
const SYSTEM_SCHEMAS: [&str; 4] = ["information_schema", "mysql", "performance_schema", "sys"];

/// One restore's manifest (the field names are the format; see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`VERSION`].
    pub version: u32,
    /// The snapshot this load became (`sql-to-parquet-…`).
    pub snapshot_id: String,
    /// The import date the snapshot stands for (`YYYY-MM-DD`).
    pub import_date: NaiveDate,
    /// When the manifest was made (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// The dump that was loaded.
    pub dump: DumpInfo,
    /// Exact row count of every table loaded, sorted by database and table.
    pub tables: Vec<TableRows>,
}

/// The dump object a manifest describes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DumpInfo {
    pub bucket: String,
    pub key: String,
    /// Size of the zip in bytes.
    pub size: u64,
    /// The `.sql` entries loaded, in load order.
    pub entries: Vec<String>,
}

/// Rows of one table after the load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableRows {
    pub database: String,
    pub table: String,
    pub rows: u64,
}

impl Manifest {
    /// The manifest's object key under `location`.
    pub fn key(location: &ManifestLocation, snapshot_id: &str) -> String {
        format!("{}{snapshot_id}.json", location.prefix)
    }

    /// The rows of `database.table`, if the manifest lists it.
    pub fn rows(&self, database: &str, table: &str) -> Option<u64> {
        self.tables
            .iter()
            .find(|t| t.database == database && t.table == table)
            .map(|t| t.rows)
    }
}

/// Where manifests go: `s3://bucket/prefix/`. The prefix is empty or ends with `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestLocation {
    pub bucket: String,
    pub prefix: String,
}

impl ManifestLocation {
    /// The default: [`DEFAULT_PREFIX`] in the dump bucket.
    pub fn default_for(dump_bucket: &str) -> Self {
        ManifestLocation {
            bucket: dump_bucket.to_string(),
            prefix: DEFAULT_PREFIX.to_string(),
        }
    }
}

impl FromStr for ManifestLocation {
    type Err = RestoreError;

    /// Parses `s3://bucket/prefix/` (a missing trailing `/` is added; `s3://bucket` is the
    /// bucket's root).
    fn from_str(s: &str) -> Result<Self> {
        let bad = |why: &str| RestoreError::Config(format!("MANIFEST_LOCATION {s:?} {why}"));
        let rest = s
            .trim()
            .strip_prefix("s3://")
            .ok_or_else(|| bad("is not s3://bucket/prefix/"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad("names no bucket"));
        }
        let prefix = prefix.trim_start_matches('/');
        let prefix = if prefix.is_empty() || prefix.ends_with('/') {
            prefix.to_string()
        } else {
            format!("{prefix}/")
        };
        Ok(ManifestLocation {
            bucket: bucket.to_string(),
            prefix,
        })
    }
}

impl fmt::Display for ManifestLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// Counts the rows of every base table of every database in `databases` (system schemas
/// excepted), sorted, on a connection of its own. Each count is checked against the rows
/// the dump's inserts reported (`report`): a difference is logged, since triggers,
/// `INSERT IGNORE`, `REPLACE` and `ON DUPLICATE KEY UPDATE` make one legitimately.
#[tracing::instrument(skip_all)]
pub async fn count_rows(
    mysql: &MysqlConfig,
    databases: &BTreeSet<String>,
    report: &LoadReport,
) -> Result<Vec<TableRows>> {
    let mut conn = connect(&mysql.opts()).await?;
    let db_err = |action: String| move |source| RestoreError::Database { action, source };
    let mut out = Vec::new();
    for db in databases
        .iter()
        .filter(|d| !SYSTEM_SCHEMAS.contains(&d.to_ascii_lowercase().as_str()))
    {
        let sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = ? \
                   AND table_type IN ('BASE TABLE', 'SYSTEM VERSIONED') ORDER BY table_name";
        let tables: Vec<String> = conn
            .exec(sql, (db.as_str(),))
            .await
            .map_err(db_err(format!("listing the tables of {db}")))?;
        for table in tables {
            let sql = format!(
                "SELECT COUNT(*) FROM {}.{}",
                quote_ident(db),
                quote_ident(&table)
            );
            let rows: Option<u64> = conn.query_first(&sql).await.map_err(db_err(sql.clone()))?;
            let rows = rows.unwrap_or(0);
            let key = format!("{db}.{table}");
            match report.rows.get(&key) {
                Some(&inserted) if inserted != rows => {
                    tracing::warn!(table = %key, rows, inserted, "table holds a different number of rows than the dump's inserts reported");
                }
                _ => {}
            }
            tracing::debug!(table = %key, rows, "counted");
            out.push(TableRows {
                database: db.clone(),
                table,
                rows,
            });
        }
    }
    let _ = conn.disconnect().await;
    out.sort_by(|a, b| (&a.database, &a.table).cmp(&(&b.database, &b.table)));
    Ok(out)
}

/// Writes `manifest` to `<location.prefix><snapshot id>.json`; returns the key.
#[tracing::instrument(skip_all, fields(location = %location))]
pub async fn write(
    s3: &aws_sdk_s3::Client,
    location: &ManifestLocation,
    manifest: &Manifest,
) -> Result<String> {
    let key = Manifest::key(location, &manifest.snapshot_id);
    let body = serde_json::to_vec_pretty(manifest).map_err(|e| RestoreError::Manifest {
        location: format!("s3://{}/{key}", location.bucket),
        source: e.into(),
    })?;
    s3.put_object()
        .bucket(&location.bucket)
        .key(&key)
        .content_type("application/json")
        .body(body.into())
        .send()
        .await
        .map_err(|e| RestoreError::S3 {
            operation: "PutObject",
            bucket: location.bucket.clone(),
            key: key.clone(),
            source: e.into(),
        })?;
    tracing::info!(key = %key, tables = manifest.tables.len(), "restore manifest written");
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn locations() {
        let l: ManifestLocation = "s3://b/liberator-manifests/".parse().unwrap();
        assert_eq!(
            (l.bucket.as_str(), l.prefix.as_str()),
            ("b", "liberator-manifests/")
        );
        let l: ManifestLocation = "s3://b/a/b".parse().unwrap();
        assert_eq!(l.prefix, "a/b/");
        assert_eq!(l.to_string(), "s3://b/a/b/");
        let l: ManifestLocation = "s3://b".parse().unwrap();
        assert_eq!(l.prefix, "");
        assert_eq!(
            Manifest::key(&l, "sql-to-parquet-x"),
            "sql-to-parquet-x.json"
        );
        assert!("b/prefix".parse::<ManifestLocation>().is_err());
        assert!("s3:///p/".parse::<ManifestLocation>().is_err());
        assert_eq!(
            ManifestLocation::default_for("dumps").to_string(),
            "s3://dumps/liberator-manifests/"
        );
    }

    #[test]
    fn json_shape_is_the_documented_one() {
        let m = Manifest {
            version: VERSION,
            snapshot_id: "sql-to-parquet-24-06-04-101500".into(),
            import_date: NaiveDate::from_ymd_opt(2024, 6, 4).unwrap(),
            created_at: Utc.with_ymd_and_hms(2024, 6, 4, 10, 41, 7).unwrap(),
            dump: DumpInfo {
                bucket: "b".into(),
                key: "parking/liberator_dump_240604.zip".into(),
                size: 123,
                entries: vec!["liberator.sql".into()],
            },
            tables: vec![TableRows {
                database: "liberator".into(),
                table: "pcn".into(),
                rows: 12000,
            }],
        };
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"version":1,"snapshot_id":"sql-to-parquet-24-06-04-101500",
                "import_date":"2024-06-04","created_at":"2024-06-04T10:41:07Z",
                "dump":{"bucket":"b","key":"parking/liberator_dump_240604.zip","size":123,"entries":["liberator.sql"]},
                "tables":[{"database":"liberator","table":"pcn","rows":12000}]})
        );
        // Unknown fields are ignored by readers.
        let mut extra = v.clone();
        extra["future"] = serde_json::json!({"x": 1});
        extra["tables"][0]["checksum"] = serde_json::json!("abc");
        let back: Manifest = serde_json::from_value(extra).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.rows("liberator", "pcn"), Some(12000));
        assert_eq!(back.rows("liberator", "nope"), None);
    }
}
