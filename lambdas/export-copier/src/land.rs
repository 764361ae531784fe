//! Landing one export: confirm with RDS that the export finished, then run the copy engine
//! until everything landed or the deadline margin is reached.

use std::sync::Arc;
use std::time::Instant;

use liberator_engine::completeness::ExportOutcome;
use liberator_engine::{Engine, ExportId, ExportRequest, Location, NoProgress, Report};

use crate::{Config, Error, Invocation};

/// How far a run got.
#[derive(Debug)]
pub enum Landed {
    /// Every object landed (copied or already there).
    All(Report),
    /// The deadline margin came first: the rest is for a new invocation.
    Stopped(Report),
}

/// `None` when the export is complete; `Some(status)` when it FAILED or was CANCELED;
/// an error when it is still running or cannot be found (so Lambda retries). With it, the
/// task's status, `WarningMessage` and `FailureCause`, which the completeness check weighs
/// (<https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ExportTask.html>).
pub async fn confirm_export(
    rds: &aws_sdk_rds::Client,
    id: &str,
    source_arn: &str,
) -> Result<(Option<String>, ExportOutcome), Error> {
    let out = rds
        .describe_export_tasks()
        .export_task_identifier(id)
        .source_arn(source_arn)
        .send()
        .await;
    let out = match out {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_export_task_not_found_fault()) =>
        {
            return Err(Error::ExportNotFound {
                export_id: id.into(),
            });
        }
        Err(e) => {
            return Err(Error::DescribeExport {
                export_id: id.into(),
                detail: aws_sdk_rds::error::DisplayErrorContext(&e).to_string(),
            });
        }
    };
    let task = out
        .export_tasks()
        .iter()
        .find(|t| t.export_task_identifier() == Some(id))
        .ok_or_else(|| Error::ExportNotFound {
            export_id: id.into(),
        })?;
    let status = task.status().unwrap_or("").to_string();
    let outcome = ExportOutcome {
        status: task.status().map(str::to_string),
        warning_message: task.warning_message().map(str::to_string),
        failure_cause: task.failure_cause().map(str::to_string),
    };
    if let Some(w) = &outcome.warning_message {
        tracing::warn!(warning = %w, "the export task has a warning");
    }
    // moto reports `complete`; AWS documents `COMPLETE`.
    match status.to_ascii_uppercase().as_str() {
        "COMPLETE" => Ok((None, outcome)),
        "FAILED" | "CANCELED" | "CANCELLED" => {
            tracing::warn!(
                status,
                failure_cause = task.failure_cause().unwrap_or(""),
                "export task did not complete"
            );
            Ok((Some(status), outcome))
        }
        _ => Err(Error::ExportNotComplete {
            export_id: id.into(),
            status,
        }),
    }
}

/// Copies the export; fails when any object did not land.
pub async fn land(
    engine: &Arc<Engine>,
    config: &Config,
    export_id: &ExportId,
    task: Option<ExportOutcome>,
    inv: &Invocation,
) -> Result<Landed, Error> {
    let id = export_id.as_str();
    let (report, stopped) = copy(engine, config, export_id, task, inv).await?;
    log_report(&report);
    if let Some(c) = report.completeness.as_ref().filter(|c| !c.passed()) {
        // A partial day: no Glue run. The engine's `liberator_tables_incomplete` gauge,
        // flushed as EMF, is what the alarm watches.
        let mut tables: Vec<String> = c.failing().map(|t| format!("{}: {t}", t.table)).collect();
        tables.extend(c.problems.iter().cloned());
        tracing::error!(tables = ?tables, "the export is not complete: the Glue workflow is not started");
        return Err(Error::ExportIncomplete {
            export_id: id.into(),
            tables,
        });
    }
    crate::drift::gate(config, id, &report)?;
    if report.failed > 0 || !report.failures.is_empty() {
        let first = report
            .failures
            .first()
            .map(|f| format!("{}: {}", f.key, f.reason))
            .unwrap_or_else(|| "(no detail)".into());
        return Err(Error::CopyFailed {
            export_id: id.into(),
            failed: report.failed.max(report.failures.len() as u64),
            first,
        });
    }
    if report.complete {
        return Ok(Landed::All(report));
    }
    if !stopped {
        return Err(Error::CopyFailed {
            export_id: id.into(),
            failed: 0,
            first: "the run ended incomplete (listing failed); see the report".into(),
        });
    }
    Ok(Landed::Stopped(report))
}

/// Runs the engine until done or until the deadline margin; `(report, stopped)`.
async fn copy(
    engine: &Arc<Engine>,
    config: &Config,
    export_id: &ExportId,
    task: Option<ExportOutcome>,
    inv: &Invocation,
) -> Result<(Report, bool), Error> {
    let id = export_id.as_str();
    let loc = |bucket: &str, prefix: &str| {
        Location::parse(&Config::location(bucket, prefix)).map_err(|source| Error::Location {
            export_id: id.into(),
            source: Box::new(source),
        })
    };
    let request = ExportRequest {
        export_id: export_id.clone(),
        import_date: None,
        task,
        source: loc(&config.source_bucket, &config.source_prefix)?,
        target: loc(&config.target_bucket, &config.target_prefix)?,
    };
    let now = Instant::now();
    let budget = inv.deadline.saturating_duration_since(now);
    let margin = config.deadline_margin.min(budget / 4);
    let stop_at = now + budget.saturating_sub(margin);
    tracing::info!(
        budget_secs = budget.as_secs_f64(),
        margin_secs = margin.as_secs_f64(),
        source = %request.source,
        target = %request.target,
        "copying"
    );
    let handle = engine.start_export(request, Arc::new(NoProgress));
    let stopper = handle.stopper();
    let mut join = Box::pin(handle.join());
    let engine_err = |source| Error::Engine {
        export_id: id.into(),
        source: Box::new(source),
    };
    tokio::select! {
        report = &mut join => Ok((report.map_err(engine_err)?, false)),
        _ = tokio::time::sleep_until(stop_at.into()) => {
            // Stop starting copies; those in flight finish and the report says how far
            // the run got. A drain keeps retrying (throttling can stretch it), so half the
            // margin later what is still in flight is cancelled, its multipart uploads
            // aborted: the answer and the hand-off still come before the deadline.
            tracing::warn!("deadline margin reached: stopping new copies, letting in-flight ones finish");
            stopper.stop();
            let report = tokio::select! {
                report = &mut join => report,
                _ = tokio::time::sleep(margin / 2) => {
                    tracing::warn!("copies still in flight half a margin later: cancelling them");
                    stopper.cancel();
                    join.await
                }
            }
            .map_err(engine_err)?;
            let stopped = !report.complete;
            Ok((report, stopped))
        }
    }
}

/// The engine's JSON report as one log line. (Its numbers reach CloudWatch as the
/// engine's metrics, through the EMF recorder the binary installs.)
fn log_report(report: &Report) {
    let json = serde_json::to_string(report).unwrap_or_default();
    if report.passed() {
        tracing::info!(report = %json, "copy report");
    } else {
        tracing::warn!(report = %json, "copy report");
    }
}
