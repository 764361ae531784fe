//! The engine under injected faults and refused writes, through the fault proxy.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use liberator_engine::{
    EngineConfig, ExportId, ExportRequest, Location, NoProgress, Report, RetryConfig,
};
use liberator_fixtures::sample::{SampleSpec, write_sample_export};
use liberator_tests::proxy::ProxyStats;
use liberator_tests::{
    FaultConfig, FaultProxy, create_bucket, engine, list_all, s3_client, seaweed, unique_bucket,
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

/// 5 % SlowDown, 1 % 500, 1 % connection resets on every request (listing, footer reads,
/// HEADs, copies): every object lands once and the report counts exactly what happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_faults_every_object_lands_once_and_the_report_is_exact() {
    let (client, src, dst) = setup(&SampleSpec::uniform(EXPORT, 6, 2, 25, 10)).await;
    let proxy = FaultProxy::start(
        &seaweed().endpoint,
        FaultConfig {
            slowdown_rate: 0.05,
            internal_error_rate: 0.01,
            reset_rate: 0.01,
            seed: 11,
            ..FaultConfig::default()
        },
    )
    .await;
    let report = copy(&proxy.endpoint, &src, &dst, patient()).await;
    let st = &proxy.stats;
    let (slow, errors, resets) = (
        ProxyStats::get(&st.slowdowns),
        ProxyStats::get(&st.internal_errors),
        ProxyStats::get(&st.resets),
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
        slow + errors + resets > 10,
        "faults were injected: {slow} {errors} {resets}"
    );
    assert_eq!(report.throttles, slow, "{report}");
    assert_eq!(
        report.retries,
        slow + errors + resets,
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
