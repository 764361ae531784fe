//! export-copier: lands a completed RDS snapshot export in the landing zone, then starts
//! the Glue workflow that imports it, exactly once.
//!
//! Input: the EventBridge event RDS-EVENT-0161 (export completed), the same payload inside
//! SQS records (the older deployment), or an S3 Batch Operations invocation (one key per
//! task) for very large backfills.
//!
//! For an export event it confirms the export with `DescribeExportTasks`, runs the copy
//! engine, and only when every object landed starts `WORKFLOW_NAME` (or, for a
//! `-backdated` export, sets `import_date` on `BACKDATED_WORKFLOW_NAME` and starts that).
//! A conditional-write marker ([`marker`]) makes the start exactly-once across retries and
//! re-deliveries; before the Lambda deadline the run stops and hands the rest on to a new
//! invocation ([`reinvoke`]).

pub mod batch;
pub mod marker;
pub mod reinvoke;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use aws_lambda_events::event::sqs::SqsEvent;
use bytes::Bytes;
use liberator_engine::limiter::Limiter;
use liberator_engine::stats::JobStats;
use liberator_engine::store::S3Store;
use liberator_engine::{
    CopyConfig, CopyRequest, Engine, ExportId, Location, NoProgress, Report, Store,
};
use liberator_lambda_common::emf::{self, Unit};
use liberator_lambda_common::rds_event::{self, RdsEvent};
use liberator_lambda_common::{Clients, Endpoints, env};
use serde::Serialize;
use serde_json::Value;

use crate::marker::{Marker, MarkerState, RUN_PROPERTY_EXPORT_ID};
use crate::reinvoke::{LambdaReinvoke, Reinvoke};

/// Default number of copies in flight (the engine's limiter maximum).
pub const DEFAULT_CONCURRENCY: usize = 64;
/// Default time kept free before the Lambda deadline.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_secs(90);
/// Lambda's own limit on one invocation.
pub const MAX_INVOCATION: Duration = Duration::from_secs(15 * 60);

/// Configuration, from the environment in production.
#[derive(Debug, Clone)]
pub struct Config {
    /// `SOURCE_BUCKET`: the export bucket. Required.
    pub source_bucket: String,
    /// `SOURCE_PREFIX`: where export folders sit in it (the trigger's `EXPORT_S3_PREFIX`).
    /// Default: the bucket root.
    pub source_prefix: String,
    /// `TARGET_BUCKET`: the landing bucket. Required.
    pub target_bucket: String,
    /// `TARGET_PREFIX`: landing prefix the table folders go under. Default: the bucket root.
    pub target_prefix: String,
    /// `WORKFLOW_NAME`: Glue workflow started after a normal export. Required.
    pub workflow_name: String,
    /// `BACKDATED_WORKFLOW_NAME`: Glue workflow for `-backdated` exports. Default: none
    /// (a backdated export then fails, naming the variable).
    pub backdated_workflow_name: Option<String>,
    /// `CONCURRENCY`: copies in flight. Default 64.
    pub concurrency: usize,
    /// `TARGET_KMS_KEY_ID`: SSE-KMS key for landed objects. Default: the bucket's default
    /// encryption.
    pub target_kms_key_id: Option<String>,
    /// `DEADLINE_MARGIN_SECONDS`: stop starting copies when less than this remains before
    /// the invocation's deadline (capped at a quarter of the invocation's time, so a short
    /// timeout still makes progress). Default 90 s: in-flight copies must finish and the
    /// re-invocation be sent within it.
    pub deadline_margin: Duration,
    /// `MARKER_PREFIX`: folder of the exactly-once markers in the landing bucket. Default
    /// `_liberator/glue-runs/`.
    pub marker_prefix: String,
    /// Endpoint overrides (tests). Default none: the SDK's resolution, which honours
    /// `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`.
    pub endpoints: Endpoints,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            source_bucket: String::new(),
            source_prefix: String::new(),
            target_bucket: String::new(),
            target_prefix: String::new(),
            workflow_name: String::new(),
            backdated_workflow_name: None,
            concurrency: DEFAULT_CONCURRENCY,
            target_kms_key_id: None,
            deadline_margin: DEFAULT_DEADLINE_MARGIN,
            marker_prefix: marker::DEFAULT_MARKER_PREFIX.into(),
            endpoints: Endpoints::default(),
        }
    }
}

impl Config {
    /// Reads the variables named on each field.
    pub fn from_env() -> Result<Self, Error> {
        let d = Config::default();
        let concurrency: usize = env::parsed("CONCURRENCY", d.concurrency)?;
        if concurrency == 0 {
            return Err(liberator_lambda_common::Error::Env {
                name: "CONCURRENCY",
                reason: "must be at least 1".into(),
            }
            .into());
        }
        Ok(Config {
            source_bucket: env::required("SOURCE_BUCKET")?,
            source_prefix: env::optional("SOURCE_PREFIX").unwrap_or_default(),
            target_bucket: env::required("TARGET_BUCKET")?,
            target_prefix: env::optional("TARGET_PREFIX").unwrap_or_default(),
            workflow_name: env::required("WORKFLOW_NAME")?,
            backdated_workflow_name: env::optional("BACKDATED_WORKFLOW_NAME"),
            concurrency,
            target_kms_key_id: env::optional("TARGET_KMS_KEY_ID"),
            deadline_margin: Duration::from_secs(env::parsed(
                "DEADLINE_MARGIN_SECONDS",
                d.deadline_margin.as_secs(),
            )?),
            marker_prefix: env::optional("MARKER_PREFIX").unwrap_or(d.marker_prefix),
            endpoints: d.endpoints,
        })
    }

    fn location(bucket: &str, prefix: &str) -> String {
        let prefix = prefix.trim_matches('/');
        if prefix.is_empty() {
            format!("s3://{bucket}")
        } else {
            format!("s3://{bucket}/{prefix}")
        }
    }
}

/// Everything that fails an invocation; each variant names the export, event or key.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The event is malformed or not RDS-EVENT-0161, or configuration is missing.
    #[error(transparent)]
    Event(#[from] liberator_lambda_common::Error),

    /// The snapshot identifier is not a `sql-to-parquet-…` export id.
    #[error("event {event}: bad export identifier: {source}")]
    BadIdentifier {
        event: String,
        #[source]
        source: Box<liberator_engine::Error>,
    },

    /// A configured bucket/prefix does not make a location.
    #[error("export {export_id}: {source}")]
    Location {
        export_id: String,
        #[source]
        source: Box<liberator_engine::Error>,
    },

    /// An SQS record's body is not a JSON event.
    #[error("SQS message {message_id}: body is not a JSON event: {reason}")]
    SqsBody { message_id: String, reason: String },

    /// Some SQS records failed; all are retried together (skip-existing and the marker
    /// make re-processing the others cheap and safe).
    #[error("{failed} of {total} SQS records failed: {errors}")]
    SqsRecords {
        failed: usize,
        total: usize,
        errors: String,
    },

    /// DescribeExportTasks failed.
    #[error("export {export_id}: DescribeExportTasks failed: {detail}")]
    DescribeExport { export_id: String, detail: String },

    /// No export task by that name (yet).
    #[error("export {export_id}: no such export task")]
    ExportNotFound { export_id: String },

    /// The export has not finished: fail so that Lambda retries later.
    #[error("export {export_id}: export task status is {status:?}, not complete yet")]
    ExportNotComplete { export_id: String, status: String },

    /// The engine's run ended abnormally.
    #[error("export {export_id}: copy run failed: {source}")]
    Engine {
        export_id: String,
        #[source]
        source: Box<liberator_engine::Error>,
    },

    /// Objects did not land; no workflow was started.
    #[error(
        "export {export_id}: {failed} object(s) did not land, no Glue workflow started; first: {first}"
    )]
    CopyFailed {
        export_id: String,
        failed: u64,
        first: String,
    },

    /// The deadline came and the remainder could not be handed on.
    #[error(
        "export {export_id}: stopped before the deadline and could not re-invoke {function:?}: {detail}"
    )]
    Reinvoke {
        export_id: String,
        function: String,
        detail: String,
    },

    /// Reading or writing the exactly-once marker failed.
    #[error("export {export_id}: marker s3://{bucket}/{key}: {detail}")]
    Marker {
        export_id: String,
        bucket: String,
        key: String,
        detail: String,
    },

    /// The marker says another invocation claimed the start, but no run is recorded or
    /// found: that invocation is still starting it, or died in between.
    #[error(
        "export {export_id}: marker s3://{bucket}/{key} was claimed at {claimed_at} but no workflow run of {workflow:?} carries this export; \
         if no invocation is still running, check Glue, then delete the marker and re-send the event"
    )]
    MarkerWithoutRun {
        export_id: String,
        bucket: String,
        key: String,
        workflow: String,
        claimed_at: String,
    },

    /// A backdated export arrived but `BACKDATED_WORKFLOW_NAME` is not set.
    #[error("export {export_id} is backdated but BACKDATED_WORKFLOW_NAME is not set")]
    NoBackdatedWorkflow { export_id: String },

    /// A Glue call failed.
    #[error("export {export_id}: Glue {op} on workflow {workflow:?} failed: {detail}")]
    Glue {
        export_id: String,
        op: &'static str,
        workflow: String,
        detail: String,
    },
}

/// What one export event led to.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Everything landed and this invocation started the workflow run.
    GlueStarted {
        export_id: String,
        workflow: String,
        run_id: String,
        copied: u64,
        skipped: u64,
    },
    /// A run was already started for this export (retry or re-delivery): nothing done.
    AlreadyStarted {
        export_id: String,
        workflow: String,
        run_id: String,
    },
    /// The export FAILED or was CANCELED: nothing copied.
    ExportNotCompleted { export_id: String, status: String },
    /// The deadline came: the rest was handed to a new invocation.
    HandedOn {
        export_id: String,
        copied: u64,
        skipped: u64,
        listed: u64,
    },
}

/// The time an invocation has.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// When the invocation must have returned.
    pub deadline: Instant,
    /// This function's ARN, for re-invocation.
    pub function_arn: String,
}

impl Invocation {
    /// From the Lambda context (deadline in epoch milliseconds), capped at 15 minutes.
    ///
    /// A deadline already past when the invocation starts cannot come from Lambda; local
    /// emulators send one (`cargo lambda watch` sends a fixed 600000). It is taken as no
    /// deadline at all: the copier assumes Lambda's 15 minutes and logs that it did.
    pub fn from_context(ctx: &lambda_runtime::Context) -> Self {
        let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(ctx.deadline);
        let left = match deadline.duration_since(SystemTime::now()) {
            Ok(left) if !left.is_zero() => left,
            _ => {
                tracing::warn!(
                    deadline_ms = ctx.deadline,
                    "the runtime's deadline has already passed: assuming 15 minutes"
                );
                MAX_INVOCATION
            }
        };
        Invocation {
            deadline: Instant::now() + left.min(MAX_INVOCATION),
            function_arn: ctx.invoked_function_arn.clone(),
        }
    }

    /// `budget` from now (tests, local runs).
    pub fn with_budget(budget: Duration, function_arn: &str) -> Self {
        Invocation {
            deadline: Instant::now() + budget.min(MAX_INVOCATION),
            function_arn: function_arn.to_string(),
        }
    }
}

/// The handler.
#[derive(Debug, Clone)]
pub struct Copier {
    config: Config,
    rds: aws_sdk_rds::Client,
    glue: aws_sdk_glue::Client,
    store: S3Store,
    engine: Arc<Engine>,
    reinvoker: Arc<dyn Reinvoke>,
}

/// The kind of payload an invocation carries.
enum Payload {
    EventBridge,
    Sqs,
    Batch,
}

fn payload_kind(v: &Value) -> Payload {
    if v.get("Records").is_some_and(Value::is_array) {
        Payload::Sqs
    } else if v.get("tasks").is_some_and(Value::is_array) && v.get("job").is_some() {
        Payload::Batch
    } else {
        Payload::EventBridge
    }
}

impl Copier {
    /// A copier over `clients`; re-invokes itself through Lambda.
    pub fn new(clients: Clients, config: Config) -> Self {
        let mut copy = CopyConfig::default();
        copy.limiter.max = config.concurrency.max(1);
        copy.limiter.min = copy.limiter.min.min(copy.limiter.max);
        copy.write.sse_kms_key_id = config.target_kms_key_id.clone();
        copy.verify = true;
        let limiter = Limiter::new(copy.limiter.clone());
        let store = S3Store::from_client(clients.s3, limiter.clone(), copy.retry.clone());
        let engine = Engine::with_store(Store::S3(store.clone()), limiter, copy);
        Copier {
            config,
            rds: clients.rds,
            glue: clients.glue,
            store,
            engine,
            reinvoker: Arc::new(LambdaReinvoke(clients.lambda)),
        }
    }

    /// Replaces the re-invoker (tests).
    pub fn with_reinvoker(mut self, reinvoker: Arc<dyn Reinvoke>) -> Self {
        self.reinvoker = reinvoker;
        self
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Handles one invocation of any accepted kind; the answer is JSON for the caller.
    pub async fn handle(&self, payload: &Value, inv: &Invocation) -> Result<Value, Error> {
        match payload_kind(payload) {
            Payload::EventBridge => {
                let outcome = self.handle_export(payload, inv).await?;
                Ok(serde_json::to_value(outcome).expect("outcomes serialize"))
            }
            Payload::Sqs => self.handle_sqs(payload, inv).await,
            Payload::Batch => {
                let response = batch::handle(self, payload).await?;
                Ok(serde_json::to_value(response).expect("responses serialize"))
            }
        }
    }

    /// SQS: each record's body is an EventBridge event. Every record is processed; any
    /// failure fails the invocation so the batch is retried (a partial-batch answer would
    /// drop failed messages where the event source mapping does not report item failures).
    async fn handle_sqs(&self, payload: &Value, inv: &Invocation) -> Result<Value, Error> {
        let event: SqsEvent =
            serde_json::from_value(payload.clone()).map_err(|e| Error::SqsBody {
                message_id: "(batch)".into(),
                reason: e.to_string(),
            })?;
        let total = event.records.len();
        let mut outcomes = Vec::new();
        let mut errors = Vec::new();
        for record in &event.records {
            let message_id = record
                .message_id
                .clone()
                .unwrap_or_else(|| "(no id)".into());
            let body: Result<Value, Error> =
                serde_json::from_str(record.body.as_deref().unwrap_or("")).map_err(|e| {
                    Error::SqsBody {
                        message_id: message_id.clone(),
                        reason: e.to_string(),
                    }
                });
            match async { self.handle_export(&body?, inv).await }.await {
                Ok(o) => outcomes.push(serde_json::to_value(o).expect("outcomes serialize")),
                Err(e) => {
                    tracing::error!(message_id, error = %e, "SQS record failed");
                    errors.push(format!("{message_id}: {e}"));
                }
            }
        }
        if errors.is_empty() {
            Ok(serde_json::json!({ "records": outcomes }))
        } else {
            Err(Error::SqsRecords {
                failed: errors.len(),
                total,
                errors: errors.join("; "),
            })
        }
    }

    /// One RDS-EVENT-0161: confirm, copy, start Glue once.
    #[tracing::instrument(skip_all, fields(export_id))]
    pub async fn handle_export(&self, event: &Value, inv: &Invocation) -> Result<Outcome, Error> {
        let e = RdsEvent::parse(event)?.expect(rds_event::EXPORT_COMPLETED)?;
        tracing::Span::current().record("export_id", e.source_identifier.as_str());
        let export_id =
            ExportId::parse(&e.source_identifier).map_err(|source| Error::BadIdentifier {
                event: e.id.clone(),
                source: Box::new(source.into()),
            })?;
        let id = export_id.as_str().to_string();
        tracing::info!(event = %e.id, "export completed event received");

        if let Some(status) = self.confirm_export(&id, &e.source_arn).await? {
            tracing::warn!(status, "export did not complete: nothing copied");
            return Ok(Outcome::ExportNotCompleted {
                export_id: id,
                status,
            });
        }

        // A re-delivered event after the run started: answer without copying again.
        if let Some((existing, _)) = self.read_marker(&id).await?
            && existing.state != MarkerState::Released
        {
            return self.resolve_existing(&id, existing).await;
        }

        let (report, stopped) = self.copy(&export_id, inv).await?;
        self.log_report(&report);

        if report.failed > 0 || !report.failures.is_empty() {
            let first = report
                .failures
                .first()
                .map(|f| format!("{}: {}", f.key, f.reason))
                .unwrap_or_else(|| "(no detail)".into());
            return Err(Error::CopyFailed {
                export_id: id,
                failed: report.failed.max(report.failures.len() as u64),
                first,
            });
        }
        if !report.complete {
            if !stopped {
                return Err(Error::CopyFailed {
                    export_id: id,
                    failed: 0,
                    first: "the run ended incomplete (listing failed); see the report".into(),
                });
            }
            tracing::warn!(
                copied = report.copied,
                skipped = report.skipped,
                listed = report.listed,
                "deadline near: handing the rest on to a new invocation"
            );
            self.reinvoker
                .reinvoke(&inv.function_arn, event)
                .await
                .map_err(|detail| Error::Reinvoke {
                    export_id: id.clone(),
                    function: inv.function_arn.clone(),
                    detail,
                })?;
            return Ok(Outcome::HandedOn {
                export_id: id,
                copied: report.copied,
                skipped: report.skipped,
                listed: report.listed,
            });
        }
        self.start_glue_once(&export_id, &report).await
    }

    /// `None` when the export is complete; `Some(status)` when it FAILED or was CANCELED;
    /// an error when it is still running or cannot be found (so Lambda retries).
    async fn confirm_export(&self, id: &str, source_arn: &str) -> Result<Option<String>, Error> {
        let out = self
            .rds
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
        // moto reports `complete`; AWS documents `COMPLETE`.
        match status.to_ascii_uppercase().as_str() {
            "COMPLETE" => Ok(None),
            "FAILED" | "CANCELED" | "CANCELLED" => {
                tracing::warn!(
                    status,
                    failure_cause = task.failure_cause().unwrap_or(""),
                    "export task did not complete"
                );
                Ok(Some(status))
            }
            _ => Err(Error::ExportNotComplete {
                export_id: id.into(),
                status,
            }),
        }
    }

    /// Runs the engine until done or until the deadline margin; `(report, stopped)`.
    async fn copy(&self, export_id: &ExportId, inv: &Invocation) -> Result<(Report, bool), Error> {
        let id = export_id.as_str();
        let loc = |bucket: &str, prefix: &str| {
            Location::parse(&Config::location(bucket, prefix)).map_err(|source| Error::Location {
                export_id: id.into(),
                source: Box::new(source),
            })
        };
        let request = CopyRequest {
            export_id: export_id.clone(),
            import_date: None,
            source: loc(&self.config.source_bucket, &self.config.source_prefix)?,
            target: loc(&self.config.target_bucket, &self.config.target_prefix)?,
        };
        let now = Instant::now();
        let budget = inv.deadline.saturating_duration_since(now);
        let margin = self.config.deadline_margin.min(budget / 4);
        let stop_at = now + budget.saturating_sub(margin);
        tracing::info!(
            budget_secs = budget.as_secs_f64(),
            margin_secs = margin.as_secs_f64(),
            source = %request.source,
            target = %request.target,
            "copying"
        );
        let handle = self.engine.start(request, Arc::new(NoProgress));
        let stopper = handle.stopper();
        let mut join = Box::pin(handle.join());
        let engine_err = |source| Error::Engine {
            export_id: id.into(),
            source: Box::new(source),
        };
        tokio::select! {
            report = &mut join => Ok((report.map_err(engine_err)?, false)),
            _ = tokio::time::sleep_until(stop_at.into()) => {
                // Stop starting copies; those in flight finish (within the margin) and the
                // report says how far the run got.
                tracing::warn!("deadline margin reached: stopping new copies, letting in-flight ones finish");
                stopper.stop();
                let report = join.await.map_err(engine_err)?;
                let stopped = !report.complete;
                Ok((report, stopped))
            }
        }
    }

    /// The engine's JSON report as one log line, and the metrics in EMF.
    fn log_report(&self, report: &Report) {
        let json = serde_json::to_string(report).unwrap_or_default();
        if report.is_success() {
            tracing::info!(report = %json, "copy report");
        } else {
            tracing::warn!(report = %json, "copy report");
        }
        emf::emit(
            &[("Function", "export-copier")],
            &[
                ("ObjectsCopied", report.copied as f64, Unit::Count),
                ("ObjectsSkipped", report.skipped as f64, Unit::Count),
                ("ObjectsFailed", report.failed as f64, Unit::Count),
                ("BytesCopied", report.bytes_copied as f64, Unit::Bytes),
                ("Retries", report.retries as f64, Unit::Count),
                ("Throttles", report.throttles as f64, Unit::Count),
                ("DurationSeconds", report.duration_secs, Unit::Seconds),
            ],
            &[("export_id", Value::String(report.export_id.clone()))],
        );
    }

    fn marker_key(&self, id: &str) -> String {
        marker::key(&self.config.marker_prefix, id)
    }

    fn marker_error(&self, id: &str, detail: String) -> Error {
        Error::Marker {
            export_id: id.into(),
            bucket: self.config.target_bucket.clone(),
            key: self.marker_key(id),
            detail,
        }
    }

    /// The marker of `id` and its ETag, if there is one.
    pub async fn read_marker(&self, id: &str) -> Result<Option<(Marker, String)>, Error> {
        let key = self.marker_key(id);
        let out = self
            .store
            .client()
            .get_object()
            .bucket(&self.config.target_bucket)
            .key(&key)
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => {
                return Err(
                    self.marker_error(id, aws_sdk_s3::error::DisplayErrorContext(&e).to_string())
                );
            }
        };
        let etag = out.e_tag().unwrap_or_default().to_string();
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| self.marker_error(id, e.to_string()))?
            .into_bytes();
        serde_json::from_slice(&body)
            .map(|m| Some((m, etag)))
            .map_err(|e| self.marker_error(id, format!("not a marker: {e}")))
    }

    /// Claims the start: creates the marker (`If-None-Match: *`), or takes over a released
    /// one (`If-Match` on the ETag read). `Ok(None)` when the claim is ours; otherwise the
    /// marker that beat us.
    async fn claim(&self, marker: &Marker) -> Result<Option<Marker>, Error> {
        let id = marker.export_id.as_str();
        let key = self.marker_key(id);
        let body = Bytes::from(serde_json::to_vec_pretty(marker).expect("markers serialize"));
        let created = self
            .store
            .put_if_absent(
                &self.config.target_bucket,
                &key,
                body.clone(),
                &JobStats::default(),
            )
            .await
            .map_err(|e| self.marker_error(id, e.to_string()))?;
        if created {
            return Ok(None);
        }
        let (existing, etag) = self.read_marker(id).await?.ok_or_else(|| {
            self.marker_error(id, "conditional write refused but no marker found".into())
        })?;
        if existing.state != MarkerState::Released {
            return Ok(Some(existing));
        }
        let swapped = self
            .store
            .client()
            .put_object()
            .bucket(&self.config.target_bucket)
            .key(&key)
            .if_match(&etag)
            .body(body.into())
            .send()
            .await;
        match swapped {
            Ok(_) => Ok(None),
            Err(e)
                if e.raw_response()
                    .is_some_and(|r| matches!(r.status().as_u16(), 409 | 412)) =>
            {
                let (existing, _) = self.read_marker(id).await?.ok_or_else(|| {
                    self.marker_error(id, "released marker vanished while being claimed".into())
                })?;
                Ok(Some(existing))
            }
            Err(e) => {
                Err(self.marker_error(id, aws_sdk_s3::error::DisplayErrorContext(&e).to_string()))
            }
        }
    }

    async fn write_marker(&self, marker: &Marker) -> Result<(), Error> {
        let body = Bytes::from(serde_json::to_vec_pretty(marker).expect("markers serialize"));
        self.engine
            .store()
            .put(
                &self.config.target_bucket,
                &self.marker_key(&marker.export_id),
                body,
                &JobStats::default(),
            )
            .await
            .map_err(|e| self.marker_error(&marker.export_id, e.to_string()))
    }

    /// Which workflow an export starts, and the `import_date` it sets (backdated only).
    fn workflow_for(&self, export_id: &ExportId) -> Result<(String, Option<String>), Error> {
        if export_id.is_backdated() {
            let wf = self.config.backdated_workflow_name.clone().ok_or_else(|| {
                Error::NoBackdatedWorkflow {
                    export_id: export_id.to_string(),
                }
            })?;
            Ok((wf, Some(export_id.date().format("%Y%m%d").to_string())))
        } else {
            Ok((self.config.workflow_name.clone(), None))
        }
    }

    /// Claims the marker, starts the workflow, records the run id. Only the invocation
    /// whose conditional write succeeds starts a run.
    async fn start_glue_once(
        &self,
        export_id: &ExportId,
        report: &Report,
    ) -> Result<Outcome, Error> {
        let id = export_id.as_str();
        let (workflow, import_date) = self.workflow_for(export_id)?;
        let mut marker = Marker {
            export_id: id.into(),
            workflow: workflow.clone(),
            import_date: import_date.clone(),
            state: MarkerState::Claimed,
            claimed_at: chrono::Utc::now().to_rfc3339(),
            run_id: None,
            report: Some(report.clone()),
        };
        if let Some(existing) = self.claim(&marker).await? {
            tracing::info!("another invocation claimed the workflow start first");
            return self.resolve_existing(id, existing).await;
        }
        let run_id = match self
            .start_workflow(id, &workflow, import_date.as_deref())
            .await
        {
            Ok(run_id) => run_id,
            Err(e) => {
                // Release the claim (a rewrite, not a delete: the marker prefix needs no
                // DeleteObject) so that the retry Lambda makes can claim it again.
                marker.state = MarkerState::Released;
                if let Err(w) = self.write_marker(&marker).await {
                    tracing::error!(
                        error = %w,
                        "could not release the marker after Glue failed: delete it by hand before re-sending the event"
                    );
                }
                return Err(e);
            }
        };
        tracing::info!(workflow, run_id, import_date = ?import_date, "Glue workflow run started");
        marker.state = MarkerState::Started;
        marker.run_id = Some(run_id.clone());
        if let Err(e) = self.write_marker(&marker).await {
            // The claim stays, so no second run can start; a re-delivery finds the run by
            // its run property.
            tracing::error!(error = %e, "workflow started but the marker could not record its run id");
        }
        Ok(Outcome::GlueStarted {
            export_id: id.into(),
            workflow,
            run_id,
            copied: report.copied,
            skipped: report.skipped,
        })
    }

    /// UpdateWorkflow (backdated only), then StartWorkflowRun tagged with the export id.
    async fn start_workflow(
        &self,
        id: &str,
        workflow: &str,
        import_date: Option<&str>,
    ) -> Result<String, Error> {
        let glue_err = |op, detail: String| Error::Glue {
            export_id: id.into(),
            op,
            workflow: workflow.into(),
            detail,
        };
        if let Some(date) = import_date {
            self.glue
                .update_workflow()
                .name(workflow)
                .default_run_properties("import_date", date)
                .send()
                .await
                .map_err(|e| {
                    glue_err(
                        "UpdateWorkflow",
                        aws_sdk_glue::error::DisplayErrorContext(&e).to_string(),
                    )
                })?;
        }
        let mut start = self
            .glue
            .start_workflow_run()
            .name(workflow)
            .run_properties(RUN_PROPERTY_EXPORT_ID, id);
        if let Some(date) = import_date {
            start = start.run_properties("import_date", date);
        }
        let out = start.send().await.map_err(|e| {
            glue_err(
                "StartWorkflowRun",
                aws_sdk_glue::error::DisplayErrorContext(&e).to_string(),
            )
        })?;
        out.run_id()
            .map(str::to_string)
            .ok_or_else(|| glue_err("StartWorkflowRun", "answer carries no RunId".into()))
    }

    /// A marker exists: the run was started (answer with it), or its start is in doubt
    /// (look for a run carrying the export id; never start a second one).
    async fn resolve_existing(&self, id: &str, mut existing: Marker) -> Result<Outcome, Error> {
        if let Some(run_id) = existing.run_id.clone() {
            tracing::info!(
                workflow = existing.workflow,
                run_id,
                "workflow run already started for this export: nothing to do"
            );
            return Ok(Outcome::AlreadyStarted {
                export_id: id.into(),
                workflow: existing.workflow,
                run_id,
            });
        }
        if let Some(run_id) = self.find_run(id, &existing.workflow).await? {
            tracing::info!(
                workflow = existing.workflow,
                run_id,
                "found the run of an unfinished marker; recording it"
            );
            existing.state = MarkerState::Started;
            existing.run_id = Some(run_id.clone());
            if let Err(e) = self.write_marker(&existing).await {
                tracing::warn!(error = %e, "could not record the run id in the marker");
            }
            return Ok(Outcome::AlreadyStarted {
                export_id: id.into(),
                workflow: existing.workflow,
                run_id,
            });
        }
        Err(Error::MarkerWithoutRun {
            export_id: id.into(),
            bucket: self.config.target_bucket.clone(),
            key: self.marker_key(id),
            workflow: existing.workflow,
            claimed_at: existing.claimed_at,
        })
    }

    /// A run of `workflow` whose run properties carry `id`.
    async fn find_run(&self, id: &str, workflow: &str) -> Result<Option<String>, Error> {
        let mut token: Option<String> = None;
        // The run was started moments after the claim: the newest few pages are enough.
        for _ in 0..5 {
            let out = self
                .glue
                .get_workflow_runs()
                .name(workflow)
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| Error::Glue {
                    export_id: id.into(),
                    op: "GetWorkflowRuns",
                    workflow: workflow.into(),
                    detail: aws_sdk_glue::error::DisplayErrorContext(&e).to_string(),
                })?;
            for run in out.runs() {
                let carries = run
                    .workflow_run_properties()
                    .and_then(|p| p.get(RUN_PROPERTY_EXPORT_ID))
                    .is_some_and(|v| v == id);
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

    pub(crate) fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_rds::operation::describe_export_tasks::DescribeExportTasksOutput;
    use aws_sdk_rds::types::ExportTask;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use serde_json::json;

    /// Clients that must never be called: any request fails to connect.
    fn unused<C>(build: impl FnOnce(&str) -> C) -> C {
        build("http://127.0.0.1:9")
    }

    fn copier(rds: aws_sdk_rds::Client) -> Copier {
        let s3 = unused(|e| {
            aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::new()
                    .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
                    .region(aws_sdk_s3::config::Region::new("us-east-1"))
                    .endpoint_url(e)
                    .build(),
            )
        });
        let glue = unused(|e| {
            aws_sdk_glue::Client::from_conf(
                aws_sdk_glue::config::Builder::new()
                    .behavior_version(aws_sdk_glue::config::BehaviorVersion::latest())
                    .region(aws_sdk_glue::config::Region::new("us-east-1"))
                    .endpoint_url(e)
                    .build(),
            )
        });
        let lambda = unused(|e| {
            aws_sdk_lambda::Client::from_conf(
                aws_sdk_lambda::config::Builder::new()
                    .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
                    .region(aws_sdk_lambda::config::Region::new("us-east-1"))
                    .endpoint_url(e)
                    .build(),
            )
        });
        let config = Config {
            source_bucket: "exports".into(),
            target_bucket: "landing".into(),
            workflow_name: "wf".into(),
            ..Config::default()
        };
        Copier::new(
            Clients {
                s3,
                rds,
                glue,
                lambda,
            },
            config,
        )
    }

    fn event(id: &str) -> Value {
        json!({
            "version": "0", "id": "e", "detail-type": "RDS DB Snapshot Event", "source": "aws.rds",
            "account": "1", "time": "2024-06-04T11:02:10Z", "region": "eu-west-2",
            "resources": [format!("arn:aws:rds:eu-west-2:1:snapshot:{id}")],
            "detail": {"EventID": "RDS-EVENT-0161", "SourceIdentifier": id,
                       "SourceArn": format!("arn:aws:rds:eu-west-2:1:snapshot:{id}")}
        })
    }

    fn status_rule(id: &'static str, status: &'static str) -> aws_smithy_mocks::Rule {
        mock!(aws_sdk_rds::Client::describe_export_tasks).then_output(move || {
            DescribeExportTasksOutput::builder()
                .export_tasks(
                    ExportTask::builder()
                        .export_task_identifier(id)
                        .status(status)
                        .failure_cause("role cannot write")
                        .build(),
                )
                .build()
        })
    }

    const ID: &str = "sql-to-parquet-24-06-04-101500";

    #[tokio::test]
    async fn failed_export_copies_nothing_and_succeeds() {
        let rule = status_rule(ID, "FAILED");
        let rds = mock_client!(aws_sdk_rds, RuleMode::Sequential, &[&rule]);
        let inv = Invocation::with_budget(Duration::from_secs(60), "f");
        // Any S3 call would fail to connect: the outcome proves none was made.
        let out = copier(rds).handle_export(&event(ID), &inv).await.unwrap();
        assert_eq!(
            out,
            Outcome::ExportNotCompleted {
                export_id: ID.into(),
                status: "FAILED".into()
            }
        );
    }

    #[tokio::test]
    async fn an_export_still_running_fails_to_be_retried() {
        let rule = status_rule(ID, "IN_PROGRESS");
        let rds = mock_client!(aws_sdk_rds, RuleMode::Sequential, &[&rule]);
        let inv = Invocation::with_budget(Duration::from_secs(60), "f");
        let err = copier(rds)
            .handle_export(&event(ID), &inv)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::ExportNotComplete { .. }), "{err}");
        assert!(
            err.to_string().contains(ID) && err.to_string().contains("IN_PROGRESS"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn an_answer_without_the_task_is_not_found() {
        let rule = status_rule("some-other-export", "COMPLETE");
        let rds = mock_client!(aws_sdk_rds, RuleMode::Sequential, &[&rule]);
        let inv = Invocation::with_budget(Duration::from_secs(60), "f");
        let err = copier(rds)
            .handle_export(&event(ID), &inv)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::ExportNotFound { .. }), "{err}");
    }

    #[test]
    fn payload_kinds() {
        assert!(matches!(
            payload_kind(&json!({"Records": []})),
            Payload::Sqs
        ));
        assert!(matches!(
            payload_kind(&json!({"job": {}, "tasks": []})),
            Payload::Batch
        ));
        assert!(matches!(payload_kind(&event(ID)), Payload::EventBridge));
    }

    #[test]
    fn locations_join_cleanly() {
        assert_eq!(Config::location("b", ""), "s3://b");
        assert_eq!(Config::location("b", "/p/q/"), "s3://b/p/q");
    }
}
