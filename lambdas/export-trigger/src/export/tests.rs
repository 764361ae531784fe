//! Re-exports of a snapshot taken again under a name already exported.
//!
//! moto's export tasks carry no `SnapshotTime` or `TaskStartTime` (moto 5.2.5 models
//! neither), so a snapshot deleted and taken again under the same name cannot be told from
//! a re-delivered event there: these tests check the requests on the wire against
//! RDS-shaped answers (aws-smithy-mocks), and say so in their names. The moto tests in
//! `tests/tests/lambda_trigger.rs` cover the identifier taken by another snapshot's export
//! and re-deliveries.

use aws_sdk_rds::Client;
use aws_sdk_rds::operation::describe_db_snapshots::DescribeDbSnapshotsOutput;
use aws_sdk_rds::operation::describe_export_tasks::{
    DescribeExportTasksError, DescribeExportTasksOutput,
};
use aws_sdk_rds::operation::start_export_task::{StartExportTaskError, StartExportTaskOutput};
use aws_sdk_rds::primitives::DateTime;
use aws_sdk_rds::types::error::{ExportTaskAlreadyExistsFault, ExportTaskNotFoundFault};
use aws_sdk_rds::types::{DbSnapshot, ExportTask};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use serde_json::{Value, json};

use super::*;
use crate::{Config, Error};

const ID: &str = "sql-to-parquet-2024-02-29-backdated";
/// When the first snapshot of the name was taken, and when it was taken again.
const FIRST: i64 = 1_709_200_000;
const AGAIN: i64 = FIRST + 3 * 3600;

fn arn(id: &str) -> String {
    format!("arn:aws:rds:eu-west-2:123456789012:snapshot:{id}")
}

fn trigger(rules: &[&Rule]) -> Trigger {
    let rds = mock_client!(aws_sdk_rds, RuleMode::Sequential, rules);
    Trigger::new(
        rds,
        Config {
            bucket_name: "exports".into(),
            iam_role_arn: "arn:aws:iam::123456789012:role/export".into(),
            kms_key_id: "k".into(),
            snapshot_prefix: "sql-to-parquet".into(),
            ..Default::default()
        },
    )
}

fn event(id: &str) -> Value {
    json!({"version": "0", "id": "e", "detail-type": "RDS DB Snapshot Event", "source": "aws.rds",
        "account": "123456789012", "time": "2024-02-29T10:21:44Z", "region": "eu-west-2",
        "resources": [arn(id)],
        "detail": {"EventID": "RDS-EVENT-0042", "SourceIdentifier": id, "SourceArn": arn(id)}})
}

/// StartExportTask named `task` of snapshot `ID`, refused: the identifier is taken.
fn taken(task: &str) -> Rule {
    let task = task.to_string();
    mock!(Client::start_export_task)
        .match_requests(move |r| {
            r.export_task_identifier() == Some(task.as_str())
                && r.source_arn() == Some(arn(ID).as_str())
        })
        .then_error(|| {
            StartExportTaskError::ExportTaskAlreadyExistsFault(
                ExportTaskAlreadyExistsFault::builder().build(),
            )
        })
}

/// StartExportTask named `task` of snapshot `ID` into the configured bucket, started.
fn started(task: &str) -> Rule {
    let task = task.to_string();
    mock!(Client::start_export_task)
        .match_requests(move |r| {
            r.export_task_identifier() == Some(task.as_str())
                && r.source_arn() == Some(arn(ID).as_str())
                && r.s3_bucket_name() == Some("exports")
        })
        .then_output(|| StartExportTaskOutput::builder().status("STARTING").build())
}

/// DescribeExportTasks of `task` (asked with snapshot `ID`'s ARN): an export of `source`
/// whose snapshot was taken at `snapshot_time`.
fn existing(task: &str, source: &str, snapshot_time: i64) -> Rule {
    let (task, source) = (task.to_string(), source.to_string());
    let asked = task.clone();
    mock!(Client::describe_export_tasks)
        .match_requests(move |r| {
            r.export_task_identifier() == Some(asked.as_str())
                && r.source_arn() == Some(arn(ID).as_str())
        })
        .then_output(move || {
            DescribeExportTasksOutput::builder()
                .export_tasks(
                    ExportTask::builder()
                        .export_task_identifier(&task)
                        .source_arn(&source)
                        .snapshot_time(DateTime::from_secs(snapshot_time))
                        .task_start_time(DateTime::from_secs(snapshot_time + 60))
                        .status("COMPLETE")
                        .build(),
                )
                .build()
        })
}

/// DescribeDBSnapshots of `ID`: taken at `at`.
fn snapshot_taken_at(at: i64) -> Rule {
    mock!(Client::describe_db_snapshots)
        .match_requests(|r| r.db_snapshot_identifier() == Some(ID))
        .then_output(move || {
            DescribeDbSnapshotsOutput::builder()
                .db_snapshots(
                    DbSnapshot::builder()
                        .db_snapshot_identifier(ID)
                        .db_snapshot_arn(arn(ID))
                        .snapshot_create_time(DateTime::from_secs(at))
                        .build(),
                )
                .build()
        })
}

#[tokio::test]
async fn a_snapshot_taken_again_is_exported_as_r2_on_the_wire_moto_has_no_snapshot_time() {
    let r2 = format!("{ID}-r2");
    let rules = [
        taken(ID),
        existing(ID, &arn(ID), FIRST),
        snapshot_taken_at(AGAIN),
        started(&r2),
    ];
    let out = trigger(&rules.iter().collect::<Vec<_>>())
        .handle(&event(ID))
        .await
        .unwrap();
    assert_eq!(
        out,
        Answer::Started {
            snapshot: ID.into(),
            export_task: r2.clone(),
            status: Some("STARTING".into()),
        }
    );
    assert!(rules.iter().all(|r| r.num_calls() == 1));
    let parsed = liberator_export_id::ExportId::parse(&r2).unwrap();
    assert_eq!(parsed.date().to_string(), "2024-02-29");
}

#[tokio::test]
async fn its_event_delivered_again_starts_nothing_on_the_wire_moto_has_no_snapshot_time() {
    let r2 = format!("{ID}-r2");
    let rules = [
        taken(ID),
        existing(ID, &arn(ID), FIRST),
        snapshot_taken_at(AGAIN),
        taken(&r2),
        existing(&r2, &arn(ID), AGAIN),
    ];
    let out = trigger(&rules.iter().collect::<Vec<_>>())
        .handle(&event(ID))
        .await
        .unwrap();
    assert_eq!(
        out,
        Answer::AlreadyExported {
            snapshot: ID.into(),
            export_task: r2
        }
    );
    // The snapshot's time is read once, for both identifiers.
    assert!(rules.iter().all(|r| r.num_calls() == 1));
}

#[tokio::test]
async fn with_every_identifier_taken_it_fails_saying_what_to_do_on_the_wire() {
    let other = arn("sql-to-parquet-elsewhere");
    let mut rules = Vec::new();
    for n in 1..=liberator_export_id::MAX_EXPORT_NUMBER {
        let task = liberator_export_id::nth_export_id(ID, n);
        rules.push(taken(&task));
        rules.push(existing(&task, &other, FIRST));
    }
    let err = trigger(&rules.iter().collect::<Vec<_>>())
        .handle(&event(ID))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoFreeExportId { .. }), "{err}");
    let msg = err.to_string();
    for needle in [ID, &format!("{ID}-r9"), &arn(ID), "by hand", "not exported"] {
        assert!(msg.contains(needle), "{msg} lacks {needle}");
    }
}

#[tokio::test]
async fn a_task_not_listed_yet_is_looked_for_again_on_the_wire() {
    let not_yet = mock!(Client::describe_export_tasks).then_error(|| {
        DescribeExportTasksError::ExportTaskNotFoundFault(
            ExportTaskNotFoundFault::builder().build(),
        )
    });
    let rules = [
        taken(ID),
        not_yet,
        existing(ID, &arn(ID), AGAIN),
        snapshot_taken_at(AGAIN),
    ];
    let out = trigger(&rules.iter().collect::<Vec<_>>())
        .handle(&event(ID))
        .await
        .unwrap();
    assert_eq!(
        out,
        Answer::AlreadyExported {
            snapshot: ID.into(),
            export_task: ID.into()
        }
    );
}

fn task(source: &str, snapshot_time: Option<i64>, started: Option<i64>) -> ExportTask {
    ExportTask::builder()
        .export_task_identifier(ID)
        .source_arn(source)
        .set_snapshot_time(snapshot_time.map(DateTime::from_secs))
        .set_task_start_time(started.map(DateTime::from_secs))
        .build()
}

#[test]
fn provenance_reads_the_arn_then_the_snapshot_time_then_the_start_time() {
    let at = |s: i64| Some(DateTime::from_secs(s));
    let this = arn(ID);
    let other = |p: Provenance| matches!(p, Provenance::Other(_));
    // Another ARN: another snapshot, whatever the times.
    let p = provenance(
        &task(&arn("x"), Some(AGAIN), None),
        &this,
        at(AGAIN).as_ref(),
    );
    assert!(
        matches!(&p, Provenance::Other(why) if why.contains(&arn("x"))),
        "{p:?}"
    );
    // SnapshotTime within the tolerance: this snapshot; beyond it: another.
    let near = DateTime::from_fractional_secs(AGAIN, 0.4);
    let p = provenance(&task(&this, Some(AGAIN), None), &this, Some(&near));
    assert_eq!(p, Provenance::This);
    assert!(other(provenance(
        &task(&this, Some(FIRST), Some(AGAIN + 10)),
        &this,
        at(AGAIN).as_ref()
    )));
    // No SnapshotTime: a task started before the snapshot was taken exported another.
    assert!(other(provenance(
        &task(&this, None, Some(FIRST)),
        &this,
        at(AGAIN).as_ref()
    )));
    assert_eq!(
        provenance(
            &task(&this, None, Some(AGAIN + 60)),
            &this,
            at(AGAIN).as_ref()
        ),
        Provenance::This
    );
    // Neither time (moto), or the snapshot's own time unknown: unknown.
    assert_eq!(
        provenance(&task(&this, None, None), &this, at(AGAIN).as_ref()),
        Provenance::Unknown
    );
    assert_eq!(
        provenance(&task(&this, Some(AGAIN), None), &this, None),
        Provenance::Unknown
    );
}
