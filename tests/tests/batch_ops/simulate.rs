//! S3 Batch Operations played locally (moto has no S3 Control jobs): a [`JobService`] that,
//! on CreateJob, reads the CSV manifest from S3, invokes the export-copier's handler once
//! per manifest line with the schema-2.0 payload S3 sends, and writes the completion report
//! in S3's format; DescribeJob reports its progress.
//!
//! Shapes, from the S3 user guide:
//! - the invocation, "Invoke AWS Lambda function", example request schema 2.0
//!   (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-invoke-lambda.html>):
//!   `{"invocationSchemaVersion":"2.0","invocationId":…,"job":{"id":…,"userArguments":{…}},
//!   "tasks":[{"taskId":…,"s3Key":…,"s3VersionId":null,"s3Etag":null,"s3Bucket":…}]}`; the
//!   key is the manifest's (URL-encoded); one task per invocation; `TemporaryFailure` is
//!   retried;
//! - the completion report, "Examples: S3 Batch Operations completion reports"
//!   (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-reports.html>):
//!   `<prefix>/job-<id>/manifest.json` (`Format` `Report_CSV_20180820`, `Results` with
//!   `TaskExecutionStatus`, `Bucket`, `MD5Checksum`, `Key`, and `ReportSchema`) and one CSV
//!   file each for succeeded and failed tasks under `results/`, one line per task: bucket,
//!   key, version id, status, error code, HTTP status, result message.
//!
//! CreateJob with a `ClientRequestToken` already used returns that job, as S3 Control's
//! idempotency token promises, and counts no new job.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, anyhow};
use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use export_copier::{Copier, Invocation};
use futures::StreamExt;
use liberator_cli::commands::batch::job::{JobService, JobSpec, JobState};
use serde_json::{Value, json};
use tokio::sync::Notify;

/// Invocations in flight (S3 runs many; the copier handles one task each).
const IN_FLIGHT: usize = 32;
/// Tries of a task answered `TemporaryFailure`.
const TRIES: u32 = 3;

#[derive(Default)]
struct Job {
    spec: Option<JobSpec>,
    status: String,
    total: u64,
    succeeded: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
}

/// The simulated service; `created` counts the jobs CreateJob really made.
pub struct SimulatedJobs {
    s3: aws_sdk_s3::Client,
    copier: Copier,
    jobs: Arc<Mutex<HashMap<String, Job>>>,
    tokens: Mutex<HashMap<String, String>>,
    pub created: AtomicU64,
    pub invocations: Arc<AtomicU64>,
    /// While set, created jobs wait (status `Active`) until [`SimulatedJobs::release`].
    gate: Arc<Notify>,
    gated: bool,
}

impl SimulatedJobs {
    pub fn new(s3: aws_sdk_s3::Client, copier: Copier) -> Self {
        SimulatedJobs {
            s3,
            copier,
            jobs: Arc::default(),
            tokens: Mutex::default(),
            created: AtomicU64::new(0),
            invocations: Arc::default(),
            gate: Arc::new(Notify::new()),
            gated: false,
        }
    }

    /// Jobs wait before running their tasks until released.
    pub fn gated(mut self) -> Self {
        self.gated = true;
        self
    }

    pub fn release(&self) {
        self.gate.notify_waiters();
        self.gate.notify_one();
    }

    /// The specs CreateJob received, by job id.
    pub fn spec(&self, job_id: &str) -> Option<JobSpec> {
        self.jobs.lock().unwrap().get(job_id)?.spec.clone()
    }
}

/// A CSV field as S3 writes it: quoted when it holds a comma, quote or newline.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

async fn get_text(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<String> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| anyhow!("{}", aws_sdk_s3::error::DisplayErrorContext(e)))?;
    Ok(String::from_utf8(
        out.body.collect().await?.into_bytes().to_vec(),
    )?)
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: String) -> Result<()> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.into_bytes()))
        .send()
        .await
        .map_err(|e| anyhow!("{}", aws_sdk_s3::error::DisplayErrorContext(e)))?;
    Ok(())
}

/// One task as S3 would run it: the schema-2.0 invocation, retried while the answer is
/// `TemporaryFailure`; the report line.
async fn run_task(
    copier: &Copier,
    job_id: &str,
    n: usize,
    bucket: &str,
    key: &str,
) -> (bool, String) {
    let task_id = format!("task-{n}");
    let mut last = (false, String::new());
    for _ in 0..TRIES {
        let invocation_id = uuid::Uuid::new_v4().to_string();
        let event = json!({
            "invocationSchemaVersion": "2.0",
            "invocationId": invocation_id,
            "job": {"id": job_id, "userArguments": {}},
            "tasks": [{"taskId": task_id, "s3Key": key, "s3VersionId": null, "s3Etag": null, "s3Bucket": bucket}]
        });
        let inv = Invocation::with_budget(
            std::time::Duration::from_secs(600),
            "arn:aws:lambda:us-east-1:123456789012:function:export-copier",
        );
        let answer = match copier.handle(&event, &inv).await {
            Ok(a) => a,
            Err(e) => {
                let message = format!(
                    "Lambda returned function error: {{\"errorType\":\"{}\",\"errorMessage\":{}}}",
                    e.kind(),
                    Value::from(e.to_string())
                );
                return (
                    false,
                    format!(
                        "{bucket},{key},,failed,200,PermanentFailure,{}",
                        csv_field(&message)
                    ),
                );
            }
        };
        assert_eq!(answer["invocationSchemaVersion"], "2.0", "{answer}");
        assert_eq!(answer["invocationId"], invocation_id.as_str(), "{answer}");
        let result = &answer["results"][0];
        assert_eq!(result["taskId"], task_id.as_str(), "{answer}");
        let code = result["resultCode"].as_str().unwrap_or("").to_string();
        let message = result["resultString"].as_str().unwrap_or("").to_string();
        last = match code.as_str() {
            "Succeeded" => {
                return (
                    true,
                    format!("{bucket},{key},,succeeded,200,,{}", csv_field(&message)),
                );
            }
            "TemporaryFailure" => (
                false,
                format!(
                    "{bucket},{key},,failed,200,TemporaryFailure,{}",
                    csv_field(&message)
                ),
            ),
            _ => {
                return (
                    false,
                    format!(
                        "{bucket},{key},,failed,200,PermanentFailure,{}",
                        csv_field(&message)
                    ),
                );
            }
        };
    }
    last
}

impl SimulatedJobs {
    async fn execute(&self, job_id: String, spec: JobSpec) -> Result<()> {
        let manifest = get_text(&self.s3, &spec.manifest.bucket, &spec.manifest.key).await?;
        let lines: Vec<(String, String)> = manifest
            .lines()
            .map(|l| {
                let (b, k) = l.split_once(',').expect("bucket,key");
                (b.to_string(), k.to_string())
            })
            .collect();
        let (succeeded, failed) = {
            let mut jobs = self.jobs.lock().unwrap();
            let job = jobs.get_mut(&job_id).unwrap();
            job.total = lines.len() as u64;
            job.status = "Active".into();
            (job.succeeded.clone(), job.failed.clone())
        };
        if self.gated {
            self.gate.notified().await;
        }
        let copier = self.copier.clone();
        let invocations = self.invocations.clone();
        let rows: Vec<(bool, String)> = futures::stream::iter(lines.into_iter().enumerate())
            .map(|(n, (bucket, key))| {
                let (copier, job_id, succeeded, failed, invocations) = (
                    copier.clone(),
                    job_id.clone(),
                    succeeded.clone(),
                    failed.clone(),
                    invocations.clone(),
                );
                async move {
                    invocations.fetch_add(1, Ordering::Relaxed);
                    let r = run_task(&copier, &job_id, n, &bucket, &key).await;
                    if r.0 { &succeeded } else { &failed }.fetch_add(1, Ordering::Relaxed);
                    r
                }
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        let prefix = format!("{}/job-{job_id}", spec.report_prefix.trim_end_matches('/'));
        let mut results = Vec::new();
        for (ok, status) in [(true, "succeeded"), (false, "failed")] {
            let body: String = rows
                .iter()
                .filter(|(s, _)| *s == ok)
                .map(|(_, l)| format!("{l}\n"))
                .collect();
            if body.is_empty() {
                continue;
            }
            let key = format!("{prefix}/results/{}.csv", uuid::Uuid::new_v4().simple());
            put(&self.s3, &spec.report_bucket, &key, body).await?;
            results.push(json!({"TaskExecutionStatus": status, "Bucket": spec.report_bucket, "MD5Checksum": "", "Key": key}));
        }
        let manifest_json = json!({
            "Format": "Report_CSV_20180820",
            "ReportCreationDate": chrono::Utc::now().to_rfc3339(),
            "Results": results,
            "ReportSchema": "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"
        });
        put(
            &self.s3,
            &spec.report_bucket,
            &format!("{prefix}/manifest.json"),
            manifest_json.to_string(),
        )
        .await?;
        self.jobs.lock().unwrap().get_mut(&job_id).unwrap().status = "Complete".into();
        Ok(())
    }
}

/// The [`JobService`] of a shared [`SimulatedJobs`].
#[derive(Clone)]
pub struct Sim(pub Arc<SimulatedJobs>);

#[async_trait]
impl JobService for Sim {
    async fn create(&self, spec: &JobSpec) -> Result<String> {
        let this = &self.0;
        assert!(
            !spec.manifest.etag.is_empty(),
            "CreateJob needs the manifest's ETag"
        );
        if let Some(id) = this.tokens.lock().unwrap().get(&spec.token) {
            return Ok(id.clone());
        }
        let job_id = uuid::Uuid::new_v4().to_string();
        this.tokens
            .lock()
            .unwrap()
            .insert(spec.token.clone(), job_id.clone());
        this.created.fetch_add(1, Ordering::SeqCst);
        this.jobs.lock().unwrap().insert(
            job_id.clone(),
            Job {
                spec: Some(spec.clone()),
                status: "Preparing".into(),
                ..Job::default()
            },
        );
        let this = this.clone();
        let (id, spec) = (job_id.clone(), spec.clone());
        tokio::spawn(async move {
            if let Err(e) = this.execute(id.clone(), spec).await {
                eprintln!("simulated job {id} failed: {e:#}");
                this.jobs.lock().unwrap().get_mut(&id).unwrap().status = "Failed".into();
            }
        });
        Ok(job_id)
    }

    async fn describe(&self, job_id: &str) -> Result<JobState> {
        let jobs = self.0.jobs.lock().unwrap();
        let job = jobs
            .get(job_id)
            .with_context(|| format!("no such job {job_id}"))?;
        let spec = job.spec.as_ref().unwrap();
        Ok(JobState {
            job_id: job_id.into(),
            status: job.status.clone(),
            total: Some(job.total),
            succeeded: job.succeeded.load(Ordering::Relaxed),
            failed: job.failed.load(Ordering::Relaxed),
            elapsed_secs: None,
            reasons: Vec::new(),
            report: Some((spec.report_bucket.clone(), spec.report_prefix.clone())),
        })
    }
}
