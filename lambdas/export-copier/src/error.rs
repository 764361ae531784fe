//! Everything that fails a copier invocation, and the `errorType` Lambda shows for it.

use lambda_runtime::Diagnostic;

/// Everything that fails an invocation; each variant names the export, event or key.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The event is malformed or not RDS-EVENT-0161, or configuration is missing.
    #[error(transparent)]
    Event(#[from] liberator_lambda_common::Error),

    /// The snapshot identifier is not a `sql-to-parquet-…` export id.
    #[error("event {event}: bad export identifier: {source}")]
    BadIdentifier {
        event: String,
        #[source]
        source: Box<liberator_engine::Error>,
    },

    /// A configured bucket/prefix does not make a location.
    #[error("export {export_id}: {source}")]
    Location {
        export_id: String,
        #[source]
        source: Box<liberator_engine::Error>,
    },

    /// An SQS record's body is not a JSON event.
    #[error("SQS message {message_id}: body is not a JSON event: {reason}")]
    SqsBody { message_id: String, reason: String },

    /// Some SQS records failed; all are retried together (skip-existing and the marker
    /// make re-processing the others cheap and safe).
    #[error("{failed} of {total} SQS records failed: {errors}")]
    SqsRecords {
        failed: usize,
        total: usize,
        errors: String,
    },

    /// DescribeExportTasks failed.
    #[error("export {export_id}: DescribeExportTasks failed: {detail}")]
    DescribeExport { export_id: String, detail: String },

    /// No export task by that name (yet).
    #[error("export {export_id}: no such export task")]
    ExportNotFound { export_id: String },

    /// The export has not finished: fail so that Lambda retries later.
    #[error("export {export_id}: export task status is {status:?}, not complete yet")]
    ExportNotComplete { export_id: String, status: String },

    /// The engine's run ended abnormally.
    #[error("export {export_id}: copy run failed: {source}")]
    Engine {
        export_id: String,
        #[source]
        source: Box<liberator_engine::Error>,
    },

    /// Objects did not land; no workflow was started.
    #[error(
        "export {export_id}: {failed} object(s) did not land, no Glue workflow started; first: {first}"
    )]
    CopyFailed {
        export_id: String,
        failed: u64,
        first: String,
    },

    /// Everything copied, but the day is not whole: a table the export skipped or failed,
    /// one missing from the export, or landed rows that differ from the restore manifest.
    /// The Glue workflow is not started.
    #[error("export {export_id} is not complete, so the Glue workflow was not started: {}", tables.join("; "))]
    ExportIncomplete {
        export_id: String,
        /// Each failing table with its expected and landed rows, and export-level problems.
        tables: Vec<String>,
    },

    /// `FAIL_ON_SCHEMA_CHANGE` is on and a column was removed or retyped since the
    /// previous import date landed: everything landed, the Glue workflow was not started.
    #[error(
        "export {export_id}: the schema changed since {since}, so the Glue workflow was not started (FAIL_ON_SCHEMA_CHANGE): {}",
        changes.join("; ")
    )]
    SchemaChanged {
        export_id: String,
        /// The previous landing's import date and export.
        since: String,
        /// Each removed or retyped column, naming its table.
        changes: Vec<String>,
    },

    /// The deadline came and the remainder could not be handed on.
    #[error(
        "export {export_id}: stopped before the deadline and could not re-invoke {function:?}: {detail}"
    )]
    Reinvoke {
        export_id: String,
        function: String,
        detail: String,
    },

    /// Reading or writing the exactly-once marker failed.
    #[error("export {export_id}: marker s3://{bucket}/{key}: {detail}")]
    Marker {
        export_id: String,
        bucket: String,
        key: String,
        detail: String,
    },

    /// Another invocation holds a live claim on the start and has not recorded a run yet
    /// (it is starting it now, or died and its lease has not run out). Retryable: the
    /// retry finds the run, or takes the claim over once the lease has ended. Its
    /// `errorType`, `StartInProgress`, is what a retry policy matches.
    #[error(
        "export {export_id}: the Glue start of {workflow:?} is in progress: marker {marker} was claimed at {claimed_at} \
         by another invocation, leased until {lease_until}; retry later (a claim whose lease ended with no run is taken over)"
    )]
    StartInProgress {
        export_id: String,
        /// `s3://bucket/key` of the marker.
        marker: String,
        workflow: String,
        claimed_at: String,
        lease_until: String,
    },

    /// A backdated export arrived but `BACKDATED_WORKFLOW_NAME` is not set.
    #[error("export {export_id} is backdated but BACKDATED_WORKFLOW_NAME is not set")]
    NoBackdatedWorkflow { export_id: String },

    /// A Glue call failed.
    #[error("export {export_id}: Glue {op} on workflow {workflow:?} failed: {detail}")]
    Glue {
        export_id: String,
        op: &'static str,
        workflow: String,
        detail: String,
    },
}

impl Error {
    /// The kind of failure: the variant's name (for an event or configuration error, the
    /// shared crate's variant, e.g. `WrongEventId`). Lambda reports it as the invocation's
    /// `errorType`, which is what destinations, the dead-letter queue's attributes and
    /// alarms on logs show.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Event(e) => e.kind(),
            Error::BadIdentifier { .. } => "BadIdentifier",
            Error::Location { .. } => "Location",
            Error::SqsBody { .. } => "SqsBody",
            Error::SqsRecords { .. } => "SqsRecords",
            Error::DescribeExport { .. } => "DescribeExport",
            Error::ExportNotFound { .. } => "ExportNotFound",
            Error::ExportNotComplete { .. } => "ExportNotComplete",
            Error::Engine { .. } => "Engine",
            Error::CopyFailed { .. } => "CopyFailed",
            Error::ExportIncomplete { .. } => "ExportIncomplete",
            Error::SchemaChanged { .. } => "SchemaChanged",
            Error::Reinvoke { .. } => "Reinvoke",
            Error::Marker { .. } => "Marker",
            Error::StartInProgress { .. } => "StartInProgress",
            Error::NoBackdatedWorkflow { .. } => "NoBackdatedWorkflow",
            Error::Glue { .. } => "Glue",
        }
    }
}

/// The runtime's error answer: `errorType` is [`Error::kind`] (without this, the runtime
/// would name the boxed trait object's type), `errorMessage` the whole message.
impl From<Error> for Diagnostic {
    fn from(e: Error) -> Self {
        Diagnostic {
            error_type: e.kind().to_string(),
            error_message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_type_names_the_kind() {
        let d = Diagnostic::from(Error::ExportNotComplete {
            export_id: "sql-to-parquet-24-06-04-101500".into(),
            status: "IN_PROGRESS".into(),
        });
        assert_eq!(d.error_type, "ExportNotComplete");
        assert!(d.error_message.contains("IN_PROGRESS"), "{d:?}");
        let d = Diagnostic::from(Error::from(liberator_lambda_common::Error::NoDetail {
            event_id: "e".into(),
        }));
        assert_eq!(d.error_type, "NoDetail");
        let d = Diagnostic::from(Error::StartInProgress {
            export_id: "sql-to-parquet-24-06-04-101500".into(),
            marker: "s3://landing/_liberator/glue-runs/sql-to-parquet-24-06-04-101500.json".into(),
            workflow: "wf".into(),
            claimed_at: "2024-06-04T11:02:10+00:00".into(),
            lease_until: "2024-06-04T11:22:10+00:00".into(),
        });
        assert_eq!(d.error_type, "StartInProgress");
        assert!(d.error_message.contains("retry later"), "{d:?}");
    }
}
