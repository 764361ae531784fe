//! Parsing of `export_info`, `export_tables_info`, `WarningMessage` and the manifest.

use super::super::metadata::{
    ExportTables, ExportWarning, export_info_key, parse_export_info, parse_tables_info,
    tables_info_prefix, tables_info_range,
};
use super::super::{CompletenessError, Manifest};
use super::{TABLES_INFO, manifest_json};

#[test]
fn parses_export_tables_info_as_rds_writes_it_ignoring_unknown_fields() {
    let file = parse_tables_info(
        "e/export_tables_info_e_from_1_to_4.json",
        TABLES_INFO.as_bytes(),
    )
    .unwrap();
    assert_eq!(file.per_table_status.len(), 4);
    let pcn = &file.per_table_status[0];
    assert_eq!(pcn.split_target(), Some(("liberator", "pcn")));
    assert_eq!(pcn.status.as_deref(), Some("COMPLETE"));
    assert_eq!(pcn.size_gb, Some(0.01953125));
    assert_eq!(pcn.partitions(), Some((4, 4)));
    assert!(pcn.is_complete());
    let columns = &pcn.schema_metadata.as_ref().unwrap().original_type_mappings;
    assert_eq!(columns.len(), 2);
    assert_eq!(columns[0].column_name.as_deref(), Some("id"));
    assert_eq!(
        columns[1].expected_exported_type.as_deref(),
        Some("binary (UTF8)")
    );

    let failed = &file.per_table_status[2];
    assert!(!failed.is_complete());
    assert_eq!(failed.status_text(), "FAILED");
    assert_eq!(
        failed.size_gb, None,
        "a field of an odd type reads as absent"
    );

    let database = &file.per_table_status[3];
    assert_eq!(database.split_target(), None);
    assert!(database.warning_message.is_some());
}

#[test]
fn a_table_with_unfinished_partitions_is_not_complete() {
    let body = br#"{"perTableStatus":[{"target":"d.t","status":"COMPLETE",
        "tableStatistics":{"partitioningInfo":{"numberOfPartitions":4,"numberOfCompletedPartitions":3}}}]}"#;
    let file = parse_tables_info("k", body).unwrap();
    let t = &file.per_table_status[0];
    assert!(!t.is_complete());
    assert_eq!(t.status_text(), "COMPLETE (3/4 partitions)");
}

#[test]
fn a_malformed_file_is_an_error_naming_it() {
    let key = "exports/e/export_tables_info_e_from_1_to_3.json";
    for body in [
        &b"{\"perTableStatus\": [ {\"target\": \"d.t\", "[..],
        b"{\"tables\": []}",
        b"{\"perTableStatus\": [{\"target\": 42, \"status\": \"COMPLETE\"}]}",
        b"{\"perTableStatus\": [{\"status\": \"COMPLETE\"}]}",
        b"[]",
    ] {
        let err = parse_tables_info(key, body).unwrap_err();
        assert!(
            matches!(err, CompletenessError::MalformedMetadata { .. }),
            "{err}"
        );
        assert!(err.to_string().contains(key), "{err}");
    }
    let err = parse_export_info("e/export_info_e.json", b"not json").unwrap_err();
    assert!(err.to_string().contains("e/export_info_e.json"), "{err}");
}

#[test]
fn parses_export_info_and_its_warning() {
    let body = br#"{"exportTaskIdentifier":"sql-to-parquet-24-06-04-101500",
        "sourceArn":"arn:aws:rds:eu-west-2:123456789012:snapshot:sql-to-parquet-24-06-04-101500",
        "exportOnly":[],"snapshotTime":"2024-06-04T10:15:00Z","taskStartTime":"2024-06-04T10:20:00Z",
        "taskEndTime":"2024-06-04T10:45:00Z","s3Bucket":"rds-exports","s3Prefix":"",
        "exportedFilesPath":"sql-to-parquet-24-06-04-101500","iamRoleArn":"arn:aws:iam::123456789012:role/x",
        "kmsKeyId":"arn:aws:kms:eu-west-2:123456789012:key/k","status":"COMPLETE","percentProgress":100,
        "totalExportedDataInGB":0.03125,
        "warningMessage":"{\"skippedTables\":[\"liberator.a/b\"],\"skippedObjectives\":[],\"general\":[{\"reason\":\"FAILED_TO_EXTRACT_TABLES_LIST_FOR_DATABASE\"}]}"}"#;
    let info = parse_export_info("e/export_info_e.json", body).unwrap();
    assert_eq!(info.status.as_deref(), Some("COMPLETE"));
    assert_eq!(info.percent_progress, Some(100.0));
    assert_eq!(info.total_exported_data_in_gb, Some(0.03125));
    let warning = ExportWarning::parse(info.warning_message.as_deref().unwrap());
    assert_eq!(warning.skipped_tables, ["liberator.a/b"]);
    assert_eq!(
        warning.general,
        ["FAILED_TO_EXTRACT_TABLES_LIST_FOR_DATABASE"]
    );
}

#[test]
fn warning_messages_of_other_shapes_are_kept() {
    let w =
        ExportWarning::parse(r#"{"skippedTables":[{"target":"d.t","reason":"ROW_TOO_LARGE"}]}"#);
    assert_eq!(w.skipped_tables, ["d.t"]);
    let w = ExportWarning::parse("Some tables were not exported");
    assert_eq!(w.general, ["Some tables were not exported"]);
    assert_eq!(ExportWarning::parse(""), ExportWarning::default());
}

#[test]
fn names_and_ranges_of_the_metadata_files() {
    assert_eq!(export_info_key("exp/", "exp"), "exp/export_info_exp.json");
    assert_eq!(
        tables_info_prefix("exp/", "exp"),
        "exp/export_tables_info_exp_from_"
    );
    let key = "p/sql-to-parquet-24-06-04-101500/export_tables_info_sql-to-parquet-24-06-04-101500_from_1_to_96.json";
    assert_eq!(tables_info_range(key).unwrap(), (1, 96));
    for bad in [
        "e/export_info_e.json",
        "e/export_tables_info_e_from_x_to_2.json",
        "e/export_tables_info_e_from_3_to_2.json",
        "e/export_tables_info_e_from_0_to_2.json",
    ] {
        assert!(tables_info_range(bad).is_err(), "{bad}");
    }
}

#[test]
fn several_table_files_merge_and_a_missing_one_is_a_gap() {
    let file = |target: &str| {
        parse_tables_info(
            "k",
            format!(r#"{{"perTableStatus":[{{"target":"{target}","status":"COMPLETE"}}]}}"#)
                .as_bytes(),
        )
        .unwrap()
    };
    let key = |from: u32, to: u32| format!("e/export_tables_info_e_from_{from}_to_{to}.json");
    let whole =
        ExportTables::from_files([(key(2, 2), file("d.b")), (key(1, 1), file("d.a"))]).unwrap();
    assert!(whole.gaps.is_empty());
    assert_eq!(whole.tables.len(), 2);
    let gap =
        ExportTables::from_files([(key(1, 1), file("d.a")), (key(3, 3), file("d.c"))]).unwrap();
    assert_eq!(gap.gaps.len(), 1, "{:?}", gap.gaps);
    assert!(gap.gaps[0].contains("2 to 2"), "{:?}", gap.gaps);
    let late = ExportTables::from_files([(key(2, 2), file("d.b"))]).unwrap();
    assert_eq!(late.gaps.len(), 1, "the sequence starts at 1");
}

#[test]
fn parses_the_restore_manifest_ignoring_unknown_fields() {
    let m = Manifest::parse(
        "m.json",
        manifest_json(&[("liberator", "pcn", 12000)]).as_bytes(),
    )
    .unwrap();
    assert_eq!(m.snapshot_id, "sql-to-parquet-24-06-04-101500");
    assert_eq!(m.import_date.to_string(), "2024-06-04");
    assert_eq!(m.dump.entries, ["liberator.sql"]);
    assert_eq!(m.tables[0].name(), "liberator.pcn");
    assert_eq!(m.tables[0].rows, 12000);
}

#[test]
fn a_bad_manifest_is_an_error_naming_it() {
    let v2 = manifest_json(&[]).replace("\"version\":1", "\"version\":2");
    let err = Manifest::parse("m/v2.json", v2.as_bytes()).unwrap_err();
    assert!(
        matches!(err, CompletenessError::ManifestVersion { version: 2, .. }),
        "{err}"
    );
    let dup = manifest_json(&[("d", "t", 1), ("d", "t", 2)]);
    let err = Manifest::parse("m/dup.json", dup.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("d.t"), "{err}");
    let bad_date = manifest_json(&[]).replace("2024-06-04\"", "04/06/2024\"");
    let err = Manifest::parse("m/date.json", bad_date.as_bytes()).unwrap_err();
    assert!(
        matches!(err, CompletenessError::MalformedManifest { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("m/date.json"), "{err}");
    let err = Manifest::parse("m/rows.json", br#"{"version":1,"tables":"x"}"#).unwrap_err();
    assert!(err.to_string().contains("m/rows.json"), "{err}");
}
