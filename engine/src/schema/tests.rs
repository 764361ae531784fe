use std::collections::BTreeMap;
use std::sync::Arc;

use parquet::schema::parser::parse_message_type;
use parquet::schema::types::{SchemaDescPtr, SchemaDescriptor};

use super::*;

fn schema(text: &str) -> SchemaDescPtr {
    Arc::new(SchemaDescriptor::new(Arc::new(
        parse_message_type(text).unwrap(),
    )))
}

const BASE: &str = "message spark_schema {
    REQUIRED INT64 id;
    OPTIONAL BYTE_ARRAY vrm (UTF8);
    OPTIONAL FIXED_LEN_BYTE_ARRAY(9) fine (DECIMAL(20,2));
    REQUIRED INT64 issued_at (TIMESTAMP(MILLIS,true));
    OPTIONAL DOUBLE amount;
}";

#[test]
fn columns_carry_physical_logical_converted_types_and_repetition() {
    let cols = columns(&schema(BASE));
    let names: Vec<_> = cols.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["id", "vrm", "fine", "issued_at", "amount"]);
    assert_eq!(cols[0].physical, "INT64");
    assert_eq!(
        (cols[0].logical.as_deref(), cols[0].converted.as_deref()),
        (None, None)
    );
    assert_eq!(cols[0].repetition, "REQUIRED");
    assert_eq!(cols[1].logical.as_deref(), Some("STRING"));
    assert_eq!(cols[1].converted.as_deref(), Some("UTF8"));
    assert_eq!(cols[1].repetition, "OPTIONAL");
    assert_eq!(cols[2].physical, "FIXED_LEN_BYTE_ARRAY(9)");
    assert_eq!(cols[2].logical.as_deref(), Some("DECIMAL(20,2)"));
    assert_eq!(cols[2].converted.as_deref(), Some("DECIMAL(20,2)"));
    assert_eq!(cols[3].type_name(), "INT64 TIMESTAMP(MILLIS,true)");
    assert_eq!(cols[3].converted.as_deref(), Some("TIMESTAMP_MILLIS"));
    assert_eq!(cols[4].type_name(), "DOUBLE");
    // The JSON leaves out what a column does not have, and reads back.
    let json = serde_json::to_value(&cols[0]).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"name": "id", "physical": "INT64", "repetition": "REQUIRED"})
    );
    let back: Column = serde_json::from_value(json).unwrap();
    assert_eq!(back, cols[0]);
}

#[test]
fn the_same_schema_is_recognised_and_any_difference_is_not() {
    assert!(same_schema(&schema(BASE), &schema(BASE)));
    let renamed = BASE.replace("spark_schema", "other_root");
    assert!(
        same_schema(&schema(BASE), &schema(&renamed)),
        "the root's name is not a column"
    );
    for other in [
        BASE.replace("OPTIONAL DOUBLE amount", "OPTIONAL FLOAT amount"),
        BASE.replace("OPTIONAL DOUBLE amount", "REQUIRED DOUBLE amount"),
        BASE.replace("DECIMAL(20,2)", "DECIMAL(20,3)"),
        BASE.replace("(9)", "(10)"),
        BASE.replace("MILLIS", "MICROS"),
        BASE.replace("OPTIONAL DOUBLE amount;", ""),
        BASE.replace("amount", "amount_gbp"),
    ] {
        assert!(!same_schema(&schema(BASE), &schema(&other)), "{other}");
    }
}

#[test]
fn a_converted_type_compares_equal_to_its_logical_type() {
    // An older writer's UTF8 / TIMESTAMP_MILLIS / DECIMAL against a newer one's logical types.
    let old = schema(
        "message m { OPTIONAL BYTE_ARRAY s (UTF8); REQUIRED INT64 t (TIMESTAMP_MILLIS);
          REQUIRED INT32 d (DECIMAL(9,2)); REQUIRED INT32 u (UINT_8); }",
    );
    let new = schema(
        "message m { OPTIONAL BYTE_ARRAY s (STRING); REQUIRED INT64 t (TIMESTAMP(MILLIS,true));
          REQUIRED INT32 d (DECIMAL(9,2)); REQUIRED INT32 u (INTEGER(8,false)); }",
    );
    assert!(same_schema(&old, &new));
    assert!(diff_columns("t", &columns(&old), &columns(&new)).is_empty());
    let local = schema("message m { REQUIRED INT64 t (TIMESTAMP(MILLIS,false)); }");
    let utc = schema("message m { REQUIRED INT64 t (TIMESTAMP_MILLIS); }");
    assert!(
        !same_schema(&local, &utc),
        "a local timestamp is not a UTC one"
    );
}

#[test]
fn each_kind_of_change_is_found_by_name() {
    let before = columns(&schema(BASE));
    let after = columns(&schema(
        "message m {
            OPTIONAL INT64 id;
            OPTIONAL BYTE_ARRAY vrm (UTF8);
            OPTIONAL FIXED_LEN_BYTE_ARRAY(9) fine (DECIMAL(20,3));
            REQUIRED INT64 issued_at (TIMESTAMP(MICROS,true));
            OPTIONAL BYTE_ARRAY note (UTF8);
        }",
    ));
    let changes = diff_columns("liberator/liberator.pcn", &before, &after);
    let got: Vec<(&str, ChangeKind, Option<&str>, Option<&str>)> = changes
        .iter()
        .map(|c| {
            (
                c.column.as_str(),
                c.kind,
                c.from.as_deref(),
                c.to.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "id",
                ChangeKind::Nullability,
                Some("REQUIRED"),
                Some("OPTIONAL")
            ),
            (
                "fine",
                ChangeKind::Retyped,
                Some("FIXED_LEN_BYTE_ARRAY(9) DECIMAL(20,2)"),
                Some("FIXED_LEN_BYTE_ARRAY(9) DECIMAL(20,3)")
            ),
            (
                "issued_at",
                ChangeKind::Retyped,
                Some("INT64 TIMESTAMP(MILLIS,true)"),
                Some("INT64 TIMESTAMP(MICROS,true)")
            ),
            ("note", ChangeKind::Added, None, Some("BYTE_ARRAY STRING")),
            ("amount", ChangeKind::Removed, Some("DOUBLE"), None),
        ]
    );
    assert!(
        changes[4]
            .describe()
            .contains("table liberator/liberator.pcn: column amount removed (was DOUBLE)")
    );
    // Reordered columns are not a change.
    let mut reordered = before.clone();
    reordered.reverse();
    assert!(diff_columns("t", &before, &reordered).is_empty());
}

#[test]
fn drift_lists_tables_and_blocks_only_on_removed_or_retyped() {
    let cols = |text: &str| columns(&schema(text));
    let before = BTreeMap::from([
        (
            "db/db.a".to_string(),
            cols("message m { REQUIRED INT64 id; }"),
        ),
        (
            "db/db.gone".to_string(),
            cols("message m { REQUIRED INT64 id; }"),
        ),
    ]);
    let prev = PreviousLanding {
        import_date: "2024-06-03".into(),
        export_id: "sql-to-parquet-24-06-03-101500".into(),
        key: "_liberator/reports/parking/2024-06-03.json".into(),
    };
    let widened = BTreeMap::from([
        (
            "db/db.a".to_string(),
            cols("message m { OPTIONAL INT64 id; OPTIONAL INT32 x; }"),
        ),
        (
            "db/db.new".to_string(),
            cols("message m { REQUIRED INT64 id; }"),
        ),
    ]);
    let d = SchemaDrift::compare(prev.clone(), &before, &widened);
    assert_eq!(d.tables_added, ["db/db.new"]);
    assert_eq!(d.tables_removed, ["db/db.gone"]);
    assert_eq!(d.changes.len(), 2);
    assert_eq!(d.blocking().count(), 0, "added and nullability only warn");
    let text = d.to_string();
    assert!(
        text.contains("2 column change(s) since 2024-06-03"),
        "{text}"
    );
    assert!(
        text.contains("NULLABILITY") && text.contains("REQUIRED -> OPTIONAL"),
        "{text}"
    );

    let narrowed = BTreeMap::from([(
        "db/db.a".to_string(),
        cols("message m { REQUIRED INT32 id; }"),
    )]);
    let d = SchemaDrift::compare(prev, &before, &narrowed);
    let blocking: Vec<_> = d.blocking().map(|c| (c.kind, c.column.as_str())).collect();
    assert_eq!(blocking, [(ChangeKind::Retyped, "id")]);
    assert!(
        d.to_string()
            .contains("RETYPED      db/db.a  id  INT64 -> INT32"),
        "{d}"
    );
    assert!(
        SchemaDrift::default()
            .to_string()
            .contains("nothing to compare")
    );
}

#[test]
fn files_of_a_table_that_disagree_name_the_table_and_the_odd_file() {
    let mut s = TableSchemas::default();
    let base = schema(BASE);
    let odd = schema(&BASE.replace("OPTIONAL DOUBLE amount", "OPTIONAL FLOAT amount"));
    s.add("db/db.t", "e/db/db.t/1/part-00002.parquet", &base);
    s.add("db/db.t", "e/db/db.t/1/part-00001.parquet", &odd);
    s.add("db/db.t", "e/db/db.t/1/part-00000.parquet", &schema(BASE));
    s.add("db/db.u", "e/db/db.u/1/part-00000.parquet", &odd);
    let (cols, failures) = s.finish();
    assert_eq!(cols["db/db.t"], columns(&base), "most files' schema wins");
    assert_eq!(cols["db/db.u"], columns(&odd));
    assert_eq!(failures.len(), 1, "{failures:?}");
    let f = &failures[0];
    assert_eq!(f.key, "e/db/db.t/1/part-00001.parquet");
    assert!(f.reason.contains("table db/db.t"), "{}", f.reason);
    assert!(
        f.reason.contains("first e/db/db.t/1/part-00000.parquet"),
        "{}",
        f.reason
    );
    assert!(
        f.reason
            .contains("column amount retyped from DOUBLE to FLOAT"),
        "{}",
        f.reason
    );
}

#[test]
fn a_report_written_before_schemas_existed_still_reads() {
    let old = r#"{"export_id":"sql-to-parquet-24-06-04-101500","import_date":"2024-06-04",
        "source":"s3://src/e/","target":"s3://dst/parking/","dry_run":false,"force":false,
        "verify":true,"listed":1,"copied":1,"skipped":0,"failed":0,"non_parquet":0,"planned":0,
        "bytes_listed":1,"bytes_copied":1,"bytes_skipped":0,"multipart_copies":0,"retries":0,
        "throttles":0,"tables":{"liberator/liberator.pcn":{"files":1,"bytes":1,"rows":5}},
        "duration_secs":0.1,"complete":true,"failures":[]}"#;
    let r: crate::Report = serde_json::from_str(old).unwrap();
    assert!(r.schema_drift.is_none() && r.tables["liberator/liberator.pcn"].columns.is_empty());
    let kept: history::Kept = serde_json::from_str(old).unwrap();
    assert!(
        kept.schemas().is_empty(),
        "a table without columns is not compared"
    );
}
