//! export-copier: lands a completed RDS snapshot export in the landing zone, then starts
//! the Glue workflow that imports it, exactly once.
//!
//! Input ([`events`]): the EventBridge event RDS-EVENT-0161 (export completed), the same
//! payload inside SQS records (the older deployment), or an S3 Batch Operations invocation
//! (one key per task, [`batch`]) for very large backfills.
//!
//! For an export event it confirms the export with `DescribeExportTasks` and runs the copy
//! engine ([`land`]); only when every object landed does it start `WORKFLOW_NAME` (or, for
//! a `-backdated` export, set `import_date` on `BACKDATED_WORKFLOW_NAME` and start that)
//! ([`glue`]). A conditional-write marker ([`marker`], stored through [`marker_store`];
//! the protocol is the `liberator-glue` crate, shared with the engine CLI) makes the start exactly-once across retries, lost replies, re-deliveries and
//! invocations that die mid-way; before the Lambda deadline the run stops and hands the
//! rest on to a new invocation ([`reinvoke`]).
//! [`runtime::run`] is the Lambda runtime loop the binary calls.
//!
//! ```no_run
//! # async fn example() -> Result<(), export_copier::Error> {
//! use export_copier::{Config, Copier, Invocation};
//! use liberator_lambda_common::{ClientFactory, Clients};
//!
//! let config = Config::from_env()?; // before any AWS call: names a missing variable
//! let factory = ClientFactory::load(config.aws_options()).await;
//! let copier = Copier::new(Clients::new(&factory), config);
//! let event = serde_json::json!({}); // an RDS-EVENT-0161 from EventBridge
//! let inv = Invocation::with_budget(std::time::Duration::from_secs(600), "arn:…:export-copier");
//! let answer = copier.handle(&event, &inv).await?;
//! # let _ = answer; Ok(()) }
//! ```

pub mod batch;
pub mod config;
pub mod drift;
pub mod error;
pub mod events;
pub mod glue;
pub mod invocation;
pub mod land;
pub mod reinvoke;
pub mod runtime;

/// The exactly-once marker and its store live in `liberator-glue`, shared with the CLI.
pub use liberator_glue::{marker, marker_store};

use std::sync::Arc;

use liberator_engine::limiter::Limiter;
use liberator_engine::store::S3Store;
use liberator_engine::{Engine, EngineConfig, Store};
use liberator_lambda_common::{ClientFactory, Clients, emf};
use serde::Serialize;
use serde_json::Value;

pub use crate::config::{
    Config, DEFAULT_CLAIM_LEASE, DEFAULT_CLAIM_WAIT, DEFAULT_CONCURRENCY, DEFAULT_DEADLINE_MARGIN,
    MAX_INVOCATION,
};
pub use crate::error::Error;
use crate::events::Payload;
use crate::glue::GlueStart;
pub use crate::invocation::Invocation;
use crate::land::Landed;
use crate::marker_store::MarkerStore;
use crate::reinvoke::{LambdaReinvoke, LazyLambdaReinvoke, Reinvoke};

/// What one export event led to: the invocation's answer (JSON, `outcome` tagged). Not to
/// be confused with the engine's per-object outcome.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Answer {
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

/// The handler.
#[derive(Debug, Clone)]
pub struct Copier {
    config: Config,
    rds: aws_sdk_rds::Client,
    glue: GlueStart,
    engine: Arc<Engine>,
    reinvoker: Arc<dyn Reinvoke>,
}

impl Copier {
    /// A copier over `clients`; re-invokes itself through Lambda. Its store (copies and
    /// markers) is S3 through `clients.s3`, governed by the engine's retries and limiter.
    pub fn new(clients: Clients, config: Config) -> Self {
        let store = Self::s3_store(clients.s3.clone(), &config);
        Self::with_store(clients, config, store)
    }

    /// The copier the Lambda runs: S3, RDS and Glue clients from `factory` now (the first
    /// event calls each), the Lambda client only at the first hand-off
    /// ([`LazyLambdaReinvoke`](crate::reinvoke::LazyLambdaReinvoke)).
    pub fn from_factory(factory: &ClientFactory, config: Config) -> Self {
        let store = Self::s3_store(factory.s3(), &config);
        let reinvoker = Arc::new(LazyLambdaReinvoke::new(factory.clone()));
        Self::assemble(factory.rds(), factory.glue(), reinvoker, config, store)
    }

    /// S3 behind the engine's retries and limiter, as `config` sets them.
    fn s3_store(s3: aws_sdk_s3::Client, config: &Config) -> Store {
        let copy = Self::engine_config(config);
        let limiter = Limiter::new(copy.limiter.clone());
        Store::new(Arc::new(S3Store::new(s3)), limiter, copy.retry.clone())
    }

    /// A copier whose copies and markers go through `store` instead of S3 through
    /// `clients.s3` (tests: a fault-injecting wrapper around S3 or memory). The other
    /// clients are used as in [`Copier::new`].
    pub fn with_store(clients: Clients, config: Config, store: Store) -> Self {
        let reinvoker = Arc::new(LambdaReinvoke(clients.lambda));
        Self::assemble(clients.rds, clients.glue, reinvoker, config, store)
    }

    fn assemble(
        rds: aws_sdk_rds::Client,
        glue: aws_sdk_glue::Client,
        reinvoker: Arc<dyn Reinvoke>,
        config: Config,
        store: Store,
    ) -> Self {
        let markers = MarkerStore::new(
            store.clone(),
            config.target_bucket.clone(),
            config.marker_prefix.clone(),
        );
        let glue = GlueStart::new(
            glue,
            markers,
            config.workflow_name.clone(),
            config.backdated_workflow_name.clone(),
        )
        .with_claim_timing(config.claim_lease, config.claim_wait_bounded());
        let engine = Engine::with_store(store, Self::engine_config(&config));
        Copier {
            config,
            rds,
            glue,
            engine,
            reinvoker,
        }
    }

    /// The engine's settings: the configured concurrency and KMS key, footers verified, and
    /// what runs on once the margin begins kept within it. Objects already started when the
    /// run stops all finish: at most twice the copies in flight (enough to keep every
    /// permit busy between one object's footer read and its copy), not the engine's default
    /// 256, which at a low concurrency is minutes of copying past the deadline. No S3
    /// request is retried after half the effective margin (the engine's default is 300 s).
    fn engine_config(config: &Config) -> EngineConfig {
        let mut copy = EngineConfig::default();
        copy.retry.budget = copy.retry.budget.min(config.effective_margin() / 2);
        copy.limiter.max = config.concurrency.max(1);
        copy.limiter.min = copy.limiter.min.min(copy.limiter.max);
        copy.objects_in_flight = copy.objects_in_flight.min(2 * copy.limiter.max);
        copy.write.sse_kms_key_id = config.target_kms_key_id.clone();
        copy.verify = true;
        copy.manifests = config.manifests.clone();
        copy.fail_on_schema_change = config.fail_on_schema_change;
        copy
    }

    /// Replaces the re-invoker (tests).
    pub fn with_reinvoker(mut self, reinvoker: Arc<dyn Reinvoke>) -> Self {
        self.reinvoker = reinvoker;
        self
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The exactly-once markers.
    pub fn markers(&self) -> &MarkerStore {
        self.glue.markers()
    }

    /// Handles one invocation of any accepted kind; the answer is JSON for the caller.
    pub async fn handle(&self, payload: &Value, inv: &Invocation) -> Result<Value, Error> {
        match Payload::of(payload) {
            Payload::EventBridge => {
                let answer = self.handle_export(payload, inv).await?;
                Ok(serde_json::to_value(answer).expect("answers serialize"))
            }
            Payload::Sqs => events::sqs(self, payload, inv).await,
            Payload::Batch => {
                let response = batch::handle(self, payload).await?;
                Ok(serde_json::to_value(response).expect("responses serialize"))
            }
        }
    }

    /// One RDS-EVENT-0161: confirm, copy, start Glue once.
    #[tracing::instrument(skip_all, fields(export_id))]
    pub async fn handle_export(&self, event: &Value, inv: &Invocation) -> Result<Answer, Error> {
        let (e, export_id) = events::export_completed(event)?;
        let id = export_id.as_str().to_string();
        tracing::Span::current().record("export_id", id.as_str());
        emf::set_property("export_id", id.as_str());
        tracing::info!(event = %e.id, "export completed event received");

        let (failed, task) = land::confirm_export(&self.rds, &id, &e.source_arn).await?;
        if let Some(status) = failed {
            tracing::warn!(status, "export did not complete: nothing copied");
            return Ok(Answer::ExportNotCompleted {
                export_id: id,
                status,
            });
        }
        // A re-delivered event after the run started: answer without copying again.
        if let Some(outcome) = self.glue.already_claimed(&id).await? {
            return Ok(glue::answer(outcome, None));
        }
        match land::land(&self.engine, &self.config, &export_id, Some(task), inv).await? {
            Landed::All(report) => {
                let outcome = self.glue.start_once(&export_id, &report).await?;
                Ok(glue::answer(outcome, Some(&report)))
            }
            Landed::Stopped(report) => {
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
                Ok(Answer::HandedOn {
                    export_id: id,
                    copied: report.copied,
                    skipped: report.skipped,
                    listed: report.listed,
                })
            }
        }
    }

    pub(crate) fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }
}

#[cfg(test)]
mod tests;
