//! export-trigger handler against moto's RDS.
//!
//! moto state is shared: each test has its own instance and snapshot ids. moto creates an
//! automated `rds:<id>-<date>` snapshot with every instance, which the manual path must
//! ignore. moto refuses an export identifier used before, as RDS does, but its export tasks
//! carry no `SnapshotTime` or `TaskStartTime`, so a snapshot deleted and taken again under
//! the same name looks like a re-delivery there: that case is checked on the wire against
//! RDS-shaped answers in `lambdas/export-trigger/src/export/tests.rs`.

use export_trigger::{Answer, Config, Error, Trigger};
use liberator_tests::aws;
use rand::Rng;
use serde_json::{Value, json};

fn event_0042(snapshot: &str, arn: &str) -> Value {
    let path = liberator_tests::manifest_dir()
        .join("../../shared/events/rds-event-0042-snapshot-created.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["resources"] = json!([arn]);
    v["detail"]["SourceArn"] = json!(arn);
    v["detail"]["SourceIdentifier"] = json!(snapshot);
    v
}

/// A snapshot id with the default prefix no other test uses.
fn unique_snapshot(prefix: &str) -> String {
    let n: u32 = rand::rng().random_range(0..1_000_000);
    format!(
        "{prefix}-{}-{n:06}",
        &uuid::Uuid::new_v4().simple().to_string()[..6]
    )
}

struct Fixture {
    rds: aws_sdk_rds::Client,
    instance: String,
    config: Config,
}

impl Fixture {
    async fn new() -> Self {
        let endpoint = liberator_tests::moto().endpoint.clone();
        let rds = aws::rds_client(&endpoint);
        let instance = aws::unique_instance("trigger");
        aws::create_instance(&rds, &instance).await;
        let config = Config {
            bucket_name: liberator_tests::unique_bucket("exports"),
            iam_role_arn: "arn:aws:iam::123456789012:role/rds-export".into(),
            kms_key_id: "arn:aws:kms:us-east-1:123456789012:key/export".into(),
            rds_instance_id: Some(instance.clone()),
            snapshot_prefix: "sql-to-parquet".into(),
            export_s3_prefix: None,
        };
        Fixture {
            rds,
            instance,
            config,
        }
    }

    fn trigger(&self) -> Trigger {
        Trigger::new(self.rds.clone(), self.config.clone())
    }

    async fn snapshot(&self, id: &str) -> String {
        aws::create_snapshot(&self.rds, &self.instance, id).await
    }

    /// The export task named `id`, if any.
    async fn export_task(&self, id: &str) -> Option<aws_sdk_rds::types::ExportTask> {
        match self
            .rds
            .describe_export_tasks()
            .export_task_identifier(id)
            .send()
            .await
        {
            Ok(out) => {
                let tasks = out.export_tasks();
                assert!(tasks.len() <= 1, "{tasks:?}");
                tasks.first().cloned()
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_export_task_not_found_fault()) =>
            {
                None
            }
            Err(e) => panic!(
                "DescribeExportTasks {id}: {}",
                aws_sdk_rds::error::DisplayErrorContext(e)
            ),
        }
    }
}

#[tokio::test]
async fn snapshot_event_starts_one_export_even_when_redelivered() {
    let f = Fixture::new().await;
    let id = unique_snapshot("sql-to-parquet");
    let arn = f.snapshot(&id).await;
    let event = event_0042(&id, &arn);
    let out = f.trigger().handle(&event).await.unwrap();
    assert!(
        matches!(&out, Answer::Started { snapshot, export_task, .. } if *snapshot == id && *export_task == id),
        "{out:?}"
    );
    let task = f.export_task(&id).await.expect("export task started");
    assert_eq!(task.source_arn(), Some(arn.as_str()));
    assert_eq!(task.s3_bucket(), Some(f.config.bucket_name.as_str()));
    assert_eq!(task.iam_role_arn(), Some(f.config.iam_role_arn.as_str()));
    assert_eq!(task.kms_key_id(), Some(f.config.kms_key_id.as_str()));

    let again = f.trigger().handle(&event).await.unwrap();
    assert_eq!(
        again,
        Answer::AlreadyExported {
            snapshot: id.clone(),
            export_task: id.clone()
        }
    );
    let all = f.rds.describe_export_tasks().send().await.unwrap();
    let named: Vec<_> = all
        .export_tasks()
        .iter()
        .filter(|t| t.export_task_identifier() == Some(id.as_str()))
        .collect();
    assert_eq!(named.len(), 1, "one export task for the snapshot");
}

/// A backdated snapshot id of a random date, so tests sharing moto do not meet.
fn unique_backdated() -> String {
    let days = rand::rng().random_range(0..2_900_000);
    let date = chrono::NaiveDate::from_ymd_opt(1000, 1, 1).unwrap() + chrono::Duration::days(days);
    liberator_engine::export_id::backdated_id(date)
}

/// The export tasks whose identifier starts with `id`.
async fn tasks_named_like(rds: &aws_sdk_rds::Client, id: &str) -> Vec<(String, String)> {
    let all = rds.describe_export_tasks().send().await.unwrap();
    let mut found: Vec<(String, String)> = all
        .export_tasks()
        .iter()
        .filter_map(|t| Some((t.export_task_identifier()?, t.source_arn()?)))
        .filter(|(name, _)| name.starts_with(id))
        .map(|(name, arn)| (name.to_string(), arn.to_string()))
        .collect();
    found.sort();
    found
}

#[tokio::test]
async fn an_identifier_taken_by_another_snapshots_export_moves_to_r2_once() {
    let f = Fixture::new().await;
    let id = unique_backdated();
    // Another snapshot's export already holds the identifier (RDS never frees one).
    let elsewhere = unique_snapshot("elsewhere");
    let elsewhere_arn = f.snapshot(&elsewhere).await;
    aws::start_export(&f.rds, &id, &elsewhere_arn, &f.config.bucket_name).await;
    // A name the restore task gives, with a date only this test uses.
    let arn = f.snapshot(&id).await;
    let event = event_0042(&id, &arn);
    let r2 = format!("{id}-r2");

    let out = f.trigger().handle(&event).await.unwrap();
    assert!(
        matches!(&out, Answer::Started { snapshot, export_task, .. } if *snapshot == id && *export_task == r2),
        "{out:?}"
    );
    let task = f.export_task(&r2).await.expect("export under -r2");
    assert_eq!(task.source_arn(), Some(arn.as_str()));
    assert_eq!(
        liberator_engine::export_id::ExportId::parse(&r2)
            .unwrap()
            .date(),
        liberator_engine::export_id::ExportId::parse(&id)
            .unwrap()
            .date(),
        "-r2 lands under the same import date"
    );

    // Delivered again: nothing new.
    let again = f.trigger().handle(&event).await.unwrap();
    assert_eq!(
        again,
        Answer::AlreadyExported {
            snapshot: id.clone(),
            export_task: r2.clone()
        }
    );
    assert_eq!(
        tasks_named_like(&f.rds, &id).await,
        vec![(id.clone(), elsewhere_arn), (r2, arn)],
        "one export of each snapshot"
    );
}

#[tokio::test]
async fn the_same_snapshot_delivered_again_starts_no_second_export() {
    let f = Fixture::new().await;
    let id = unique_backdated();
    let arn = f.snapshot(&id).await;
    let event = event_0042(&id, &arn);
    let first = f.trigger().handle(&event).await.unwrap();
    assert!(
        matches!(&first, Answer::Started { export_task, .. } if *export_task == id),
        "{first:?}"
    );
    for _ in 0..2 {
        let again = f.trigger().handle(&event).await.unwrap();
        assert_eq!(
            again,
            Answer::AlreadyExported {
                snapshot: id.clone(),
                export_task: id.clone()
            }
        );
    }
    assert_eq!(tasks_named_like(&f.rds, &id).await, vec![(id, arn)]);
}

#[tokio::test]
async fn export_prefix_is_passed_on() {
    let mut f = Fixture::new().await;
    f.config.export_s3_prefix = Some("rds-exports".into());
    let id = unique_snapshot("sql-to-parquet");
    let arn = f.snapshot(&id).await;
    f.trigger().handle(&event_0042(&id, &arn)).await.unwrap();
    assert_eq!(
        f.export_task(&id).await.unwrap().s3_prefix(),
        Some("rds-exports")
    );
}

#[tokio::test]
async fn other_snapshots_are_ignored() {
    let f = Fixture::new().await;
    let id = unique_snapshot("nightly");
    let arn = f.snapshot(&id).await;
    let out = f.trigger().handle(&event_0042(&id, &arn)).await.unwrap();
    assert!(
        matches!(&out, Answer::Ignored { snapshot, .. } if *snapshot == id),
        "{out:?}"
    );
    assert!(
        f.export_task(&id).await.is_none(),
        "no export for an unprefixed snapshot"
    );
}

#[tokio::test]
async fn a_manual_invocation_exports_the_latest_prefixed_snapshot() {
    let f = Fixture::new().await;
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let older = format!("sql-to-parquet-{tag}-a");
    let newest = format!("sql-to-parquet-{tag}-b");
    let other = format!("other-{tag}-c");
    f.snapshot(&older).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    f.snapshot(&newest).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    f.snapshot(&other).await;

    for payload in [
        json!({}),
        json!({"version": "0", "id": "s", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "1", "time": "2024-06-04T10:00:00Z", "region": "us-east-1", "resources": [], "detail": {}}),
    ] {
        let out = f.trigger().handle(&payload).await.unwrap();
        match out {
            Answer::Started { snapshot, .. } | Answer::AlreadyExported { snapshot, .. } => {
                assert_eq!(snapshot, newest)
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(f.export_task(&newest).await.is_some());
    assert!(f.export_task(&older).await.is_none());
    assert!(f.export_task(&other).await.is_none());
}

#[tokio::test]
async fn a_manual_invocation_without_snapshots_fails_naming_the_instance() {
    let f = Fixture::new().await;
    let err = f.trigger().handle(&json!({})).await.unwrap_err();
    assert!(matches!(err, Error::NoSnapshot { .. }), "{err}");
    assert!(err.to_string().contains(&f.instance), "{err}");
}

#[tokio::test]
async fn failures_fail_the_invocation_naming_the_snapshot() {
    let f = Fixture::new().await;
    let id = unique_snapshot("sql-to-parquet");
    // No such snapshot in moto: StartExportTask fails.
    let arn = format!("arn:aws:rds:us-east-1:123456789012:snapshot:{id}");
    let err = f
        .trigger()
        .handle(&event_0042(&id, &arn))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::StartExport { .. }), "{err}");
    assert!(err.to_string().contains(&id), "{err}");
}

#[tokio::test]
async fn malformed_events_get_clear_errors() {
    let f = Fixture::new().await;
    let id = unique_snapshot("sql-to-parquet");
    let arn = format!("arn:aws:rds:us-east-1:123456789012:snapshot:{id}");

    let mut no_detail = event_0042(&id, &arn);
    no_detail.as_object_mut().unwrap().remove("detail");
    let err = f.trigger().handle(&no_detail).await.unwrap_err();
    assert!(err.to_string().contains("no `detail`"), "{err}");

    let mut wrong = event_0042(&id, &arn);
    wrong["detail"]["EventID"] = json!("RDS-EVENT-0161");
    let err = f.trigger().handle(&wrong).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("RDS-EVENT-0161") && msg.contains("RDS-EVENT-0042") && msg.contains(&id),
        "{msg}"
    );

    let mut no_id = event_0042(&id, &arn);
    no_id["detail"]
        .as_object_mut()
        .unwrap()
        .remove("SourceIdentifier");
    let err = f.trigger().handle(&no_id).await.unwrap_err();
    assert!(err.to_string().contains("SourceIdentifier"), "{err}");
    assert!(f.export_task(&id).await.is_none());
}
