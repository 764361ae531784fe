//! `engine backfill --via batch-operations` end to end: the exports and the landing zone on
//! SeaweedFS (fast bulk copies), the job's manifest, record and completion reports and the
//! Glue workflows on moto. moto has no S3 Control jobs, so the job's execution is played
//! by [`simulate::SimulatedJobs`] (each manifest line fed to the real copier handler in the
//! schema-2.0 shape, the completion report written in S3's CSV format, which the CLI reads),
//! and the CreateJob/DescribeJob requests themselves are checked on the wire through
//! aws-smithy-mocks (`wire`).

mod simulate;
mod wire;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use export_copier::{Config, Copier};
use liberator_cli::commands::batch::{self, Clients, Outcome, Settings};
use liberator_engine::batch::decode_key;
use liberator_engine::layout::{Layout, Mapped};
use liberator_engine::{Engine, EngineConfig, ExportId, Location};
use liberator_fixtures::sample::{SampleSpec, write_sample_export};
use liberator_tests::aws;
use simulate::SimulatedJobs;

const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:export-copier";
const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/liberator-batch-operations";

struct Fixture {
    /// SeaweedFS: exports and landing.
    data: aws_sdk_s3::Client,
    /// moto: manifests, records, reports.
    control: aws_sdk_s3::Client,
    glue: aws_sdk_glue::Client,
    source: Location,
    target: Location,
    manifest_bucket: String,
    workflow: String,
    engine: Arc<Engine>,
    copier: Copier,
}

impl Fixture {
    async fn new() -> Self {
        let (sw, mo) = (
            &liberator_tests::seaweed().endpoint,
            &liberator_tests::moto().endpoint,
        );
        let data = liberator_tests::s3_client(sw);
        let control = liberator_tests::s3_client(mo);
        let glue = aws::glue_client(mo);
        let (src, dst, man) = (
            liberator_tests::unique_bucket("exports"),
            liberator_tests::unique_bucket("landing"),
            liberator_tests::unique_bucket("batch"),
        );
        liberator_tests::create_bucket(&data, &src).await;
        liberator_tests::create_bucket(&data, &dst).await;
        liberator_tests::create_bucket(&control, &man).await;
        let workflow = format!(
            "import-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..10]
        );
        aws::create_workflow(&glue, &workflow).await;
        let config = Config {
            source_bucket: src.clone(),
            target_bucket: dst.clone(),
            target_prefix: "parking".into(),
            workflow_name: workflow.clone(),
            concurrency: 64,
            ..Config::default()
        };
        let copier = Copier::new(aws::clients_with(sw, mo, config.aws_options()), config);
        Fixture {
            engine: liberator_tests::engine(sw, EngineConfig::default()),
            data,
            control,
            glue,
            source: Location::parse(&format!("s3://{src}")).unwrap(),
            target: Location::parse(&format!("s3://{dst}/parking")).unwrap(),
            manifest_bucket: man,
            workflow,
            copier,
        }
    }

    async fn write(&self, spec: &SampleSpec) -> liberator_fixtures::sample::SampleSummary {
        write_sample_export(self.engine.store(), &self.source, spec)
            .await
            .expect("writing a sample export")
    }

    fn settings(&self, exports: &[String]) -> Settings {
        let args = batch::BatchArgs {
            manifest_location: Some(format!("s3://{}/manifests/", self.manifest_bucket)),
            report_location: Some(format!("s3://{}/reports/", self.manifest_bucket)),
            function_arn: Some(FUNCTION_ARN.into()),
            role_arn: Some(ROLE_ARN.into()),
            account_id: None,
            priority: 42,
            job_id: None,
            workflow: Some(self.workflow.clone()),
            backdated_workflow: None,
            marker_prefix: liberator_glue::marker::DEFAULT_MARKER_PREFIX.into(),
            poll_seconds: 0.05,
        };
        Settings::new(
            &args,
            self.source.clone(),
            self.target.clone(),
            exports.to_vec(),
            false,
        )
        .unwrap()
    }

    fn clients(&self, jobs: &Arc<SimulatedJobs>) -> Clients {
        Clients {
            s3: self.control.clone(),
            glue: self.glue.clone(),
            jobs: Arc::new(simulate::Sim(jobs.clone())),
        }
    }

    fn jobs(&self) -> Arc<SimulatedJobs> {
        Arc::new(SimulatedJobs::new(
            self.control.clone(),
            self.copier.clone(),
        ))
    }

    async fn run(&self, settings: &Settings, jobs: &Arc<SimulatedJobs>) -> Outcome {
        let outcome = batch::execute(settings, &self.engine, &self.clients(jobs))
            .await
            .expect("the batch backfill runs");
        batch::print_summary(&outcome);
        outcome
    }

    /// Runs started for `export_id` (moto's runs stay RUNNING).
    async fn runs(&self, export_id: &str) -> usize {
        aws::workflow_runs(&self.glue, &self.workflow)
            .await
            .iter()
            .filter(|r| {
                r.workflow_run_properties()
                    .and_then(|p| p.get("liberator_export_id"))
                    .is_some_and(|v| v == export_id)
            })
            .count()
    }

    /// The Parquet keys of an export and where each must land.
    async fn expected(&self, export_id: &str) -> Vec<(String, String)> {
        let id = ExportId::parse(export_id).unwrap();
        let layout = Layout::new(
            self.source.prefix(),
            export_id,
            self.target.prefix(),
            id.date(),
        );
        liberator_tests::list_all(&self.data, &self.source.bucket(), &format!("{export_id}/"))
            .await
            .into_iter()
            .filter_map(|(k, _)| match layout.map(&k).unwrap() {
                Mapped::Parquet(p) => Some((k, p.target_key)),
                Mapped::Other => None,
            })
            .collect()
    }
}

fn export_ids(n: usize) -> Vec<String> {
    let base = rand::random_range(10..90);
    (0..n)
        .map(|i| format!("sql-to-parquet-{base:02}-0{}-1{i}-101500", i + 1))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_exports_of_1000_objects_land_exactly_and_start_glue_once_each() {
    let f = Fixture::new().await;
    let ids = export_ids(3);
    let mut rows = Vec::new();
    for id in &ids {
        // 4 tables x 5 batches x 50 files = 1,000 Parquet files per export.
        rows.push(f.write(&SampleSpec::uniform(id, 4, 5, 50, 10)).await.rows);
    }
    let settings = f.settings(&ids);
    let jobs = f.jobs();
    let out = f.run(&settings, &jobs).await;
    assert!(out.passed, "{:?}", out.failures);
    assert_eq!(jobs.created.load(Ordering::SeqCst), 1);
    let job_id = out.job_id.clone().expect("a job");
    let spec = jobs.spec(&job_id).unwrap();
    assert_eq!(
        (
            spec.priority,
            spec.function_arn.as_str(),
            spec.role_arn.as_str()
        ),
        (42, FUNCTION_ARN, ROLE_ARN)
    );

    // The manifest in (moto) S3: one `bucket,url-encoded key` line per Parquet file.
    let body =
        liberator_tests::get_bytes(&f.control, &spec.manifest.bucket, &spec.manifest.key).await;
    let lines: Vec<String> = String::from_utf8(body.to_vec())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), 3000);
    let mut expected_keys = BTreeSet::new();
    let mut expected_targets = BTreeSet::new();
    for id in &ids {
        for (k, t) in f.expected(id).await {
            expected_keys.insert(k);
            expected_targets.insert(t);
        }
    }
    let manifest_keys: BTreeSet<String> = lines
        .iter()
        .map(|l| {
            let (b, k) = l.split_once(',').unwrap();
            assert_eq!(b, f.source.bucket());
            decode_key(k).unwrap()
        })
        .collect();
    assert_eq!(manifest_keys, expected_keys);

    // Landed exactly: every file at its target, nothing else; rows per table as written.
    let landed: BTreeSet<String> =
        liberator_tests::list_all(&f.data, &f.target.bucket(), "parking/")
            .await
            .into_iter()
            .map(|(k, _)| k)
            .collect();
    assert_eq!(landed, expected_targets);
    for (report, rows) in out.reports.iter().zip(&rows) {
        assert!(report.passed(), "{report}");
        assert_eq!(
            (report.copied, report.skipped, report.failed),
            (1000, 0, 0),
            "{report}"
        );
        let landed_rows: std::collections::BTreeMap<String, u64> = report
            .tables
            .iter()
            .map(|(t, r)| (t.clone(), r.rows))
            .collect();
        assert_eq!(&landed_rows, rows, "{report}");
        assert!(report.completeness.is_some(), "{report}");
    }
    for id in &ids {
        assert_eq!(f.runs(id).await, 1, "{id}");
    }
    assert_eq!(out.glue.iter().filter(|g| g.started_now).count(), 3);

    // Re-submitted: the same selection follows what it ran; no second job, no second run.
    let invocations = jobs.invocations.load(Ordering::SeqCst);
    let again = f.run(&settings, &jobs).await;
    assert!(again.passed, "{:?}", again.failures);
    assert_eq!(jobs.created.load(Ordering::SeqCst), 1, "no second job");
    assert_eq!(jobs.invocations.load(Ordering::SeqCst), invocations);
    assert!(
        again.glue.iter().all(|g| !g.started_now),
        "{:?}",
        again.glue
    );
    for id in &ids {
        assert_eq!(f.runs(id).await, 1, "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_task_is_named_and_its_export_starts_no_glue() {
    let f = Fixture::new().await;
    let ids = export_ids(2);
    for id in &ids {
        f.write(&SampleSpec::uniform(id, 2, 1, 5, 10)).await;
    }
    // A file whose footer is not Parquet: the copier refuses it (PermanentFailure).
    let bad = format!(
        "{}/liberator/liberator.table_000/1/part-99999.gz.parquet",
        ids[0]
    );
    f.data
        .put_object()
        .bucket(f.source.bucket())
        .key(&bad)
        .body(b"not parquet at all".to_vec().into())
        .send()
        .await
        .unwrap();
    let jobs = f.jobs();
    let out = f.run(&f.settings(&ids), &jobs).await;
    assert!(!out.passed);
    let named: Vec<_> = out
        .failures
        .iter()
        .filter(|(k, _)| k.ends_with(&bad))
        .collect();
    assert_eq!(named.len(), 1, "{:?}", out.failures);
    assert!(named[0].1.contains("PermanentFailure"), "{:?}", named[0]);
    let first = &out.reports[0];
    assert_eq!(first.failed, 1, "{first}");
    assert!(
        first
            .failures
            .iter()
            .any(|x| x.key == bad && x.reason.contains("task failed")),
        "{first}"
    );
    assert_eq!(
        f.runs(&ids[0]).await,
        0,
        "a failed export starts no workflow"
    );
    assert!(out.reports[1].passed(), "{}", out.reports[1]);
    assert_eq!(f.runs(&ids[1]).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resubmission_while_the_job_runs_follows_it_even_when_its_record_was_lost() {
    let f = Fixture::new().await;
    let ids = export_ids(1);
    f.write(&SampleSpec::uniform(&ids[0], 2, 1, 10, 10)).await;
    let settings = f.settings(&ids);
    let jobs = Arc::new(SimulatedJobs::new(f.control.clone(), f.copier.clone()).gated());
    let (engine, clients, s) = (f.engine.clone(), f.clients(&jobs), settings.clone());
    let first = tokio::spawn(async move { batch::execute(&s, &engine, &clients).await });
    // The job exists and waits; its record is lost (a CLI killed between CreateJob and
    // the record is the same): the second submission plans again, finds the manifest,
    // and CreateJob's token gives it the same job.
    let record = format!("manifests/{}/jobs.json", settings.folder());
    for _ in 0..200 {
        if jobs.created.load(Ordering::SeqCst) == 1
            && liberator_tests::list_all(&f.control, &f.manifest_bucket, &record)
                .await
                .len()
                == 1
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    f.control
        .delete_object()
        .bucket(&f.manifest_bucket)
        .key(&record)
        .send()
        .await
        .unwrap();
    let (engine, clients, s) = (f.engine.clone(), f.clients(&jobs), settings.clone());
    let second = tokio::spawn(async move { batch::execute(&s, &engine, &clients).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    jobs.release();
    let (a, b) = (
        first.await.unwrap().unwrap(),
        second.await.unwrap().unwrap(),
    );
    assert!(a.passed && b.passed, "{:?} {:?}", a.failures, b.failures);
    assert_eq!(a.job_id, b.job_id);
    assert_eq!(jobs.created.load(Ordering::SeqCst), 1, "no second job");
    assert_eq!(jobs.invocations.load(Ordering::SeqCst), 20);
    assert_eq!(f.runs(&ids[0]).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_writes_nothing() {
    let f = Fixture::new().await;
    let ids = export_ids(1);
    f.write(&SampleSpec::uniform(&ids[0], 1, 1, 3, 10)).await;
    let mut settings = f.settings(&ids);
    settings.dry_run = true;
    let jobs = f.jobs();
    let out = f.run(&settings, &jobs).await;
    assert!(out.passed && out.job_id.is_none());
    assert_eq!(jobs.created.load(Ordering::SeqCst), 0);
    assert!(
        liberator_tests::list_all(&f.control, &f.manifest_bucket, "")
            .await
            .is_empty()
    );
    assert!(
        liberator_tests::list_all(&f.data, &f.target.bucket(), "")
            .await
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_manifest_is_streamed_in_parts() {
    use liberator_cli::commands::batch::manifest::ManifestWriter;
    let f = Fixture::new().await;
    let mut w = ManifestWriter::new(f.control.clone(), &f.manifest_bucket, "m/manifest.csv")
        .with_part_size(5 * 1024 * 1024);
    let mut expected = String::new();
    for i in 0..70_000 {
        let key = format!(
            "sql-to-parquet-24-06-04-101500/liberator/liberator.pcn/{}/part-{i:05} a+b.gz.parquet",
            i % 7
        );
        let line = liberator_engine::batch::manifest_line("exports", &key);
        expected.push_str(&line);
        w.write_line(&line).await.unwrap();
    }
    let m = w.finish().await.unwrap().expect("a manifest");
    assert_eq!(m.objects, 70_000);
    assert!(expected.len() > 5 * 1024 * 1024, "more than one part");
    let body = liberator_tests::get_bytes(&f.control, &f.manifest_bucket, "m/manifest.csv").await;
    assert_eq!(body.len(), expected.len());
    assert!(
        body == expected.as_bytes(),
        "the manifest is the lines written, in order"
    );
    assert!(
        m.etag.ends_with("-2"),
        "a multipart ETag of two parts: {}",
        m.etag
    );
    let open = f
        .control
        .list_multipart_uploads()
        .bucket(&f.manifest_bucket)
        .send()
        .await
        .expect("ListMultipartUploads");
    assert!(open.uploads().is_empty(), "no upload left open");
}
