//! The local export stand-in writes every MySQL type as AWS's data-type table says
//! (<https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ExportSnapshot.data-types.html>),
//! judged by the test checksum's own table (`checksum::aws_type`), and every value round-trips.

use std::collections::BTreeMap;

use liberator_engine::completeness::metadata::{ExportTables, parse_tables_info};
use liberator_engine::{EngineConfig, Location};
use liberator_fixtures::export_local::{LocalExportConfig, export_database};
use liberator_tests::checksum::{add_parquet, mariadb_columns, mariadb_sums, schema_mismatches};
use liberator_tests::mariadb::mariadb;
use liberator_tests::{
    create_bucket, engine, get_bytes, list_all, s3_client, seaweed, unique_bucket,
};
use mysql_async::prelude::Queryable;

/// Column definition, then its value in three rows (the second row is NULL wherever the
/// column allows it; the third holds the other extremes and MySQL's zero dates).
type Col = (&'static str, &'static str, &'static str, &'static str);

const COLUMNS: &[Col] = &[
    ("a TINYINT(1)", "1", "NULL", "0"),
    ("b TINYINT UNSIGNED", "255", "NULL", "0"),
    ("b2 TINYINT", "-128", "NULL", "127"),
    ("c SMALLINT UNSIGNED", "65535", "NULL", "0"),
    ("c2 SMALLINT", "-32768", "NULL", "32767"),
    ("d MEDIUMINT UNSIGNED", "16777215", "NULL", "0"),
    ("d2 MEDIUMINT", "-8388608", "NULL", "8388607"),
    ("e INT UNSIGNED", "4294967295", "NULL", "0"),
    ("e2 INT", "-2147483648", "NULL", "2147483647"),
    (
        "f BIGINT",
        "-9223372036854775808",
        "NULL",
        "9223372036854775807",
    ),
    ("g BIGINT UNSIGNED", "18446744073709551615", "NULL", "0"),
    ("h DECIMAL(5,2)", "-123.45", "NULL", "999.99"),
    ("h2 DECIMAL(9,0)", "-999999999", "NULL", "999999999"),
    ("i NUMERIC(12,3)", "123456789.123", "NULL", "-0.001"),
    (
        "i2 DECIMAL(18,0)",
        "-999999999999999999",
        "NULL",
        "999999999999999999",
    ),
    (
        "j DECIMAL(30,4)",
        "12345678901234567890123456.7890",
        "NULL",
        "-99999999999999999999999999.9999",
    ),
    (
        "j2 DECIMAL(38,0)",
        "99999999999999999999999999999999999999",
        "NULL",
        "-99999999999999999999999999999999999999",
    ),
    (
        "k DECIMAL(50,1)",
        "-1234567890123456789012345678901234567890123456789.1",
        "NULL",
        "0.0",
    ),
    ("k2 NUMERIC(20,0)", "-12345678901234567890", "NULL", "0"),
    ("l FLOAT", "1.5", "NULL", "-3.25e10"),
    ("m DOUBLE", "2.25", "NULL", "-1.7976931348623157e308"),
    ("n DATE", "'2024-02-29'", "NULL", "'0000-00-00'"),
    (
        "nn DATE NOT NULL",
        "'1000-01-01'",
        "'0000-00-00'",
        "'9999-12-31'",
    ),
    (
        "o DATETIME(6)",
        "'2024-06-04 10:15:00.123456'",
        "NULL",
        "'0000-00-00 00:00:00'",
    ),
    (
        "p TIMESTAMP NULL",
        "'2024-06-04 10:15:00'",
        "NULL",
        "'2000-01-01 00:00:00'",
    ),
    ("q TIME(3)", "'-12:34:56.789'", "NULL", "'838:59:59'"),
    ("r YEAR", "2024", "NULL", "1901"),
    ("s BIT(3)", "b'101'", "NULL", "b'000'"),
    ("s2 BIT(64)", "18446744073709551615", "NULL", "0"),
    ("t CHAR(4)", "'ab'", "NULL", "''"),
    ("u VARCHAR(9)", "'héllo'", "NULL", "''"),
    ("v TEXT", "'it''s \"q\" \\\\ x'", "NULL", "'🚗'"),
    ("v2 TINYTEXT", "'tiny'", "NULL", "''"),
    ("v3 MEDIUMTEXT", "'medium'", "NULL", "'ÜÑÎ'"),
    ("v4 LONGTEXT", "'long'", "NULL", "''"),
    ("w BLOB", "X'00FF10'", "NULL", "X''"),
    ("w2 TINYBLOB", "X'01'", "NULL", "X'FE'"),
    ("w3 MEDIUMBLOB", "X'0203'", "NULL", "'text in a blob'"),
    ("w4 LONGBLOB", "X'80'", "NULL", "X''"),
    ("x ENUM('x','y')", "'y'", "NULL", "'x'"),
    ("y SET('p','q')", "'p,q'", "NULL", "''"),
    ("z JSON", "'{\"k\": [1, 2]}'", "NULL", "'[]'"),
    ("aa BINARY(2)", "X'0102'", "NULL", "X'FF00'"),
    ("ab VARBINARY(5)", "X'00'", "NULL", "X''"),
    (
        "ac GEOMETRY",
        "ST_GeomFromText('POINT(1 2)')",
        "NULL",
        "ST_GeomFromText('LINESTRING(0 0,1 1)')",
    ),
    ("ad POINT", "ST_GeomFromText('POINT(3 4)')", "NULL", "NULL"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mysql_type_is_written_as_aws_documents_and_round_trips() {
    let db = mariadb();
    let name = format!("types_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let mut conn = db.conn().await;
    let defs: Vec<&str> = COLUMNS.iter().map(|c| c.0).collect();
    let row = |pick: fn(&Col) -> &'static str| {
        format!(
            "({})",
            COLUMNS.iter().map(pick).collect::<Vec<_>>().join(", ")
        )
    };
    // Zero dates need a permissive mode, as in the databases this project exports.
    conn.query_drop(format!(
        "SET SESSION sql_mode = '';
         CREATE DATABASE {name};
         CREATE TABLE {name}.t ({}) CHARACTER SET utf8mb4;
         INSERT INTO {name}.t VALUES {}, {}, {};",
        defs.join(", "),
        row(|c| c.1),
        row(|c| c.2),
        row(|c| c.3),
    ))
    .await
    .unwrap();

    let client = s3_client(&seaweed().endpoint);
    let bucket = unique_bucket("export-types");
    create_bucket(&client, &bucket).await;
    let e = engine(&seaweed().endpoint, EngineConfig::default());
    let loc = Location::parse(&format!("s3://{bucket}")).unwrap();
    let id = "sql-to-parquet-24-06-04-101500";
    let summary = export_database(
        db.opts(),
        &name,
        e.store(),
        &loc,
        id,
        &LocalExportConfig::default(),
    )
    .await
    .unwrap();
    let table = format!("{name}.t");
    assert_eq!(summary.tables[&table], 3);

    let columns = mariadb_columns(&mut conn, &name).await;
    assert_eq!(columns[&table].len(), COLUMNS.len());
    let mut got = BTreeMap::new();
    let mut files = 0;
    for (key, _) in list_all(&client, &bucket, "").await {
        if !key.ends_with(".parquet") {
            continue;
        }
        files += 1;
        assert!(
            key.starts_with(&format!("{id}/{name}/{table}/1/part-00000-")),
            "{key}"
        );
        let bytes = get_bytes(&client, &bucket, &key).await;
        let mismatches = schema_mismatches(&columns[&table], &bytes);
        assert!(mismatches.is_empty(), "{key}:\n{}", mismatches.join("\n"));
        add_parquet(&mut got, &table, bytes);
    }
    assert_eq!(files, 1);
    assert_eq!(
        got,
        mariadb_sums(&mut conn, &name).await,
        "every value round-trips"
    );

    // `schemaMetadata` names, per column, the type the checksum's table expects.
    let key = format!("{id}/export_tables_info_{id}_from_1_to_1.json");
    let body = get_bytes(&client, &bucket, &key).await;
    let info =
        ExportTables::from_files([(key.clone(), parse_tables_info(&key, &body).unwrap())]).unwrap();
    let entry = &info.tables[0];
    assert_eq!(entry.target, table);
    assert!(entry.is_complete(), "{entry:?}");
    let mappings = &entry
        .schema_metadata
        .as_ref()
        .unwrap()
        .original_type_mappings;
    for (column, mapping) in columns[&table].iter().zip(mappings) {
        assert_eq!(mapping.column_name.as_deref(), Some(column.name.as_str()));
        assert_eq!(
            mapping.original_type.as_deref(),
            Some(column.column_type.as_str())
        );
        assert_eq!(
            mapping.expected_exported_type,
            column.aws_type(),
            "{}",
            column.column_type
        );
    }
}
