//! Starting an export's Glue workflow exactly once, however replies are lost and callers
//! die or race: the marker protocol of DESIGN.md ("Exactly-once Glue start"), shared by
//! the export-copier Lambda and `engine backfill --via batch-operations`, so both start a
//! given export's run through the same marker and never twice between them.
//!
//! - [`marker`]: the marker's content (claim token, lease, state, run id);
//! - [`marker_store`]: its reads and conditional writes on the engine's storage seam;
//! - [`GlueStart`] ([`start`]): claim, `StartWorkflowRun` tagged with the export id,
//!   record; take-over of a dead claim after its lease;
//! - `workflow`: the Glue calls, never retried blindly (`StartWorkflowRun` has no
//!   idempotency token).
//!
//! ```no_run
//! # async fn example(glue: aws_sdk_glue::Client, store: liberator_engine::Store,
//! #     id: liberator_engine::ExportId, report: liberator_engine::Report) -> Result<(), liberator_glue::Error> {
//! use liberator_glue::{GlueStart, Outcome, marker::DEFAULT_MARKER_PREFIX, marker_store::MarkerStore};
//!
//! let markers = MarkerStore::new(store, "landing", DEFAULT_MARKER_PREFIX);
//! let start = GlueStart::new(glue, markers, "import-workflow".into(), None);
//! match start.start_once(&id, &report).await? {
//!     Outcome::Started { run_id, .. } => println!("started {run_id}"),
//!     Outcome::AlreadyStarted { run_id, .. } => println!("already running as {run_id}"),
//! }
//! # Ok(()) }
//! ```

use std::time::Duration;

pub mod error;
pub mod marker;
pub mod marker_store;
pub mod start;
mod workflow;

pub use crate::error::Error;
pub use crate::start::GlueStart;

/// Default lease of a Glue start claim: longer than Lambda's 15-minute limit on one
/// invocation, so the invocation holding an expired claim has ended, whatever happened to
/// it (a CLI holds its claim for the seconds a start takes).
pub const DEFAULT_CLAIM_LEASE: Duration = Duration::from_secs(20 * 60);
/// Default time a delivery waits for another invocation's claim to end in a run before it
/// answers "in progress".
pub const DEFAULT_CLAIM_WAIT: Duration = Duration::from_secs(20);

/// Where an export's workflow stands after a start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// This call started the run.
    Started {
        export_id: String,
        workflow: String,
        run_id: String,
    },
    /// A run was already started for the export (a retry, a re-delivery, or the other
    /// caller of the protocol): nothing was done.
    AlreadyStarted {
        export_id: String,
        workflow: String,
        run_id: String,
    },
}

impl Outcome {
    /// The run's id, whoever started it.
    pub fn run_id(&self) -> &str {
        match self {
            Outcome::Started { run_id, .. } | Outcome::AlreadyStarted { run_id, .. } => run_id,
        }
    }

    /// The workflow the run belongs to.
    pub fn workflow(&self) -> &str {
        match self {
            Outcome::Started { workflow, .. } | Outcome::AlreadyStarted { workflow, .. } => {
                workflow
            }
        }
    }
}
