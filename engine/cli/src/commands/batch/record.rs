//! The record of a selection's jobs, `jobs.json` beside its manifests: which jobs were
//! created for it, so a re-submitted backfill follows the running one (or concludes from
//! every finished one's report) instead of starting another. S3 Control's own idempotency
//! (the `ClientRequestToken`) covers the moment between CreateJob and this record.

use anyhow::{Context, Result, anyhow};
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize};

/// One job created for the selection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedJob {
    pub job_id: String,
    pub token: String,
    /// `s3://` URI of its manifest.
    pub manifest: String,
    pub created_at: String,
}

/// Every job of the selection, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub jobs: Vec<RecordedJob>,
}

/// The record at `s3://bucket/key`, empty when there is none.
pub async fn read(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Record> {
    let out = match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
            return Ok(Record::default());
        }
        Err(e) => {
            return Err(anyhow!("{}", DisplayErrorContext(e)))
                .with_context(|| format!("reading the job record s3://{bucket}/{key}"));
        }
    };
    let body = out
        .body
        .collect()
        .await
        .with_context(|| format!("reading the job record s3://{bucket}/{key}"))?
        .into_bytes();
    serde_json::from_slice(&body)
        .with_context(|| format!("s3://{bucket}/{key} is not a job record"))
}

/// Writes the record.
pub async fn write(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    record: &Record,
) -> Result<()> {
    let body = serde_json::to_vec_pretty(record).expect("records serialize");
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json")
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|e| anyhow!("{}", DisplayErrorContext(e)))
        .with_context(|| format!("writing the job record s3://{bucket}/{key}"))?;
    Ok(())
}
