//! Schema drift on the in-memory store: two exports of consecutive dates whose tables differ
//! in each way (a column added, removed, retyped, made nullable), compared through the
//! report kept under `_liberator/reports/`, with and without `fail_on_schema_change`; files
//! of one table that disagree; a kept report that cannot be read.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use liberator_engine::metrics as names;
use liberator_engine::schema::ChangeKind;
use liberator_engine::store::{MemoryStore, ObjectStore, PutCondition};
use liberator_engine::{
    Engine, EngineConfig, ExportId, ExportRequest, Location, NoProgress, Report,
};
use liberator_fixtures::sample::columns::{
    DRIFT_BASE, drift_after, drift_before, parquet_file_with_columns,
};
use liberator_fixtures::sample::{
    SampleSpec, SampleSummary, SampleTable, write_sample_export_with_columns,
};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

const DAY1: &str = "sql-to-parquet-24-06-03-101500";
const DAY2: &str = "sql-to-parquet-24-06-04-101500";
const DAY3: &str = "sql-to-parquet-24-06-05-101500";

fn changed() -> BTreeMap<String, String> {
    drift_after()
}

fn same() -> BTreeMap<String, String> {
    drift_before()
}

fn spec(id: &str) -> SampleSpec {
    let t = |name: &str| SampleTable {
        name: format!("liberator.{name}"),
        batches: 1,
        files_per_batch: 2,
        rows_per_file: 50,
    };
    SampleSpec {
        export_id: id.into(),
        database: "liberator".into(),
        tables: ["pcn", "permits", "vrm", "suspensions", "cash_payments"]
            .into_iter()
            .map(t)
            .collect(),
        concurrency: 8,
    }
}

struct Lake {
    memory: Arc<MemoryStore>,
}

impl Lake {
    fn new() -> Self {
        Lake {
            memory: Arc::new(MemoryStore::new()),
        }
    }

    fn engine(&self, config: EngineConfig) -> Arc<Engine> {
        Engine::with_backend(self.memory.clone(), config)
    }

    async fn export(&self, id: &str, schemas: &BTreeMap<String, String>) -> SampleSummary {
        let engine = self.engine(EngineConfig::default());
        write_sample_export_with_columns(
            engine.store(),
            &Location::parse("s3://src").unwrap(),
            &spec(id),
            schemas,
        )
        .await
        .unwrap()
    }

    async fn land(&self, id: &str, config: EngineConfig) -> Report {
        let request = ExportRequest {
            export_id: ExportId::parse(id).unwrap(),
            import_date: None,
            task: None,
            source: Location::parse("s3://src").unwrap(),
            target: Location::parse("s3://dst/parking").unwrap(),
        };
        self.engine(config)
            .land_export(request, Arc::new(NoProgress))
            .await
            .unwrap()
    }

    async fn kept(&self) -> Vec<String> {
        let page = self
            .memory
            .list_page(&liberator_engine::store::ListRequest {
                bucket: "dst".into(),
                prefix: "_liberator/".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        page.objects.into_iter().map(|o| o.key).collect()
    }
}

/// A change as (table, column, kind, from, to).
type Change<'a> = (
    &'a str,
    &'a str,
    ChangeKind,
    Option<&'a str>,
    Option<&'a str>,
);

fn failing() -> EngineConfig {
    EngineConfig {
        fail_on_schema_change: true,
        ..EngineConfig::default()
    }
}

#[tokio::test]
async fn each_kind_of_change_is_reported_and_only_removed_or_retyped_columns_fail_when_asked() {
    let lake = Lake::new();
    lake.export(DAY1, &same()).await;
    lake.export(DAY2, &changed()).await;

    // The first date: columns in the report, nothing to compare, the report kept.
    let first = lake.land(DAY1, failing()).await;
    assert!(first.passed(), "{first}");
    let pcn = &first.tables["liberator/liberator.pcn"].columns;
    let described: Vec<(&str, String, &str)> = pcn
        .iter()
        .map(|c| (c.name.as_str(), c.type_name(), c.repetition.as_str()))
        .collect();
    assert_eq!(
        described,
        [
            ("id", "INT64".to_string(), "REQUIRED"),
            ("vrm", "BYTE_ARRAY STRING".to_string(), "OPTIONAL"),
            ("amount", "DOUBLE".to_string(), "OPTIONAL"),
            ("zone", "INT32".to_string(), "REQUIRED"),
        ]
    );
    let drift = first.schema_drift.as_ref().expect("compared");
    assert!(
        drift.previous.is_none() && drift.changes.is_empty(),
        "{first}"
    );
    assert!(
        first.to_string().contains("schema: no earlier import date"),
        "{first}"
    );
    assert_eq!(
        lake.kept().await,
        ["_liberator/reports/parking/2024-06-03.json"]
    );

    // The second date with the option: removed and retyped columns fail the run, each named;
    // nothing is kept or pruned for it.
    let blocked = lake.land(DAY2, failing()).await;
    assert!(!blocked.passed(), "{blocked}");
    let mut named: Vec<(&str, &str)> = blocked
        .failures
        .iter()
        .map(|f| (f.key.as_str(), f.reason.as_str()))
        .collect();
    named.sort();
    assert_eq!(named.len(), 2, "{blocked}");
    assert_eq!(named[0].0, "liberator/liberator.permits");
    assert!(
        named[0].1.contains("column amount removed (was DOUBLE)"),
        "{}",
        named[0].1
    );
    assert_eq!(named[1].0, "liberator/liberator.vrm");
    assert!(
        named[1]
            .1
            .contains("column zone retyped from INT32 to INT64"),
        "{}",
        named[1].1
    );
    assert!(
        named.iter().all(|(_, r)| r.contains("since 2024-06-03")),
        "{named:?}"
    );
    assert_eq!(
        lake.kept().await.len(),
        1,
        "a blocked landing keeps no report"
    );

    // Without it: every change listed, the run passes, the report is kept.
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let warned = {
        let _guard = metrics::set_default_local_recorder(&recorder);
        lake.land(DAY2, EngineConfig::default()).await
    };
    assert!(warned.passed(), "{warned}");
    let drift = warned.schema_drift.as_ref().unwrap();
    assert_eq!(drift.previous.as_ref().unwrap().export_id, DAY1);
    let mut changes: Vec<Change> = drift
        .changes
        .iter()
        .map(|c| {
            (
                c.table.as_str(),
                c.column.as_str(),
                c.kind,
                c.from.as_deref(),
                c.to.as_deref(),
            )
        })
        .collect();
    changes.sort();
    assert_eq!(
        changes,
        [
            (
                "liberator/liberator.pcn",
                "note",
                ChangeKind::Added,
                None,
                Some("BYTE_ARRAY STRING")
            ),
            (
                "liberator/liberator.permits",
                "amount",
                ChangeKind::Removed,
                Some("DOUBLE"),
                None
            ),
            (
                "liberator/liberator.suspensions",
                "id",
                ChangeKind::Nullability,
                Some("REQUIRED"),
                Some("OPTIONAL")
            ),
            (
                "liberator/liberator.vrm",
                "zone",
                ChangeKind::Retyped,
                Some("INT32"),
                Some("INT64")
            ),
        ]
    );
    let text = warned.to_string();
    for line in [
        "schema: 4 column change(s) since 2024-06-03 (sql-to-parquet-24-06-03-101500)",
        "REMOVED      liberator/liberator.permits      amount  DOUBLE -> -",
        "RETYPED      liberator/liberator.vrm          zone    INT32 -> INT64",
        "ADDED        liberator/liberator.pcn          note    - -> BYTE_ARRAY STRING",
        "NULLABILITY  liberator/liberator.suspensions  id      REQUIRED -> OPTIONAL",
    ] {
        assert!(text.contains(line), "{line:?} in\n{text}");
    }
    let json = serde_json::to_value(&warned).unwrap();
    assert_eq!(json["schema_drift"]["changes"].as_array().unwrap().len(), 4);
    assert_eq!(
        json["tables"]["liberator/liberator.pcn"]["columns"][4]["name"],
        "note"
    );
    let counted: BTreeMap<String, u64> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(k, ..)| k.key().name() == names::SCHEMA_CHANGES)
        .map(|(k, _, _, v)| {
            let kind = k.key().labels().find(|l| l.key() == "kind").unwrap();
            let DebugValue::Counter(n) = v else {
                panic!("a counter")
            };
            (kind.value().to_string(), n)
        })
        .collect();
    assert_eq!(
        counted,
        BTreeMap::from([
            ("added".into(), 1),
            ("nullability".into(), 1),
            ("removed".into(), 1),
            ("retyped".into(), 1)
        ])
    );
    assert_eq!(
        lake.kept().await,
        [
            "_liberator/reports/parking/2024-06-03.json",
            "_liberator/reports/parking/2024-06-04.json"
        ]
    );
}

#[tokio::test]
async fn an_old_date_landed_late_is_compared_with_the_date_before_it() {
    let lake = Lake::new();
    lake.export(DAY1, &same()).await;
    lake.export(DAY2, &changed()).await;
    lake.export(DAY3, &same()).await;
    assert!(lake.land(DAY1, EngineConfig::default()).await.passed());
    // The third date first: same columns as the first, no change.
    let third = lake.land(DAY3, failing()).await;
    assert!(third.passed(), "{third}");
    let d = third.schema_drift.as_ref().unwrap();
    assert_eq!(d.previous.as_ref().unwrap().import_date, "2024-06-03");
    assert!(d.changes.is_empty(), "{third}");
    assert!(
        third
            .to_string()
            .contains("schema: no change since 2024-06-03"),
        "{third}"
    );
    // Then the second, backfilled late: compared with the first, not the third.
    let second = lake.land(DAY2, EngineConfig::default()).await;
    let d = second.schema_drift.as_ref().unwrap();
    assert_eq!(d.previous.as_ref().unwrap().import_date, "2024-06-03");
    assert_eq!(d.changes.len(), 4, "{second}");
    // A dry run compares too, and keeps nothing.
    let dry = lake
        .land(
            DAY3,
            EngineConfig {
                dry_run: true,
                force: true,
                ..failing()
            },
        )
        .await;
    let d = dry.schema_drift.as_ref().unwrap();
    assert_eq!(d.previous.as_ref().unwrap().import_date, "2024-06-04");
    assert_eq!(d.blocking().count(), 2, "{dry}");
    assert!(!dry.failures.is_empty(), "a dry run says it would fail");
}

#[tokio::test]
async fn files_of_one_table_that_disagree_fail_naming_the_table_and_the_file() {
    let lake = Lake::new();
    let summary = lake.export(DAY1, &same()).await;
    let odd = summary
        .parquet_keys
        .iter()
        .find(|k| k.contains("liberator.vrm/") && k.contains("part-00001"))
        .unwrap()
        .clone();
    let body =
        parquet_file_with_columns(&DRIFT_BASE.replace("INT32 zone", "INT64 zone"), 9, 50).unwrap();
    lake.memory
        .put("src", &odd, body, &PutCondition::None)
        .await
        .unwrap();
    let report = lake.land(DAY1, EngineConfig::default()).await;
    assert!(!report.passed(), "{report}");
    assert_eq!(report.failures.len(), 1, "{report}");
    let f = &report.failures[0];
    assert_eq!(f.key, odd);
    assert!(
        f.reason.contains("table liberator/liberator.vrm"),
        "{}",
        f.reason
    );
    assert!(
        f.reason.contains("column zone retyped from INT32 to INT64"),
        "{}",
        f.reason
    );
    assert!(
        lake.kept().await.is_empty(),
        "a failed landing keeps no report"
    );
}

#[tokio::test]
async fn an_unreadable_kept_report_warns_and_fails_only_when_changes_must_fail() {
    let lake = Lake::new();
    lake.export(DAY2, &same()).await;
    let key = "_liberator/reports/parking/2024-06-03.json";
    lake.memory
        .put(
            "dst",
            key,
            Bytes::from_static(b"{not json"),
            &PutCondition::None,
        )
        .await
        .unwrap();
    let strict = lake.land(DAY2, failing()).await;
    assert!(!strict.passed(), "{strict}");
    assert!(
        strict.failures.iter().any(|f| f.reason.contains(key)),
        "{strict}"
    );
    let lenient = lake.land(DAY2, EngineConfig::default()).await;
    assert!(lenient.passed(), "{lenient}");
    let problem = lenient
        .schema_drift
        .as_ref()
        .unwrap()
        .problem
        .as_deref()
        .unwrap();
    assert!(
        problem.contains(key) && problem.contains("not a report"),
        "{problem}"
    );
    assert!(
        lenient.to_string().contains("schema: not compared"),
        "{lenient}"
    );
}
