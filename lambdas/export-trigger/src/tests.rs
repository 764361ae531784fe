//! The handler with RDS mocked on the wire (aws-smithy-mocks); the re-export decisions are
//! in `export/tests.rs`, the handler against moto in `tests/tests/lambda_trigger.rs`.

use super::*;
use aws_sdk_rds::operation::describe_db_snapshots::DescribeDbSnapshotsOutput;
use aws_sdk_rds::operation::describe_export_tasks::DescribeExportTasksOutput;
use aws_sdk_rds::operation::start_export_task::{StartExportTaskError, StartExportTaskOutput};
use aws_sdk_rds::primitives::DateTime;
use aws_sdk_rds::types::error::{ExportTaskAlreadyExistsFault, InvalidExportSourceStateFault};
use aws_sdk_rds::types::{DbSnapshot, ExportTask};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use serde_json::json;

fn config() -> Config {
    Config {
        bucket_name: "exports".into(),
        iam_role_arn: "arn:aws:iam::1:role/r".into(),
        kms_key_id: "k".into(),
        snapshot_prefix: DEFAULT_SNAPSHOT_PREFIX.into(),
        ..Default::default()
    }
}

fn event(id: &str) -> Value {
    json!({
        "version": "0", "id": "e", "detail-type": "RDS DB Snapshot Event", "source": "aws.rds",
        "account": "1", "time": "2024-06-04T10:21:44Z", "region": "eu-west-2",
        "resources": [format!("arn:aws:rds:eu-west-2:1:snapshot:{id}")],
        "detail": {"EventID": "RDS-EVENT-0042", "SourceIdentifier": id,
                   "SourceArn": format!("arn:aws:rds:eu-west-2:1:snapshot:{id}")}
    })
}

#[test]
fn manual_payloads() {
    assert!(is_manual(&json!({})));
    assert!(is_manual(&Value::Null));
    assert!(is_manual(
        &json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}})
    ));
    assert!(!is_manual(&event("sql-to-parquet-24-06-04-101500")));
    assert!(!is_manual(&json!({"source": "aws.rds"})));
}

#[tokio::test]
async fn already_exists_is_success() {
    let id = "sql-to-parquet-24-06-04-101500";
    let arn = format!("arn:aws:rds:eu-west-2:1:snapshot:{id}");
    let taken = DateTime::from_secs(1_717_496_100);
    let start = mock!(aws_sdk_rds::Client::start_export_task).then_error(|| {
        StartExportTaskError::ExportTaskAlreadyExistsFault(
            ExportTaskAlreadyExistsFault::builder().build(),
        )
    });
    let (task_arn, describe_arn) = (arn.clone(), arn.clone());
    let describe = mock!(aws_sdk_rds::Client::describe_export_tasks)
        .match_requests(move |r| {
            r.export_task_identifier() == Some(id) && r.source_arn() == Some(describe_arn.as_str())
        })
        .then_output(move || {
            DescribeExportTasksOutput::builder()
                .export_tasks(
                    ExportTask::builder()
                        .export_task_identifier(id)
                        .source_arn(&task_arn)
                        .snapshot_time(taken)
                        .build(),
                )
                .build()
        });
    let snapshot = mock!(aws_sdk_rds::Client::describe_db_snapshots)
        .match_requests(move |r| r.db_snapshot_identifier() == Some(id))
        .then_output(move || {
            DescribeDbSnapshotsOutput::builder()
                .db_snapshots(
                    DbSnapshot::builder()
                        .db_snapshot_identifier(id)
                        .snapshot_create_time(taken)
                        .build(),
                )
                .build()
        });
    let rds = mock_client!(
        aws_sdk_rds,
        RuleMode::Sequential,
        &[&start, &describe, &snapshot]
    );
    let out = Trigger::new(rds, config())
        .handle(&event(id))
        .await
        .unwrap();
    assert_eq!(
        out,
        Answer::AlreadyExported {
            snapshot: "sql-to-parquet-24-06-04-101500".into(),
            export_task: "sql-to-parquet-24-06-04-101500".into(),
        }
    );
    assert_eq!(start.num_calls(), 1, "no second export");
}

#[tokio::test]
async fn other_failures_name_the_snapshot() {
    let rule = mock!(aws_sdk_rds::Client::start_export_task).then_error(|| {
        StartExportTaskError::InvalidExportSourceStateFault(
            InvalidExportSourceStateFault::builder()
                .message("creating")
                .build(),
        )
    });
    let rds = mock_client!(aws_sdk_rds, RuleMode::Sequential, &[&rule]);
    let err = Trigger::new(rds, config())
        .handle(&event("sql-to-parquet-24-06-04-101500"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::StartExport { .. }), "{err}");
    assert!(
        err.to_string().contains("sql-to-parquet-24-06-04-101500"),
        "{err}"
    );
}

#[tokio::test]
async fn other_prefixes_are_ignored_without_calls() {
    let rule = mock!(aws_sdk_rds::Client::start_export_task)
        .then_output(|| StartExportTaskOutput::builder().build());
    let rds = mock_client!(aws_sdk_rds, RuleMode::Sequential, &[&rule]);
    let out = Trigger::new(rds, config())
        .handle(&event("nightly-2024"))
        .await
        .unwrap();
    assert!(matches!(out, Answer::Ignored { .. }), "{out:?}");
    assert_eq!(rule.num_calls(), 0);
}

#[test]
fn the_error_type_names_the_kind() {
    let d = Diagnostic::from(Error::NoInstance);
    assert_eq!(d.error_type, "NoInstance");
    let d = Diagnostic::from(Error::NoFreeExportId {
        snapshot: "s".into(),
        arn: "a".into(),
        first: "s".into(),
        last: "s-r9".into(),
    });
    assert_eq!(d.error_type, "NoFreeExportId");
    let d = Diagnostic::from(Error::StartExport {
        snapshot: "s".into(),
        detail: "d".into(),
    });
    assert_eq!(d.error_type, "StartExport");
    assert!(d.error_message.contains("StartExportTask"), "{d:?}");
}

#[tokio::test]
async fn an_identifier_rds_would_refuse_fails_before_any_call() {
    let long = format!("sql-to-parquet-{}", "x".repeat(50));
    let rds = mock_client!(aws_sdk_rds, RuleMode::Sequential, &[]);
    let err = Trigger::new(rds, config())
        .handle(&event(&long))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ExportId { .. }), "{err}");
    assert!(
        err.to_string().contains(&long) && err.to_string().contains("1 to 60"),
        "{err}"
    );
}

#[tokio::test]
async fn manual_without_instance_fails() {
    let rds = mock_client!(aws_sdk_rds, RuleMode::Sequential, &[]);
    let err = Trigger::new(rds, config())
        .handle(&json!({}))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoInstance), "{err}");
}

/// The client `runtime::run` builds from `Config::aws_options`: every kind of timeout set
/// and within [`CALL_BUDGET`], far below the function's timeout (the SDK's defaults set no
/// read or operation timeout, so a client built without the options fails here).
#[test]
fn every_rds_call_is_bounded_by_the_call_budget() {
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let rds = liberator_aws::ClientFactory::from_sdk_config(sdk, Config::aws_options()).rds();
    let t = rds.config().timeout_config().cloned().expect("timeouts");
    for limit in [
        t.connect_timeout(),
        t.read_timeout(),
        t.operation_attempt_timeout(),
        t.operation_timeout(),
    ] {
        let limit = limit.expect("every kind of timeout is set");
        assert!(limit <= CALL_BUDGET, "{t:?}");
    }
}
