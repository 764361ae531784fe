//! Unit tests of the completeness check, with samples in the shape RDS writes.

mod check;
mod metadata;

use std::collections::BTreeMap;

use super::{ExportTables, LandedTable, Manifest, metadata::parse_tables_info};

/// An `export_tables_info` file as RDS writes it for a MySQL export: statistics, schema
/// metadata, and fields this engine does not know (`someFutureField`), which must be ignored.
pub(super) const TABLES_INFO: &str = r#"{
  "perTableStatus": [
    {
      "TableStatistics": {
        "extractionStartTime": "2024-06-04T10:40:12.118Z",
        "extractionEndTime": "2024-06-04T10:41:02.903Z",
        "partitioningInfo": {"numberOfPartitions": 4, "numberOfCompletedPartitions": 4}
      },
      "schemaMetadata": {
        "originalTypeMappings": [
          {"columnName": "id", "originalType": "bigint", "expectedExportedType": "int64",
           "originalCharMaxLength": 0, "originalNumPrecision": 19, "originalDateTimePrecision": 0},
          {"columnName": "vrm", "originalType": "varchar", "expectedExportedType": "binary (UTF8)",
           "originalCharMaxLength": 16, "originalNumPrecision": 0, "originalDateTimePrecision": 0}
        ]
      },
      "status": "COMPLETE",
      "sizeGB": 0.01953125,
      "target": "liberator.pcn",
      "someFutureField": {"nested": [1, 2, 3]}
    },
    {
      "TableStatistics": {
        "extractionStartTime": "2024-06-04T10:40:12.118Z",
        "extractionEndTime": "2024-06-04T10:40:13.001Z",
        "partitioningInfo": {"numberOfPartitions": 1, "numberOfCompletedPartitions": 1}
      },
      "schemaMetadata": {"originalTypeMappings": []},
      "status": "COMPLETE",
      "sizeGB": 0.0,
      "target": "liberator.empty_table"
    },
    {
      "status": "FAILED",
      "sizeGB": "not a number",
      "target": "liberator.permits"
    },
    {
      "warningMessage": "Database liberator: 1 table(s) could not be exported",
      "target": "liberator"
    }
  ]
}"#;

pub(super) fn manifest_json(tables: &[(&str, &str, u64)]) -> String {
    let tables: Vec<String> = tables
        .iter()
        .map(|(db, t, rows)| {
            serde_json::json!({"database": db, "table": t, "rows": rows}).to_string()
        })
        .collect();
    format!(
        r#"{{"version":1,"snapshot_id":"sql-to-parquet-24-06-04-101500","import_date":"2024-06-04",
            "created_at":"2024-06-04T10:15:00Z",
            "dump":{{"bucket":"landing","key":"parking/liberator_dump_240604.zip","size":123456,
                     "entries":["liberator.sql"],"sha256":"ignored"}},
            "tables":[{}],"loader":"ignored too"}}"#,
        tables.join(",")
    )
}

pub(super) fn manifest(tables: &[(&str, &str, u64)]) -> Manifest {
    Manifest::parse("manifests/snap.json", manifest_json(tables).as_bytes()).unwrap()
}

pub(super) fn export_of(entries: &[(&str, &str)]) -> ExportTables {
    let entries: Vec<String> = entries
        .iter()
        .map(|(target, status)| {
            serde_json::json!({"target": target, "status": status, "sizeGB": 0.5}).to_string()
        })
        .collect();
    let body = format!(r#"{{"perTableStatus":[{}]}}"#, entries.join(","));
    let key = format!(
        "e/export_tables_info_e_from_1_to_{}.json",
        entries.len().max(1)
    );
    ExportTables::from_files([(
        key.clone(),
        parse_tables_info(&key, body.as_bytes()).unwrap(),
    )])
    .unwrap()
}

pub(super) fn landed(tables: &[(&str, u64, u64)]) -> BTreeMap<String, LandedTable> {
    tables
        .iter()
        .map(|(name, files, rows)| {
            (
                name.to_string(),
                LandedTable {
                    files: *files,
                    rows: *rows,
                },
            )
        })
        .collect()
}
