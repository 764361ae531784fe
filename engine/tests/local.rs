//! The embedded default (local folders, no server): metrics, report and layout.

use std::sync::Arc;

use liberator_engine::metrics as names;
use liberator_engine::{
    AwsOptions, Engine, EngineConfig, ExportId, ExportRequest, Location, NoProgress,
};
use liberator_fixtures::sample::{SampleSpec, write_sample_export};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

#[test]
fn a_local_copy_records_metrics_and_lands_the_partition_layout() {
    let dir = tempfile::tempdir().unwrap();
    let source = Location::parse(dir.path().join("exports").to_str().unwrap()).unwrap();
    let target = Location::parse(dir.path().join("landing").to_str().unwrap())
        .unwrap()
        .join("parking");
    let id = "sql-to-parquet-2024-02-29-backdated";
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let report = metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let engine = Engine::connect(
                    &source,
                    &target,
                    &AwsOptions::default(),
                    EngineConfig::default(),
                )
                .await
                .unwrap();
                write_sample_export(engine.store(), &source, &SampleSpec::liberator(id))
                    .await
                    .unwrap();
                let request = ExportRequest {
                    export_id: ExportId::parse(id).unwrap(),
                    import_date: None,
                    task: None,
                    source: source.clone(),
                    target: target.clone(),
                };
                engine
                    .land_export(request, Arc::new(NoProgress))
                    .await
                    .unwrap()
            })
    });
    assert!(report.passed(), "{report}");
    assert_eq!(report.import_date, "2024-02-29");
    let snapshot = snapshotter.snapshot().into_vec();
    let counter = |name: &str| {
        snapshot
            .iter()
            .filter(|(k, ..)| k.key().name() == name)
            .map(|(.., v)| match v {
                DebugValue::Counter(c) => *c,
                _ => 0,
            })
            .sum::<u64>()
    };
    assert_eq!(counter(names::OBJECTS_LISTED), 17);
    assert_eq!(counter(names::OBJECTS_COPIED), 14);
    assert_eq!(counter(names::OBJECTS_NON_PARQUET), 3);
    assert_eq!(counter(names::BYTES_COPIED), report.bytes_copied);
    let partition = dir.path().join(
        "landing/parking/liberator/liberator.pcn/import_year=2024/import_month=02/import_day=29/import_date=20240229",
    );
    assert_eq!(
        std::fs::read_dir(partition).unwrap().count(),
        6,
        "both batch folders' files, flattened"
    );
}
