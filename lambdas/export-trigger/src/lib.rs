//! export-trigger: starts the RDS snapshot export to S3 (Parquet) for a new
//! `sql-to-parquet*` manual snapshot.
//!
//! Triggered by EventBridge on RDS-EVENT-0042 (manual snapshot created). Invoked with no
//! snapshot in the event (by hand or on a schedule), it exports the latest available
//! manual snapshot of `RDS_INSTANCE_ID` instead, so a missed event can be made good.
//!
//! The export task is named after the snapshot, so a re-delivered event (EventBridge and
//! Lambda both deliver at least once) meets `ExportTaskAlreadyExists` and succeeds without
//! starting a second export. A snapshot taken again under a name already exported (a date
//! re-backdated) is exported as `<name>-r2` (then `-r3` …), which lands under the same
//! import date: see [`export`].
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

pub mod export;
pub mod runtime;
pub mod snapshots;

use std::time::Duration;

use lambda_runtime::Diagnostic;
use liberator_aws::AwsOptions;
use liberator_lambda_common::env;
use liberator_lambda_common::rds_event::{self, RdsEvent};
use serde::Serialize;
use serde_json::Value;

pub use export::{Provenance, provenance};
pub use snapshots::Snapshot;

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

    /// DescribeDBSnapshots for the snapshot being exported failed.
    #[error("DescribeDBSnapshots for snapshot {snapshot:?} failed: {detail}")]
    DescribeSnapshot { snapshot: String, detail: String },

    /// DescribeExportTasks for an export identifier already taken failed.
    #[error(
        "DescribeExportTasks for export task {export_task:?} (snapshot {snapshot:?}) failed: {detail}"
    )]
    DescribeExport {
        snapshot: String,
        export_task: String,
        detail: String,
    },

    /// The snapshot's name makes no export identifier RDS takes.
    #[error(
        "snapshot {snapshot:?} cannot be exported under its own name: {source}; name the snapshots \
         as the restore task does (sql-to-parquet-YY-MM-DD-HHMMSS or sql-to-parquet-YYYY-MM-DD-backdated)"
    )]
    ExportId {
        snapshot: String,
        source: liberator_export_id::ExportIdError,
    },

    /// Every export identifier of the snapshot's name is taken by exports of earlier
    /// snapshots of that name: nothing was exported.
    #[error(
        "snapshot {snapshot:?} ({arn}) was not exported: export identifiers {first} to {last} \
         are all taken by exports of earlier snapshots of that name, and RDS never frees an \
         identifier. Export it by hand (aws rds start-export-task --source-arn {arn}) under a new \
         identifier of the same import date (any sql-to-parquet-YY-MM-DD-HHMMSS of that day), \
         then land that export"
    )]
    NoFreeExportId {
        snapshot: String,
        arn: String,
        first: String,
        last: String,
    },
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
            Error::DescribeSnapshot { .. } => "DescribeSnapshot",
            Error::DescribeExport { .. } => "DescribeExport",
            Error::ExportId { .. } => "ExportId",
            Error::NoFreeExportId { .. } => "NoFreeExportId",
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
    /// An export task was started: named after the snapshot, or `<snapshot>-rN` when the
    /// snapshot was taken again under a name already exported.
    Started {
        snapshot: String,
        export_task: String,
        status: Option<String>,
    },
    /// An export task of this snapshot already existed (re-delivered event): nothing done.
    AlreadyExported {
        snapshot: String,
        export_task: String,
    },
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
        let snapshot = if is_manual(event) {
            tracing::info!("invoked without a snapshot: looking for the latest one");
            self.latest_snapshot().await?
        } else {
            let e = RdsEvent::parse(event)?.expect(rds_event::SNAPSHOT_CREATED)?;
            Snapshot {
                id: e.source_identifier,
                arn: e.source_arn,
                created: None,
            }
        };
        tracing::Span::current().record("export_id", snapshot.id.as_str());
        liberator_lambda_common::emf::set_property("export_id", snapshot.id.as_str());
        if !snapshot.id.starts_with(&self.config.snapshot_prefix) {
            let reason = format!(
                "identifier does not start with {:?}",
                self.config.snapshot_prefix
            );
            tracing::info!(snapshot = snapshot.id, reason, "ignoring snapshot");
            return Ok(Answer::Ignored {
                snapshot: snapshot.id,
                reason,
            });
        }
        // Boxed: the SDK futures inside are deep enough to overflow the compiler's layout
        // query depth when the runtime's future holds them inline.
        Box::pin(self.start_export(snapshot)).await
    }
}

#[cfg(test)]
mod tests;
