//! The Glue start, through the exactly-once marker protocol of `liberator-glue` (shared
//! with `engine backfill --via batch-operations`, so a backfill and the copier never both
//! start an export's run): its outcomes as the copier's answers, its errors as the
//! copier's own variants (their names are the Lambda `errorType`s).

use liberator_engine::Report;
pub use liberator_glue::{GlueStart, Outcome};

use crate::{Answer, Error};

/// The invocation's answer for a start's outcome; `report` is the copy that preceded it.
pub(crate) fn answer(outcome: Outcome, report: Option<&Report>) -> Answer {
    match outcome {
        Outcome::Started {
            export_id,
            workflow,
            run_id,
        } => Answer::GlueStarted {
            export_id,
            workflow,
            run_id,
            copied: report.map_or(0, |r| r.copied),
            skipped: report.map_or(0, |r| r.skipped),
        },
        Outcome::AlreadyStarted {
            export_id,
            workflow,
            run_id,
        } => Answer::AlreadyStarted {
            export_id,
            workflow,
            run_id,
        },
    }
}

impl From<liberator_glue::Error> for Error {
    fn from(e: liberator_glue::Error) -> Self {
        use liberator_glue::Error as G;
        match e {
            G::Marker {
                export_id,
                bucket,
                key,
                detail,
            } => Error::Marker {
                export_id,
                bucket,
                key,
                detail,
            },
            G::StartInProgress {
                export_id,
                marker,
                workflow,
                claimed_at,
                lease_until,
            } => Error::StartInProgress {
                export_id,
                marker,
                workflow,
                claimed_at,
                lease_until,
            },
            G::NoBackdatedWorkflow { export_id } => Error::NoBackdatedWorkflow { export_id },
            G::Glue {
                export_id,
                op,
                workflow,
                detail,
            } => Error::Glue {
                export_id,
                op,
                workflow,
                detail,
            },
        }
    }
}
