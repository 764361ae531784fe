//! The engine's own CPU per object, without the SDK or a network: `Engine::land_export`
//! over the in-memory store (`liberator_engine::store::MemoryStore`, behind the same
//! governed wrapper — limiter, retries, counters — as S3) landing a 1,000-file sample export
//! (10 tables × 100 real gzip Parquet files). One iteration is a whole run: listing, key
//! mapping, target checks, footer reads and decoding, copies, the completeness check and the
//! report. On a current-thread runtime, so the time per iteration is CPU time; divide by
//! 1,000 (criterion's throughput line) for the time per object. The memory store's own work
//! (a map lookup and a `Bytes` clone per request) is included and small.

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use liberator_engine::store::MemoryStore;
use liberator_engine::{Engine, EngineConfig, ExportId, ExportRequest, Location, NoProgress};
use liberator_fixtures::sample::{SampleSpec, write_sample_export};

const ID: &str = "sql-to-parquet-24-06-04-101500";
const FILES: u64 = 1000;

fn engine_per_object(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mem = Arc::new(MemoryStore::new());
    let source = Location::parse("s3://src/exports/").unwrap();
    let target = Location::parse("s3://dst/parking").unwrap();
    rt.block_on(async {
        let seed = Engine::with_backend(mem.clone(), EngineConfig::default());
        let summary = write_sample_export(
            seed.store(),
            &source,
            &SampleSpec::uniform(ID, 10, 1, (FILES / 10) as usize, 200),
        )
        .await
        .unwrap();
        assert_eq!(summary.parquet_files, FILES);
    });
    let request = ExportRequest {
        export_id: ExportId::parse(ID).unwrap(),
        import_date: None,
        task: None,
        source,
        target,
    };
    let variants = [
        (
            "memory_store_1000_verify",
            EngineConfig {
                force: true,
                ..EngineConfig::default()
            },
            FILES,
        ),
        (
            "memory_store_1000_no_verify",
            EngineConfig {
                force: true,
                verify: false,
                ..EngineConfig::default()
            },
            FILES,
        ),
        // Everything is at the target already: list, map, HEAD, skip.
        (
            "memory_store_1000_already_landed",
            EngineConfig::default(),
            0,
        ),
    ];
    let mut g = c.benchmark_group("engine_per_object");
    g.sample_size(20);
    g.throughput(Throughput::Elements(FILES));
    for (name, config, copied) in variants {
        let engine = Engine::with_backend(mem.clone(), config);
        // Lands once outside the measurement (so the already-landed case starts landed)
        // and checks the run passes.
        let report = rt
            .block_on(engine.land_export(request.clone(), Arc::new(NoProgress)))
            .unwrap();
        assert!(report.passed(), "{report}");
        g.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                let report = engine
                    .land_export(request.clone(), Arc::new(NoProgress))
                    .await
                    .unwrap();
                assert_eq!(report.copied, copied, "{report}");
                report
            })
        });
    }
    g.finish();
}

criterion_group!(benches, engine_per_object);
criterion_main!(benches);
