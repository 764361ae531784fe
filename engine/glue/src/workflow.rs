//! The Glue calls of the start: `UpdateWorkflow` (backdated exports), `StartWorkflowRun`
//! tagged with the export id, and the search for a run carrying it (`GetWorkflowRuns`).
//!
//! `StartWorkflowRun` takes no idempotency token
//! (<https://docs.aws.amazon.com/glue/latest/webapi/API_StartWorkflowRun.html>): a call
//! whose reply was lost may or may not have started a run. So the SDK never retries it
//! here; after a failure that leaves the start in doubt (timeout, dropped connection, 5xx)
//! the workflow's runs are searched for the export id first, and the start is only tried
//! again when none carries it. A 4xx answer is a refusal: nothing started.

use std::time::Duration;

use aws_sdk_glue::config::retry::RetryConfig;
use aws_sdk_glue::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_glue::operation::start_workflow_run::StartWorkflowRunError;

use crate::Error;
use crate::marker::RUN_PROPERTY_EXPORT_ID;

/// Pages of `GetWorkflowRuns` (up to 1000 runs each) searched for a run carrying the
/// export id: the run was started moments after the claim, so the newest pages suffice.
const RUN_SEARCH_PAGES: usize = 5;
/// `StartWorkflowRun` attempts, each after the previous one was refused (throttled) or
/// left in doubt and no run carries the export id.
const START_ATTEMPTS: u32 = 4;
/// Searches (each with the SDK's own retries) after a start in doubt before the claim is
/// left to its lease.
const SEARCH_ATTEMPTS: u32 = 3;
/// Pause before searching after an attempt left in doubt (a call still being processed
/// when our side gave up should have landed by then), doubled each time.
const SETTLE: Duration = Duration::from_millis(500);

/// What became of the start.
#[derive(Debug)]
pub(crate) enum Start {
    /// A run carrying the export id exists: this one.
    Run(String),
    /// No run was started (Glue refused, or the claim's lease ran short first); the claim
    /// may be released.
    NotStarted(Error),
    /// A run may have started but could not be confirmed (the search failed too): the
    /// claim must be kept until its lease ends, so a later delivery searches again.
    InDoubt(Error),
}

/// One export's start on one workflow.
pub(crate) struct Starter<'a> {
    pub glue: &'a aws_sdk_glue::Client,
    pub export_id: &'a str,
    pub workflow: &'a str,
    pub import_date: Option<&'a str>,
}

impl Starter<'_> {
    fn error(&self, op: &'static str, detail: String) -> Error {
        Error::Glue {
            export_id: self.export_id.into(),
            op,
            workflow: self.workflow.into(),
            detail,
        }
    }

    /// `UpdateWorkflow` (backdated only; idempotent, the SDK retries it), then
    /// `StartWorkflowRun` until a run carrying the export id exists or Glue refuses.
    /// `may_start` is asked before every attempt (the claim's lease must still cover it).
    pub async fn start(&self, may_start: impl Fn() -> Result<(), Error>) -> Start {
        if let Some(date) = self.import_date
            && let Err(e) = self
                .glue
                .update_workflow()
                .name(self.workflow)
                .default_run_properties("import_date", date)
                .send()
                .await
        {
            let detail = DisplayErrorContext(&e).to_string();
            return Start::NotStarted(self.error("UpdateWorkflow", detail));
        }
        let mut settle = SETTLE;
        let mut last = None;
        for attempt in 1..=START_ATTEMPTS {
            if let Err(e) = may_start() {
                return Start::NotStarted(e);
            }
            let (doubt, retry, err) = match self.start_once().await {
                Ok(Some(run_id)) => return Start::Run(run_id),
                // A success without a run id cannot be told from a lost reply.
                Ok(None) => (true, true, "the answer carries no RunId".to_string()),
                Err(e) => {
                    let (doubt, retry) = classify(&e);
                    (doubt, retry, DisplayErrorContext(&e).to_string())
                }
            };
            let err = self.error("StartWorkflowRun", err);
            tracing::warn!(attempt, in_doubt = doubt, error = %err, "StartWorkflowRun failed");
            if !doubt && !retry {
                return Start::NotStarted(err);
            }
            tokio::time::sleep(settle).await;
            settle *= 2;
            if doubt {
                match self.search_after_doubt().await {
                    Ok(Some(run_id)) => {
                        tracing::info!(run_id, "the start whose reply was lost did start a run");
                        return Start::Run(run_id);
                    }
                    Ok(None) => {}
                    Err(search) => {
                        tracing::error!(error = %search, "could not search the runs after a start in doubt");
                        return Start::InDoubt(err);
                    }
                }
            }
            last = Some(err);
        }
        // Every attempt failed and every search found no run: nothing started.
        Start::NotStarted(last.expect("at least one attempt"))
    }

    /// One `StartWorkflowRun`, without the SDK's retries; its run id.
    async fn start_once(&self) -> Result<Option<String>, SdkError<StartWorkflowRunError>> {
        let mut start = self
            .glue
            .start_workflow_run()
            .name(self.workflow)
            .run_properties(RUN_PROPERTY_EXPORT_ID, self.export_id);
        if let Some(date) = self.import_date {
            start = start.run_properties("import_date", date);
        }
        let out = start
            .customize()
            .config_override(
                aws_sdk_glue::config::Config::builder().retry_config(RetryConfig::disabled()),
            )
            .send()
            .await?;
        Ok(out.run_id().map(str::to_string))
    }

    /// [`Starter::find_run`] after a start in doubt, tried again when the search itself
    /// fails: giving up leaves the claim blocked until its lease ends.
    async fn search_after_doubt(&self) -> Result<Option<String>, Error> {
        let mut pause = SETTLE;
        let mut attempt = 1;
        loop {
            match self.find_run().await {
                Err(e) if attempt < SEARCH_ATTEMPTS => {
                    tracing::warn!(attempt, error = %e, "searching the runs failed; trying again");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// A run of the workflow whose run properties carry the export id.
    pub async fn find_run(&self) -> Result<Option<String>, Error> {
        find_run(self.glue, self.export_id, self.workflow).await
    }
}

/// `(in doubt, worth another attempt)` for a failed `StartWorkflowRun`.
fn classify(err: &SdkError<StartWorkflowRunError>) -> (bool, bool) {
    match err {
        // Never sent.
        SdkError::ConstructionFailure(_) => (false, false),
        SdkError::ServiceError(se) if se.raw().status().as_u16() < 500 => {
            // Refused; throttling is worth another try, anything else (no such workflow,
            // too many concurrent runs, access denied) fails the invocation.
            let throttled = se.raw().status().as_u16() == 429
                || matches!(
                    err.code(),
                    Some("ThrottlingException" | "ConcurrentModificationException")
                );
            (false, throttled)
        }
        // A 5xx, a timeout, a dropped connection, an unreadable answer: it may have run.
        _ => (true, true),
    }
}

/// A run of `workflow` whose run properties carry `export_id`.
pub(crate) async fn find_run(
    glue: &aws_sdk_glue::Client,
    export_id: &str,
    workflow: &str,
) -> Result<Option<String>, Error> {
    let mut token: Option<String> = None;
    for _ in 0..RUN_SEARCH_PAGES {
        let out = match glue
            .get_workflow_runs()
            .name(workflow)
            .max_results(1000)
            .set_next_token(token.clone())
            .send()
            .await
        {
            Ok(out) => out,
            // A workflow that does not exist has no runs (a claim released because its
            // workflow was missing names it).
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_entity_not_found_exception()) =>
            {
                return Ok(None);
            }
            Err(e) => {
                return Err(Error::Glue {
                    export_id: export_id.into(),
                    op: "GetWorkflowRuns",
                    workflow: workflow.into(),
                    detail: DisplayErrorContext(&e).to_string(),
                });
            }
        };
        for run in out.runs() {
            let carries = run
                .workflow_run_properties()
                .and_then(|p| p.get(RUN_PROPERTY_EXPORT_ID))
                .is_some_and(|v| v == export_id);
            if carries && let Some(run_id) = run.workflow_run_id() {
                return Ok(Some(run_id.to_string()));
            }
        }
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use aws_sdk_glue::config::http::HttpResponse;
    use aws_sdk_glue::types::error::{ConcurrentRunsExceededException, InternalServiceException};

    use super::*;

    fn answered(status: u16, err: StartWorkflowRunError) -> SdkError<StartWorkflowRunError> {
        SdkError::service_error(
            err,
            HttpResponse::new(status.try_into().unwrap(), "".into()),
        )
    }

    #[test]
    fn only_a_4xx_or_an_unsent_call_is_known_not_to_have_started_a_run() {
        let refused = answered(
            400,
            StartWorkflowRunError::ConcurrentRunsExceededException(
                ConcurrentRunsExceededException::builder().build(),
            ),
        );
        assert_eq!(classify(&refused), (false, false));
        let internal = answered(
            500,
            StartWorkflowRunError::InternalServiceException(
                InternalServiceException::builder().build(),
            ),
        );
        assert_eq!(classify(&internal), (true, true), "a 5xx may have run");
        assert_eq!(classify(&SdkError::timeout_error("t")), (true, true));
        assert_eq!(
            classify(&SdkError::construction_failure("c")),
            (false, false)
        );
    }
}
