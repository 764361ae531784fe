//! The Glue workflow run: found by the run id the marker records, else by the run property
//! `liberator_export_id` the copier sets on every run it starts (GetWorkflowRuns), so a run
//! whose marker never recorded it is still found.

use anyhow::{Context, Result, bail};
use aws_sdk_glue::error::DisplayErrorContext;
use aws_sdk_glue::types::WorkflowRun;

use super::Ctx;
use super::aws::time;
use super::model::Glue;

/// The run property the copier sets (lambdas/README.md).
pub const RUN_PROPERTY_EXPORT_ID: &str = "liberator_export_id";

/// The run of `workflow` for `export_id`: `run_id` when the marker names one (`Ok(None)`
/// when Glue has no such run), else the latest run carrying the export id.
pub async fn run(
    ctx: &Ctx<'_>,
    workflow: &str,
    export_id: &str,
    run_id: Option<&str>,
) -> Result<Option<Glue>> {
    let glue = &ctx.clients.glue;
    if let Some(run_id) = run_id {
        let out = glue
            .get_workflow_run()
            .name(workflow)
            .run_id(run_id)
            .send()
            .await;
        return match out {
            Ok(out) => Ok(out.run().map(|r| view(workflow, r))),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_entity_not_found_exception()) =>
            {
                // Either the workflow or the run is unknown: tell them apart.
                runs_carrying(ctx, workflow, export_id).await?;
                Ok(None)
            }
            Err(e) => Err(anyhow::anyhow!("{}", DisplayErrorContext(&e)))
                .with_context(|| format!("GetWorkflowRun {workflow} {run_id}")),
        };
    }
    Ok(runs_carrying(ctx, workflow, export_id)
        .await?
        .into_iter()
        .max_by_key(|r| r.started_on().map(|t| (t.secs(), t.subsec_nanos())))
        .map(|r| view(workflow, &r)))
}

/// Every run of `workflow` whose run properties carry `export_id`; an error naming the
/// workflow when Glue does not know it.
async fn runs_carrying(ctx: &Ctx<'_>, workflow: &str, export_id: &str) -> Result<Vec<WorkflowRun>> {
    let mut found = Vec::new();
    let mut token = None;
    loop {
        let out = ctx
            .clients
            .glue
            .get_workflow_runs()
            .name(workflow)
            .include_graph(false)
            .set_next_token(token)
            .send()
            .await;
        let page = match out {
            Ok(page) => page,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_entity_not_found_exception()) =>
            {
                bail!(
                    "Glue workflow {workflow} does not exist (--workflow / WORKFLOW_NAME, --backdated-workflow / BACKDATED_WORKFLOW_NAME)"
                )
            }
            Err(e) => {
                return Err(anyhow::anyhow!("{}", DisplayErrorContext(&e)))
                    .with_context(|| format!("GetWorkflowRuns {workflow}"));
            }
        };
        found.extend(
            page.runs()
                .iter()
                .filter(|r| {
                    r.workflow_run_properties()
                        .and_then(|p| p.get(RUN_PROPERTY_EXPORT_ID))
                        .is_some_and(|v| v == export_id)
                })
                .cloned(),
        );
        token = page.next_token().map(String::from);
        if token.is_none() {
            return Ok(found);
        }
    }
}

fn view(workflow: &str, r: &WorkflowRun) -> Glue {
    let mut errors: Vec<String> = r.error_message().map(String::from).into_iter().collect();
    if let Some(s) = r.statistics() {
        for (n, what) in [
            (s.failed_actions(), "failed"),
            (s.errored_actions(), "errored"),
            (s.timeout_actions(), "timed out"),
            (s.stopped_actions(), "stopped"),
        ] {
            if n > 0 {
                errors.push(format!("{n} of {} action(s) {what}", s.total_actions()));
            }
        }
    }
    Glue {
        workflow: workflow.to_string(),
        run_id: r.workflow_run_id().unwrap_or_default().to_string(),
        status: r
            .status()
            .map_or_else(|| "UNKNOWN".to_string(), |s| s.as_str().to_string()),
        started_at: time(r.started_on()),
        completed_at: time(r.completed_on()),
        errors,
    }
}
