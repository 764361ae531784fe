//! The engine against real S3 servers on loopback (moto and SeaweedFS).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use liberator_engine::layout::{Layout, Mapped};
use liberator_engine::{
    EngineConfig, ExportId, ExportRequest, Location, NoProgress, Report, RetryConfig,
};
use liberator_fixtures::sample::{SampleSpec, SampleTable, parquet_file, write_sample_export};
use liberator_tests::{
    FaultConfig, FaultProxy, assert_no_open_uploads, create_bucket, engine, get_bytes, list_all,
    moto, s3_client, seaweed, unique_bucket,
};

const EXPORT: &str = "sql-to-parquet-24-06-04-101500";
const PREFIX: &str = "parking";

struct Fixture {
    endpoint: String,
    client: aws_sdk_s3::Client,
    src: String,
    dst: String,
}

async fn fixture(endpoint: &str) -> Fixture {
    let client = s3_client(endpoint);
    let (src, dst) = (unique_bucket("exports"), unique_bucket("landing"));
    create_bucket(&client, &src).await;
    create_bucket(&client, &dst).await;
    Fixture {
        endpoint: endpoint.to_string(),
        client,
        src,
        dst,
    }
}

impl Fixture {
    fn source(&self) -> Location {
        Location::parse(&format!("s3://{}", self.src)).unwrap()
    }
    fn target(&self) -> Location {
        Location::parse(&format!("s3://{}/{PREFIX}", self.dst)).unwrap()
    }
    async fn write(&self, spec: &SampleSpec) -> liberator_fixtures::sample::SampleSummary {
        let e = engine(&self.endpoint, EngineConfig::default());
        write_sample_export(e.store(), &self.source(), spec)
            .await
            .unwrap()
    }
    async fn copy(&self, config: EngineConfig) -> Report {
        self.copy_via(&self.endpoint.clone(), config).await
    }
    async fn copy_via(&self, endpoint: &str, config: EngineConfig) -> Report {
        let request = ExportRequest {
            export_id: ExportId::parse(EXPORT).unwrap(),
            import_date: None,
            task: None,
            source: self.source(),
            target: self.target(),
        };
        engine(endpoint, config)
            .land_export(request, Arc::new(NoProgress))
            .await
            .unwrap()
    }
    /// Target keys the sample's Parquet files must land at.
    fn expected(&self, keys: &[String]) -> BTreeSet<String> {
        let layout = Layout::new("", EXPORT, PREFIX, ExportId::parse(EXPORT).unwrap().date());
        keys.iter()
            .map(|k| match layout.map(k).unwrap() {
                Mapped::Parquet(p) => p.target_key,
                Mapped::Other => panic!("{k} is not Parquet"),
            })
            .collect()
    }
    /// What landed, without the report kept under `_liberator/` for schema comparison.
    async fn landed(&self) -> BTreeMap<String, u64> {
        list_all(&self.client, &self.dst, "")
            .await
            .into_iter()
            .filter(|(k, _)| !k.starts_with("_liberator/"))
            .collect()
    }
}

macro_rules! on_both_servers {
    ($($name:ident),* $(,)?) => {
        mod moto_server {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(&super::moto().endpoint).await })*
        }
        mod seaweedfs {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(&super::seaweed().endpoint).await })*
        }
    };
}

on_both_servers!(
    lands_a_thousand_object_export_exactly_and_rerun_copies_nothing,
    multipart_copy_gives_identical_bytes_and_keeps_headers,
    keys_with_special_characters_land,
    corrupt_parquet_is_reported_and_not_copied,
    same_file_in_two_batches_is_a_collision_for_both,
    dry_run_writes_nothing,
);

async fn lands_a_thousand_object_export_exactly_and_rerun_copies_nothing(endpoint: &str) {
    let f = fixture(endpoint).await;
    let sample = f.write(&SampleSpec::uniform(EXPORT, 10, 2, 50, 20)).await;
    assert_eq!(sample.parquet_files, 1000);

    let report = f.copy(EngineConfig::default()).await;
    assert!(report.passed(), "{report}");
    assert_eq!(
        (
            report.listed,
            report.copied,
            report.skipped,
            report.failed,
            report.non_parquet
        ),
        (1003, 1000, 0, 0, 3),
        "{report}"
    );
    assert_eq!(report.tables.len(), 10);
    for (table, t) in &report.tables {
        assert_eq!((t.files, t.rows), (100, 2000), "{table}");
    }

    let landed = f.landed().await;
    let expected = f.expected(&sample.parquet_keys);
    assert_eq!(
        landed.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "exactly the mapped keys, nothing else"
    );
    let sources: BTreeMap<String, u64> = list_all(&f.client, &f.src, EXPORT)
        .await
        .into_iter()
        .collect();
    for key in sample.parquet_keys.iter().step_by(97) {
        let target = f
            .expected(std::slice::from_ref(key))
            .into_iter()
            .next()
            .unwrap();
        assert_eq!(landed[&target], sources[key]);
        assert_eq!(
            get_bytes(&f.client, &f.dst, &target).await,
            get_bytes(&f.client, &f.src, key).await
        );
    }

    let rerun = f.copy(EngineConfig::default()).await;
    assert!(rerun.passed(), "{rerun}");
    assert_eq!(
        (rerun.copied, rerun.skipped),
        (0, 1000),
        "a re-run copies nothing: {rerun}"
    );
    assert_eq!(rerun.rows(), report.rows());
}

async fn multipart_copy_gives_identical_bytes_and_keeps_headers(endpoint: &str) {
    let f = fixture(endpoint).await;
    let size = 12 * 1024 * 1024 + 12345;
    let body: Vec<u8> = (0..size as u64).map(|i| (i * 7919 % 251) as u8).collect();
    let key = format!("{EXPORT}/liberator/liberator.big/1/part-00000-big.gz.parquet");
    f.client
        .put_object()
        .bucket(&f.src)
        .key(&key)
        .content_type("application/vnd.apache.parquet")
        .metadata("origin", "rds-export")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    let config = EngineConfig {
        multipart_threshold: 5 * 1024 * 1024,
        part_size: 5 * 1024 * 1024,
        verify: false, // the body is not Parquet; this test is about the bytes
        ..EngineConfig::default()
    };
    let report = f.copy(config.clone()).await;
    assert!(report.passed(), "{report}");
    assert_eq!((report.copied, report.multipart_copies), (1, 1), "{report}");

    let target = f
        .expected(std::slice::from_ref(&key))
        .into_iter()
        .next()
        .unwrap();
    let landed = get_bytes(&f.client, &f.dst, &target).await;
    assert_eq!(landed.len(), body.len());
    assert!(landed == body, "multipart copy changed the bytes");
    let head = f
        .client
        .head_object()
        .bucket(&f.dst)
        .key(&target)
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("application/vnd.apache.parquet"));
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("origin"))
            .map(String::as_str),
        Some("rds-export")
    );

    // The multipart ETag differs from the source's; the recorded source ETag lets a re-run skip.
    let rerun = f.copy(config).await;
    assert_eq!((rerun.copied, rerun.skipped), (0, 1), "{rerun}");
    // Its own failure fails the test: "none open" must not mean "could not list".
    assert_no_open_uploads(&f.client, &f.dst).await;
}

async fn keys_with_special_characters_land(endpoint: &str) {
    let f = fixture(endpoint).await;
    let tables = [
        "liberator.Parking Permits",
        "liberator.pcn+events",
        "liberator.100%_paid",
        "liberator.bay#12",
        "liberator.straße_ü",
    ];
    let spec = SampleSpec {
        export_id: EXPORT.into(),
        database: "liberator".into(),
        tables: tables
            .iter()
            .map(|name| SampleTable {
                name: name.to_string(),
                batches: 1,
                files_per_batch: 2,
                rows_per_file: 10,
            })
            .collect(),
        concurrency: 8,
    };
    let sample = f.write(&spec).await;
    let report = f.copy(EngineConfig::default()).await;
    assert!(report.passed(), "{report}");
    assert_eq!(report.copied, 10, "{report}");
    let landed: BTreeSet<String> = f.landed().await.into_keys().collect();
    assert_eq!(landed, f.expected(&sample.parquet_keys));
    for t in tables {
        assert!(
            landed
                .iter()
                .any(|k| k.contains(&format!("/{t}/import_year="))),
            "table folder {t:?} kept exactly"
        );
    }
    // --force copies again.
    let forced = f
        .copy(EngineConfig {
            force: true,
            ..EngineConfig::default()
        })
        .await;
    assert_eq!((forced.copied, forced.skipped), (10, 0), "{forced}");
}

async fn corrupt_parquet_is_reported_and_not_copied(endpoint: &str) {
    let f = fixture(endpoint).await;
    let sample = f.write(&SampleSpec::uniform(EXPORT, 2, 1, 5, 10)).await;
    let good = parquet_file("liberator.bad", 1, 100);
    let mut bad_magic = good.to_vec();
    let n = bad_magic.len();
    bad_magic[n - 2] = b'X';
    let truncated = Bytes::copy_from_slice(&good[..good.len() - 40]);
    let bad_keys = [
        format!("{EXPORT}/liberator/liberator.bad/1/part-00000-magic.gz.parquet"),
        format!("{EXPORT}/liberator/liberator.bad/1/part-00001-truncated.gz.parquet"),
        format!("{EXPORT}/liberator/liberator.bad/1/part-00002-tiny.gz.parquet"),
    ];
    for (key, body) in bad_keys.iter().zip([
        Bytes::from(bad_magic),
        truncated,
        Bytes::from_static(b"PAR1"),
    ]) {
        f.client
            .put_object()
            .bucket(&f.src)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
    }
    let report = f.copy(EngineConfig::default()).await;
    assert!(!report.passed());
    assert_eq!((report.copied, report.failed), (10, 3), "{report}");
    for key in &bad_keys {
        let failure = report
            .failures
            .iter()
            .find(|x| &x.key == key)
            .unwrap_or_else(|| panic!("{key} not reported: {report}"));
        assert!(
            failure.reason.contains("not a valid Parquet file"),
            "{}",
            failure.reason
        );
    }
    let landed: BTreeSet<String> = f.landed().await.into_keys().collect();
    assert_eq!(
        landed,
        f.expected(&sample.parquet_keys),
        "the bad files did not land, the rest did"
    );
}

async fn same_file_in_two_batches_is_a_collision_for_both(endpoint: &str) {
    let f = fixture(endpoint).await;
    let body = parquet_file("t", 3, 10);
    let a = format!("{EXPORT}/liberator/liberator.dup/1/part-00000.gz.parquet");
    let b = format!("{EXPORT}/liberator/liberator.dup/2/part-00000.gz.parquet");
    let c = format!("{EXPORT}/liberator/liberator.dup/2/part-00001.gz.parquet");
    for key in [&a, &b, &c] {
        f.client
            .put_object()
            .bucket(&f.src)
            .key(key)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
    }
    let report = f.copy(EngineConfig::default()).await;
    assert_eq!((report.copied, report.failed), (1, 2), "{report}");
    for key in [&a, &b] {
        assert!(
            report
                .failures
                .iter()
                .any(|x| &x.key == key && x.reason.contains("both map to")),
            "{report}"
        );
    }
    let landed: Vec<String> = f.landed().await.into_keys().collect();
    assert_eq!(landed.len(), 1);
    assert!(landed[0].ends_with("/part-00001.gz.parquet"));
}

async fn dry_run_writes_nothing(endpoint: &str) {
    let f = fixture(endpoint).await;
    f.write(&SampleSpec::liberator(EXPORT)).await;
    let report = f
        .copy(EngineConfig {
            dry_run: true,
            ..EngineConfig::default()
        })
        .await;
    assert_eq!(
        (report.planned, report.copied, report.failed),
        (14, 0, 0),
        "{report}"
    );
    assert!(f.landed().await.is_empty());
}

/// A burst of 503 SlowDown (and a steady trickle after it) is ridden out: nothing lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowdown_burst_is_retried_with_nothing_lost() {
    let f = fixture(&seaweed().endpoint).await;
    let sample = f.write(&SampleSpec::uniform(EXPORT, 4, 2, 25, 10)).await;
    let proxy = FaultProxy::start(
        &f.endpoint,
        FaultConfig {
            slowdown_burst: 60,
            slowdown_rate: 0.05,
            methods: vec!["PUT"], // copies: S3 throttles writes first
            seed: 7,
            ..FaultConfig::default()
        },
    )
    .await;
    let config = EngineConfig {
        retry: RetryConfig {
            max_attempts: 12,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(500),
            ..RetryConfig::default()
        },
        ..EngineConfig::default()
    };
    let report = f.copy_via(&proxy.endpoint, config).await;
    assert!(report.passed(), "{report}");
    assert_eq!((report.copied, report.failed), (200, 0), "{report}");
    let injected = liberator_tests::proxy::ProxyStats::get(&proxy.stats.slowdowns);
    assert!(injected >= 60);
    assert_eq!(
        report.throttles, injected,
        "every injected 503 was seen and retried"
    );
    let landed: BTreeSet<String> = f.landed().await.into_keys().collect();
    assert_eq!(landed, f.expected(&sample.parquet_keys));
}

/// Listing is streamed: a export spread over many list pages lands with copies starting
/// before the listing ends (observed through the progress callbacks).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_start_before_the_listing_ends() {
    use std::sync::Mutex;
    struct Order(Mutex<Vec<(&'static str, u64)>>);
    impl liberator_engine::ExportProgress for Order {
        fn listed(&self, n: u64, _: u64) {
            self.0.lock().unwrap().push(("listed", n));
        }
        fn object(&self, _: &str, _: &str, _: u64, _: &liberator_engine::ObjectOutcome) {
            self.0.lock().unwrap().push(("object", 1));
        }
    }
    let f = fixture(&seaweed().endpoint).await;
    f.write(&SampleSpec::uniform(EXPORT, 5, 1, 500, 5)).await; // 2,503 objects, 3 list pages
    let order = Arc::new(Order(Mutex::new(Vec::new())));
    let request = ExportRequest {
        export_id: ExportId::parse(EXPORT).unwrap(),
        import_date: None,
        task: None,
        source: f.source(),
        target: f.target(),
    };
    let report = engine(&f.endpoint, EngineConfig::default())
        .land_export(request, order.clone())
        .await
        .unwrap();
    assert!(report.passed(), "{report}");
    let events = order.0.lock().unwrap();
    let last_page = events.iter().rposition(|e| e.0 == "listed").unwrap();
    let first_object = events.iter().position(|e| e.0 == "object").unwrap();
    assert!(
        events.iter().filter(|e| e.0 == "listed").count() >= 3,
        "several pages"
    );
    assert!(
        first_object < last_page,
        "objects finished before the last page was listed"
    );
}
