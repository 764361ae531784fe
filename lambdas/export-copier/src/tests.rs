//! The handler with mocked RDS answers: what happens before any S3 call.

use std::time::Duration;

use aws_sdk_rds::operation::describe_export_tasks::DescribeExportTasksOutput;
use aws_sdk_rds::types::ExportTask;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use liberator_lambda_common::{AwsOptions, ClientFactory, Clients};
use serde_json::{Value, json};

use crate::events::Payload;
use crate::*;

fn copier(rds: aws_sdk_rds::Client) -> Copier {
    // Every other client points at a closed port: any S3, Glue or Lambda call fails.
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let factory = ClientFactory::from_sdk_config(
        sdk,
        AwsOptions::default().with_endpoint("http://127.0.0.1:9"),
    );
    let clients = Clients {
        rds,
        ..Clients::new(&factory)
    };
    let config = Config {
        source_bucket: "exports".into(),
        target_bucket: "landing".into(),
        workflow_name: "wf".into(),
        ..Config::default()
    };
    Copier::new(clients, config)
}

fn event(id: &str) -> Value {
    json!({
        "version": "0", "id": "e", "detail-type": "RDS DB Snapshot Event", "source": "aws.rds",
        "account": "1", "time": "2024-06-04T11:02:10Z", "region": "eu-west-2",
        "resources": [format!("arn:aws:rds:eu-west-2:1:snapshot:{id}")],
        "detail": {"EventID": "RDS-EVENT-0161", "SourceIdentifier": id,
                   "SourceArn": format!("arn:aws:rds:eu-west-2:1:snapshot:{id}")}
    })
}

fn status_rule(id: &'static str, status: &'static str) -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_rds::Client::describe_export_tasks).then_output(move || {
        DescribeExportTasksOutput::builder()
            .export_tasks(
                ExportTask::builder()
                    .export_task_identifier(id)
                    .status(status)
                    .failure_cause("role cannot write")
                    .build(),
            )
            .build()
    })
}

const ID: &str = "sql-to-parquet-24-06-04-101500";

#[tokio::test]
async fn failed_export_copies_nothing_and_succeeds() {
    let rule = status_rule(ID, "FAILED");
    let rds = mock_client!(aws_sdk_rds, RuleMode::Sequential, &[&rule]);
    let inv = Invocation::with_budget(Duration::from_secs(60), "f");
    // Any S3 call would fail to connect: the outcome proves none was made.
    let out = copier(rds).handle_export(&event(ID), &inv).await.unwrap();
    assert_eq!(
        out,
        Answer::ExportNotCompleted {
            export_id: ID.into(),
            status: "FAILED".into()
        }
    );
}

#[tokio::test]
async fn an_export_still_running_fails_to_be_retried() {
    let rule = status_rule(ID, "IN_PROGRESS");
    let rds = mock_client!(aws_sdk_rds, RuleMode::Sequential, &[&rule]);
    let inv = Invocation::with_budget(Duration::from_secs(60), "f");
    let err = copier(rds)
        .handle_export(&event(ID), &inv)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ExportNotComplete { .. }), "{err}");
    assert!(
        err.to_string().contains(ID) && err.to_string().contains("IN_PROGRESS"),
        "{err}"
    );
}

#[tokio::test]
async fn an_answer_without_the_task_is_not_found() {
    let rule = status_rule("some-other-export", "COMPLETE");
    let rds = mock_client!(aws_sdk_rds, RuleMode::Sequential, &[&rule]);
    let inv = Invocation::with_budget(Duration::from_secs(60), "f");
    let err = copier(rds)
        .handle_export(&event(ID), &inv)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ExportNotFound { .. }), "{err}");
}

#[test]
fn payload_kinds() {
    assert!(matches!(Payload::of(&json!({"Records": []})), Payload::Sqs));
    assert!(matches!(
        Payload::of(&json!({"job": {}, "tasks": []})),
        Payload::Batch
    ));
    assert!(matches!(Payload::of(&event(ID)), Payload::EventBridge));
}

#[test]
fn every_client_is_bounded_by_the_deadline_margin() {
    let config = Config {
        deadline_margin: Duration::from_secs(40),
        ..Config::default()
    };
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    let clients = Clients::new(&ClientFactory::from_sdk_config(sdk, config.aws_options()));
    let timeouts = [
        clients.s3.config().timeout_config().cloned(),
        clients.rds.config().timeout_config().cloned(),
        clients.glue.config().timeout_config().cloned(),
        clients.lambda.config().timeout_config().cloned(),
    ];
    for t in timeouts {
        let t = t.expect("a timeout configuration");
        for limit in [
            t.connect_timeout(),
            t.read_timeout(),
            t.operation_attempt_timeout(),
            t.operation_timeout(),
        ] {
            let limit = limit.expect("every kind of timeout is set");
            assert!(limit < config.deadline_margin, "{t:?}");
        }
    }
}
