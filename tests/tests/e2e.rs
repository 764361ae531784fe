//! End to end, on this machine: a dump dropped in S3 lands as Parquet in the landing zone.
//!
//! `parking/liberator_dump_YYMMDD.zip` in moto S3 → restore task (MariaDB + moto RDS
//! snapshot) → export-trigger on RDS-EVENT-0042 (moto StartExportTask) → the local Parquet
//! exporter standing in for RDS's export (moto writes no files) → export-copier on
//! RDS-EVENT-0161 → landing zone + one Glue workflow run on moto. Then both events again.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use export_copier::{Copier, Invocation};
use liberator_engine::export_local::{LocalExportConfig, export_database};
use liberator_engine::{CopyConfig, Location};
use liberator_restore::config::{MysqlConfig, Password};
use liberator_restore::task::{TaskConfig, run as restore};
use liberator_tests::checksum::{add_parquet, mariadb_sums};
use liberator_tests::mariadb::{MariaDb, mariadb};
use liberator_tests::{aws, create_bucket, engine, get_bytes, list_all, moto, s3_client, unique_bucket};
use serde_json::{Value, json};

fn shared(path: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared").join(path)
}

/// A shared sample event, re-pointed at `snapshot`.
fn event(file: &str, snapshot: &str, arn: &str) -> Value {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(shared(&format!("events/{file}"))).unwrap()).unwrap();
    v["id"] = json!(uuid::Uuid::new_v4().to_string());
    v["resources"] = json!([arn]);
    v["detail"]["SourceArn"] = json!(arn);
    v["detail"]["SourceIdentifier"] = json!(snapshot);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_dump_lands_as_parquet_and_starts_glue_exactly_once() {
    let endpoint = moto().endpoint.clone();
    let db: &MariaDb = mariadb();
    let s3 = s3_client(&endpoint);
    let rds = aws::rds_client(&endpoint);
    let glue = aws::glue_client(&endpoint);
    let (parking, exports, landing) = (unique_bucket("parking"), unique_bucket("exports"), unique_bucket("landing"));
    for b in [&parking, &exports, &landing] {
        create_bucket(&s3, b).await;
    }

    // 1. The dump is dropped.
    let today = chrono::Utc::now().date_naive();
    let dump_key = format!("parking/liberator_dump_{}.zip", today.format("%y%m%d"));
    let zip = std::fs::read(shared("data/sakila.zip")).unwrap();
    s3.put_object().bucket(&parking).key(&dump_key).body(zip.into()).send().await.unwrap();

    // 2. Restore: MariaDB load, moto RDS snapshot.
    let instance = aws::unique_instance("liberator");
    aws::create_instance(&rds, &instance).await;
    let cfg = TaskConfig {
        mysql: MysqlConfig {
            host: "127.0.0.1".into(),
            port: db.port,
            user: db.user.clone(),
            password: Password::new(MariaDb::PASSWORD),
            db_name: "liberator".into(),
            ..MysqlConfig::default()
        },
        bucket: parking.clone(),
        rds_instance_id: instance.clone(),
        ..TaskConfig::default()
    };
    let restored = restore(&cfg, &s3, &rds).await.expect("restore task");
    assert_eq!(restored.key, dump_key);
    let snapshot = restored.snapshot_id.clone();
    assert_eq!(&snapshot[..23], format!("sql-to-parquet-{}", today.format("%y-%m-%d")));
    let arn = format!("arn:aws:rds:us-east-1:123456789012:snapshot:{snapshot}");
    let databases: BTreeSet<String> = restored.report.rows.keys().map(|t| t.split('.').next().unwrap().to_string()).collect();
    assert_eq!(databases, BTreeSet::from(["sakila".to_string()]));

    // 3. RDS-EVENT-0042 → export-trigger → StartExportTask.
    let trigger = export_trigger::Trigger::new(
        rds.clone(),
        export_trigger::Config {
            bucket_name: exports.clone(),
            iam_role_arn: "arn:aws:iam::123456789012:role/rds-export".into(),
            kms_key_id: "arn:aws:kms:us-east-1:123456789012:key/e2e".into(),
            rds_instance_id: Some(instance.clone()),
            snapshot_prefix: "sql-to-parquet".into(),
            export_s3_prefix: None,
        },
    );
    let e0042 = event("rds-event-0042-snapshot-created.json", &snapshot, &arn);
    let started = trigger.handle(&e0042).await.expect("export-trigger");
    assert!(matches!(started, export_trigger::Outcome::Started { .. }), "{started:?}");

    // 4. The export's files, as RDS would write them.
    let store_engine = engine(&endpoint, CopyConfig::default());
    let export_loc = Location::parse(&format!("s3://{exports}")).unwrap();
    let mut exported = BTreeMap::new();
    for database in &databases {
        let summary = export_database(db.opts(), database, store_engine.store(), &export_loc, &snapshot, &LocalExportConfig::default())
            .await
            .expect("local export");
        exported.extend(summary.tables);
    }

    // 5. RDS-EVENT-0161 → export-copier → landing zone + Glue.
    let workflow = format!("liberator-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    aws::create_workflow(&glue, &workflow).await;
    aws::create_workflow(&glue, &format!("{workflow}-backdated")).await;
    let copier = Copier::new(
        aws::clients(&endpoint, &endpoint),
        export_copier::Config {
            source_bucket: exports.clone(),
            target_bucket: landing.clone(),
            target_prefix: "parking/liberator".into(),
            workflow_name: workflow.clone(),
            backdated_workflow_name: Some(format!("{workflow}-backdated")),
            ..export_copier::Config::default()
        },
    );
    let invocation = || Invocation::with_budget(Duration::from_secs(600), "arn:aws:lambda:us-east-1:123456789012:function:export-copier");
    let e0161 = event("rds-event-0161-export-completed.json", &snapshot, &arn);
    let out = copier.handle_export(&e0161, &invocation()).await.expect("export-copier");
    assert!(matches!(out, export_copier::Outcome::GlueStarted { .. }), "{out:?}");

    // The landing zone: exact partition layout, every row and value of every table.
    let landed = list_all(&s3, &landing, "").await;
    let date = today.format("import_year=%Y/import_month=%m/import_day=%d/import_date=%Y%m%d").to_string();
    let mut sums = BTreeMap::new();
    for (key, _) in &landed {
        if key.starts_with("_liberator/") {
            continue; // the exactly-once marker, outside the table folders
        }
        let parts: Vec<&str> = key.split('/').collect();
        assert_eq!(parts.len(), 9, "{key}");
        assert_eq!(&parts[..3], ["parking", "liberator", "sakila"], "{key}");
        assert!(parts[3].starts_with("sakila."), "{key}");
        assert_eq!(parts[4..8].join("/"), date, "{key}");
        assert!(parts[8].starts_with("part-") && parts[8].ends_with(".gz.parquet"), "{key}");
        add_parquet(&mut sums, parts[3], get_bytes(&s3, &landing, key).await);
    }
    let mut conn = db.conn().await;
    let want = mariadb_sums(&mut conn, "sakila").await;
    assert_eq!(want.len(), 16, "sakila has 16 tables");
    for (table, sum) in &want {
        assert_eq!(exported[table], sum.rows, "{table}: exported rows = COUNT(*)");
    }
    assert_eq!(sums, want, "rows and checksums of every table match MariaDB");
    assert_eq!(want["sakila.rental"].rows, 16044);
    assert_eq!(want["sakila.payment"].rows, 16049);
    assert_eq!(aws::workflow_runs(&glue, &workflow).await.len(), 1, "exactly one workflow run");

    // Both events again: nothing changes.
    let again = trigger.handle(&e0042).await.expect("re-delivered 0042");
    assert!(matches!(again, export_trigger::Outcome::AlreadyExported { .. }), "{again:?}");
    let again = copier.handle_export(&e0161, &invocation()).await.expect("re-delivered 0161");
    assert!(matches!(again, export_copier::Outcome::AlreadyStarted { .. }), "{again:?}");
    let tasks = rds.describe_export_tasks().export_task_identifier(&snapshot).send().await.unwrap();
    assert_eq!(tasks.export_tasks().len(), 1, "one export task");
    assert_eq!(aws::workflow_runs(&glue, &workflow).await.len(), 1, "still one workflow run");
    let relanded: Vec<(String, u64)> = list_all(&s3, &landing, "parking/").await;
    let before: Vec<(String, u64)> = landed.into_iter().filter(|(k, _)| k.starts_with("parking/")).collect();
    assert_eq!(relanded, before, "the landing zone is unchanged");
}
