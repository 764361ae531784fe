//! The per-export report: JSON for machines, a summary for people.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One object that did not land, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub key: String,
    pub reason: String,
}

/// Per-table totals (table = `<db>/<db.table>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableReport {
    /// Parquet files landed or already there.
    pub files: u64,
    pub bytes: u64,
    /// Rows per the footers (0 with verification off).
    pub rows: u64,
    /// The table's columns per its files' footers (all files agree, or the run lists the
    /// ones that do not); empty with verification off.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<crate::schema::Column>,
}

/// What one export run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub export_id: String,
    pub import_date: String,
    pub source: String,
    pub target: String,
    pub dry_run: bool,
    pub force: bool,
    pub verify: bool,
    /// Objects under the export folder.
    pub listed: u64,
    pub copied: u64,
    /// Already at the target with the same size and ETag.
    pub skipped: u64,
    pub failed: u64,
    /// Export metadata (`export_info_*.json`, `_SUCCESS`, …): counted, not copied.
    pub non_parquet: u64,
    /// Dry run: copies that would be made.
    pub planned: u64,
    pub bytes_listed: u64,
    pub bytes_copied: u64,
    pub bytes_skipped: u64,
    pub multipart_copies: u64,
    pub retries: u64,
    pub throttles: u64,
    pub tables: BTreeMap<String, TableReport>,
    pub duration_secs: f64,
    /// False when the run stopped early (deadline, cancellation, listing failure).
    pub complete: bool,
    /// Listed objects a stopped run did not land (never started, or cancelled in flight):
    /// `listed = copied + skipped + failed + non_parquet + planned + not_landed`.
    #[serde(default)]
    pub not_landed: u64,
    /// Why the run stopped early and what that left, e.g. `stopped by SIGTERM: 7 of 20
    /// listed object(s) not landed (…)`. `None` when nobody stopped it.
    #[serde(default)]
    pub stopped: Option<String>,
    pub failures: Vec<Failure>,
    /// Files of other exports found in this export's date partitions after it landed:
    /// removed, or (dry run) that would be removed. Empty with `keep_other_files`.
    #[serde(default)]
    pub removed: Vec<String>,
    /// Table by table: rows expected (and from which witness), rows landed, the export's
    /// status. `None` when the check did not run (verification off, a run that stopped
    /// early); a failing table is also listed in `failures`.
    #[serde(default)]
    pub completeness: Option<crate::completeness::Completeness>,
    /// Columns added, removed, retyped or whose nullability changed since the previous
    /// import date landed on this target. `None` when not compared (verification off, a
    /// run that stopped early).
    #[serde(default)]
    pub schema_drift: Option<crate::schema::SchemaDrift>,
}

impl Report {
    /// The one definition of a passing run: it ran to the end and nothing failed.
    pub fn passed(&self) -> bool {
        self.complete && self.failed == 0 && self.failures.is_empty()
    }

    /// Total Parquet rows over all tables.
    pub fn rows(&self) -> u64 {
        self.tables.values().map(|t| t.rows).sum()
    }
}

/// `6612` → `6,612`: counts and rates as people read them (`6,612 objects/s`).
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = if self.dry_run {
            "DRY RUN"
        } else if self.passed() {
            "OK"
        } else if !self.complete {
            "INCOMPLETE"
        } else {
            "FAILED"
        };
        writeln!(
            f,
            "export {} (import date {}) {status}",
            self.export_id, self.import_date
        )?;
        writeln!(f, "  {} -> {}", self.source, self.target)?;
        writeln!(
            f,
            "  listed {}  copied {}  skipped {}  failed {}  non-parquet {}{}",
            self.listed,
            self.copied,
            self.skipped,
            self.failed,
            self.non_parquet,
            if self.dry_run {
                format!("  planned {}", self.planned)
            } else {
                String::new()
            }
        )?;
        let secs = self.duration_secs.max(1e-9);
        writeln!(
            f,
            "  {:.1} MiB copied, {:.1} MiB skipped in {:.2} s ({} objects/s, {:.1} MiB/s); {} multipart; {} retries, {} throttled",
            mib(self.bytes_copied),
            mib(self.bytes_skipped),
            self.duration_secs,
            thousands(((self.copied + self.skipped) as f64 / secs).round() as u64),
            mib(self.bytes_copied) / secs,
            self.multipart_copies,
            self.retries,
            self.throttles
        )?;
        if !self.tables.is_empty() {
            let width = self
                .tables
                .keys()
                .map(|k| k.len())
                .max()
                .unwrap_or(5)
                .max(5);
            writeln!(
                f,
                "  {:<width$}  {:>6}  {:>10}  {:>10}  {:>7}",
                "table", "files", "rows", "MiB", "columns"
            )?;
            for (name, t) in &self.tables {
                writeln!(
                    f,
                    "  {name:<width$}  {:>6}  {:>10}  {:>10.2}  {:>7}",
                    t.files,
                    t.rows,
                    mib(t.bytes),
                    t.columns.len()
                )?;
            }
        }
        if let Some(c) = &self.completeness {
            write!(f, "{c}")?;
        }
        if let Some(note) = &self.stopped {
            writeln!(f, "  STOPPED: {note}")?;
        }
        if let Some(d) = &self.schema_drift {
            write!(f, "{d}")?;
        }
        if !self.removed.is_empty() {
            let verb = if self.dry_run {
                "would remove"
            } else {
                "removed"
            };
            writeln!(
                f,
                "  {verb} {} file(s) of other exports of this import date",
                self.removed.len()
            )?;
            for key in self.removed.iter().take(20) {
                writeln!(f, "    {key}")?;
            }
            if self.removed.len() > 20 {
                writeln!(
                    f,
                    "    … and {} more (see the JSON report)",
                    self.removed.len() - 20
                )?;
            }
        }
        // Failing tables and export problems were shown by the completeness section.
        let shown = |failure: &Failure| {
            self.completeness.as_ref().is_some_and(|c| {
                c.failing().any(|t| t.table == failure.key) || c.problems.contains(&failure.reason)
            })
        };
        for failure in self.failures.iter().filter(|x| !shown(x)) {
            writeln!(f, "  FAILED {}: {}", failure.key, failure.reason)?;
        }
        Ok(())
    }
}
