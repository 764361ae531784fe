//! The RDS export's own witness: `export_info_<export-id>.json` and every
//! `export_tables_info_<export-id>_from_<N>_to_<M>.json` at the root of the export folder.
//!
//! What AWS documents, and where:
//! - The export task's fields (`Status`, `PercentProgress`, `TotalExtractedDataInGB`,
//!   `WarningMessage`, `FailureCause`):
//!   <https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ExportTask.html>.
//!   `export_info_*.json` carries the same task in camelCase (`exportTaskIdentifier`,
//!   `status`, `percentProgress`, `totalExportedDataInGB`, …).
//! - The shape of `WarningMessage`, a JSON string such as
//!   `{"skippedTables":[],"skippedObjectives":[],"general":[{"reason":"FAILED_TO_EXTRACT_TABLES_LIST_FOR_DATABASE"}]}`:
//!   the `describe-export-tasks` example in "Monitoring snapshot exports",
//!   <https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ExportSnapshot.html>.
//! - That tables can be skipped (a `/` in the name, some characters in column names, a row
//!   near 2 GB) and that `\`, backtick, `"` and space in the S3 path become `_`:
//!   "Limitations" of the same guide (RDS), and
//!   <https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-export-snapshot.Considerations.html>.
//!
//! The user guide does not spell out `export_tables_info` field by field. Exports hold
//! `{"perTableStatus":[{"target":"<db>.<table>","status":"COMPLETE","sizeGB":…,
//! "TableStatistics":{"extractionStartTime":…,"extractionEndTime":…,"partitioningInfo":
//! {"numberOfPartitions":…,"numberOfCompletedPartitions":…}},"schemaMetadata":
//! {"originalTypeMappings":[{"columnName":…,"originalType":…,"expectedExportedType":…}]}}]}`
//! (as public readers of these files use it), sometimes with database-level entries that carry
//! a `warningMessage` and a `target` without a dot. So only `perTableStatus` and each entry's
//! `target` are required; every other field is optional, read leniently (a field of an
//! unexpected type is treated as absent), and unknown fields are ignored.

use serde::de::{DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize};

use super::error::CompletenessError;

/// `export_info_<export-id>.json`: the export task as the export itself recorded it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportInfo {
    #[serde(default, deserialize_with = "lenient_text")]
    pub export_task_identifier: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub source_arn: Option<String>,
    /// `COMPLETE` when the task finished; `FAILED`, `CANCELED`, … otherwise.
    #[serde(default, deserialize_with = "lenient_text")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub percent_progress: Option<f64>,
    #[serde(
        default,
        deserialize_with = "lenient",
        rename = "totalExportedDataInGB",
        alias = "totalExtractedDataInGB"
    )]
    pub total_exported_data_in_gb: Option<f64>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub warning_message: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub failure_cause: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub task_start_time: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub task_end_time: Option<String>,
}

/// One `export_tables_info_*_from_<N>_to_<M>.json` file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TablesInfoFile {
    #[serde(rename = "perTableStatus")]
    pub per_table_status: Vec<TableStatus>,
}

/// One entry of `perTableStatus`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableStatus {
    /// `<db>.<table>` for MySQL and MariaDB; a bare `<db>` for database-level entries.
    pub target: String,
    /// `COMPLETE` when the table was exported; anything else (`FAILED`, …) or nothing means
    /// it was not, or not entirely.
    #[serde(default, deserialize_with = "lenient_text")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "lenient", rename = "sizeGB")]
    pub size_gb: Option<f64>,
    #[serde(
        default,
        deserialize_with = "lenient",
        rename = "TableStatistics",
        alias = "tableStatistics"
    )]
    pub table_statistics: Option<TableStatistics>,
    #[serde(default, deserialize_with = "lenient", rename = "schemaMetadata")]
    pub schema_metadata: Option<SchemaMetadata>,
    #[serde(default, deserialize_with = "lenient_text", rename = "warningMessage")]
    pub warning_message: Option<String>,
}

/// `TableStatistics` of a table entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableStatistics {
    #[serde(default, deserialize_with = "lenient_text")]
    pub extraction_start_time: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub extraction_end_time: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub partitioning_info: Option<PartitioningInfo>,
}

/// How many partitions the export cut the table into, and how many it finished.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitioningInfo {
    #[serde(default, deserialize_with = "lenient")]
    pub number_of_partitions: Option<u64>,
    #[serde(default, deserialize_with = "lenient")]
    pub number_of_completed_partitions: Option<u64>,
}

/// `schemaMetadata` of a table entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaMetadata {
    #[serde(
        default,
        deserialize_with = "lenient_vec",
        alias = "OriginalTypeMappings"
    )]
    pub original_type_mappings: Vec<ColumnMapping>,
}

/// One column: its MySQL type and the Parquet type the export meant to write.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnMapping {
    #[serde(default, deserialize_with = "lenient_text")]
    pub column_name: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub original_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_text")]
    pub expected_exported_type: Option<String>,
}

/// Whether an export or table status means done (`COMPLETE`; moto writes `complete`).
pub fn is_complete_status(status: &str) -> bool {
    status.trim().eq_ignore_ascii_case("complete")
}

impl TableStatus {
    /// `(database, table)` split at the first dot; `None` for a database-level entry.
    /// MySQL database names practically never hold a dot; table names may.
    pub fn split_target(&self) -> Option<(&str, &str)> {
        self.target.split_once('.')
    }

    /// Exported entirely: status `COMPLETE` and, where the statistics say, every partition.
    pub fn is_complete(&self) -> bool {
        let status_ok = self.status.as_deref().is_some_and(is_complete_status);
        let partitions_ok = match self.partitions() {
            Some((done, of)) => done >= of,
            None => true,
        };
        status_ok && partitions_ok
    }

    /// `(completed, total)` partitions when the statistics carry both.
    pub fn partitions(&self) -> Option<(u64, u64)> {
        let p = self.table_statistics.as_ref()?.partitioning_info?;
        Some((p.number_of_completed_partitions?, p.number_of_partitions?))
    }

    /// The status as the report shows it: `COMPLETE`, `FAILED`, `COMPLETE (3/4 partitions)`,
    /// or `(none)`.
    pub fn status_text(&self) -> String {
        let status = self.status.clone().unwrap_or_else(|| "(none)".to_string());
        match self.partitions() {
            Some((done, of)) if done < of => format!("{status} ({done}/{of} partitions)"),
            _ => status,
        }
    }
}

/// Parses `export_info_<export-id>.json`; `key` names the object in the error.
pub fn parse_export_info(key: &str, body: &[u8]) -> Result<ExportInfo, CompletenessError> {
    serde_json::from_slice(body).map_err(|source| CompletenessError::MalformedMetadata {
        key: key.to_string(),
        source,
    })
}

/// Parses one `export_tables_info_*.json`; `key` names the object in the error.
pub fn parse_tables_info(key: &str, body: &[u8]) -> Result<TablesInfoFile, CompletenessError> {
    serde_json::from_slice(body).map_err(|source| CompletenessError::MalformedMetadata {
        key: key.to_string(),
        source,
    })
}

/// `<export-root>export_info_<export-id>.json`, `export_root` being `""` or ending in `/`.
pub fn export_info_key(export_root: &str, export_id: &str) -> String {
    format!("{export_root}export_info_{export_id}.json")
}

/// The prefix under which every `export_tables_info` file of the export is listed.
pub fn tables_info_prefix(export_root: &str, export_id: &str) -> String {
    format!("{export_root}export_tables_info_{export_id}_from_")
}

/// `(N, M)` of `…export_tables_info_<export-id>_from_<N>_to_<M>.json`.
pub fn tables_info_range(key: &str) -> Result<(u64, u64), CompletenessError> {
    let err = |reason: &str| CompletenessError::TablesInfoName {
        key: key.to_string(),
        reason: reason.to_string(),
    };
    let name = key.rsplit('/').next().unwrap_or(key);
    let stem = name
        .strip_prefix("export_tables_info_")
        .and_then(|s| s.strip_suffix(".json"))
        .ok_or_else(|| err("expected export_tables_info_<export-id>_from_<N>_to_<M>.json"))?;
    let (_, range) = stem
        .rsplit_once("_from_")
        .ok_or_else(|| err("no _from_<N>"))?;
    let (from, to) = range.split_once("_to_").ok_or_else(|| err("no _to_<M>"))?;
    let from: u64 = from.parse().map_err(|_| err("<N> is not a number"))?;
    let to: u64 = to.parse().map_err(|_| err("<M> is not a number"))?;
    if from == 0 || to < from {
        return Err(err("expected 1 <= N <= M"));
    }
    Ok((from, to))
}

/// Every `export_tables_info` file of one export, merged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExportTables {
    /// Entries whose target names a table (`<db>.<table>`).
    pub tables: Vec<TableStatus>,
    /// Database-level entries (a target without a dot), kept for their warnings.
    pub databases: Vec<TableStatus>,
    /// Files missing from the `from_<N>_to_<M>` sequence (it should run 1..=last without a
    /// gap): entries of a missing file would be tables nobody knows were exported.
    pub gaps: Vec<String>,
}

impl ExportTables {
    /// Merges the parsed files, keyed by their object keys, and checks that their ranges run
    /// from 1 without gaps or overlaps.
    pub fn from_files(
        files: impl IntoIterator<Item = (String, TablesInfoFile)>,
    ) -> Result<Self, CompletenessError> {
        let mut ranged = Vec::new();
        for (key, file) in files {
            ranged.push((tables_info_range(&key)?, key, file));
        }
        ranged.sort_by_key(|((from, to), _, _)| (*from, *to));
        let mut out = ExportTables::default();
        let mut next = 1;
        for ((from, to), key, file) in ranged {
            if from > next {
                out.gaps.push(format!(
                    "export_tables_info entries {next} to {} are missing (the next file is {key})",
                    from - 1
                ));
            } else if from < next {
                out.gaps.push(format!(
                    "export_tables_info file {key} overlaps the entries before it"
                ));
            }
            next = next.max(to + 1);
            for entry in file.per_table_status {
                if entry.split_target().is_some() {
                    out.tables.push(entry);
                } else {
                    out.databases.push(entry);
                }
            }
        }
        Ok(out)
    }
}

/// The task's `WarningMessage`, decoded as far as its documented shape allows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportWarning {
    /// Tables the export names as skipped (as written there, usually `<db>.<table>`).
    pub skipped_tables: Vec<String>,
    pub skipped_objectives: Vec<String>,
    /// General warnings (their `reason`), or the whole message when it is not JSON.
    pub general: Vec<String>,
}

impl ExportWarning {
    /// Decodes a `WarningMessage`. Never fails: text that is not of the documented shape
    /// becomes one general warning, so nothing the export said is dropped.
    pub fn parse(message: &str) -> Self {
        let value: serde_json::Value = match serde_json::from_str(message) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            _ if message.trim().is_empty() => return ExportWarning::default(),
            _ => {
                return ExportWarning {
                    general: vec![message.trim().to_string()],
                    ..ExportWarning::default()
                };
            }
        };
        let list = |field: &str, keys: &[&str]| -> Vec<String> {
            value
                .get(field)
                .and_then(|v| v.as_array())
                .map(|items| items.iter().map(|i| item_text(i, keys)).collect())
                .unwrap_or_default()
        };
        ExportWarning {
            skipped_tables: list("skippedTables", &["target", "tableName", "table", "name"]),
            skipped_objectives: list("skippedObjectives", &["target", "name", "reason"]),
            general: list("general", &["reason", "message"]),
        }
    }
}

/// A string item as is; an object by its first present text field, else as JSON.
fn item_text(item: &serde_json::Value, keys: &[&str]) -> String {
    if let Some(s) = item.as_str() {
        return s.to_string();
    }
    keys.iter()
        .find_map(|k| item.get(*k).and_then(|v| v.as_str()))
        .map(str::to_string)
        .unwrap_or_else(|| item.to_string())
}

/// An optional field of an unexpected type reads as absent instead of failing the file.
fn lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = serde_json::Value::deserialize(d)?;
    Ok(serde_json::from_value(value).ok())
}

/// Like [`lenient`] for lists: entries of an unexpected shape are dropped.
fn lenient_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = serde_json::Value::deserialize(d)?;
    Ok(match value {
        serde_json::Value::Array(items) => items
            .into_iter()
            .filter_map(|i| serde_json::from_value(i).ok())
            .collect(),
        _ => Vec::new(),
    })
}

/// Text fields: a string as is, `null` as absent, any other JSON value as its JSON text (a
/// `warningMessage` written as an object must not be lost).
fn lenient_text<'de, D>(d: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s),
        other => Some(other.to_string()),
    })
}
