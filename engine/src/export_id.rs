//! Export ids and the import date they carry.
//!
//! The grammar (`sql-to-parquet-YY-MM-DD-HHMMSS`, `sql-to-parquet-YYYY-MM-DD-backdated`)
//! lives in the `liberator-export-id` crate, shared with the restore task that formats ids
//! and the trigger that filters snapshots by their prefix; it is re-exported here. What
//! only the engine does with an id, turning its date into a landing partition, is below.

use chrono::{Datelike, NaiveDate};

pub use liberator_export_id::{
    EXPORT_ID_PREFIX, ExportId, ExportIdError, PREFIX, backdated_id, daily_id, parse_date,
};

/// The Hive-style partition path of an import date:
/// `import_year=YYYY/import_month=MM/import_day=DD/import_date=YYYYMMDD`.
pub fn partition_path(date: NaiveDate) -> String {
    let (y, m, d) = (date.year(), date.month(), date.day());
    format!(
        "import_year={y:04}/import_month={m:02}/import_day={d:02}/import_date={y:04}{m:02}{d:02}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_is_zero_padded() {
        let date = NaiveDate::from_ymd_opt(2024, 6, 4).unwrap();
        assert_eq!(
            partition_path(date),
            "import_year=2024/import_month=06/import_day=04/import_date=20240604"
        );
    }

    #[test]
    fn a_re_export_lands_in_the_same_partition() {
        // The trigger exports a snapshot taken again under an exported name as `<name>-rN`;
        // the copier parses the 0161 event's SourceIdentifier with `ExportId::parse`.
        let first = ExportId::parse("sql-to-parquet-2024-02-29-backdated").unwrap();
        let again = ExportId::parse("sql-to-parquet-2024-02-29-backdated-r2").unwrap();
        assert_eq!(partition_path(again.date()), partition_path(first.date()));
        assert!(again.is_backdated());
        assert_eq!(again.snapshot_id(), first.as_str());
    }

    #[test]
    fn parse_errors_become_engine_errors_naming_the_id() {
        let err: crate::Error = ExportId::parse("sql-to-parquet-23-13-01-143000")
            .unwrap_err()
            .into();
        assert!(
            err.to_string()
                .contains("\"sql-to-parquet-23-13-01-143000\""),
            "{err}"
        );
        assert!(!err.is_transient());
    }
}
