//! Following a job with `DescribeJob` until it ends: a progress bar of tasks on a terminal
//! (succeeded and failed of the total, with the rate), a log line per change otherwise.

use std::time::Duration;

use anyhow::{Result, bail};

use super::job::{JobService, JobState};
use crate::progress::JobProgress;

/// Describes the job every `poll` until it is `Complete`, `Failed` or `Cancelled`; its
/// last state. A `Suspended` job (waiting for a confirmation) is an error naming it.
pub async fn follow(jobs: &dyn JobService, job_id: &str, poll: Duration) -> Result<JobState> {
    let progress = JobProgress::new();
    loop {
        let state = jobs.describe(job_id).await?;
        progress.update(
            job_id,
            &state.status,
            state.succeeded,
            state.failed,
            state.total,
        );
        if state.is_terminal() {
            progress.finish();
            return Ok(state);
        }
        if state.is_stuck() {
            progress.finish();
            bail!(
                "job {job_id} is Suspended ({}): confirm or cancel it with `aws s3control update-job-status`, then run again with --job-id {job_id}",
                state.reasons.join("; ")
            );
        }
        tokio::time::sleep(poll).await;
    }
}
