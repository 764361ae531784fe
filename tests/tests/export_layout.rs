//! The local export stand-in's layout and metadata, on a real MariaDB, against AWS's pages:
//! batch folders and partition numbers with gaps, the older flat layout ("File naming
//! conventions", USER_ExportSnapshot.FileNames.html), `\`, backtick, `"` and space in names
//! written as `_`, tables RDS skips listed as not complete with no files (Limitations), and
//! metadata files that the engine's parser reads.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use liberator_engine::completeness::metadata::{
    ExportTables, ExportWarning, TableStatus, parse_export_info, parse_tables_info,
};
use liberator_engine::layout::{Layout as Landing, Mapped};
use liberator_engine::verify::verify_location;
use liberator_engine::{EngineConfig, Location};
use liberator_fixtures::export_local::{
    Layout, LocalExportConfig, LocalExportSummary, export_databases,
};
use liberator_tests::checksum::{add_parquet, mariadb_sums};
use liberator_tests::mariadb::mariadb;
use liberator_tests::{
    create_bucket, engine, get_bytes, list_all, s3_client, seaweed, unique_bucket,
};
use mysql_async::prelude::Queryable;

const ID: &str = "sql-to-parquet-24-06-04-101500";

/// An export written to a fresh bucket: its keys, and its metadata as the engine reads it.
struct Exported {
    summary: LocalExportSummary,
    bucket: String,
    keys: BTreeSet<String>,
    tables: BTreeMap<String, TableStatus>,
    tables_info_files: Vec<String>,
    warning: ExportWarning,
}

async fn export(databases: &[&str], config: &LocalExportConfig) -> Exported {
    let client = s3_client(&seaweed().endpoint);
    let bucket = unique_bucket("export-layout");
    create_bucket(&client, &bucket).await;
    let e = engine(&seaweed().endpoint, EngineConfig::default());
    let loc = Location::parse(&format!("s3://{bucket}")).unwrap();
    let summary = export_databases(mariadb().opts(), databases, e.store(), &loc, ID, config)
        .await
        .unwrap();
    let keys: BTreeSet<String> = list_all(&client, &bucket, "")
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let info_key = format!("{ID}/export_info_{ID}.json");
    let info = parse_export_info(&info_key, &get_bytes(&client, &bucket, &info_key).await).unwrap();
    assert_eq!(info.status.as_deref(), Some("COMPLETE"));
    assert_eq!(info.percent_progress, Some(100.0));
    assert!(info.total_exported_data_in_gb.is_some_and(|gb| gb > 0.0));
    assert!(keys.contains(&format!("{ID}/_SUCCESS")));
    let mut files = Vec::new();
    let mut parsed = Vec::new();
    for key in keys.iter().filter(|k| k.contains("/export_tables_info_")) {
        let body = get_bytes(&client, &bucket, key).await;
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            !text.contains("\"rows\""),
            "AWS writes no row counts: {text}"
        );
        parsed.push((key.clone(), parse_tables_info(key, &body).unwrap()));
        files.push(key.rsplit('/').next().unwrap().to_string());
    }
    let merged = ExportTables::from_files(parsed).unwrap();
    assert!(merged.gaps.is_empty(), "{:?}", merged.gaps);
    Exported {
        summary,
        bucket,
        keys,
        tables: merged
            .tables
            .into_iter()
            .map(|t| (t.target.clone(), t))
            .collect(),
        tables_info_files: files,
        warning: ExportWarning::parse(info.warning_message.as_deref().unwrap_or("")),
    }
}

/// `(batch, partition)` of a Parquet key under `folder`, checking the file name's shape:
/// `[<batch>/]part-<5 digits>-<uuid>-c000.gz.parquet`.
fn position(key: &str, folder: &str) -> (Option<u32>, u32) {
    let rel = key
        .strip_prefix(folder)
        .unwrap_or_else(|| panic!("{key} not in {folder}"));
    let (batch, file) = match rel.split_once('/') {
        Some((b, f)) => (Some(b.parse().unwrap()), f),
        None => (None, rel),
    };
    let rest = file.strip_prefix("part-").unwrap();
    let uuid = rest[6..].strip_suffix("-c000.gz.parquet").unwrap();
    uuid::Uuid::parse_str(uuid).unwrap_or_else(|e| panic!("{key}: {e}"));
    (batch, rest[..5].parse().unwrap())
}

fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_tables_span_gapped_batches_odd_names_are_substituted_and_skipped_tables_listed() {
    let name = format!("exp {}", unique_name("layout")); // a space: `exp_layout_…` in paths
    let path_db = name.replace(' ', "_");
    let odd = "sp ace\"q\\b`t"; // → sp_ace_q_b_t
    let mut conn = mariadb().conn().await;
    conn.query_drop(format!(
        "CREATE DATABASE `{name}`;
         CREATE TABLE `{name}`.big (id INT PRIMARY KEY, v VARCHAR(10));
         CREATE TABLE `{name}`.`{}` (id INT);
         INSERT INTO `{name}`.`{}` VALUES (7);
         CREATE TABLE `{name}`.`a/b` (id INT);
         INSERT INTO `{name}`.`a/b` VALUES (1);
         CREATE TABLE `{name}`.cols (id INT, `bad col` INT);
         INSERT INTO `{name}`.cols VALUES (1, 2);
         CREATE TABLE `{name}`.forced (id INT);
         INSERT INTO `{name}`.forced VALUES (1);
         CREATE TABLE `{name}`.empty (id INT);
         INSERT INTO `{name}`.big
           SELECT seq, CONCAT('v', seq) FROM `{name}`.seq_1_to_2500;",
        odd.replace('`', "``"),
        odd.replace('`', "``"),
    ))
    .await
    .unwrap();
    let config = LocalExportConfig {
        rows_per_file: 300,
        row_group_rows: 100,
        files_per_batch: 3,
        partition_step: 2,
        batch_step: 2,
        tables_per_info_file: 2,
        fail_tables: vec![format!("{name}.forced")],
        ..LocalExportConfig::default()
    };
    let x = export(&[&name], &config).await;

    // 2,500 rows at 300 a file: 9 files, three to a batch folder, batches 1, 3, 5, partitions
    // 00000, 00002, 00004 in each.
    let big = format!("{ID}/{path_db}/{path_db}.big/");
    let got: BTreeSet<(Option<u32>, u32)> = x
        .keys
        .iter()
        .filter(|k| k.starts_with(&big))
        .map(|k| position(k, &big))
        .collect();
    let want: BTreeSet<(Option<u32>, u32)> = [1, 3, 5]
        .into_iter()
        .flat_map(|b| [0, 2, 4].map(|p| (Some(b), p)))
        .collect();
    assert_eq!(got, want, "{:?}", x.keys);
    let odd_folder = format!("{ID}/{path_db}/{path_db}.sp_ace_q_b_t/");
    let odd_keys: Vec<&String> = x
        .keys
        .iter()
        .filter(|k| k.starts_with(&odd_folder))
        .collect();
    assert_eq!(odd_keys.len(), 1, "{:?}", x.keys);
    assert_eq!(position(odd_keys[0], &odd_folder), (Some(1), 0));
    for none in ["a", "cols", "forced", "empty"] {
        let folder = format!("{ID}/{path_db}/{path_db}.{none}");
        assert!(
            !x.keys.iter().any(|k| k.starts_with(&folder)),
            "{none}: {:?}",
            x.keys
        );
    }

    // The summary and the metadata: three tables complete, three listed FAILED.
    let t = |table: &str| format!("{name}.{table}");
    assert_eq!(
        x.summary.tables,
        BTreeMap::from([(t("big"), 2500), (t(odd), 1), (t("empty"), 0)])
    );
    let skipped: BTreeSet<&String> = x.summary.skipped.keys().collect();
    assert_eq!(
        skipped,
        BTreeSet::from([&t("a/b"), &t("cols"), &t("forced")])
    );
    assert_eq!(x.tables.len(), 6);
    for (table, complete) in [
        ("big", true),
        (odd, true),
        ("empty", true),
        ("a/b", false),
        ("cols", false),
        ("forced", false),
    ] {
        let entry = &x.tables[&t(table)];
        assert_eq!(entry.is_complete(), complete, "{entry:?}");
    }
    assert_eq!(x.tables[&t("big")].partitions(), Some((15, 15)));
    assert!(
        x.tables[&t("a/b")]
            .warning_message
            .as_ref()
            .unwrap()
            .contains("slash")
    );
    assert!(
        x.tables[&t("cols")]
            .warning_message
            .as_ref()
            .unwrap()
            .contains("bad col")
    );
    let warned: BTreeSet<&str> = x
        .warning
        .skipped_tables
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(warned, skipped.iter().map(|s| s.as_str()).collect());
    let ranges =
        ["1_to_2", "3_to_4", "5_to_6"].map(|r| format!("export_tables_info_{ID}_from_{r}.json"));
    assert_eq!(x.tables_info_files, ranges);

    // The engine reads the export: footers add up, and landing drops the batch folders
    // with every file name still distinct.
    let e = engine(&seaweed().endpoint, EngineConfig::default());
    let loc = Location::parse(&format!("s3://{}/{ID}", x.bucket)).unwrap();
    let v = verify_location(e.store(), &loc, 64 * 1024, 4)
        .await
        .unwrap();
    assert_eq!((v.files, v.ok, v.rows), (10, 10, 2501), "{v:?}");
    let landing = Landing::new(
        "",
        ID,
        "parking",
        NaiveDate::from_ymd_opt(2024, 6, 4).unwrap(),
    );
    let mut targets = BTreeSet::new();
    for key in x.keys.iter().filter(|k| k.ends_with(".parquet")) {
        let Mapped::Parquet(p) = landing.map(key).unwrap() else {
            panic!("{key} is Parquet")
        };
        assert!(
            !p.target_key.contains("/1/") && !p.target_key.contains("/3/"),
            "{p:?}"
        );
        assert!(targets.insert(p.target_key));
    }

    // Every value of the big table arrives.
    let client = s3_client(&seaweed().endpoint);
    let mut got = BTreeMap::new();
    for key in x.keys.iter().filter(|k| k.starts_with(&big)) {
        add_parquet(&mut got, "big", get_bytes(&client, &x.bucket, key).await);
    }
    assert_eq!(got["big"], mariadb_sums(&mut conn, &name).await[&t("big")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flat_layout_and_several_databases_in_one_export() {
    let (one, two) = (unique_name("flat"), unique_name("flat"));
    let mut conn = mariadb().conn().await;
    conn.query_drop(format!(
        "CREATE DATABASE {one}; CREATE DATABASE {two};
         CREATE TABLE {one}.pcn (id INT NOT NULL);
         INSERT INTO {one}.pcn SELECT seq FROM {one}.seq_1_to_700;
         CREATE TABLE {two}.vrm (id BIGINT UNSIGNED, d DATE);
         INSERT INTO {two}.vrm VALUES (1, '2024-06-04');"
    ))
    .await
    .unwrap();
    let config = LocalExportConfig {
        rows_per_file: 200,
        layout: Layout::Flat,
        partition_step: 3,
        ..LocalExportConfig::default()
    };
    let x = export(&[&one, &two], &config).await;
    let folder = format!("{ID}/{one}/{one}.pcn/");
    let got: Vec<(Option<u32>, u32)> = x
        .keys
        .iter()
        .filter(|k| k.starts_with(&folder))
        .map(|k| position(k, &folder))
        .collect();
    let mut got = got;
    got.sort();
    assert_eq!(got, [(None, 0), (None, 3), (None, 6), (None, 9)]);
    let vrm = format!("{ID}/{two}/{two}.vrm/");
    assert_eq!(x.keys.iter().filter(|k| k.starts_with(&vrm)).count(), 1);
    assert_eq!(x.tables.len(), 2, "one metadata set for both databases");
    assert_eq!(x.tables[&format!("{one}.pcn")].partitions(), Some((10, 10)));
    assert!(x.tables[&format!("{two}.vrm")].is_complete());
    assert_eq!(x.summary.tables.values().sum::<u64>(), 701);
    assert!(x.warning.skipped_tables.is_empty());
    assert_eq!(x.summary.metadata_keys.len(), 3);

    let e = engine(&seaweed().endpoint, EngineConfig::default());
    let loc = Location::parse(&format!("s3://{}/{ID}", x.bucket)).unwrap();
    let v = verify_location(e.store(), &loc, 64 * 1024, 4)
        .await
        .unwrap();
    assert_eq!((v.files, v.ok, v.rows), (5, 5, 701), "{v:?}");
}
