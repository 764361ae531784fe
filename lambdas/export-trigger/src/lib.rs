//! export-trigger: starts the RDS snapshot export to S3 (Parquet) for a new
//! `sql-to-parquet*` manual snapshot.
//!
//! Triggered by EventBridge on RDS-EVENT-0042 (manual snapshot created). Invoked with no
//! snapshot in the event (by hand or on a schedule), it exports the latest available
//! manual snapshot of `RDS_INSTANCE_ID` instead, so a missed event can be made good.
//!
//! The export task is named after the snapshot, so a re-delivered event (EventBridge and
//! Lambda both deliver at least once) meets `ExportTaskAlreadyExists` and succeeds without
//! starting a second export.
//!
//! ```no_run
//! # async fn example() -> Result<(), export_trigger::Error> {
//! use export_trigger::{Config, Trigger};
//! use liberator_aws::ClientFactory;
//!
//! let config = Config::from_env()?; // before any AWS call: names a missing variable
//! let rds = ClientFactory::load(Config::aws_options()).await.rds();
//! let answer = Trigger::new(rds, config).handle(&serde_json::json!({})).await?;
//! # let _ = answer; Ok(()) }
//! ```

pub mod runtime;

use std::time::Duration;

use aws_sdk_rds::error::DisplayErrorContext;
use lambda_runtime::Diagnostic;
use liberator_aws::AwsOptions;
use liberator_lambda_common::env;
use liberator_lambda_common::rds_event::{self, RdsEvent};
use serde::Serialize;
use serde_json::Value;

/// Default snapshot identifier prefix: the restore task names its snapshots so.
pub const DEFAULT_SNAPSHOT_PREFIX: &str = liberator_export_id::PREFIX;

/// Export tasks started (counter, dimension `Function`), recorded through the `metrics`
/// facade like the engine's metrics (`liberator_engine::metrics`).
pub const EXPORT_TASKS_STARTED: &str = "liberator_export_tasks_started_total";

/// Longest any one AWS call of the trigger may take, its retries included: far below the
/// function's timeout (120 s by default in `deploy/`), so a hung call fails the invocation
/// with its own error (and Lambda retries) instead of a bare timeout.
pub const CALL_BUDGET: Duration = Duration::from_secs(20);

/// Configuration, from the environment in production.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// `BUCKET_NAME`: the export bucket. Required.
    pub bucket_name: String,
    /// `IAM_ROLE_ARN`: the role RDS assumes to write the export. Required.
    pub iam_role_arn: String,
    /// `KMS_KEY_ID`: the key RDS encrypts the export with. Required.
    pub kms_key_id: String,
    /// `RDS_INSTANCE_ID`: whose snapshots a manual invocation looks for. Default: none
    /// (then a manual invocation fails, saying so).
    pub rds_instance_id: Option<String>,
    /// `SNAPSHOT_PREFIX`: only snapshots whose identifier starts with this are exported.
    /// Default `sql-to-parquet` (applied by [`Config::from_env`]; an empty prefix here
    /// would match every snapshot).
    pub snapshot_prefix: String,
    /// `EXPORT_S3_PREFIX`: key prefix of the export in the bucket. Default: none (the
    /// export folder sits at the bucket root, where the copier expects it).
    pub export_s3_prefix: Option<String>,
}

impl Config {
    /// Reads the variables named on each field.
    pub fn from_env() -> Result<Self, Error> {
        Ok(Config {
            bucket_name: env::required("BUCKET_NAME")?,
            iam_role_arn: env::required("IAM_ROLE_ARN")?,
            kms_key_id: env::required("KMS_KEY_ID")?,
            rds_instance_id: env::optional("RDS_INSTANCE_ID"),
            snapshot_prefix: env::optional("SNAPSHOT_PREFIX")
                .unwrap_or_else(|| DEFAULT_SNAPSHOT_PREFIX.into()),
            export_s3_prefix: env::optional("EXPORT_S3_PREFIX"),
        })
    }

    /// How the trigger's RDS client reaches AWS: the standard chain, every timeout within
    /// [`CALL_BUDGET`].
    pub fn aws_options() -> AwsOptions {
        AwsOptions::bounded_by(CALL_BUDGET)
    }
}

/// Everything that fails an invocation; each variant names the snapshot or event.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The event is malformed or not RDS-EVENT-0042.
    #[error(transparent)]
    Event(#[from] liberator_lambda_common::Error),

    /// A manual invocation, but `RDS_INSTANCE_ID` is not set.
    #[error(
        "invoked without a snapshot in the event and RDS_INSTANCE_ID is not set: nothing to look for"
    )]
    NoInstance,

    /// A manual invocation found no snapshot to export.
    #[error("no available manual snapshot of instance {instance:?} starts with {prefix:?}")]
    NoSnapshot { instance: String, prefix: String },

    /// DescribeDBSnapshots failed.
    #[error("DescribeDBSnapshots for instance {instance:?} failed: {detail}")]
    DescribeSnapshots { instance: String, detail: String },

    /// StartExportTask failed (other than the task already existing).
    #[error("StartExportTask for snapshot {snapshot:?} failed: {detail}")]
    StartExport { snapshot: String, detail: String },
}

impl Error {
    /// The kind of failure: the variant's name (for an event or configuration error, the
    /// shared crate's variant). Lambda reports it as the invocation's `errorType`.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Event(e) => e.kind(),
            Error::NoInstance => "NoInstance",
            Error::NoSnapshot { .. } => "NoSnapshot",
            Error::DescribeSnapshots { .. } => "DescribeSnapshots",
            Error::StartExport { .. } => "StartExport",
        }
    }
}

/// The runtime's error answer: `errorType` is [`Error::kind`], `errorMessage` the message.
impl From<Error> for Diagnostic {
    fn from(e: Error) -> Self {
        Diagnostic {
            error_type: e.kind().to_string(),
            error_message: e.to_string(),
        }
    }
}

/// What an invocation did: its answer (JSON, `outcome` tagged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Answer {
    /// An export task was started.
    Started {
        snapshot: String,
        export_task: String,
        status: Option<String>,
    },
    /// The export task already existed (re-delivered event): nothing done.
    AlreadyExported { snapshot: String },
    /// The snapshot does not carry the prefix: logged and ignored.
    Ignored { snapshot: String, reason: String },
}

/// The handler: a configured RDS client.
#[derive(Debug, Clone)]
pub struct Trigger {
    rds: aws_sdk_rds::Client,
    config: Config,
}

/// Whether the payload carries no snapshot: `{}`, `null`, or an EventBridge schedule
/// (`detail-type: Scheduled Event`).
pub fn is_manual(event: &Value) -> bool {
    match event {
        Value::Null => true,
        Value::Object(map) => {
            map.is_empty()
                || map.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event")
                || (map.get("source").and_then(Value::as_str) == Some("aws.events")
                    && !map.contains_key("detail"))
        }
        _ => false,
    }
}

impl Trigger {
    pub fn new(rds: aws_sdk_rds::Client, config: Config) -> Self {
        Trigger { rds, config }
    }

    /// Handles one invocation.
    #[tracing::instrument(skip_all, fields(export_id))]
    pub async fn handle(&self, event: &Value) -> Result<Answer, Error> {
        let (snapshot, arn) = if is_manual(event) {
            tracing::info!("invoked without a snapshot: looking for the latest one");
            self.latest_snapshot().await?
        } else {
            let e = RdsEvent::parse(event)?.expect(rds_event::SNAPSHOT_CREATED)?;
            (e.source_identifier, e.source_arn)
        };
        tracing::Span::current().record("export_id", snapshot.as_str());
        liberator_lambda_common::emf::set_property("export_id", snapshot.as_str());
        if !snapshot.starts_with(&self.config.snapshot_prefix) {
            let reason = format!(
                "identifier does not start with {:?}",
                self.config.snapshot_prefix
            );
            tracing::info!(snapshot, reason, "ignoring snapshot");
            return Ok(Answer::Ignored { snapshot, reason });
        }
        self.start_export(&snapshot, &arn).await
    }

    /// Starts the export task named after the snapshot.
    async fn start_export(&self, snapshot: &str, arn: &str) -> Result<Answer, Error> {
        let c = &self.config;
        let result = self
            .rds
            .start_export_task()
            .export_task_identifier(snapshot)
            .source_arn(arn)
            .s3_bucket_name(&c.bucket_name)
            .iam_role_arn(&c.iam_role_arn)
            .kms_key_id(&c.kms_key_id)
            .set_s3_prefix(c.export_s3_prefix.clone())
            .send()
            .await;
        match result {
            Ok(out) => {
                let status = out.status().map(str::to_string);
                metrics::counter!(EXPORT_TASKS_STARTED).increment(1);
                tracing::info!(snapshot, bucket = %c.bucket_name, status = ?status, "export task started");
                Ok(Answer::Started {
                    snapshot: snapshot.to_string(),
                    export_task: out.export_task_identifier().unwrap_or(snapshot).to_string(),
                    status,
                })
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_export_task_already_exists_fault()) =>
            {
                tracing::info!(
                    snapshot,
                    "export task already exists (re-delivered event): nothing to do"
                );
                Ok(Answer::AlreadyExported {
                    snapshot: snapshot.to_string(),
                })
            }
            Err(e) => Err(Error::StartExport {
                snapshot: snapshot.to_string(),
                detail: DisplayErrorContext(&e).to_string(),
            }),
        }
    }

    /// The newest available manual snapshot of `RDS_INSTANCE_ID` with the prefix:
    /// (identifier, ARN).
    async fn latest_snapshot(&self) -> Result<(String, String), Error> {
        let instance = self
            .config
            .rds_instance_id
            .clone()
            .ok_or(Error::NoInstance)?;
        let prefix = &self.config.snapshot_prefix;
        let mut pages = self
            .rds
            .describe_db_snapshots()
            .db_instance_identifier(&instance)
            .snapshot_type("manual")
            .into_paginator()
            .send();
        let mut best: Option<(aws_sdk_rds::primitives::DateTime, String, String)> = None;
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Error::DescribeSnapshots {
                instance: instance.clone(),
                detail: DisplayErrorContext(&e).to_string(),
            })?;
            for s in page.db_snapshots() {
                let (Some(id), Some(arn), Some(created)) = (
                    s.db_snapshot_identifier(),
                    s.db_snapshot_arn(),
                    s.snapshot_create_time(),
                ) else {
                    continue;
                };
                // The filter asks for manual snapshots already; the check guards against
                // a server that ignores it (automated ones are named `rds:…`).
                let manual = s
                    .snapshot_type()
                    .is_none_or(|t| t.eq_ignore_ascii_case("manual"));
                let available = s
                    .status()
                    .is_some_and(|st| st.eq_ignore_ascii_case("available"));
                if !manual || !available || !id.starts_with(prefix.as_str()) {
                    continue;
                }
                if best
                    .as_ref()
                    .is_none_or(|(t, bid, _)| (created, id) > (t, bid.as_str()))
                {
                    best = Some((*created, id.to_string(), arn.to_string()));
                }
            }
        }
        let (_, id, arn) = best.ok_or_else(|| Error::NoSnapshot {
            instance: instance.clone(),
            prefix: prefix.clone(),
        })?;
        tracing::info!(snapshot = id, instance, "latest snapshot found");
        Ok((id, arn))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_rds::operation::start_export_task::{StartExportTaskError, StartExportTaskOutput};
    use aws_sdk_rds::types::error::{ExportTaskAlreadyExistsFault, InvalidExportSourceStateFault};
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
        let rule = mock!(aws_sdk_rds::Client::start_export_task).then_error(|| {
            StartExportTaskError::ExportTaskAlreadyExistsFault(
                ExportTaskAlreadyExistsFault::builder().build(),
            )
        });
        let rds = mock_client!(aws_sdk_rds, RuleMode::Sequential, &[&rule]);
        let out = Trigger::new(rds, config())
            .handle(&event("sql-to-parquet-24-06-04-101500"))
            .await
            .unwrap();
        assert_eq!(
            out,
            Answer::AlreadyExported {
                snapshot: "sql-to-parquet-24-06-04-101500".into()
            }
        );
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
        let d = Diagnostic::from(Error::StartExport {
            snapshot: "s".into(),
            detail: "d".into(),
        });
        assert_eq!(d.error_type, "StartExport");
        assert!(d.error_message.contains("StartExportTask"), "{d:?}");
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
}
