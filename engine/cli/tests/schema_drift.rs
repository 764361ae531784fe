//! `engine copy` and `engine backfill` with schema drift, on local folders (no server): the
//! second of two dates removes, retypes and adds a column; `--fail-on-schema-change` exits 1
//! naming each removed or retyped table and column, without it the run passes and the
//! summary lists every change.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use liberator_engine::{AwsOptions, Engine, EngineConfig, Location, Report};
use liberator_fixtures::sample::columns::{drift_after, drift_before};
use liberator_fixtures::sample::{SampleSpec, write_sample_export_with_columns};

const DAY1: &str = "sql-to-parquet-24-06-03-101500";
const DAY2: &str = "sql-to-parquet-24-06-04-101500";

fn engine(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_engine"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("running engine")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes both dates' exports into `DIR/exports`; `(source, target)`.
async fn exports(dir: &Path) -> (String, String) {
    let source = dir.join("exports").to_str().unwrap().to_string();
    let target = dir.join("landing").to_str().unwrap().to_string();
    let loc = Location::parse(&source).unwrap();
    let e = Engine::connect(&loc, &loc, &AwsOptions::default(), EngineConfig::default())
        .await
        .unwrap();
    let write = |id: &'static str, schemas: BTreeMap<String, String>| {
        let (e, loc) = (e.clone(), loc.clone());
        async move {
            write_sample_export_with_columns(e.store(), &loc, &SampleSpec::liberator(id), &schemas)
                .await
                .unwrap()
        }
    };
    write(DAY1, drift_before()).await;
    write(DAY2, drift_after()).await;
    (source, target)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_fails_on_a_removed_or_retyped_column_when_asked_and_backfill_warns_without() {
    let dir = tempfile::tempdir().unwrap();
    let (source, target) = exports(dir.path()).await;
    let copy = |id: &str, extra: &[&str]| {
        let mut args = vec!["copy", id, "--source", &source, "--target", &target];
        args.extend_from_slice(extra);
        engine(&args)
    };
    let first = copy(DAY1, &["--fail-on-schema-change"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        dir.path()
            .join("landing/_liberator/reports/2024-06-03.json")
            .is_file(),
        "the first date's report is kept on the target"
    );

    let report = dir.path().join("blocked.json");
    let blocked = copy(
        DAY2,
        &[
            "--fail-on-schema-change",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert_eq!(blocked.status.code(), Some(1), "{}", stderr(&blocked));
    let text = stderr(&blocked);
    for needle in [
        "FAILED liberator/liberator.permits: schema change since 2024-06-03: table liberator/liberator.permits: column amount removed (was DOUBLE)",
        "FAILED liberator/liberator.vrm: schema change since 2024-06-03: table liberator/liberator.vrm: column zone retyped from INT32 to INT64",
        "schema: 4 column change(s) since 2024-06-03 (sql-to-parquet-24-06-03-101500)",
    ] {
        assert!(text.contains(needle), "{needle:?} in\n{text}");
    }
    assert!(
        !text.contains("FAILED liberator/liberator.pcn"),
        "an added column only warns: {text}"
    );
    let json: Report = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(json.schema_drift.unwrap().blocking().count(), 2);
    assert!(
        !dir.path()
            .join("landing/_liberator/reports/2024-06-04.json")
            .exists()
    );

    // backfill without the flag: both dates pass, the second's changes are in the summary.
    let out = engine(&[
        "backfill",
        "--source",
        &source,
        "--target",
        &target,
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let reports: Vec<Report> = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[1].schema_drift.as_ref().unwrap().changes.len(), 4);
    assert!(
        dir.path()
            .join("landing/_liberator/reports/2024-06-04.json")
            .is_file()
    );
}
