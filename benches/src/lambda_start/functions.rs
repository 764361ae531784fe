//! The two functions as deployed: the environment Terraform gives each
//! (`deploy/terraform/export.tf`, `copier.tf`) plus the variables Lambda itself sets, and a
//! real event per cold start with the moto state it needs.
//!
//! Every cold start gets a snapshot of its own (a new `sql-to-parquet-YY-MM-DD-HHMMSS`), so
//! each one takes the same path: the trigger starts an export (`started`), the copier
//! lands a two-table sample export and starts its Glue workflow (`glue_started`). The
//! events are the shared samples with the snapshot's id and ARN put in, as
//! `tests/tests/lambda_trigger.rs` does.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use liberator_engine::{EngineConfig, Location};
use liberator_fixtures::sample::{SampleSpec, write_sample_export};
use liberator_tests::aws;
use liberator_tests::lambda_watch::{ensure_export, events};
use rand::Rng;
use serde_json::{Value, json};

use super::emulator::Event;

/// Account of the shared sample events.
const ACCOUNT: &str = "123456789012";
/// The region the harness seeds moto in (`liberator_tests`' clients); the functions get it
/// as `AWS_REGION`, since moto keeps RDS and Glue state per region.
const REGION: &str = "us-east-1";

/// Which Lambda.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    Trigger,
    Copier,
}

impl Function {
    pub const ALL: [Function; 2] = [Function::Trigger, Function::Copier];

    /// The package (and zip folder) name.
    pub fn package(self) -> &'static str {
        match self {
            Function::Trigger => "export-trigger",
            Function::Copier => "export-copier",
        }
    }

    /// `outcome` of a handled first event.
    fn expected_outcome(self) -> &'static str {
        match self {
            Function::Trigger => "started",
            Function::Copier => "glue_started",
        }
    }

    /// `memory_size` in Terraform (`trigger_memory_mb`, `copier_memory_mb` defaults).
    fn memory_mb(self) -> u32 {
        match self {
            Function::Trigger => 256,
            Function::Copier => 2048,
        }
    }

    /// Lambda's timeout (export.tf's 120 s, `copier_timeout_seconds` 900).
    pub fn timeout(self) -> Duration {
        match self {
            Function::Trigger => Duration::from_secs(120),
            Function::Copier => Duration::from_secs(900),
        }
    }
}

/// moto state shared by every cold start of one function.
pub struct Fixture {
    function: Function,
    endpoint: String,
    rds: aws_sdk_rds::Client,
    /// Trigger: the RDS instance; copier: unused.
    instance: String,
    /// Trigger: the export bucket; copier: the source (export) bucket.
    source: String,
    /// Copier: the landing bucket.
    target: String,
    /// Copier: the Glue workflow.
    workflow: String,
    count: u32,
}

impl Fixture {
    /// Buckets, instance and workflows, once per function.
    pub async fn new(function: Function, endpoint: &str) -> Result<Fixture> {
        let s3 = liberator_tests::s3_client(endpoint);
        let rds = aws::rds_client(endpoint);
        let source = liberator_tests::unique_bucket("lambda-start-exports");
        let target = liberator_tests::unique_bucket("lambda-start-landing");
        liberator_tests::create_bucket(&s3, &source).await;
        let mut f = Fixture {
            function,
            endpoint: endpoint.to_string(),
            rds,
            instance: String::new(),
            source,
            target,
            workflow: String::new(),
            count: 0,
        };
        match function {
            Function::Trigger => {
                f.instance = aws::unique_instance("lambda-start");
                aws::create_instance(&f.rds, &f.instance).await;
            }
            Function::Copier => {
                liberator_tests::create_bucket(&s3, &f.target).await;
                let glue = aws::glue_client(endpoint);
                f.workflow = format!("lambda-start-{}", &f.target[f.target.len() - 8..]);
                aws::create_workflow(&glue, &f.workflow).await;
                aws::create_workflow(&glue, &format!("{}-backdated", f.workflow)).await;
            }
        }
        Ok(f)
    }

    /// A new snapshot (and for the copier its export), and the event announcing it.
    pub async fn next_event(&mut self) -> Result<Event> {
        self.count += 1;
        let id = unique_snapshot_id();
        let payload = match self.function {
            Function::Trigger => {
                let arn = aws::create_snapshot(&self.rds, &self.instance, &id).await;
                shared_event("rds-event-0042-snapshot-created.json", &id, &arn)?
            }
            Function::Copier => {
                // The ARN the shared event carries, with this snapshot's id; the export task
                // records it, as RDS's task and event agree.
                let arn = format!("arn:aws:rds:eu-west-2:{ACCOUNT}:snapshot:{id}");
                ensure_export(&self.rds, &id, &arn, &self.source).await;
                let engine = liberator_tests::engine(&self.endpoint, EngineConfig::default());
                let mut spec = SampleSpec::liberator(&id);
                spec.tables.truncate(2);
                let source = Location::parse(&format!("s3://{}", self.source))?;
                write_sample_export(engine.store(), &source, &spec)
                    .await
                    .with_context(|| format!("writing the sample export {id}"))?;
                shared_event("rds-event-0161-export-completed.json", &id, &arn)?
            }
        };
        let name = self.function_name();
        Ok(Event {
            request_id: format!("lambda-start-{}-{}", self.function.package(), self.count),
            payload: serde_json::to_vec(&payload)?,
            timeout: self.function.timeout(),
            function_arn: format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"),
            trace_id: format!(
                "Root=1-67891233-abcdef012345678912345678;Parent={:016x};Sampled=1",
                self.count
            ),
        })
    }

    /// Whether `answer` is the handled first event this fixture expects.
    pub fn check(&self, answer: &Value) -> Result<()> {
        let want = self.function.expected_outcome();
        if answer["outcome"] != want {
            bail!(
                "{}: answered {answer}, expected outcome {want:?}",
                self.function.package()
            );
        }
        Ok(())
    }

    fn function_name(&self) -> String {
        format!("liberator-{}", self.function.package())
    }

    /// The process environment: what Lambda sets for a custom runtime
    /// (<https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime>),
    /// with moto as every AWS endpoint, and the function's variables from Terraform.
    pub fn env(&self, task_root: &Path) -> Vec<(String, String)> {
        let name = self.function_name();
        let mut env: Vec<(&str, String)> = vec![
            ("AWS_LAMBDA_FUNCTION_NAME", name.clone()),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                self.function.memory_mb().to_string(),
            ),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
            ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/12/02/[$LATEST]0123456789abcdef".into(),
            ),
            ("AWS_REGION", REGION.into()),
            ("AWS_DEFAULT_REGION", REGION.into()),
            ("AWS_ACCESS_KEY_ID", liberator_tests::ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", liberator_tests::SECRET_KEY.into()),
            ("AWS_SESSION_TOKEN", "lambda-start-session".into()),
            ("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR".into()),
            ("_AWS_XRAY_DAEMON_ADDRESS", "169.254.79.129".into()),
            ("_AWS_XRAY_DAEMON_PORT", "2000".into()),
            ("AWS_XRAY_DAEMON_ADDRESS", "169.254.79.129:2000".into()),
            ("_HANDLER", "bootstrap".into()),
            ("LAMBDA_TASK_ROOT", task_root.display().to_string()),
            ("LAMBDA_RUNTIME_DIR", "/var/runtime".into()),
            ("LANG", "en_US.UTF-8".into()),
            ("TZ", ":UTC".into()),
            ("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin".into()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
        ];
        match self.function {
            Function::Trigger => env.extend([
                ("BUCKET_NAME", self.source.clone()),
                (
                    "IAM_ROLE_ARN",
                    format!("arn:aws:iam::{ACCOUNT}:role/liberator-rds-export"),
                ),
                (
                    "KMS_KEY_ID",
                    format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/export"),
                ),
                ("RDS_INSTANCE_ID", self.instance.clone()),
                ("SNAPSHOT_PREFIX", "sql-to-parquet".into()),
            ]),
            Function::Copier => env.extend([
                ("SOURCE_BUCKET", self.source.clone()),
                ("SOURCE_PREFIX", String::new()),
                ("TARGET_BUCKET", self.target.clone()),
                ("TARGET_PREFIX", "parking/".into()),
                // Terraform passes the landing key; moto's S3 is left to its default here.
                ("TARGET_KMS_KEY_ID", String::new()),
                ("WORKFLOW_NAME", self.workflow.clone()),
                (
                    "BACKDATED_WORKFLOW_NAME",
                    format!("{}-backdated", self.workflow),
                ),
                ("CONCURRENCY", "32".into()),
                ("MAX_INVOCATION_SECONDS", "900".into()),
                // No manifest there: the copier looks, logs a warning, checks the export's
                // own table list.
                (
                    "MANIFEST_LOCATION",
                    format!("s3://{}/liberator-manifests/", self.target),
                ),
                ("FAIL_ON_SCHEMA_CHANGE", "false".into()),
            ]),
        }
        env.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }
}

/// A daily export id no other cold start (of this or an earlier run on the same moto) uses.
fn unique_snapshot_id() -> String {
    let mut r = rand::rng();
    format!(
        "sql-to-parquet-{:02}-{:02}-{:02}-{:02}{:02}{:02}",
        r.random_range(10..=29),
        r.random_range(1..=12),
        r.random_range(1..=28),
        r.random_range(0..24),
        r.random_range(0..60),
        r.random_range(0..60)
    )
}

/// A shared sample event with the snapshot's id and ARN put in.
fn shared_event(file: &str, id: &str, arn: &str) -> Result<Value> {
    let path = events().join(file);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut v: Value = serde_json::from_str(&text)?;
    v["resources"] = json!([arn]);
    v["detail"]["SourceArn"] = json!(arn);
    v["detail"]["SourceIdentifier"] = json!(id);
    Ok(v)
}
