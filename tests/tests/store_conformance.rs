//! The storage seam's one conformance suite (`liberator_engine::store::conformance`) against
//! the real S3-compatible servers: moto and SeaweedFS. Memory and local folders run the
//! same suite in the engine's unit tests. Also: the suite through the fault wrapper and the
//! retrying store, faults on both sides of the server, still passes.

use std::sync::Arc;

use liberator_engine::store::{
    FaultRule, Faulty, MemoryStore, ObjectStore, Op, S3Store, Side, Store, When, conformance,
};
use liberator_engine::{Limiter, LimiterConfig, RetryConfig};
use liberator_tests::{create_bucket, moto, s3_client, seaweed, unique_bucket};

async fn on_server(endpoint: &str, expect: conformance::Expect) {
    let client = s3_client(endpoint);
    let bucket = unique_bucket("conformance");
    create_bucket(&client, &bucket).await;
    conformance::run_with(Arc::new(S3Store::new(client)), &bucket, expect).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn moto_conforms() {
    on_server(&moto().endpoint, conformance::Expect::default()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn seaweedfs_conforms() {
    // SeaweedFS 4.48 lists subfolders depth-first, not in byte order (see `Expect`).
    let expect = conformance::Expect { byte_order: false };
    on_server(&seaweed().endpoint, expect).await;
}

/// Reads, copies and listings are retried safely whether the fault came before the store or
/// after it acted (conditional writes are not in this mix: a retried conditional write whose
/// first attempt landed answers "precondition failed", which the marker protocol resolves
/// by reading its own token back).
#[tokio::test(flavor = "multi_thread")]
async fn the_governed_store_conforms_under_faults_on_both_sides() {
    let idempotent = [
        Op::List,
        Op::Head,
        Op::GetRange,
        Op::Get,
        Op::Put,
        Op::Delete,
        Op::CopyObject,
        Op::UploadPartCopy,
        Op::AbortMultipart,
        Op::ListUploads,
    ];
    let rules = vec![
        FaultRule::new(&idempotent, Side::Before, When::Rate(0.2)),
        FaultRule::new(&idempotent, Side::After, When::Rate(0.2)),
    ];
    let faulty = Arc::new(Faulty::new(Arc::new(MemoryStore::new()), rules, 42));
    let counts = faulty.counts();
    let retry = RetryConfig {
        max_attempts: 30,
        base_delay: std::time::Duration::from_millis(1),
        max_delay: std::time::Duration::from_millis(2),
        ..RetryConfig::default()
    };
    let store = Store::new(faulty, Limiter::new(LimiterConfig::default()), retry);
    let governed: Arc<dyn ObjectStore> = store.as_dyn();
    conformance::run(governed, "bucket").await;
    assert!(
        counts.before() > 5 && counts.after() > 5,
        "faults were injected on both sides: {} before, {} after",
        counts.before(),
        counts.after()
    );
    assert_eq!(
        liberator_engine::stats::JobStats::get(&store.stats().retries),
        counts.total(),
        "every injected fault was retried exactly once"
    );
}
