//! The human rendering of a [`Completeness`]: one line per table, then every failure with
//! both counts, then export-level problems and notes.

use std::fmt;

use super::{Basis, Completeness, ExpectedFrom, TableCompleteness, Verdict};

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Ok => "ok",
            Verdict::StatusOnly => "ok (status only)",
            Verdict::MissingFromExport => "missing from the export",
            Verdict::SkippedByExport => "skipped by the export",
            Verdict::NotComplete => "not complete in the export",
            Verdict::RowMismatch => "row mismatch",
            Verdict::NotInManifest => "not in the restore manifest",
            Verdict::NotInExport => "landed but not in export_tables_info",
            Verdict::NameCollision => "name collision after the export's substitution",
        })
    }
}

impl fmt::Display for ExpectedFrom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExpectedFrom::Manifest => "manifest",
            ExpectedFrom::ExportTablesInfo => "export_tables_info",
            ExpectedFrom::None => "none",
        })
    }
}

fn expected(t: &TableCompleteness) -> String {
    match t.expected_rows {
        Some(rows) => rows.to_string(),
        None => "-".to_string(),
    }
}

impl fmt::Display for Completeness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failing = self.failing().count();
        let verdict = if self.passed() { "PASSED" } else { "FAILED" };
        write!(
            f,
            "completeness {verdict}: {} table(s), {failing} failing",
            self.tables.len()
        )?;
        match (self.basis, &self.snapshot_id) {
            (Basis::Manifest, Some(snapshot)) => {
                write!(
                    f,
                    "; rows checked against the restore manifest of {snapshot}"
                )?;
                if let Some(date) = self.manifest_import_date {
                    write!(f, " (import date {date})")?;
                }
                writeln!(f)?;
            }
            _ => writeln!(f, "; no restore manifest, export status only")?,
        }
        let width = self
            .tables
            .iter()
            .map(|t| t.table.chars().count())
            .max()
            .unwrap_or(5)
            .max(5);
        writeln!(
            f,
            "  {:<width$}  {:>12}  {:<18}  {:>12}  {:>6}  {:<10}  verdict",
            "table", "expected", "from", "landed", "files", "export"
        )?;
        for t in &self.tables {
            writeln!(
                f,
                "  {:<width$}  {:>12}  {:<18}  {:>12}  {:>6}  {:<10}  {}",
                t.table,
                expected(t),
                t.expected_from.to_string(),
                t.landed_rows,
                t.landed_files,
                t.export_status.as_deref().unwrap_or("(unlisted)"),
                t.verdict
            )?;
        }
        for t in self.failing() {
            writeln!(f, "  FAILED {}: {t}", t.table)?;
        }
        for p in &self.problems {
            writeln!(f, "  PROBLEM {p}")?;
        }
        for n in &self.notes {
            writeln!(f, "  note: {n}")?;
        }
        Ok(())
    }
}

/// One table's verdict with both counts: what a failing table is reported as.
impl fmt::Display for TableCompleteness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.verdict)?;
        if let Some(name) = &self.exported_as {
            write!(f, " (exported as {name})")?;
        }
        match self.expected_rows {
            Some(rows) => write!(f, "; expected {rows} rows ({})", self.expected_from)?,
            None => write!(f, "; no expected row count")?,
        }
        write!(
            f,
            ", landed {} rows in {} file(s), export status {}",
            self.landed_rows,
            self.landed_files,
            self.export_status.as_deref().unwrap_or("(unlisted)")
        )
    }
}
