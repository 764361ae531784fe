//! The S3 Batch Operations job: what `CreateJob` is sent, what `DescribeJob` says, and the
//! seam ([`JobService`]) between them and S3 Control, so tests can play a job's execution.
//!
//! CreateJob (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_CreateJob.html>):
//! a `LambdaInvoke` operation on the copier with invocation schema `2.0`, a CSV manifest
//! (`Bucket`, `Key`) located by ARN and ETag, a CSV completion report of all tasks, a
//! priority, `ConfirmationRequired=false` (the job runs once prepared) and a
//! `ClientRequestToken`, S3 Control's idempotency token: sent twice, the same token makes
//! no second job. The token is derived from the selection ([`request_token`]).

use anyhow::{Context, Result, anyhow};
use async_trait::async_trait;
use aws_sdk_s3control::error::DisplayErrorContext;
use aws_sdk_s3control::types::{
    JobManifest, JobManifestFieldName, JobManifestFormat, JobManifestLocation, JobManifestSpec,
    JobOperation, JobReport, JobReportFormat, JobReportScope, LambdaInvokeOperation,
};
use sha2::{Digest, Sha256};

use super::manifest::ManifestObject;

/// The invocation schema the copier's handler is written for (bucket by name).
pub const INVOCATION_SCHEMA: &str = "2.0";

/// One job to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    pub manifest: ManifestObject,
    /// The copier Lambda's ARN.
    pub function_arn: String,
    /// The role S3 Batch Operations assumes (reads the manifest, writes the report,
    /// invokes the copier).
    pub role_arn: String,
    /// Completion reports go to `s3://report_bucket/report_prefix/job-<id>/`.
    pub report_bucket: String,
    pub report_prefix: String,
    pub priority: i32,
    /// The idempotency token ([`request_token`]).
    pub token: String,
    pub description: String,
}

/// Where a job stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobState {
    pub job_id: String,
    /// S3's status: `New`, `Preparing`, `Ready`, `Active`, `Pausing`, `Paused`,
    /// `Completing`, `Complete`, `Cancelling`, `Cancelled`, `Failing`, `Failed`, `Suspended`.
    pub status: String,
    pub total: Option<u64>,
    pub succeeded: u64,
    pub failed: u64,
    pub elapsed_secs: Option<u64>,
    /// Job-level failures (`FailureCode: FailureReason`) and the status update reason.
    pub reasons: Vec<String>,
    /// Where its completion report goes (`bucket` name, prefix).
    pub report: Option<(String, String)>,
}

impl JobState {
    /// The job will not change any more.
    pub fn is_terminal(&self) -> bool {
        matches!(self.status.as_str(), "Complete" | "Failed" | "Cancelled")
    }

    /// Suspended jobs wait for a confirmation nobody gives (`ConfirmationRequired=false`
    /// means it should not happen): the operator must look.
    pub fn is_stuck(&self) -> bool {
        self.status == "Suspended"
    }
}

/// Creates and describes S3 Batch Operations jobs.
#[async_trait]
pub trait JobService: Send + Sync {
    /// Creates the job (or, for a token already used, returns that job); its id.
    async fn create(&self, spec: &JobSpec) -> Result<String>;
    /// The job's status and progress.
    async fn describe(&self, job_id: &str) -> Result<JobState>;
}

/// [`JobService`] on S3 Control, for one account.
#[derive(Debug, Clone)]
pub struct S3ControlJobs {
    client: aws_sdk_s3control::Client,
    account_id: String,
}

impl S3ControlJobs {
    pub fn new(client: aws_sdk_s3control::Client, account_id: impl Into<String>) -> Self {
        S3ControlJobs {
            client,
            account_id: account_id.into(),
        }
    }
}

/// The account of an IAM ARN (`arn:aws:iam::<account>:role/...`).
pub fn account_of(arn: &str) -> Option<String> {
    let account = arn.split(':').nth(4)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then(|| account.into())
}

/// The `ClientRequestToken` of a selection: a SHA-256 over what makes the job (source,
/// target, copier, the selected exports in order) and the number of jobs this selection
/// already ran (`generation`), in hex (64 characters, S3 Control's limit). A re-submission
/// of the same backfill sends the same token; a follow-up job for what a finished job left
/// (`generation` + 1) gets a new one.
pub fn request_token(
    source: &str,
    target: &str,
    function_arn: &str,
    exports: &[String],
    generation: usize,
) -> String {
    let mut h = Sha256::new();
    for part in [source, target, function_arn] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    for e in exports {
        h.update(e.as_bytes());
        h.update([b'\n']);
    }
    h.update(generation.to_le_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn sdk_err<E: std::error::Error + 'static>(
    e: aws_sdk_s3control::error::SdkError<E>,
) -> anyhow::Error {
    anyhow!("{}", DisplayErrorContext(e))
}

#[async_trait]
impl JobService for S3ControlJobs {
    async fn create(&self, spec: &JobSpec) -> Result<String> {
        let m = &spec.manifest;
        let manifest = JobManifest::builder()
            .spec(
                JobManifestSpec::builder()
                    .format(JobManifestFormat::S3BatchOperationsCsv20180820)
                    .fields(JobManifestFieldName::Bucket)
                    .fields(JobManifestFieldName::Key)
                    .build()?,
            )
            .location(
                JobManifestLocation::builder()
                    .object_arn(format!("arn:aws:s3:::{}/{}", m.bucket, m.key))
                    .e_tag(&m.etag)
                    .build()?,
            )
            .build();
        let report = JobReport::builder()
            .enabled(true)
            .bucket(format!("arn:aws:s3:::{}", spec.report_bucket))
            .prefix(spec.report_prefix.trim_end_matches('/'))
            .format(JobReportFormat::ReportCsv20180820)
            .report_scope(JobReportScope::AllTasks)
            .build();
        let operation = JobOperation::builder()
            .lambda_invoke(
                LambdaInvokeOperation::builder()
                    .function_arn(&spec.function_arn)
                    .invocation_schema_version(INVOCATION_SCHEMA)
                    .build(),
            )
            .build();
        let out = self
            .client
            .create_job()
            .account_id(&self.account_id)
            .confirmation_required(false)
            .operation(operation)
            .report(report)
            .client_request_token(&spec.token)
            .manifest(manifest)
            .description(&spec.description)
            .priority(spec.priority)
            .role_arn(&spec.role_arn)
            .send()
            .await
            .map_err(|e| {
                let idempotency = e
                    .as_service_error()
                    .is_some_and(|s| s.is_idempotency_exception());
                let err = sdk_err(e);
                if idempotency {
                    err.context(
                        "a job was already created with this selection's token but other settings: \
                         find it with `aws s3control list-jobs` and follow it with --job-id",
                    )
                } else {
                    err
                }
            })
            .with_context(|| {
                format!(
                    "CreateJob (manifest s3://{}/{}, function {})",
                    m.bucket, m.key, spec.function_arn
                )
            })?;
        out.job_id()
            .map(str::to_string)
            .ok_or_else(|| anyhow!("CreateJob answered without a JobId"))
    }

    async fn describe(&self, job_id: &str) -> Result<JobState> {
        let out = self
            .client
            .describe_job()
            .account_id(&self.account_id)
            .job_id(job_id)
            .send()
            .await
            .map_err(sdk_err)
            .with_context(|| format!("DescribeJob {job_id}"))?;
        let job = out
            .job()
            .ok_or_else(|| anyhow!("DescribeJob {job_id} answered without the job"))?;
        let progress = job.progress_summary();
        let count = |v: Option<i64>| v.unwrap_or(0).max(0) as u64;
        let mut reasons: Vec<String> = job
            .failure_reasons()
            .iter()
            .map(|f| {
                format!(
                    "{}: {}",
                    f.failure_code().unwrap_or("?"),
                    f.failure_reason().unwrap_or("")
                )
            })
            .collect();
        if let Some(r) = job.status_update_reason() {
            reasons.push(r.to_string());
        }
        Ok(JobState {
            job_id: job_id.into(),
            status: job
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            total: progress
                .and_then(|p| p.total_number_of_tasks())
                .map(|t| t.max(0) as u64),
            succeeded: count(progress.and_then(|p| p.number_of_tasks_succeeded())),
            failed: count(progress.and_then(|p| p.number_of_tasks_failed())),
            elapsed_secs: progress
                .and_then(|p| p.timers())
                .and_then(|t| t.elapsed_time_in_active_seconds())
                .map(|s| s.max(0) as u64),
            reasons,
            report: job.report().and_then(|r| {
                let bucket = r.bucket()?.rsplit(':').next()?.to_string();
                Some((bucket, r.prefix().unwrap_or("").to_string()))
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_the_selection() {
        let ex = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let a = request_token("s3://x", "s3://l/p", "arn:f", &ex(&["e1", "e2"]), 0);
        assert_eq!(a.len(), 64);
        assert_eq!(
            a,
            request_token("s3://x", "s3://l/p", "arn:f", &ex(&["e1", "e2"]), 0)
        );
        assert_ne!(
            a,
            request_token("s3://x", "s3://l/p", "arn:f", &ex(&["e1"]), 0)
        );
        assert_ne!(
            a,
            request_token("s3://x", "s3://l/p", "arn:f", &ex(&["e1", "e2"]), 1)
        );
        assert_ne!(
            a,
            request_token("s3://x", "s3://l/q", "arn:f", &ex(&["e1", "e2"]), 0)
        );
    }

    #[test]
    fn the_account_comes_from_the_role() {
        assert_eq!(
            account_of("arn:aws:iam::123456789012:role/liberator-batch").as_deref(),
            Some("123456789012")
        );
        assert_eq!(account_of("liberator-batch"), None);
        assert_eq!(account_of("arn:aws:iam::12:role/x"), None);
    }
}
