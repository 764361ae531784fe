//! The reliability table in the README: one export of small and multipart objects on moto,
//! landed under each fault mix through the fault proxy, one markdown row per mix.
//!
//! ```text
//! cargo test -p liberator-tests --test reliability -- --nocapture
//! ```
//!
//! Every mix must lose nothing, duplicate nothing, leave no multipart upload open and land
//! the ETags a clean run gives (moto's multipart ETags are AWS's); the copier's mix must
//! start exactly one Glue workflow run.

use std::fmt::Write as _;
use std::time::Duration;

use export_copier::{Answer, Config, Copier, Invocation};
use liberator_engine::AwsOptions;
use liberator_tests::fault_landing::{MixedExport, config, options_for_stall};
use liberator_tests::landing::{objects, open_uploads, tally};
use liberator_tests::proxy::{
    FaultConfig, FaultProxy, Kind, Op, ProxyStats, Rule, When, describe_all,
};
use liberator_tests::{aws, create_bucket, moto, unique_bucket};
use rand::Rng;
use serde_json::json;

/// The stall of mix (d): longer than the client's attempt timeout ([`options_for_stall`]).
const STALL: Duration = Duration::from_secs(4);

/// One row.
struct Row {
    mix: String,
    objects: usize,
    requests: u64,
    faulted: u64,
    lost: usize,
    duplicates: usize,
    glue_runs: Option<usize>,
    open_uploads: usize,
}

impl Row {
    fn markdown(&self) -> String {
        let glue = self
            .glue_runs
            .map_or_else(|| "–".to_string(), |n| n.to_string());
        format!(
            "| {} | {} | {} | {} | {} | {} | {glue} | {} |",
            self.mix,
            self.objects,
            self.requests,
            self.faulted,
            self.lost,
            self.duplicates,
            self.open_uploads
        )
    }
}

/// The engine's mixes: rules, and whether the client needs timeouts shorter than the stall.
fn mixes() -> Vec<(Vec<Rule>, bool)> {
    let all = |kind, p| Rule::new(&[], kind, When::Rate(p));
    let gets = [Op::GetRange, Op::Get];
    vec![
        (vec![], false),
        (
            vec![
                all(Kind::SlowDown, 0.04),
                all(Kind::InternalError, 0.03),
                all(Kind::Reset, 0.03),
            ],
            false,
        ),
        (vec![all(Kind::LostReply, 0.1)], false),
        (
            vec![
                all(Kind::SlowDown, 0.04),
                all(Kind::InternalError, 0.03),
                all(Kind::Reset, 0.03),
                all(Kind::LostReply, 0.1),
            ],
            false,
        ),
        (
            vec![
                Rule::new(&gets, Kind::ResetMidBody, When::Rate(0.2)),
                Rule::new(&gets, Kind::Stall(STALL), When::Rate(0.1)),
            ],
            true,
        ),
        (
            vec![Rule::new(
                &[Op::CompleteMultipart],
                Kind::LostReply,
                When::Nth(1),
            )],
            false,
        ),
    ]
}

/// A normal export id no other test uses (snapshot ids are global in moto).
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_mixes_lose_nothing_duplicate_nothing_and_leave_no_upload_open() {
    let endpoint = moto().endpoint.clone();
    let export = MixedExport::write(&endpoint, &unique_export_id(), 3, 10, &[6, 9, 12]).await;
    let clean = export
        .land(&endpoint, AwsOptions::default(), config())
        .await;
    assert!(clean.report.passed(), "{}", clean.report);
    let mut rows = Vec::new();
    for (i, (rules, stall)) in mixes().into_iter().enumerate() {
        let mix = describe_all(&rules);
        let options = if stall {
            options_for_stall(STALL)
        } else {
            AwsOptions::default()
        };
        let (landing, stats) = export
            .land_through(
                FaultConfig::with_rules(rules.clone(), 100 + i as u64),
                options,
                config(),
            )
            .await;
        eprintln!("{mix}:\n{}", stats.table());
        assert!(landing.report.passed(), "{mix}: {}", landing.report);
        assert_eq!(landing.landed, clean.landed, "{mix}: keys, sizes and ETags");
        for rule in &rules {
            assert!(
                stats.faults_of(rule.kind) > 0,
                "{mix}: no {} was injected",
                rule.kind.name()
            );
        }
        rows.push(Row {
            mix,
            objects: export.expected.len(),
            requests: ProxyStats::get(&stats.requests),
            faulted: stats.faulted(),
            lost: landing.tally.lost.len(),
            duplicates: landing.tally.duplicates.len(),
            glue_runs: None,
            open_uploads: landing.open_uploads.len(),
        });
    }
    rows.push(copier_row(&export).await);

    let mut table = String::from(
        "| fault mix (kind, rate, operations) | objects | requests | requests faulted | objects lost | duplicate objects | Glue runs | open uploads left |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for row in &rows {
        let _ = writeln!(table, "{}", row.markdown());
    }
    println!("\n{table}");
    for row in &rows {
        assert_eq!(
            (row.lost, row.duplicates, row.open_uploads),
            (0, 0, 0),
            "{}",
            row.markdown()
        );
        if let Some(runs) = row.glue_runs {
            assert_eq!(runs, 1, "{}", row.markdown());
        }
    }
}

/// The export-copier (library, as its binary builds it) landing the same export through the
/// proxy under (a)+(b) on every S3 operation, with the reply of the Glue claim's conditional
/// PUT lost after S3 stored it; then the same event delivered again. Glue runs counted in moto.
async fn copier_row(export: &MixedExport) -> Row {
    let endpoint = moto().endpoint.clone();
    let rds = aws::rds_client(&endpoint);
    let glue = aws::glue_client(&endpoint);
    let instance = aws::unique_instance("reliability");
    aws::create_instance(&rds, &instance).await;
    let arn = aws::create_snapshot(&rds, &instance, &export.export_id).await;
    aws::start_export(&rds, &export.export_id, &arn, &export.src).await;
    let workflow = unique_bucket("import");
    aws::create_workflow(&glue, &workflow).await;
    let target = unique_bucket("faults-dst");
    create_bucket(&export.client, &target).await;
    let config = Config {
        source_bucket: export.src.clone(),
        target_bucket: target.clone(),
        target_prefix: "parking".into(),
        workflow_name: workflow.clone(),
        concurrency: 16,
        ..Config::default()
    };
    let rules = vec![
        Rule::new(&[Op::ConditionalPut], Kind::LostReply, When::Nth(1)),
        Rule::new(&[], Kind::SlowDown, When::Rate(0.05)),
        Rule::new(&[], Kind::Reset, When::Rate(0.05)),
        Rule::new(&[], Kind::LostReply, When::Rate(0.1)),
    ];
    let mix = format!("copier: {}", describe_all(&rules));
    let proxy = FaultProxy::start(&endpoint, FaultConfig::with_rules(rules, 7)).await;
    let clients = aws::clients_with(&proxy.endpoint, &endpoint, config.aws_options());
    let copier = Copier::new(clients, config.clone());
    let event = json!({
        "version": "0", "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "RDS DB Snapshot Event", "source": "aws.rds",
        "account": "123456789012", "time": "2024-06-04T11:02:10Z", "region": "us-east-1",
        "resources": [arn],
        "detail": {
            "EventCategories": ["notification"], "SourceType": "SNAPSHOT", "SourceArn": arn,
            "Date": "2024-06-04T11:02:10.487Z", "Message": "Snapshot export task completed.",
            "SourceIdentifier": export.export_id, "EventID": "RDS-EVENT-0161"
        }
    });
    let invocation = || {
        Invocation::with_budget(
            Duration::from_secs(600),
            "arn:aws:lambda:us-east-1:123456789012:function:export-copier",
        )
    };
    let first = copier.handle_export(&event, &invocation()).await;
    assert!(
        matches!(first, Ok(Answer::GlueStarted { .. })),
        "{mix}: {first:?}"
    );
    let second = copier.handle_export(&event, &invocation()).await;
    assert!(
        matches!(second, Ok(Answer::AlreadyStarted { .. })),
        "{mix}: {second:?}"
    );
    eprintln!("{mix}:\n{}", proxy.stats.table());
    assert!(
        proxy
            .stats
            .faults_on(Some(Op::ConditionalPut), Kind::LostReply)
            >= 1,
        "the claim's reply was lost"
    );
    let landed = objects(&export.client, &target, "parking/").await;
    let t = tally(&export.expected, &landed);
    Row {
        mix,
        objects: export.expected.len(),
        requests: ProxyStats::get(&proxy.stats.requests),
        faulted: proxy.stats.faulted(),
        lost: t.lost.len(),
        duplicates: t.duplicates.len(),
        glue_runs: Some(aws::workflow_runs(&glue, &workflow).await.len()),
        open_uploads: open_uploads(&export.client, &target).await.len(),
    }
}
