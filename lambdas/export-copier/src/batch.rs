//! S3 Batch Operations: each task names one key of an export folder; the copier lands that
//! one file (footer check, skip when already landed, server-side copy) and answers per
//! task, so a very large backfill can fan out over a manifest of keys
//! (`engine backfill --via batch-operations` writes the manifest and creates the job).
//!
//! The invocation and the answer are those of "Invoke AWS Lambda function"
//! (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-invoke-lambda.html>):
//! schema `1.0` names the bucket by ARN (`s3BucketArn`), schema `2.0` by name (`s3Bucket`)
//! and adds `job.userArguments` and `s3Etag` (neither is needed here); keys arrive
//! URL-encoded as the CSV manifest wrote them and are decoded as AWS's example function does
//! (`unquote_plus`, [`liberator_engine::batch::decode_key`]). The answer echoes
//! `invocationSchemaVersion` and `invocationId`, sets `treatMissingKeysAs`, and gives each
//! task's `taskId`, `resultCode` (`Succeeded`, `TemporaryFailure` to be retried,
//! `PermanentFailure`) and `resultString`. A Parquet file's `resultString` carries its
//! footer's row count and where it landed ([`TaskResult`]), which S3 puts in the job's
//! completion report, so the CLI checks the export's completeness from the report.
//!
//! No Glue workflow is started from here: a batch job covers any number of exports; the
//! CLI that created the job starts each export's workflow once every task succeeded,
//! through the same exactly-once marker as the copier's export events.

use aws_lambda_events::event::s3::batch_job::{S3BatchJobResponse, S3BatchJobResult};
use liberator_engine::ExportId;
use liberator_engine::batch::{TaskResult, decode_key};
use liberator_engine::layout::{Layout, Mapped, normalize_prefix};
use serde::Deserialize;
use serde_json::Value;

use crate::{Copier, Error};

/// The task succeeded.
pub const SUCCEEDED: &str = "Succeeded";
/// S3 Batch Operations retries the task.
pub const TEMPORARY_FAILURE: &str = "TemporaryFailure";
/// The task failed for good.
pub const PERMANENT_FAILURE: &str = "PermanentFailure";

/// The invocation (schema 1.0 names the bucket by ARN, 2.0 by name; `job` is not needed).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchEvent {
    invocation_schema_version: Option<String>,
    invocation_id: Option<String>,
    tasks: Vec<BatchTask>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BatchTask {
    task_id: Option<String>,
    s3_key: Option<String>,
    s3_bucket_arn: Option<String>,
    s3_bucket: Option<String>,
}

/// One task's answer: code and message.
type TaskAnswer = (&'static str, String);

/// Answers every task of the invocation; a malformed invocation fails as a whole.
pub async fn handle(copier: &Copier, payload: &Value) -> Result<S3BatchJobResponse, Error> {
    let event: BatchEvent = serde_json::from_value(payload.clone()).map_err(|e| {
        liberator_lambda_common::Error::NotAnEvent {
            event_id: payload
                .get("invocationId")
                .and_then(Value::as_str)
                .unwrap_or("(no invocationId)")
                .to_string(),
            reason: format!("not an S3 Batch Operations invocation: {e}"),
        }
    })?;
    let mut response = S3BatchJobResponse::default();
    response.invocation_schema_version = event.invocation_schema_version.clone();
    response.invocation_id = event.invocation_id.clone();
    response.treat_missing_keys_as = Some(PERMANENT_FAILURE.into());
    for task in &event.tasks {
        let (code, message) = copy_task(copier, task).await;
        tracing::info!(
            task_id = task.task_id.as_deref().unwrap_or(""),
            key = task.s3_key.as_deref().unwrap_or(""),
            result = code,
            message,
            "batch task"
        );
        let mut r = S3BatchJobResult::default();
        r.task_id = task.task_id.clone();
        r.result_code = Some(code.into());
        r.result_string = Some(message);
        response.results.push(r);
    }
    Ok(response)
}

/// Lands one key.
#[tracing::instrument(skip_all, fields(export_id))]
async fn copy_task(copier: &Copier, task: &BatchTask) -> TaskAnswer {
    let permanent = |m: String| (PERMANENT_FAILURE, m);
    let cfg = copier.config();
    let Some(encoded) = task.s3_key.as_deref() else {
        return permanent("task has no s3Key".into());
    };
    let Some(decoded) = decode_key(encoded) else {
        return permanent(format!("s3Key {encoded:?} is not URL-encoded UTF-8"));
    };
    let key = decoded.as_str();
    let bucket = task.s3_bucket.clone().or_else(|| {
        task.s3_bucket_arn
            .as_deref()
            .map(|a| a.rsplit(':').next().unwrap_or(a).to_string())
    });
    if bucket.as_deref() != Some(cfg.source_bucket.as_str()) {
        return permanent(format!(
            "key {key:?} is in bucket {bucket:?}, not the export bucket {:?}",
            cfg.source_bucket
        ));
    }
    let source_prefix = normalize_prefix(&cfg.source_prefix);
    let Some(rel) = key.strip_prefix(&source_prefix) else {
        return permanent(format!(
            "key {key:?} is not under SOURCE_PREFIX {source_prefix:?}"
        ));
    };
    let folder = rel.split('/').next().unwrap_or("");
    let export_id = match ExportId::parse(folder) {
        Ok(id) => id,
        Err(e) => return permanent(format!("key {key:?}: {e}")),
    };
    tracing::Span::current().record("export_id", export_id.as_str());
    let layout = Layout::new(
        &cfg.source_prefix,
        export_id.as_str(),
        &cfg.target_prefix,
        export_id.date(),
    );
    let target_key = match layout.map(key) {
        Ok(Mapped::Parquet(p)) => p.target_key,
        Ok(Mapped::Other) => return (SUCCEEDED, format!("{key}: export metadata, not copied")),
        Err(e) => return permanent(e.to_string()),
    };
    match land(
        copier,
        &cfg.source_bucket,
        key,
        &cfg.target_bucket,
        &target_key,
    )
    .await
    {
        Ok(message) => (SUCCEEDED, message),
        Err(r) => r,
    }
}

/// The engine's single-object path: footer check, skip-if-landed, CopyObject or multipart
/// UploadPartCopy (objects over 5 GiB included), size/ETag check.
async fn land(
    copier: &Copier,
    bucket: &str,
    key: &str,
    target_bucket: &str,
    target_key: &str,
) -> Result<String, TaskAnswer> {
    use liberator_engine::ObjectOutcome;
    match copier
        .engine()
        .land_object(bucket, key, target_bucket, target_key)
        .await
    {
        Ok((outcome, rows)) => Ok(TaskResult {
            rows,
            copied: !matches!(outcome, ObjectOutcome::Skipped),
            target: format!("s3://{target_bucket}/{target_key}"),
        }
        .to_result_string()),
        Err(e) if e.is_transient() => Err((TEMPORARY_FAILURE, e.to_string())),
        // Retrying cannot fix these: a bad file, a missing source, an impossible size, a
        // refused request (403, 404, …).
        Err(e) => Err((PERMANENT_FAILURE, e.to_string())),
    }
}
