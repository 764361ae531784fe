//! The embedded default (a local folder) lands keys with non-ASCII characters and `%`
//! exactly: listed keys and the paths read back used to be encoded differently, and 12 of
//! 30 such files failed with "not found".

use std::sync::Arc;

use liberator_engine::{
    AwsOptions, Engine, EngineConfig, ExportId, ExportRequest, Location, NoProgress,
};
use liberator_fixtures::sample::{SampleSpec, SampleTable, write_sample_export};

#[tokio::test]
async fn unicode_and_percent_table_names_land_every_file_locally() {
    let dir = tempfile::tempdir().unwrap();
    let source = Location::parse(dir.path().join("exports").to_str().unwrap()).unwrap();
    let target = Location::parse(dir.path().join("landing").to_str().unwrap())
        .unwrap()
        .join("parking");
    let id = "sql-to-parquet-24-06-04-101500";
    let table = |name: &str| SampleTable {
        name: name.to_string(),
        batches: 2,
        files_per_batch: 3,
        rows_per_file: 10,
    };
    let spec = SampleSpec {
        tables: vec![
            table("liberator.ünïcode"),
            table("liberator.pct%x"),
            table("liberator.with space+plus#hash$"),
            table("liberator.plain"),
            table("liberator.日本"),
        ],
        ..SampleSpec::liberator(id)
    };
    let engine = Engine::connect(
        &source,
        &target,
        &AwsOptions::default(),
        EngineConfig::default(),
    )
    .await
    .unwrap();
    let written = write_sample_export(engine.store(), &source, &spec)
        .await
        .unwrap();
    assert_eq!(written.parquet_files, 30);
    let request = ExportRequest {
        export_id: ExportId::parse(id).unwrap(),
        import_date: None,
        task: None,
        source,
        target: target.clone(),
    };
    let report = engine
        .land_export(request, Arc::new(NoProgress))
        .await
        .unwrap();
    assert!(report.passed(), "{report}");
    assert_eq!(report.copied, 30, "{report}");

    let mut landed = Vec::new();
    for entry in walk(&dir.path().join("landing/parking")) {
        landed.push(entry);
    }
    assert_eq!(landed.len(), 30, "{landed:#?}");
    for name in [
        "liberator.ünïcode",
        "liberator.pct%x",
        "liberator.with space+plus#hash$",
        "liberator.日本",
    ] {
        let dir = dir
            .path()
            .join("landing/parking/liberator")
            .join(name)
            .join("import_year=2024/import_month=06/import_day=04/import_date=20240604");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            6,
            "{}",
            dir.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
