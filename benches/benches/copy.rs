//! A whole `engine copy` of a small export (12 tables × 2 batch folders × 10 files of
//! 32 KiB Parquet, verification on) against SeaweedFS, `--force` so each iteration copies
//! everything again. Needs `LIBERATOR_SEAWEED_ENDPOINT`; fails loudly without it.

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use liberator_benches::data::{self, EXPORT_ID, Shape};
use liberator_engine::{
    AwsOptions, Engine, EngineConfig, ExportId, ExportRequest, Location, NoProgress,
};

fn copy(c: &mut Criterion) {
    let endpoint = std::env::var("LIBERATOR_SEAWEED_ENDPOINT").expect(
        "LIBERATOR_SEAWEED_ENDPOINT is not set: the copy benchmark needs SeaweedFS \
         (see benches/README.md)",
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let shape = Shape {
        tables: 12,
        batches: 2,
        files_per_batch: 10,
        object_size: 32 * 1024,
    };
    let (src, dst) = (
        format!("lbb-crit-src-{}", std::process::id()),
        format!("lbb-crit-dst-{}", std::process::id()),
    );
    let client = rt.block_on(async {
        let client = data::client(&endpoint).await;
        data::ensure_bucket(&client, &src).await.unwrap();
        data::ensure_bucket(&client, &dst).await.unwrap();
        data::seed(
            &client,
            &src,
            EXPORT_ID,
            &shape,
            0..shape.files_per_batch,
            64,
        )
        .await
        .unwrap();
        client
    });
    let source = Location::parse(&format!("s3://{src}")).unwrap();
    let target = Location::parse(&format!("s3://{dst}/landing")).unwrap();
    let s3 = AwsOptions {
        endpoint_url: Some(endpoint.clone()),
        ..AwsOptions::default()
    };
    let config = EngineConfig {
        force: true,
        ..EngineConfig::default()
    };
    let engine = rt
        .block_on(Engine::connect(&source, &target, &s3, config))
        .unwrap();
    let request = ExportRequest {
        export_id: ExportId::parse(EXPORT_ID).unwrap(),
        import_date: None,
        task: None,
        source,
        target,
    };
    let mut g = c.benchmark_group("engine_copy");
    g.sample_size(10);
    g.throughput(Throughput::Elements(shape.parquet_files() as u64));
    g.bench_function("240x32KiB_seaweedfs_verify", |b| {
        b.to_async(&rt).iter(|| async {
            let report = engine
                .land_export(request.clone(), Arc::new(NoProgress))
                .await
                .unwrap();
            assert!(report.passed(), "{report}");
            assert_eq!(report.copied, shape.parquet_files() as u64);
        })
    });
    g.finish();
    rt.block_on(async {
        data::remove_bucket(&client, &src).await;
        data::remove_bucket(&client, &dst).await;
    });
}

criterion_group!(benches, copy);
criterion_main!(benches);
