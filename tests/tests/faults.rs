//! The engine under injected faults and refused writes, through the fault proxy: faults on
//! both sides of the server (before it: 503, 500, reset; after it acted: reply lost, stall
//! past the client's timeout), on every operation, over small and multipart objects.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use liberator_engine::{
    AwsOptions, EngineConfig, ExportId, ExportRequest, Location, NoProgress, Report, RetryConfig,
};
use liberator_fixtures::sample::{SampleSpec, write_sample_export};
use liberator_tests::fault_landing::{MixedExport, config, options_for_stall};
use liberator_tests::proxy::{Kind, Op, ProxyStats, Rule, When};
use liberator_tests::{
    FaultConfig, FaultProxy, assert_no_open_uploads, create_bucket, engine, list_all, moto,
    s3_client, seaweed, unique_bucket,
};

const EXPORT: &str = "sql-to-parquet-24-06-04-101500";

async fn setup(spec: &SampleSpec) -> (aws_sdk_s3::Client, String, String) {
    let client = s3_client(&seaweed().endpoint);
    let (src, dst) = (unique_bucket("faults-src"), unique_bucket("faults-dst"));
    create_bucket(&client, &src).await;
    create_bucket(&client, &dst).await;
    let e = engine(&seaweed().endpoint, EngineConfig::default());
    write_sample_export(
        e.store(),
        &Location::parse(&format!("s3://{src}")).unwrap(),
        spec,
    )
    .await
    .unwrap();
    (client, src, dst)
}

async fn copy(endpoint: &str, src: &str, dst: &str, config: EngineConfig) -> Report {
    let request = ExportRequest {
        export_id: ExportId::parse(EXPORT).unwrap(),
        import_date: None,
        task: None,
        source: Location::parse(&format!("s3://{src}")).unwrap(),
        target: Location::parse(&format!("s3://{dst}/landing")).unwrap(),
    };
    engine(endpoint, config)
        .land_export(request, Arc::new(NoProgress))
        .await
        .unwrap()
}

fn patient() -> EngineConfig {
    EngineConfig {
        retry: RetryConfig {
            max_attempts: 12,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(300),
            ..RetryConfig::default()
        },
        ..EngineConfig::default()
    }
}

/// Before the server: 5 % SlowDown, 1 % 500, 1 % connection resets; after it acted: 3 % of
/// replies lost, on every request (listing, footer reads, HEADs, copies): every object lands
/// once, and the report counts exactly what happened (one retry per fault).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_faults_on_both_sides_every_object_lands_once_and_the_report_is_exact() {
    let (client, src, dst) = setup(&SampleSpec::uniform(EXPORT, 6, 2, 25, 10)).await;
    let proxy = FaultProxy::start(
        &seaweed().endpoint,
        FaultConfig {
            slowdown_rate: 0.05,
            internal_error_rate: 0.01,
            reset_rate: 0.01,
            rules: vec![Rule::new(&[], Kind::LostReply, When::Rate(0.03))],
            seed: 11,
            ..FaultConfig::default()
        },
    )
    .await;
    let report = copy(&proxy.endpoint, &src, &dst, patient()).await;
    let st = &proxy.stats;
    eprintln!("{}", st.table());
    let (slow, errors, resets, lost) = (
        ProxyStats::get(&st.slowdowns),
        ProxyStats::get(&st.internal_errors),
        ProxyStats::get(&st.resets),
        st.faults_of(Kind::LostReply),
    );
    assert!(report.passed(), "{report}");
    assert_eq!(
        (
            report.listed,
            report.copied,
            report.failed,
            report.non_parquet
        ),
        (303, 300, 0, 3),
        "{report}"
    );
    assert!(
        slow > 0 && errors + resets > 0 && lost > 0,
        "faults of both sides were injected: {slow} {errors} {resets} {lost}"
    );
    assert_eq!(report.throttles, slow, "{report}");
    assert_eq!(
        report.retries,
        st.faulted(),
        "one retry per injected fault: {report}"
    );
    let landed = list_all(&client, &dst, "landing/").await;
    assert_eq!(landed.len(), 300, "each object exactly once");
    let sources: BTreeMap<String, u64> = list_all(&client, &src, EXPORT)
        .await
        .into_iter()
        .filter(|(k, _)| k.ends_with(".parquet"))
        .map(|(k, s)| (k.rsplit('/').next().unwrap().to_string(), s))
        .collect();
    for (key, size) in &landed {
        assert_eq!(sources[key.rsplit('/').next().unwrap()], *size, "{key}");
    }
    assert_no_open_uploads(&client, &dst).await;
}

macro_rules! on_both_servers {
    ($($name:ident),* $(,)?) => {
        mod moto_server {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(&super::moto().endpoint, true).await })*
        }
        mod seaweedfs {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(&super::seaweed().endpoint, false).await })*
        }
    };
}

on_both_servers!(
    small_and_multipart_objects_land_exactly_once_under_faults_on_both_sides_of_every_operation,
    a_lost_complete_multipart_reply_is_resolved_by_checking_the_target,
);

/// Operations of a landing with multipart objects, each faulted on both sides.
const EVERY_OP: &[Op] = &[
    Op::List,
    Op::Head,
    Op::GetRange,
    Op::Get,
    Op::CopyObject,
    Op::CreateMultipart,
    Op::UploadPartCopy,
    Op::CompleteMultipart,
    Op::ListUploads,
];

/// The stall on GETs: longer than the client's attempt timeout.
const STALL: Duration = Duration::from_secs(4);

/// Each operation's first call is reset before the server sees it and its second call's
/// reply is lost after the server acted; on top, 5 % 503s and 5 % lost replies on every
/// operation, and the 2nd and 5th footer reads stall past the client's attempt timeout.
/// Against a clean landing of the same export: same keys, sizes and (on moto, whose
/// multipart ETags are AWS's) ETags; nothing extra; no upload left open.
async fn small_and_multipart_objects_land_exactly_once_under_faults_on_both_sides_of_every_operation(
    endpoint: &str,
    stable_etags: bool,
) {
    let export = MixedExport::write(endpoint, EXPORT, 3, 8, &[6, 9, 12]).await;
    assert_eq!(export.multipart_objects(), 3);
    let clean = export.land(endpoint, AwsOptions::default(), config()).await;
    assert!(clean.report.passed(), "{}", clean.report);

    let mut rules = Vec::new();
    for op in EVERY_OP {
        rules.push(Rule::new(&[*op], Kind::Reset, When::Nth(1)));
        rules.push(Rule::new(&[*op], Kind::LostReply, When::Nth(2)));
    }
    rules.push(Rule::new(&[Op::GetRange], Kind::Stall(STALL), When::Nth(3)));
    rules.push(Rule::new(&[Op::GetRange], Kind::Stall(STALL), When::Nth(6)));
    rules.push(Rule::new(&[], Kind::SlowDown, When::Rate(0.05)));
    rules.push(Rule::new(&[], Kind::LostReply, When::Rate(0.05)));
    let (landing, stats) = export
        .land_through(
            FaultConfig::with_rules(rules, 21),
            options_for_stall(STALL),
            config(),
        )
        .await;
    eprintln!("{}\n{}", stats.table(), landing.report);
    let r = &landing.report;
    assert!(r.passed(), "{r}");
    assert_eq!(
        (r.copied as usize, r.failed, r.multipart_copies),
        (export.expected.len(), 0, 3),
        "{r}"
    );
    assert!(
        landing.tally.lost.is_empty(),
        "lost: {:?}",
        landing.tally.lost
    );
    assert!(
        landing.tally.duplicates.is_empty(),
        "duplicates: {:?}",
        landing.tally.duplicates
    );
    assert!(
        landing.open_uploads.is_empty(),
        "open uploads: {:?}",
        landing.open_uploads
    );
    let sizes = |m: &BTreeMap<String, (u64, String)>| -> BTreeMap<String, u64> {
        m.iter().map(|(k, (s, _))| (k.clone(), *s)).collect()
    };
    assert_eq!(sizes(&landing.landed), sizes(&clean.landed));
    if stable_etags {
        assert_eq!(landing.landed, clean.landed, "the ETags a clean run gives");
    }
    for op in EVERY_OP {
        assert!(
            stats.faults_on(Some(*op), Kind::Reset) == 1
                && stats.faults_on(Some(*op), Kind::LostReply) >= 1,
            "{op:?} faulted on both sides:\n{}",
            stats.table()
        );
    }
    assert_eq!(stats.faults_of(Kind::Stall(STALL)), 2);
    assert!(stats.faults_of(Kind::SlowDown) > 0);
    assert!(r.retries >= stats.faulted() - 2, "a retry per fault: {r}");
}

/// The first CompleteMultipartUpload's reply is lost after the server completed the
/// upload: the retry finds the upload completed (moto and SeaweedFS answer 200 again; AWS
/// may answer `NoSuchUpload`), and the object is not failed. Then every Complete reply is
/// lost, so no retry ever hears an answer: the engine resolves each object by the target's
/// size and recorded source ETag (a HEAD) instead of failing it.
async fn a_lost_complete_multipart_reply_is_resolved_by_checking_the_target(
    endpoint: &str,
    stable_etags: bool,
) {
    let export = MixedExport::write(endpoint, EXPORT, 1, 2, &[6, 7]).await;
    let clean = export.land(endpoint, AwsOptions::default(), config()).await;
    let complete = Some(Op::CompleteMultipart);
    let attempts = u64::from(config().retry.max_attempts);
    for (when, lost) in [(When::Nth(1), 1), (When::FirstN(u64::MAX), 2 * attempts)] {
        let rules = vec![Rule::new(&[Op::CompleteMultipart], Kind::LostReply, when)];
        let (landing, stats) = export
            .land_through(
                FaultConfig::with_rules(rules, 1),
                AwsOptions::default(),
                config(),
            )
            .await;
        eprintln!(
            "{when:?}: CompleteMultipartUpload answers {:?}\n{}",
            stats.statuses(complete),
            stats.table()
        );
        let r = &landing.report;
        assert!(r.passed(), "{when:?}: {r}");
        assert_eq!((r.copied, r.failed, r.multipart_copies), (4, 0, 2), "{r}");
        assert_eq!(stats.faults_on(complete, Kind::LostReply), lost, "{when:?}");
        assert_eq!(stats.seen(complete), lost.max(3), "{when:?}");
        assert!(landing.tally.lost.is_empty() && landing.tally.duplicates.is_empty());
        assert!(
            landing.open_uploads.is_empty(),
            "{:?}",
            landing.open_uploads
        );
        if stable_etags {
            assert_eq!(landing.landed, clean.landed);
        }
    }
}

/// Credentials that may not write the target: each object fails at once (403 is not retried),
/// named with the reason, and nothing lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_we_may_not_write_fails_every_object_by_key() {
    let (client, src, dst) = setup(&SampleSpec::liberator(EXPORT)).await;
    let proxy = FaultProxy::start(
        &seaweed().endpoint,
        FaultConfig {
            deny_writes_to: Some(dst.clone()),
            ..FaultConfig::default()
        },
    )
    .await;
    let report = copy(&proxy.endpoint, &src, &dst, patient()).await;
    assert!(!report.passed());
    assert_eq!(
        (report.copied, report.failed, report.retries),
        (0, 14, 0),
        "{report}"
    );
    for f in &report.failures {
        assert!(
            f.key.starts_with(EXPORT) && f.reason.contains("AccessDenied"),
            "{f:?}"
        );
        assert!(f.reason.contains("after 1 attempt"), "{f:?}");
    }
    assert_eq!(ProxyStats::get(&proxy.stats.denied), 14);
    assert!(list_all(&client, &dst, "").await.is_empty());
}

/// An export folder with metadata but no Parquet files is an error, not an empty success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_with_zero_parquet_files_is_an_error() {
    let (client, src, dst) = setup(&SampleSpec::uniform(EXPORT, 0, 1, 1, 1)).await;
    assert_eq!(
        list_all(&client, &src, EXPORT).await.len(),
        3,
        "only the metadata files"
    );
    let report = copy(&seaweed().endpoint, &src, &dst, EngineConfig::default()).await;
    assert!(!report.passed());
    assert_eq!(report.non_parquet, 3);
    assert!(
        report.failures[0].reason.contains("holds no Parquet files"),
        "{report}"
    );
}
