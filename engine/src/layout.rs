//! Key rewriting: RDS export layout → landing-zone layout.
//!
//! RDS writes `<export-id>/<db>/<db>.<table>/<batch>/part-*.parquet` (older exports have no
//! batch folder). Downstream Glue jobs read
//! `<prefix>/<db>/<db>.<table>/import_year=YYYY/import_month=MM/import_day=DD/import_date=YYYYMMDD/<file>`,
//! so the table folder is kept byte for byte and the batch folders are dropped.

use chrono::NaiveDate;

use crate::error::{Error, Result};
use crate::export_id::partition_path;

/// What a source key turns into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mapped {
    /// A Parquet data file to copy.
    Parquet(ParquetKey),
    /// Export metadata (`export_info_*.json`, `_SUCCESS`, folder markers): counted, not copied.
    Other,
}

/// A Parquet file of one table and where it lands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParquetKey {
    /// `<db>/<db.table>`: the unit within which target names must be unique.
    pub table: String,
    /// The file name, e.g. `part-00000-<uuid>.gz.parquet`.
    pub file: String,
    /// The full target key.
    pub target_key: String,
}

/// Maps the keys of one export to the landing zone.
#[derive(Debug, Clone)]
pub struct Layout {
    export_root: String,
    target_prefix: String,
    partition: String,
}

/// Normalises a key prefix to `""` or `"a/b/"`.
pub fn normalize_prefix(prefix: &str) -> String {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("{trimmed}/")
    }
}

impl Layout {
    /// `source_prefix` is where export folders live in the export bucket (often empty),
    /// `target_prefix` the landing-zone prefix.
    pub fn new(
        source_prefix: &str,
        export_id: &str,
        target_prefix: &str,
        import_date: NaiveDate,
    ) -> Self {
        Layout {
            export_root: format!("{}{export_id}/", normalize_prefix(source_prefix)),
            target_prefix: normalize_prefix(target_prefix),
            partition: partition_path(import_date),
        }
    }

    /// The prefix to list: `<source-prefix>/<export-id>/`.
    pub fn export_root(&self) -> &str {
        &self.export_root
    }

    /// The landing-zone prefix (`""` or ending in `/`).
    pub fn target_prefix(&self) -> &str {
        &self.target_prefix
    }

    /// The target folder of one table (`table` as in [`ParquetKey::table`]).
    pub fn table_target_prefix(&self, table: &str) -> String {
        format!("{}{table}/{}/", self.target_prefix, self.partition)
    }

    /// Maps one source key. Keys outside the export, empty path segments and Parquet files
    /// outside a table folder are errors naming the key.
    pub fn map(&self, key: &str) -> Result<Mapped> {
        let err = |reason: &str| Error::Layout {
            key: key.to_string(),
            reason: reason.to_string(),
        };
        let rel = key.strip_prefix(&self.export_root).ok_or_else(|| {
            err(&format!(
                "not under the export folder {:?}",
                self.export_root
            ))
        })?;
        if rel.is_empty() || rel.ends_with('/') {
            return Ok(Mapped::Other); // folder marker
        }
        let segments: Vec<&str> = rel.split('/').collect();
        let file = *segments.last().expect("split yields one segment at least");
        if !file.ends_with(".parquet") {
            return Ok(Mapped::Other);
        }
        if segments.iter().any(|s| s.is_empty()) {
            return Err(err("empty path segment"));
        }
        if segments.len() < 3 {
            return Err(err(
                "a Parquet file must sit under <db>/<db.table>/[<batch>/]",
            ));
        }
        let table = format!("{}/{}", segments[0], segments[1]);
        Ok(Mapped::Parquet(ParquetKey {
            target_key: format!("{}{file}", self.table_target_prefix(&table)),
            table,
            file: file.to_string(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(source_prefix: &str, target_prefix: &str) -> Layout {
        Layout::new(
            source_prefix,
            "sql-to-parquet-24-06-04-101500",
            target_prefix,
            NaiveDate::from_ymd_opt(2024, 6, 4).unwrap(),
        )
    }

    fn target(m: Mapped) -> String {
        match m {
            Mapped::Parquet(p) => p.target_key,
            Mapped::Other => panic!("expected a Parquet mapping"),
        }
    }

    const PART: &str = "import_year=2024/import_month=06/import_day=04/import_date=20240604";

    #[test]
    fn maps_batch_layout_dropping_batch_folder() {
        let l = layout("", "parking");
        let m = l
            .map("sql-to-parquet-24-06-04-101500/liberator/liberator.pcn/1/part-00000-abc.gz.parquet")
            .unwrap();
        assert_eq!(
            target(m),
            format!("parking/liberator/liberator.pcn/{PART}/part-00000-abc.gz.parquet")
        );
    }

    #[test]
    fn maps_flat_layout_and_source_prefix() {
        let l = layout("/exports/", "/landing/");
        let m = l
            .map("exports/sql-to-parquet-24-06-04-101500/liberator/liberator.pcn/part-1.parquet")
            .unwrap();
        assert_eq!(
            target(m),
            format!("landing/liberator/liberator.pcn/{PART}/part-1.parquet")
        );
    }

    #[test]
    fn keeps_odd_table_folder_names_exactly() {
        let l = layout("", "");
        for table in [
            "liberator.Parking Permits",
            "liberator.pcn+events",
            "liberator.100%_rate",
            "liberator.straße#1",
            "Liberator.CamelCase",
        ] {
            let key = format!("sql-to-parquet-24-06-04-101500/liberator/{table}/2/f.parquet");
            let Mapped::Parquet(p) = l.map(&key).unwrap() else {
                panic!()
            };
            assert_eq!(p.table, format!("liberator/{table}"));
            assert_eq!(p.target_key, format!("liberator/{table}/{PART}/f.parquet"));
        }
    }

    #[test]
    fn metadata_files_are_other() {
        let l = layout("", "x");
        for key in [
            "sql-to-parquet-24-06-04-101500/export_info_sql-to-parquet-24-06-04-101500.json",
            "sql-to-parquet-24-06-04-101500/export_tables_info_sql-to-parquet-24-06-04-101500_from_1_to_3.json",
            "sql-to-parquet-24-06-04-101500/liberator/liberator.pcn/1/_SUCCESS",
            "sql-to-parquet-24-06-04-101500/liberator/",
        ] {
            assert_eq!(l.map(key).unwrap(), Mapped::Other, "{key}");
        }
    }

    #[test]
    fn rejects_keys_outside_layout_naming_them() {
        let l = layout("", "x");
        for key in [
            "sql-to-parquet-24-06-04-101500/stray.parquet",
            "sql-to-parquet-24-06-04-101500/liberator/stray.parquet",
            "sql-to-parquet-24-06-04-101500/liberator//1/a.parquet",
            "other-export/liberator/liberator.pcn/1/a.parquet",
        ] {
            let err = l.map(key).unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
    }

    proptest::proptest! {
        #[test]
        fn mapping_keeps_table_folder_and_file_and_drops_batches(
            db in "[a-z][a-z0-9_]{0,10}",
            table in "[^/]{1,30}",
            batches in proptest::collection::vec("[0-9]{1,3}", 0..3),
            file in "[^/]{0,20}",
            prefix in "(|landing|a/b/c)",
        ) {
            let file = format!("{file}.parquet");
            let l = layout("", &prefix);
            let mut key = format!("sql-to-parquet-24-06-04-101500/{db}/{table}/");
            for b in &batches {
                key.push_str(b);
                key.push('/');
            }
            key.push_str(&file);
            let Mapped::Parquet(p) = l.map(&key).unwrap() else { panic!("{key}") };
            let prefix = normalize_prefix(&prefix);
            proptest::prop_assert_eq!(p.target_key, format!("{prefix}{db}/{table}/{PART}/{file}"));
            proptest::prop_assert_eq!(p.table, format!("{db}/{table}"));
        }

        #[test]
        fn distinct_tables_or_files_never_collide(
            t1 in "[a-z.]{1,8}", t2 in "[a-z.]{1,8}", f1 in "[a-z0-9-]{1,8}", f2 in "[a-z0-9-]{1,8}",
        ) {
            let l = layout("", "x");
            let k1 = format!("sql-to-parquet-24-06-04-101500/db/{t1}/1/{f1}.parquet");
            let k2 = format!("sql-to-parquet-24-06-04-101500/db/{t2}/2/{f2}.parquet");
            let (a, b) = (target(l.map(&k1).unwrap()), target(l.map(&k2).unwrap()));
            proptest::prop_assert_eq!(a == b, t1 == t2 && f1 == f2);
        }
    }

    #[test]
    fn same_file_in_two_batches_collides_on_target() {
        // The collision itself is detected by the job (it sees a whole table); here we check
        // the premise: two batch folders with one file name give one target key.
        let l = layout("", "x");
        let a = l
            .map("sql-to-parquet-24-06-04-101500/db/db.t/1/part-0.parquet")
            .unwrap();
        let b = l
            .map("sql-to-parquet-24-06-04-101500/db/db.t/2/part-0.parquet")
            .unwrap();
        assert_eq!(target(a), target(b));
    }
}
