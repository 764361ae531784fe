//! Completeness: did every row the database held land, table by table?
//!
//! Three witnesses per table (see DESIGN.md): the restore manifest (rows in the database),
//! the export's `export_tables_info` (which tables were exported, and their status) and the
//! footers of the landed files (rows landed). A table passes when the export lists it as
//! `COMPLETE` and its landed rows equal the manifest's. Without a manifest (historic exports)
//! only the status can be checked, and the report says so. This module is pure logic: the
//! caller reads the objects and the footers, [`check`] compares.
//!
//! ```
//! use std::collections::BTreeMap;
//! use liberator_engine::completeness::{
//!     check, ExportOutcome, ExportTables, LandedTable, Manifest, metadata,
//! };
//!
//! # fn main() -> Result<(), liberator_engine::completeness::CompletenessError> {
//! let key = "exp/export_tables_info_exp_from_1_to_1.json";
//! let body = br#"{"perTableStatus":[{"target":"liberator.pcn","status":"COMPLETE"}]}"#;
//! let export = ExportTables::from_files([(key.to_string(), metadata::parse_tables_info(key, body)?)])?;
//! let info = metadata::parse_export_info("exp/export_info_exp.json", br#"{"status":"COMPLETE"}"#)?;
//! let manifest = Manifest::parse("manifests/snap.json", br#"{"version":1,"snapshot_id":"snap",
//!     "import_date":"2024-06-04","created_at":"2024-06-04T10:15:00Z",
//!     "dump":{"bucket":"b","key":"k","size":1,"entries":[]},
//!     "tables":[{"database":"liberator","table":"pcn","rows":12000}]}"#)?;
//! // Rows landed per table, from the footers (`<db>.<table>` as in the export's paths).
//! let landed = BTreeMap::from([("liberator.pcn".to_string(), LandedTable { files: 2, rows: 12000 })]);
//!
//! let result = check(Some(&manifest), &export, &ExportOutcome::from_info(&info), &landed);
//! assert!(result.passed(), "{result}");
//! # Ok(())
//! # }
//! ```

pub mod error;
pub mod manifest;
pub mod metadata;
mod render;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub use error::CompletenessError;
pub use manifest::{Manifest, ManifestTable};
pub use metadata::{ExportInfo, ExportTables, ExportWarning, TableStatus};

use metadata::is_complete_status;

/// The name RDS gives a database or table in the export's S3 paths: `\`, backtick, `"` and
/// space become `_` ("The following characters in the S3 file path are converted to
/// underscores (_) during export", Limitations,
/// <https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-export-snapshot.Considerations.html>;
/// the RDS user guide, <https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ExportSnapshot.html>,
/// lists the same limitations). Idempotent, so names already substituted compare equal.
pub fn exported_name(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '\\' | '`' | '"' | ' ' => '_',
            c => c,
        })
        .collect()
}

/// `<db>.<table>` through [`exported_name`]: the key on which the witnesses are matched.
fn match_key(database: &str, table: &str) -> String {
    format!("{}.{}", exported_name(database), exported_name(table))
}

/// [`match_key`] of a `<db>.<table>` name, split at the first dot.
fn target_key(name: &str) -> String {
    match name.split_once('.') {
        Some((db, table)) => match_key(db, table),
        None => exported_name(name),
    }
}

/// What landed for one table: files and the sum of their footers' row counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LandedTable {
    pub files: u64,
    pub rows: u64,
}

/// The export task's outcome: from `export_info_*.json`, overlaid with what
/// DescribeExportTasks says when the caller asked (the copier does).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportOutcome {
    pub status: Option<String>,
    pub warning_message: Option<String>,
    pub failure_cause: Option<String>,
}

impl ExportOutcome {
    pub fn from_info(info: &ExportInfo) -> Self {
        ExportOutcome {
            status: info.status.clone(),
            warning_message: info.warning_message.clone(),
            failure_cause: info.failure_cause.clone(),
        }
    }

    /// Overlays DescribeExportTasks' `Status`, `WarningMessage` and `FailureCause`: a field
    /// the task has wins over the file's.
    pub fn with_task(
        mut self,
        status: Option<&str>,
        warning_message: Option<&str>,
        failure_cause: Option<&str>,
    ) -> Self {
        let pick = |mine: &mut Option<String>, theirs: Option<&str>| {
            if let Some(t) = theirs.filter(|t| !t.trim().is_empty()) {
                *mine = Some(t.to_string());
            }
        };
        pick(&mut self.status, status);
        pick(&mut self.warning_message, warning_message);
        pick(&mut self.failure_cause, failure_cause);
        self
    }
}

/// Where a table's expected row count came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedFrom {
    /// The restore manifest's `COUNT(*)`: rows are compared.
    Manifest,
    /// Only the export's table list and status: no row count to compare.
    ExportTablesInfo,
    /// Neither witness knows the table.
    None,
}

/// The verdict on one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// `COMPLETE`, and landed rows equal the manifest's.
    Ok,
    /// `COMPLETE`; no manifest count to compare (no manifest, or a database it does not cover).
    StatusOnly,
    /// In the manifest, absent from `export_tables_info`.
    MissingFromExport,
    /// Named as skipped in the task's `WarningMessage`.
    SkippedByExport,
    /// Listed, but not `COMPLETE` (or not all its partitions).
    NotComplete,
    /// Landed rows differ from the manifest's.
    RowMismatch,
    /// Exported or landed, in a database the manifest covers, but not in the manifest.
    NotInManifest,
    /// Landed, but `export_tables_info` does not list it.
    NotInExport,
    /// Two real names become one exported name: rows cannot be told apart.
    NameCollision,
}

impl Verdict {
    pub fn passes(self) -> bool {
        matches!(self, Verdict::Ok | Verdict::StatusOnly)
    }
}

/// The completeness of one table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableCompleteness {
    /// `<db>.<table>`: the real name when the manifest has it, else as the export wrote it.
    pub table: String,
    /// The name in the export (`target`), when it differs from `table`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exported_as: Option<String>,
    pub expected_rows: Option<u64>,
    pub expected_from: ExpectedFrom,
    pub landed_rows: u64,
    pub landed_files: u64,
    /// The export's status for the table (`COMPLETE`, `FAILED`, …), `None` when unlisted.
    pub export_status: Option<String>,
    pub size_gb: Option<f64>,
    pub verdict: Verdict,
}

/// What the rows were checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    Manifest,
    ExportTablesInfo,
}

/// The completeness section of a run's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completeness {
    pub basis: Basis,
    /// The manifest's snapshot and import date, when there is a manifest.
    pub snapshot_id: Option<String>,
    pub manifest_import_date: Option<chrono::NaiveDate>,
    pub export_status: Option<String>,
    pub failure_cause: Option<String>,
    /// Export-level failures (task not complete, a gap in the table files, no tables).
    pub problems: Vec<String>,
    /// What the reader should know but that fails nothing (no manifest, general warnings).
    pub notes: Vec<String>,
    pub tables: Vec<TableCompleteness>,
}

impl Completeness {
    /// No export-level problem and every table passes.
    pub fn passed(&self) -> bool {
        self.problems.is_empty() && self.tables.iter().all(|t| t.verdict.passes())
    }

    /// The tables that fail.
    pub fn failing(&self) -> impl Iterator<Item = &TableCompleteness> {
        self.tables.iter().filter(|t| !t.verdict.passes())
    }
}

/// One table as the witnesses see it, before the verdict.
#[derive(Default)]
struct Seen<'a> {
    manifest: Vec<&'a ManifestTable>,
    export: Vec<&'a TableStatus>,
    landed: Option<(&'a str, LandedTable)>,
}

/// Compares the three witnesses. `landed` is keyed `<db>.<table>` as in the export's paths
/// (a report key `<db>/<db>.<table>` is accepted too).
pub fn check(
    manifest: Option<&Manifest>,
    export: &ExportTables,
    outcome: &ExportOutcome,
    landed: &BTreeMap<String, LandedTable>,
) -> Completeness {
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    if let Some(status) = outcome.status.as_deref().filter(|s| !is_complete_status(s)) {
        problems.push(format!(
            "the export task's status is {status}, not COMPLETE"
        ));
    }
    if let Some(cause) = &outcome.failure_cause {
        problems.push(format!("the export task failed: {cause}"));
    }
    problems.extend(export.gaps.iter().cloned());
    if export.tables.is_empty() {
        problems.push("export_tables_info lists no tables".to_string());
    }
    let warning = ExportWarning::parse(outcome.warning_message.as_deref().unwrap_or(""));
    notes.extend(
        warning
            .general
            .iter()
            .map(|g| format!("export warning: {g}")),
    );
    notes.extend(
        warning
            .skipped_objectives
            .iter()
            .map(|o| format!("export skipped objective: {o}")),
    );
    for db in &export.databases {
        if let Some(w) = &db.warning_message {
            notes.push(format!("export warning for database {}: {w}", db.target));
        }
    }
    let skipped: BTreeSet<String> = warning
        .skipped_tables
        .iter()
        .map(|t| target_key(t))
        .collect();

    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    for t in manifest.iter().flat_map(|m| &m.tables) {
        let key = match_key(&t.database, &t.table);
        seen.entry(key).or_default().manifest.push(t);
    }
    for t in &export.tables {
        seen.entry(target_key(&t.target))
            .or_default()
            .export
            .push(t);
    }
    for (name, l) in landed {
        let name = name.rsplit('/').next().unwrap_or(name);
        seen.entry(target_key(name)).or_default().landed = Some((name, *l));
    }

    let manifest_dbs: BTreeSet<String> = manifest
        .map(|m| m.databases().into_iter().map(exported_name).collect())
        .unwrap_or_default();
    let tables = seen
        .iter()
        .map(|(key, s)| judge(key, s, manifest.is_some(), &manifest_dbs, &skipped))
        .collect();

    if manifest.is_none() {
        notes.push(
            "no restore manifest: rows cannot be compared; only the export's table list and \
             status were checked"
                .to_string(),
        );
    }
    Completeness {
        basis: if manifest.is_some() {
            Basis::Manifest
        } else {
            Basis::ExportTablesInfo
        },
        snapshot_id: manifest.map(|m| m.snapshot_id.clone()),
        manifest_import_date: manifest.map(|m| m.import_date),
        export_status: outcome.status.clone(),
        failure_cause: outcome.failure_cause.clone(),
        problems,
        notes,
        tables,
    }
}

fn judge(
    key: &str,
    s: &Seen,
    have_manifest: bool,
    manifest_dbs: &BTreeSet<String>,
    skipped: &BTreeSet<String>,
) -> TableCompleteness {
    let in_manifest = s.manifest.first();
    let exported = s.export.first();
    let (landed_name, l) = s.landed.unwrap_or(("", LandedTable::default()));
    let table = in_manifest
        .map(|t| t.name())
        .or_else(|| exported.map(|e| e.target.clone()))
        .unwrap_or_else(|| landed_name.to_string());
    let exported_as = exported
        .map(|e| e.target.clone())
        .filter(|target| *target != table);
    let database = key.split_once('.').map_or(key, |(db, _)| db);
    let collision = s.manifest.len() > 1 || s.export.len() > 1;
    let verdict = if collision {
        Verdict::NameCollision
    } else if skipped.contains(key) {
        Verdict::SkippedByExport
    } else if in_manifest.is_some() && exported.is_none() {
        Verdict::MissingFromExport
    } else if exported.is_some_and(|e| !e.is_complete()) {
        Verdict::NotComplete
    } else if exported.is_none() {
        Verdict::NotInExport
    } else if let Some(m) = in_manifest {
        if m.rows == l.rows {
            Verdict::Ok
        } else {
            Verdict::RowMismatch
        }
    } else if have_manifest && manifest_dbs.contains(database) {
        Verdict::NotInManifest
    } else {
        Verdict::StatusOnly
    };
    TableCompleteness {
        table,
        exported_as,
        expected_rows: in_manifest.map(|m| m.rows),
        expected_from: match (in_manifest, exported) {
            (Some(_), _) => ExpectedFrom::Manifest,
            (None, Some(_)) => ExpectedFrom::ExportTablesInfo,
            (None, None) => ExpectedFrom::None,
        },
        landed_rows: l.rows,
        landed_files: l.files,
        export_status: exported.map(|e| e.status_text()),
        size_gb: exported.and_then(|e| e.size_gb),
        verdict,
    }
}
