//! The RDS export task: DescribeExportTasks' `Status`, `PercentProgress`, `WarningMessage`,
//! `FailureCause` and times
//! (<https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ExportTask.html>), with
//! the export's own `export_info_<id>.json` filling what RDS leaves out (moto reports no
//! times) or standing in when RDS has no record of the task.

use anyhow::{Context, Result};
use aws_sdk_rds::error::DisplayErrorContext;
use chrono::{DateTime, Utc};
use liberator_engine::completeness::metadata::{export_info_key, parse_export_info};

use super::Ctx;
use super::aws::{self, time};
use super::model::Export;

/// The export task `id` (RDS first, then `export_info`); `None` when neither knows it.
pub async fn export(ctx: &Ctx<'_>, id: &str) -> Result<Option<Export>> {
    let task = task(ctx, id).await?;
    let root = format!("{}{id}/", ctx.settings.export_prefix);
    let key = export_info_key(&root, id);
    let info = match aws::get(&ctx.clients.s3, &ctx.settings.export_bucket, &key).await? {
        Some(body) => Some(
            parse_export_info(&key, &body)
                .with_context(|| format!("s3://{}/{key}", ctx.settings.export_bucket))?,
        ),
        None => None,
    };
    let parse = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.to_utc())
    };
    Ok(match (task, info) {
        (Some(mut t), info) => {
            if let Some(info) = info {
                t.started_at = t.started_at.or(parse(&info.task_start_time));
                t.ended_at = t.ended_at.or(parse(&info.task_end_time));
            }
            Some(t)
        }
        (None, Some(info)) => Some(Export {
            export_id: id.to_string(),
            status: info.status.clone(),
            percent: info.percent_progress.map(|p| p.round() as i32),
            warning_message: info.warning_message.clone(),
            failure_cause: info.failure_cause.clone(),
            started_at: parse(&info.task_start_time),
            ended_at: parse(&info.task_end_time),
            from: "export_info",
        }),
        (None, None) => None,
    })
}

async fn task(ctx: &Ctx<'_>, id: &str) -> Result<Option<Export>> {
    let out = ctx
        .clients
        .rds
        .describe_export_tasks()
        .export_task_identifier(id)
        .send()
        .await;
    let out = match out {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_export_task_not_found_fault()) =>
        {
            return Ok(None);
        }
        Err(e) => {
            return Err(anyhow::anyhow!("{}", DisplayErrorContext(&e)))
                .with_context(|| format!("DescribeExportTasks {id}"));
        }
    };
    Ok(out
        .export_tasks()
        .iter()
        .find(|t| t.export_task_identifier() == Some(id))
        .map(|t| Export {
            export_id: id.to_string(),
            status: t.status().map(str::to_string),
            percent: t.percent_progress(),
            warning_message: t.warning_message().map(str::to_string),
            failure_cause: t.failure_cause().map(str::to_string),
            started_at: time(t.task_start_time()),
            ended_at: time(t.task_end_time()),
            from: "rds",
        }))
}

/// Every export task identifier RDS knows (for finding a date's exports).
pub async fn task_ids(ctx: &Ctx<'_>) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    let mut marker = None;
    loop {
        let page = ctx
            .clients
            .rds
            .describe_export_tasks()
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(&e)))
            .context("DescribeExportTasks")?;
        ids.extend(
            page.export_tasks()
                .iter()
                .filter_map(|t| t.export_task_identifier())
                .map(String::from),
        );
        marker = page.marker().map(String::from);
        if marker.is_none() {
            return Ok(ids);
        }
    }
}

/// The export's status in upper case (moto answers `complete`; AWS documents `COMPLETE`).
pub fn status(e: &Export) -> String {
    e.status
        .as_deref()
        .unwrap_or("UNKNOWN")
        .to_ascii_uppercase()
}

/// When the export ended, for overdue checks.
pub fn ended(e: &Export) -> Option<DateTime<Utc>> {
    e.ended_at.or(e.started_at)
}
