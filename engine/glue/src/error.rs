//! Everything that fails a Glue start, each naming the export (and the marker or workflow).

/// A failed start; the copier maps each variant to its own of the same name (its Lambda
/// `errorType`), the CLI reports it with the export.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing the exactly-once marker failed.
    #[error("export {export_id}: marker s3://{bucket}/{key}: {detail}")]
    Marker {
        export_id: String,
        bucket: String,
        key: String,
        detail: String,
    },

    /// Another caller holds a live claim on the start and has not recorded a run yet (it
    /// is starting it now, or died and its lease has not run out). Retryable: the retry
    /// finds the run, or takes the claim over once the lease has ended.
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

    /// A backdated export arrived but no backdated workflow is configured.
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
    /// The variant's name.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Marker { .. } => "Marker",
            Error::StartInProgress { .. } => "StartInProgress",
            Error::NoBackdatedWorkflow { .. } => "NoBackdatedWorkflow",
            Error::Glue { .. } => "Glue",
        }
    }
}
