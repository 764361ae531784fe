//! export-copier handler against moto (S3 + RDS + Glue on one loopback server).
//!
//! moto's StartExportTask writes no files and reports `complete` at once, so each test
//! writes a sample export (real Parquet, RDS layout) where the export would have put it.
//! moto state is shared: every test uses its own buckets, instance, workflows and export id.
//!
//! This file holds the fixture; the tests are grouped by concern: the exactly-once Glue
//! start (`glue_start`; under lost replies, dead invocations, racing deliveries and
//! faults on both sides in `glue_exactly_once`, with the Glue fault injector in
//! `glue_faults`), failures and their answers (`failures`), the other payloads and
//! the deadline hand-off (`payloads`), the marker store (`markers`), the EMF metrics
//! (`emf_metrics`) and schema drift between two dates (`schema_drift`).

mod claim_over_http;
mod completeness;
mod emf_metrics;
mod failures;
mod glue_exactly_once;
mod glue_faults;
mod glue_start;
mod markers;
mod payloads;
mod schema_drift;

use std::sync::Arc;
use std::time::Duration;

use export_copier::reinvoke::RecordReinvoke;
use export_copier::{Answer, Config, Copier, Error, Invocation};
use liberator_engine::limiter::Limiter;
use liberator_engine::store::{FaultCounts, FaultRule, Faulty, S3Store};
use liberator_engine::{EngineConfig, Location, Store};
use liberator_fixtures::sample::{SampleSpec, write_sample_export};
use liberator_lambda_common::Clients;
use liberator_tests::aws;
use rand::Rng;
use serde_json::{Value, json};

const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:export-copier";

fn events_dir() -> std::path::PathBuf {
    liberator_tests::manifest_dir().join("../../shared/events")
}

/// The shared sample 0161 event, re-pointed at `snapshot`.
fn event_0161(snapshot: &str, arn: &str) -> Value {
    let text = std::fs::read_to_string(events_dir().join("rds-event-0161-export-completed.json"))
        .expect("shared/events/rds-event-0161-export-completed.json beside the repository");
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["id"] = json!(uuid::Uuid::new_v4().to_string());
    v["resources"] = json!([arn]);
    v["detail"]["SourceArn"] = json!(arn);
    v["detail"]["SourceIdentifier"] = json!(snapshot);
    v
}

/// A normal export id no other test uses (ids are global in moto).
fn unique_export_id() -> String {
    let mut r = rand::rng();
    format!(
        "sql-to-parquet-{:02}-{:02}-{:02}-{:02}{:02}{:02}",
        r.random_range(0..100),
        r.random_range(1..13),
        r.random_range(1..29),
        r.random_range(0..24),
        r.random_range(0..60),
        r.random_range(0..60)
    )
}

fn unique_backdated_id() -> (String, String) {
    let mut r = rand::rng();
    let (y, m, d) = (
        r.random_range(2100..2999),
        r.random_range(1..13),
        r.random_range(1..29),
    );
    (
        format!("sql-to-parquet-{y:04}-{m:02}-{d:02}-backdated"),
        format!("{y:04}{m:02}{d:02}"),
    )
}

struct Fixture {
    endpoint: String,
    s3: aws_sdk_s3::Client,
    rds: aws_sdk_rds::Client,
    glue: aws_sdk_glue::Client,
    config: Config,
    export_id: String,
    arn: String,
    parquet_files: usize,
    reinvoke: Arc<RecordReinvoke>,
}

impl Fixture {
    /// Buckets, an instance with a snapshot `export_id`, its (moto-complete) export task
    /// with a sample export written, and both workflows.
    async fn new(export_id: &str) -> Self {
        let endpoint = liberator_tests::moto().endpoint.clone();
        let s3 = liberator_tests::s3_client(&endpoint);
        let rds = aws::rds_client(&endpoint);
        let glue = aws::glue_client(&endpoint);
        let source_bucket = liberator_tests::unique_bucket("exports");
        let target_bucket = liberator_tests::unique_bucket("landing");
        liberator_tests::create_bucket(&s3, &source_bucket).await;
        liberator_tests::create_bucket(&s3, &target_bucket).await;
        let instance = aws::unique_instance("liberator");
        aws::create_instance(&rds, &instance).await;
        let arn = aws::create_snapshot(&rds, &instance, export_id).await;
        aws::start_export(&rds, export_id, &arn, &source_bucket).await;

        let engine = liberator_tests::engine(&endpoint, EngineConfig::default());
        let mut spec = SampleSpec::liberator(export_id);
        spec.tables.truncate(3);
        let summary = write_sample_export(
            engine.store(),
            &Location::parse(&format!("s3://{source_bucket}")).unwrap(),
            &spec,
        )
        .await
        .expect("writing the sample export");

        let workflow = format!(
            "import-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..10]
        );
        let backdated = format!("{workflow}-backdated");
        aws::create_workflow(&glue, &workflow).await;
        aws::create_workflow(&glue, &backdated).await;
        let config = Config {
            source_bucket,
            target_bucket,
            target_prefix: "parking".into(),
            workflow_name: workflow,
            backdated_workflow_name: Some(backdated),
            concurrency: 16,
            ..Config::default()
        };
        Fixture {
            endpoint,
            s3,
            rds,
            glue,
            config,
            export_id: export_id.to_string(),
            arn,
            parquet_files: summary.parquet_files as usize,
            reinvoke: Arc::new(RecordReinvoke::default()),
        }
    }

    fn copier(&self) -> Copier {
        Copier::new(self.clients(), self.config.clone()).with_reinvoker(self.reinvoke.clone())
    }

    /// The copier's clients, as its binary builds them, for moto.
    fn clients(&self) -> Clients {
        aws::clients_with(&self.endpoint, &self.endpoint, self.config.aws_options())
    }

    /// A copier over `clients` whose store (copies and markers) is S3 on moto under
    /// `rules` (seeded), governed like the copier's own; the faults it injected.
    fn faulty_copier(
        &self,
        clients: Clients,
        rules: Vec<FaultRule>,
        seed: u64,
    ) -> (Copier, Arc<FaultCounts>) {
        let faulty = Faulty::new(Arc::new(S3Store::new(self.s3.clone())), rules, seed);
        let counts = faulty.counts();
        let engine = EngineConfig::default();
        let store = Store::new(
            Arc::new(faulty),
            Limiter::new(engine.limiter.clone()),
            engine.retry.clone(),
        );
        let copier = Copier::with_store(clients, self.config.clone(), store)
            .with_reinvoker(self.reinvoke.clone());
        (copier, counts)
    }

    fn event(&self) -> Value {
        event_0161(&self.export_id, &self.arn)
    }

    async fn landed(&self) -> Vec<(String, u64)> {
        liberator_tests::list_all(&self.s3, &self.config.target_bucket, "parking/").await
    }

    async fn runs(&self, workflow: &str) -> Vec<aws_sdk_glue::types::WorkflowRun> {
        aws::workflow_runs(&self.glue, workflow).await
    }

    async fn marker(&self) -> Option<Value> {
        let key = format!("_liberator/glue-runs/{}.json", self.export_id);
        match self
            .s3
            .get_object()
            .bucket(&self.config.target_bucket)
            .key(&key)
            .send()
            .await
        {
            Ok(o) => {
                Some(serde_json::from_slice(&o.body.collect().await.unwrap().into_bytes()).unwrap())
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => None,
            Err(e) => panic!("GET marker: {}", aws_sdk_s3::error::DisplayErrorContext(e)),
        }
    }
}

fn budget() -> Invocation {
    Invocation::with_budget(Duration::from_secs(600), FUNCTION_ARN)
}
