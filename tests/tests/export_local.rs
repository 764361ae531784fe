//! The local RDS-export stand-in against a real MariaDB: layout, types, awkward values.

use std::collections::{BTreeMap, BTreeSet};

use liberator_engine::verify::verify_location;
use liberator_engine::{EngineConfig, Location};
use liberator_fixtures::export_local::{LocalExportConfig, export_database};
use liberator_tests::mariadb::mariadb;
use liberator_tests::{
    create_bucket, engine, get_bytes, list_all, s3_client, seaweed, unique_bucket,
};
use mysql_async::prelude::Queryable;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_tables_in_rds_layout_with_exact_values() {
    let db = mariadb();
    let name = format!("exp_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let mut conn = db.conn().await;
    conn.query_drop(format!(
        "CREATE DATABASE {name};
         CREATE TABLE {name}.pcn (
            id INT UNSIGNED NOT NULL PRIMARY KEY,
            vrm VARCHAR(16) NOT NULL,
            amount DECIMAL(8,2),
            issued DATETIME(3),
            due DATE,
            notes TEXT,
            photo BLOB,
            big BIGINT UNSIGNED,
            ratio DOUBLE
         ) CHARACTER SET utf8mb4;
         CREATE TABLE {name}.empty_table (id INT);
         INSERT INTO {name}.pcn VALUES
            (1, 'AB12 CDE', 65.00, '2024-06-04 10:15:00.123', '2024-07-04', 'it''s \"quoted\" \\\\ back', X'00FF10', 18446744073709551615, 0.5),
            (2, 'ÜÑÎ-ÇØDÉ', -0.01, NULL, NULL, NULL, NULL, NULL, NULL),
            (3, 'X', 999999.99, '1999-12-31 23:59:59.000', '1999-12-31', '🚗 parked', X'', 0, -1e10);"
    ))
    .await
    .unwrap();
    for i in 4..=2500 {
        if i % 500 == 0 {
            let values: Vec<String> = (i - 499..=i)
                .filter(|j| *j >= 4)
                .map(|j| format!("({j}, 'V{j}', {j}.25, NULL, NULL, NULL, NULL, {j}, NULL)"))
                .collect();
            conn.query_drop(format!(
                "INSERT INTO {name}.pcn VALUES {}",
                values.join(",")
            ))
            .await
            .unwrap();
        }
    }
    let rows: u64 = conn
        .query_first(format!("SELECT COUNT(*) FROM {name}.pcn"))
        .await
        .unwrap()
        .unwrap();

    let client = s3_client(&seaweed().endpoint);
    let bucket = unique_bucket("local-export");
    create_bucket(&client, &bucket).await;
    let e = engine(&seaweed().endpoint, EngineConfig::default());
    let loc = Location::parse(&format!("s3://{bucket}")).unwrap();
    let id = "sql-to-parquet-24-06-04-101500";
    let config = LocalExportConfig {
        rows_per_file: 1000,
        row_group_rows: 300,
        ..LocalExportConfig::default()
    };
    let summary = export_database(db.opts(), &name, e.store(), &loc, id, &config)
        .await
        .unwrap();
    assert_eq!(summary.tables[&format!("{name}.pcn")], rows);
    assert_eq!(summary.tables[&format!("{name}.empty_table")], 0);

    let keys: BTreeSet<String> = list_all(&client, &bucket, "")
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let parts: Vec<&String> = keys
        .iter()
        .filter(|k| k.starts_with(&format!("{id}/{name}/{name}.pcn/1/part-")))
        .collect();
    assert_eq!(parts.len(), 3, "2,500 rows at 1,000 per file: {keys:?}");
    assert!(parts.iter().all(|k| k.ends_with(".gz.parquet")));
    assert!(keys.contains(&format!("{id}/export_info_{id}.json")));
    assert!(keys.contains(&format!("{id}/export_tables_info_{id}_from_1_to_2.json")));
    assert!(keys.contains(&format!("{id}/_SUCCESS")));

    // Every file passes the engine's footer check.
    let v = verify_location(e.store(), &loc.join(id), 64 * 1024, 8)
        .await
        .unwrap();
    assert_eq!((v.files, v.ok, v.rows), (3, 3, rows), "{v:?}");

    // The awkward row reads back exactly.
    let mut found = 0;
    for key in parts {
        let bytes = get_bytes(&client, &bucket, key).await;
        let reader = SerializedFileReader::new(bytes).unwrap();
        for row in reader.get_row_iter(None).unwrap() {
            let row = row.unwrap();
            let cols: Vec<(&String, &Field)> = row.get_column_iter().collect();
            if cols[0].1 == &Field::UInt(1) || cols[0].1 == &Field::Long(1) {
                found += 1;
                assert_eq!(cols[1].1, &Field::Str("AB12 CDE".into()));
                assert_eq!(cols[5].1, &Field::Str("it's \"quoted\" \\ back".into()));
                assert_eq!(cols[6].1, &Field::Bytes(vec![0u8, 0xff, 0x10].into()));
                // BIGINT UNSIGNED as AWS writes it: FIXED_LEN_BYTE_ARRAY(9) DECIMAL(20,0)
                // holding 18446744073709551615 exactly.
                assert!(
                    matches!(cols[7].1, Field::Decimal(d)
                        if d.data() == [0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
                            && (d.precision(), d.scale()) == (20, 0)),
                    "{:?}",
                    cols[7].1
                );
                assert_eq!(cols[8].1, &Field::Double(0.5));
                assert!(
                    matches!(cols[3].1, Field::TimestampMicros(t) if *t == 1_717_496_100_123_000),
                    "{:?}",
                    cols[3].1
                );
                assert!(matches!(cols[2].1, Field::Decimal(_)), "{:?}", cols[2].1);
            }
            if cols[0].1 == &Field::Long(2) {
                assert_eq!(cols[1].1, &Field::Str("ÜÑÎ-ÇØDÉ".into()));
                assert_eq!(cols[3].1, &Field::Null);
            }
        }
    }
    assert_eq!(found, 1);

    // Every value, every row: the database and the export agree.
    let want = liberator_tests::checksum::mariadb_sums(&mut conn, &name).await;
    let mut got = BTreeMap::new();
    for key in keys.iter().filter(|k| k.ends_with(".parquet")) {
        let table = key.split('/').nth(2).unwrap();
        liberator_tests::checksum::add_parquet(
            &mut got,
            table,
            get_bytes(&client, &bucket, key).await,
        );
    }
    got.entry(format!("{name}.empty_table")).or_default();
    assert_eq!(got, want);
}
