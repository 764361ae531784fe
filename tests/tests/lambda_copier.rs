//! export-copier handler against moto (S3 + RDS + Glue on one loopback server).
//!
//! moto's StartExportTask writes no files and reports `complete` at once, so each test
//! writes a sample export (real Parquet, RDS layout) where the export would have put it.
//! moto state is shared: every test uses its own buckets, instance, workflows and export id.

use std::sync::Arc;
use std::time::Duration;

use export_copier::reinvoke::RecordReinvoke;
use export_copier::{Config, Copier, Error, Invocation, Outcome};
use liberator_engine::{CopyConfig, Location};
use liberator_fixtures::sample::{SampleSpec, write_sample_export};
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

        let engine = liberator_tests::engine(&endpoint, CopyConfig::default());
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
            target_prefix: "parking/liberator".into(),
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
        Copier::new(
            aws::clients(&self.endpoint, &self.endpoint),
            self.config.clone(),
        )
        .with_reinvoker(self.reinvoke.clone())
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

#[tokio::test]
async fn export_event_lands_everything_and_starts_one_run() {
    let f = Fixture::new(&unique_export_id()).await;
    let out = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap();
    let Outcome::GlueStarted {
        run_id,
        copied,
        workflow,
        ..
    } = out
    else {
        panic!("expected GlueStarted, got {out:?}");
    };
    assert_eq!(workflow, f.config.workflow_name);
    assert_eq!(copied as usize, f.parquet_files);
    let landed = f.landed().await;
    assert_eq!(landed.len(), f.parquet_files, "{landed:?}");
    assert!(
        landed
            .iter()
            .all(|(k, _)| k.contains("/import_date=") && k.ends_with(".parquet")),
        "{landed:?}"
    );

    let runs = f.runs(&f.config.workflow_name).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].workflow_run_id(), Some(run_id.as_str()));
    let props = runs[0].workflow_run_properties().expect("run properties");
    assert_eq!(props.get("liberator_export_id"), Some(&f.export_id));
    assert!(
        f.runs(f.config.backdated_workflow_name.as_ref().unwrap())
            .await
            .is_empty()
    );

    // The marker records the run and the report, outside the landing prefix.
    let marker = f.marker().await.expect("marker written");
    assert_eq!(marker["run_id"], json!(run_id));
    assert_eq!(marker["state"], "started");
    assert_eq!(marker["report"]["copied"], json!(f.parquet_files));
    let all = liberator_tests::list_all(&f.s3, &f.config.target_bucket, "").await;
    let outside: Vec<_> = all
        .iter()
        .filter(|(k, _)| !k.starts_with("parking/"))
        .collect();
    assert_eq!(
        outside.len(),
        1,
        "only the marker lies outside the landing prefix: {outside:?}"
    );
    assert!(outside[0].0.starts_with("_liberator/"), "{outside:?}");
}

#[tokio::test]
async fn the_same_event_twice_starts_one_run() {
    let f = Fixture::new(&unique_export_id()).await;
    let copier = f.copier();
    let first = copier.handle_export(&f.event(), &budget()).await.unwrap();
    let second = copier.handle_export(&f.event(), &budget()).await.unwrap();
    let Outcome::GlueStarted { run_id, .. } = first else {
        panic!("{first:?}")
    };
    assert_eq!(
        second,
        Outcome::AlreadyStarted {
            export_id: f.export_id.clone(),
            workflow: f.config.workflow_name.clone(),
            run_id,
        }
    );
    assert_eq!(f.runs(&f.config.workflow_name).await.len(), 1);
    // A fresh copier (a new Lambda container) knows nothing but the marker.
    let third = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap();
    assert!(matches!(third, Outcome::AlreadyStarted { .. }), "{third:?}");
    assert_eq!(f.runs(&f.config.workflow_name).await.len(), 1);
}

#[tokio::test]
async fn concurrent_deliveries_start_one_run() {
    let f = Fixture::new(&unique_export_id()).await;
    let (a, b) = (f.copier(), f.copier());
    let (ev, inv) = (f.event(), budget());
    let (ra, rb) = tokio::join!(a.handle_export(&ev, &inv), b.handle_export(&ev, &inv));
    let started = [&ra, &rb]
        .iter()
        .filter(|r| matches!(r, Ok(Outcome::GlueStarted { .. })))
        .count();
    assert_eq!(
        started, 1,
        "exactly one delivery starts the run: {ra:?} / {rb:?}"
    );
    for r in [&ra, &rb] {
        // The other one either saw the run, or (claim not yet completed) failed to be retried.
        assert!(
            matches!(
                r,
                Ok(Outcome::GlueStarted { .. } | Outcome::AlreadyStarted { .. })
                    | Err(Error::MarkerWithoutRun { .. })
            ),
            "{r:?}"
        );
    }
    assert_eq!(f.runs(&f.config.workflow_name).await.len(), 1);
}

#[tokio::test]
async fn backdated_export_sets_import_date_and_starts_the_backdated_workflow() {
    let (id, date) = unique_backdated_id();
    let f = Fixture::new(&id).await;
    let out = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap();
    let backdated = f.config.backdated_workflow_name.clone().unwrap();
    assert!(
        matches!(&out, Outcome::GlueStarted { workflow, .. } if *workflow == backdated),
        "{out:?}"
    );
    let runs = f.runs(&backdated).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(
        runs[0]
            .workflow_run_properties()
            .unwrap()
            .get("import_date"),
        Some(&date)
    );
    let wf = f.glue.get_workflow().name(&backdated).send().await.unwrap();
    let defaults = wf
        .workflow()
        .and_then(|w| w.default_run_properties())
        .expect("default run properties");
    assert_eq!(defaults.get("import_date"), Some(&date));
    assert!(
        f.runs(&f.config.workflow_name).await.is_empty(),
        "the normal workflow must not start"
    );
    let landed = f.landed().await;
    assert!(
        !landed.is_empty()
            && landed
                .iter()
                .all(|(k, _)| k.contains(&format!("/import_date={date}/"))),
        "{landed:?}"
    );
}

#[tokio::test]
async fn canceled_export_copies_nothing() {
    let f = Fixture::new(&unique_export_id()).await;
    f.rds
        .cancel_export_task()
        .export_task_identifier(&f.export_id)
        .send()
        .await
        .unwrap();
    let out = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap();
    assert!(
        matches!(&out, Outcome::ExportNotCompleted { status, .. } if status.eq_ignore_ascii_case("canceled")),
        "{out:?}"
    );
    assert!(f.landed().await.is_empty());
    assert!(f.runs(&f.config.workflow_name).await.is_empty());
    assert!(f.marker().await.is_none());
}

#[tokio::test]
async fn a_copy_failure_starts_no_workflow_and_fails_the_invocation() {
    let f = Fixture::new(&unique_export_id()).await;
    let bad = format!(
        "{}/liberator/liberator.pcn/1/part-99999-corrupt.gz.parquet",
        f.export_id
    );
    f.s3.put_object()
        .bucket(&f.config.source_bucket)
        .key(&bad)
        .body(aws_sdk_s3::primitives::ByteStream::from_static(
            b"this is not parquet at all, no footer here",
        ))
        .send()
        .await
        .unwrap();
    let err = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CopyFailed { failed: 1, .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&f.export_id) && msg.contains("part-99999-corrupt"),
        "{msg}"
    );
    assert!(f.runs(&f.config.workflow_name).await.is_empty());
    assert!(f.marker().await.is_none());
    // Everything else landed; fixing the file and re-delivering finishes the job.
    assert_eq!(f.landed().await.len(), f.parquet_files);
    f.s3.delete_object()
        .bucket(&f.config.source_bucket)
        .key(&bad)
        .send()
        .await
        .unwrap();
    let out = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap();
    assert!(
        matches!(out, Outcome::GlueStarted { copied: 0, .. }),
        "{out:?}"
    );
    assert_eq!(f.runs(&f.config.workflow_name).await.len(), 1);
}

#[tokio::test]
async fn glue_failure_releases_the_claim_for_the_retry() {
    let mut f = Fixture::new(&unique_export_id()).await;
    let workflow = f.config.workflow_name.clone();
    f.config.workflow_name = "no-such-workflow-liberator".into();
    let err = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Glue {
                op: "StartWorkflowRun",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains(&f.export_id), "{err}");
    let marker = f.marker().await.expect("marker kept, released");
    assert_eq!(marker["state"], "released", "{marker}");
    assert_eq!(marker["run_id"], Value::Null);

    // The retry (workflow fixed) takes the released claim over and starts exactly one run.
    f.config.workflow_name = workflow;
    let out = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap();
    let Outcome::GlueStarted {
        run_id, copied: 0, ..
    } = out
    else {
        panic!("{out:?}")
    };
    assert_eq!(f.runs(&f.config.workflow_name).await.len(), 1);
    let marker = f.marker().await.unwrap();
    assert_eq!(marker["state"], "started");
    assert_eq!(marker["run_id"], json!(run_id));
    let again = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap();
    assert!(matches!(again, Outcome::AlreadyStarted { .. }), "{again:?}");
    assert_eq!(f.runs(&f.config.workflow_name).await.len(), 1);
}

#[tokio::test]
async fn the_deadline_hands_the_rest_on() {
    let f = Fixture::new(&unique_export_id()).await;
    let event = f.event();
    let out = f
        .copier()
        .handle_export(
            &event,
            &Invocation::with_budget(Duration::ZERO, FUNCTION_ARN),
        )
        .await
        .unwrap();
    assert!(matches!(out, Outcome::HandedOn { .. }), "{out:?}");
    {
        let calls = f.reinvoke.calls.lock().unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].0, FUNCTION_ARN);
        assert_eq!(calls[0].1, event, "re-invoked with the same event");
    }
    assert!(
        f.runs(&f.config.workflow_name).await.is_empty(),
        "no Glue before everything landed"
    );
    let out = f.copier().handle_export(&event, &budget()).await.unwrap();
    assert!(matches!(out, Outcome::GlueStarted { .. }), "{out:?}");
    assert_eq!(f.landed().await.len(), f.parquet_files);
}

#[tokio::test]
async fn an_sqs_record_carries_the_same_event() {
    let f = Fixture::new(&unique_export_id()).await;
    let sqs = json!({"Records": [{
        "messageId": "m-1", "receiptHandle": "r", "body": f.event().to_string(),
        "attributes": {}, "messageAttributes": {}, "md5OfBody": "x",
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"
    }]});
    let out = f.copier().handle(&sqs, &budget()).await.unwrap();
    assert_eq!(out["records"][0]["outcome"], "glue_started", "{out}");
    assert_eq!(f.runs(&f.config.workflow_name).await.len(), 1);

    let bad = json!({"Records": [{"messageId": "m-2", "body": "not json", "attributes": {}, "messageAttributes": {}}]});
    let err = f.copier().handle(&bad, &budget()).await.unwrap_err();
    assert!(err.to_string().contains("m-2"), "{err}");
}

#[tokio::test]
async fn s3_batch_operations_tasks_answer_per_key() {
    let f = Fixture::new(&unique_export_id()).await;
    let keys =
        liberator_tests::list_all(&f.s3, &f.config.source_bucket, &format!("{}/", f.export_id))
            .await;
    let parquet = keys
        .iter()
        .find(|(k, _)| k.ends_with(".parquet"))
        .unwrap()
        .0
        .clone();
    let meta = keys
        .iter()
        .find(|(k, _)| !k.ends_with(".parquet"))
        .expect("export metadata")
        .0
        .clone();
    let task = |id: &str, key: &str, bucket: &str| json!({"taskId": id, "s3Key": key, "s3VersionId": null, "s3BucketArn": format!("arn:aws:s3:::{bucket}")});
    let src = f.config.source_bucket.as_str();
    let event = json!({
        "invocationSchemaVersion": "1.0", "invocationId": "inv-1", "job": {"id": "job-1"},
        "tasks": [
            task("t1", &parquet, src),
            task("t2", &meta, src),
            task("t3", &format!("{}/liberator/liberator.pcn/1/missing.parquet", f.export_id), src),
            task("t4", &parquet, "some-other-bucket"),
            task("t5", "not-an-export/x.parquet", src),
        ]
    });
    let out = f.copier().handle(&event, &budget()).await.unwrap();
    assert_eq!(out["invocationId"], "inv-1");
    let codes: Vec<&str> = out["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["resultCode"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "Succeeded",
            "Succeeded",
            "PermanentFailure",
            "PermanentFailure",
            "PermanentFailure"
        ],
        "{out}"
    );
    let landed = f.landed().await;
    assert_eq!(landed.len(), 1, "{landed:?}");
    assert!(landed[0].0.ends_with(parquet.rsplit('/').next().unwrap()));
    // Again: already landed, still Succeeded.
    let out = f.copier().handle(&event, &budget()).await.unwrap();
    assert!(
        out["results"][0]["resultString"]
            .as_str()
            .unwrap()
            .contains("already landed"),
        "{out}"
    );
    assert!(
        f.runs(&f.config.workflow_name).await.is_empty(),
        "batch tasks never start Glue"
    );
}

#[tokio::test]
async fn malformed_events_get_clear_errors() {
    let f = Fixture::new(&unique_export_id()).await;
    let copier = f.copier();

    let mut no_detail = f.event();
    no_detail.as_object_mut().unwrap().remove("detail");
    let err = copier.handle(&no_detail, &budget()).await.unwrap_err();
    assert!(err.to_string().contains("no `detail`"), "{err}");

    let mut wrong = f.event();
    wrong["detail"]["EventID"] = json!("RDS-EVENT-0042");
    let err = copier.handle(&wrong, &budget()).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("RDS-EVENT-0042") && msg.contains("RDS-EVENT-0161"),
        "{msg}"
    );

    let bad_id = event_0161("sql-to-parquet-24-13-45-999999", &f.arn);
    let err = copier.handle(&bad_id, &budget()).await.unwrap_err();
    assert!(matches!(err, Error::BadIdentifier { .. }), "{err}");
    assert!(
        err.to_string().contains("sql-to-parquet-24-13-45-999999"),
        "{err}"
    );

    let unknown = event_0161(&unique_export_id(), &f.arn);
    let err = copier.handle(&unknown, &budget()).await.unwrap_err();
    assert!(matches!(err, Error::ExportNotFound { .. }), "{err}");

    assert!(f.landed().await.is_empty());
    assert!(f.runs(&f.config.workflow_name).await.is_empty());
}

#[tokio::test]
async fn moto_honours_conditional_writes_for_the_marker() {
    let endpoint = liberator_tests::moto().endpoint.clone();
    let s3 = liberator_tests::s3_client(&endpoint);
    let bucket = liberator_tests::unique_bucket("marker");
    liberator_tests::create_bucket(&s3, &bucket).await;
    let engine = liberator_tests::engine(&endpoint, CopyConfig::default());
    let liberator_engine::Store::S3(store) = engine.store() else {
        unreachable!()
    };
    let stats = liberator_engine::stats::JobStats::default();
    assert!(
        store
            .put_if_absent(&bucket, "_liberator/m.json", "a".into(), &stats)
            .await
            .unwrap()
    );
    assert!(
        !store
            .put_if_absent(&bucket, "_liberator/m.json", "b".into(), &stats)
            .await
            .unwrap()
    );
    assert_eq!(
        &liberator_tests::get_bytes(&s3, &bucket, "_liberator/m.json").await[..],
        b"a"
    );
    // Taking over a released marker is a compare-and-swap on its ETag.
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key("_liberator/m.json")
        .send()
        .await
        .unwrap();
    let etag = head.e_tag().unwrap().to_string();
    let stale = s3
        .put_object()
        .bucket(&bucket)
        .key("_liberator/m.json")
        .if_match("\"0123456789abcdef0123456789abcdef\"")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"c"))
        .send()
        .await;
    assert_eq!(
        stale
            .unwrap_err()
            .raw_response()
            .map(|r| r.status().as_u16()),
        Some(412)
    );
    s3.put_object()
        .bucket(&bucket)
        .key("_liberator/m.json")
        .if_match(&etag)
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"d"))
        .send()
        .await
        .expect("If-Match on the current ETag succeeds");
    assert_eq!(
        &liberator_tests::get_bytes(&s3, &bucket, "_liberator/m.json").await[..],
        b"d"
    );
}
