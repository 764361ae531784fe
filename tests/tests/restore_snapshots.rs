//! Finding the dump (event key, both date formats, clear miss) and snapshot housekeeping
//! (previous manual snapshots deleted, `awsbackup*` and automated kept, backdated ids, the
//! timestamp taken when the task starts).

use chrono::{NaiveDate, TimeZone};
use liberator_restore::config::{MysqlConfig, Password};
use liberator_restore::manifest::Manifest;
use liberator_restore::task::{self, Run, TaskConfig};
use liberator_restore::{RestoreError, dump, snapshot};
use liberator_tests::aws::{create_instance, rds_client};
use liberator_tests::mariadb::{MariaDb, mariadb, zip_bytes};
use liberator_tests::{create_bucket, get_bytes, moto, s3_client, unique_bucket};

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: Vec<u8>) {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(body.into())
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_date_formats_are_found_and_misses_name_the_keys() {
    let s3 = s3_client(&moto().endpoint);
    let bucket = unique_bucket("restore-dates");
    create_bucket(&s3, &bucket).await;
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
    put(
        &s3,
        &bucket,
        "parking/liberator_dump_240604.zip",
        b"x".to_vec(),
    )
    .await;
    put(
        &s3,
        &bucket,
        "parking/liberator_dump_20240605.zip",
        b"x".to_vec(),
    )
    .await;
    put(
        &s3,
        &bucket,
        "parking/liberator_dump_240606.zip",
        b"x".to_vec(),
    )
    .await;
    put(
        &s3,
        &bucket,
        "parking/liberator_dump_20240606.zip",
        b"x".to_vec(),
    )
    .await;

    assert_eq!(
        dump::locate(&s3, &bucket, None, d(2024, 6, 4))
            .await
            .unwrap(),
        "parking/liberator_dump_240604.zip"
    );
    assert_eq!(
        dump::locate(&s3, &bucket, None, d(2024, 6, 5))
            .await
            .unwrap(),
        "parking/liberator_dump_20240605.zip"
    );
    // Both present: the documented YYMMDD wins.
    assert_eq!(
        dump::locate(&s3, &bucket, None, d(2024, 6, 6))
            .await
            .unwrap(),
        "parking/liberator_dump_240606.zip"
    );
    // The event's key is used as is, whatever the date.
    assert_eq!(
        dump::locate(
            &s3,
            &bucket,
            Some("parking/liberator_dump_20240605.zip"),
            d(2030, 1, 1)
        )
        .await
        .unwrap(),
        "parking/liberator_dump_20240605.zip"
    );

    let err = dump::locate(&s3, &bucket, None, d(2024, 6, 7))
        .await
        .unwrap_err();
    match &err {
        RestoreError::DumpNotFound { tried, .. } => {
            assert_eq!(
                tried,
                &[
                    "parking/liberator_dump_240607.zip",
                    "parking/liberator_dump_20240607.zip"
                ]
            );
        }
        other => panic!("expected DumpNotFound, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("parking/liberator_dump_240607.zip")
            && msg.contains("parking/liberator_dump_20240607.zip"),
        "{msg}"
    );
    let err = dump::locate(&s3, &bucket, Some("parking/nope.zip"), d(2024, 6, 4))
        .await
        .unwrap_err();
    assert!(matches!(err, RestoreError::DumpNotFound { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_manual_snapshots_go_awsbackup_and_automated_stay() {
    let rds = rds_client(&moto().endpoint);
    let instance = format!("inst-{}", unique_bucket("snaps"));
    create_instance(&rds, &instance).await;
    for id in [
        "sql-to-parquet-24-06-03-101500",
        "sql-to-parquet-2024-02-29-backdated",
        "awsbackup-job-0001",
    ] {
        rds.create_db_snapshot()
            .db_instance_identifier(&instance)
            .db_snapshot_identifier(id)
            .send()
            .await
            .unwrap();
    }
    let mut deleted = snapshot::delete_old(&rds, &instance).await.unwrap();
    deleted.sort();
    assert_eq!(
        deleted,
        [
            "sql-to-parquet-2024-02-29-backdated",
            "sql-to-parquet-24-06-03-101500"
        ]
    );
    let all = rds
        .describe_db_snapshots()
        .db_instance_identifier(&instance)
        .send()
        .await
        .unwrap();
    let mut left: Vec<(String, String)> = all
        .db_snapshots()
        .iter()
        .map(|s| {
            (
                s.db_snapshot_identifier().unwrap().to_string(),
                s.snapshot_type().unwrap_or_default().to_string(),
            )
        })
        .collect();
    left.sort();
    assert!(
        left.contains(&("awsbackup-job-0001".into(), "manual".into())),
        "{left:?}"
    );
    assert!(
        left.iter().any(|(_, t)| t == "automated"),
        "moto's automated snapshot must be kept: {left:?}"
    );
    assert_eq!(left.len(), 2, "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn override_date_loads_that_dump_and_backdates_the_snapshot() {
    let s3 = s3_client(&moto().endpoint);
    let rds = rds_client(&moto().endpoint);
    let bucket = unique_bucket("restore-backdated");
    create_bucket(&s3, &bucket).await;
    let sql = b"CREATE TABLE t (id INT PRIMARY KEY);\nINSERT INTO t VALUES (1),(2),(3);\n";
    put(
        &s3,
        &bucket,
        "parking/liberator_dump_20240229.zip",
        zip_bytes(&[("d.sql", sql.as_slice())]),
    )
    .await;
    let instance = format!("inst-{bucket}");
    create_instance(&rds, &instance).await;
    rds.create_db_snapshot()
        .db_instance_identifier(&instance)
        .db_snapshot_identifier("sql-to-parquet-24-02-28-101500")
        .send()
        .await
        .unwrap();
    rds.create_db_snapshot()
        .db_instance_identifier(&instance)
        .db_snapshot_identifier("awsbackup-job-7")
        .send()
        .await
        .unwrap();
    let server = mariadb();
    let cfg = TaskConfig {
        mysql: MysqlConfig {
            port: server.port,
            user: server.user.clone(),
            password: Password::new(MariaDb::PASSWORD),
            db_name: "backdated_db".into(),
            ..Default::default()
        },
        bucket,
        rds_instance_id: instance.clone(),
        import_date_override: NaiveDate::from_ymd_opt(2024, 2, 29),
        wait_for_snapshot: Some(std::time::Duration::from_secs(60)),
        ..Default::default()
    };
    let outcome = task::run(&cfg, &s3, &rds).await.expect("restore");
    assert_eq!(outcome.key, "parking/liberator_dump_20240229.zip");
    assert_eq!(outcome.snapshot_id, "sql-to-parquet-2024-02-29-backdated");
    assert_eq!(
        outcome.deleted_snapshots,
        ["sql-to-parquet-24-02-28-101500"]
    );
    assert_eq!(outcome.report.rows["backdated_db.t"], 3);
    let manual = rds
        .describe_db_snapshots()
        .db_instance_identifier(&instance)
        .snapshot_type("manual")
        .send()
        .await
        .unwrap();
    let mut ids: Vec<&str> = manual
        .db_snapshots()
        .iter()
        .filter_map(|s| s.db_snapshot_identifier())
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        ["awsbackup-job-7", "sql-to-parquet-2024-02-29-backdated"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_time_is_the_task_start_not_the_end_of_the_load() {
    // A task that starts a second before midnight UTC: whenever its load ends (here: in
    // another year entirely), the dump is labelled with the day and time it started.
    let started = chrono::Utc
        .with_ymd_and_hms(2024, 6, 4, 23, 59, 59)
        .unwrap();
    let s3 = s3_client(&moto().endpoint);
    let rds = rds_client(&moto().endpoint);
    let bucket = unique_bucket("restore-midnight");
    create_bucket(&s3, &bucket).await;
    let sql = b"CREATE TABLE t (id INT PRIMARY KEY);\nINSERT INTO t VALUES (1),(2);\n";
    put(
        &s3,
        &bucket,
        "parking/liberator_dump_240604.zip",
        zip_bytes(&[("d.sql", sql.as_slice())]),
    )
    .await;
    let instance = format!("inst-{bucket}");
    create_instance(&rds, &instance).await;
    let server = mariadb();
    let cfg = TaskConfig {
        mysql: MysqlConfig {
            port: server.port,
            user: server.user.clone(),
            password: Password::new(MariaDb::PASSWORD),
            db_name: "midnight_db".into(),
            ..Default::default()
        },
        bucket: bucket.clone(),
        rds_instance_id: instance.clone(),
        ..Default::default()
    };
    let outcome = Run::new(&cfg)
        .started_at(started)
        .execute(&s3, &rds)
        .await
        .expect("restore");
    // The start's date found the dump, and the start's time named the snapshot.
    assert_eq!(outcome.key, "parking/liberator_dump_240604.zip");
    assert_eq!(outcome.snapshot_id, "sql-to-parquet-24-06-04-235959");
    let m: Manifest = serde_json::from_slice(
        &get_bytes(
            &s3,
            &bucket,
            "liberator-manifests/sql-to-parquet-24-06-04-235959.json",
        )
        .await,
    )
    .unwrap();
    assert_eq!(m.import_date, d(2024, 6, 4));
    assert_eq!(m.snapshot_id, outcome.snapshot_id);
    assert!(m.created_at > started, "{}", m.created_at);
    assert_eq!(m.rows("midnight_db", "t"), Some(2));
    let snaps = rds
        .describe_db_snapshots()
        .db_snapshot_identifier("sql-to-parquet-24-06-04-235959")
        .send()
        .await
        .unwrap();
    assert_eq!(snaps.db_snapshots().len(), 1);
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}
