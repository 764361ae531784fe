//! Schema drift through the copier on moto: two exports of consecutive dates, the second
//! with a column added, one removed, one retyped (the fixture's three tables). With
//! `FAIL_ON_SCHEMA_CHANGE` the second landing starts no Glue run and fails with
//! `SchemaChanged` naming each removed or retyped table and column; with it off the same
//! export starts its run, and its marker's report lists every change.

use std::collections::BTreeMap;

use liberator_fixtures::sample::columns::{drift_after, drift_before};
use liberator_fixtures::sample::write_sample_export_with_columns;

use super::*;

/// Two normal export ids of consecutive dates no other test uses.
fn consecutive_export_ids() -> (String, String) {
    let mut r = rand::rng();
    let (y, m, d) = (
        r.random_range(0..100),
        r.random_range(1..13),
        r.random_range(1..28),
    );
    let mut id = |day: u32| {
        format!(
            "sql-to-parquet-{y:02}-{m:02}-{day:02}-{:02}{:02}{:02}",
            r.random_range(0..24),
            r.random_range(0..60),
            r.random_range(0..60)
        )
    };
    (id(d), id(d + 1))
}

/// Writes `export_id`'s sample (the fixture's three tables) with `schemas`, over whatever
/// the fixture wrote at the same keys.
async fn write_export(f: &Fixture, export_id: &str, schemas: &BTreeMap<String, String>) {
    let engine = liberator_tests::engine(&f.endpoint, EngineConfig::default());
    let mut spec = SampleSpec::liberator(export_id);
    spec.tables.truncate(3);
    write_sample_export_with_columns(
        engine.store(),
        &Location::parse(&format!("s3://{}", f.config.source_bucket)).unwrap(),
        &spec,
        schemas,
    )
    .await
    .expect("writing the sample export");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_or_retyped_column_starts_no_glue_run_when_asked_and_a_run_when_not() {
    let (day1, day2) = consecutive_export_ids();
    let f = Fixture::new(&day1).await;
    write_export(&f, &day1, &drift_before()).await;
    let workflow = f.config.workflow_name.clone();

    // The first date lands and starts its run; its report is kept for the next date.
    let first = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap();
    assert!(matches!(first, Answer::GlueStarted { .. }), "{first:?}");
    assert_eq!(f.runs(&workflow).await.len(), 1);

    // The second date: its own snapshot and (moto-complete) export task.
    let instance = aws::unique_instance("drift");
    aws::create_instance(&f.rds, &instance).await;
    let arn2 = aws::create_snapshot(&f.rds, &instance, &day2).await;
    aws::start_export(&f.rds, &day2, &arn2, &f.config.source_bucket).await;
    write_export(&f, &day2, &drift_after()).await;
    let event2 = event_0161(&day2, &arn2);

    // With the setting: everything lands, no Glue run, no marker; the error names the table
    // and column of each removed or retyped column and nothing else.
    let strict = Config {
        fail_on_schema_change: true,
        ..f.config.clone()
    };
    let err = Copier::new(f.clients(), strict)
        .with_reinvoker(f.reinvoke.clone())
        .handle_export(&event2, &budget())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "SchemaChanged", "{err}");
    let text = err.to_string();
    for needle in [
        "table liberator/liberator.permits: column amount removed (was DOUBLE)",
        "table liberator/liberator.vrm: column zone retyped from INT32 to INT64",
        &day1,
    ] {
        assert!(text.contains(needle), "{needle:?} in {text}");
    }
    assert!(
        !text.contains("note"),
        "an added column does not block: {text}"
    );
    assert_eq!(
        f.runs(&workflow).await.len(),
        1,
        "no Glue run for the second date"
    );
    let marker2 = format!("_liberator/glue-runs/{day2}.json");
    let outside: Vec<String> =
        liberator_tests::list_all(&f.s3, &f.config.target_bucket, "_liberator/")
            .await
            .into_iter()
            .map(|(k, _)| k)
            .collect();
    assert!(!outside.contains(&marker2), "no claim: {outside:?}");
    let kept1 = format!("_liberator/reports/parking/{}.json", date_of(&day1));
    let kept2 = format!("_liberator/reports/parking/{}.json", date_of(&day2));
    assert!(outside.contains(&kept1), "{outside:?}");
    assert!(
        !outside.contains(&kept2),
        "a blocked landing keeps no report: {outside:?}"
    );

    // Without it: the same export starts its run; the marker's report lists each change.
    let answer = f.copier().handle_export(&event2, &budget()).await.unwrap();
    let Answer::GlueStarted { run_id, .. } = answer else {
        panic!("{answer:?}")
    };
    let runs = f.runs(&workflow).await;
    assert_eq!(runs.len(), 2);
    let run = runs
        .iter()
        .find(|r| r.workflow_run_id() == Some(&run_id))
        .unwrap();
    assert_eq!(
        run.workflow_run_properties().unwrap()[export_copier::marker::RUN_PROPERTY_EXPORT_ID],
        day2
    );
    let marker: Value = {
        let body = liberator_tests::get_bytes(&f.s3, &f.config.target_bucket, &marker2).await;
        serde_json::from_slice(&body).unwrap()
    };
    let changes = marker["report"]["schema_drift"]["changes"]
        .as_array()
        .unwrap();
    let mut kinds: Vec<(String, String, String)> = changes
        .iter()
        .map(|c| {
            (
                c["table"].as_str().unwrap().to_string(),
                c["column"].as_str().unwrap().to_string(),
                c["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            (
                "liberator/liberator.pcn".into(),
                "note".into(),
                "added".into()
            ),
            (
                "liberator/liberator.permits".into(),
                "amount".into(),
                "removed".into()
            ),
            (
                "liberator/liberator.vrm".into(),
                "zone".into(),
                "retyped".into()
            ),
        ]
    );
    assert_eq!(
        marker["report"]["schema_drift"]["previous"]["export_id"],
        json!(day1)
    );
    assert_eq!(
        marker["report"]["tables"]["liberator/liberator.vrm"]["columns"][3],
        json!({"name": "zone", "physical": "INT64", "repetition": "REQUIRED"})
    );
    let kept: Vec<String> =
        liberator_tests::list_all(&f.s3, &f.config.target_bucket, "_liberator/reports/")
            .await
            .into_iter()
            .map(|(k, _)| k)
            .collect();
    assert_eq!(kept, [kept1, kept2]);
}

/// `YYYY-MM-DD` of a normal export id (`sql-to-parquet-YY-MM-DD-HHMMSS`).
fn date_of(id: &str) -> String {
    liberator_engine::ExportId::parse(id)
        .unwrap()
        .date()
        .format("%Y-%m-%d")
        .to_string()
}
