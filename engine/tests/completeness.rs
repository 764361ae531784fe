//! What the engine does with a whole export on the in-memory store: the completeness check
//! (the export's own table list, the restore manifest, the footers' rows) and the sync
//! semantics of an import date (a second export of a date replaces the first).

use std::sync::Arc;

use bytes::Bytes;
use liberator_engine::store::{MemoryStore, ObjectStore, PutCondition};
use liberator_engine::{
    Engine, EngineConfig, ExportId, ExportRequest, Location, NoProgress, Report,
};
use liberator_fixtures::sample::parquet_file;
use serde_json::json;

/// One table of a hand-made export: `files` Parquet files of `rows` rows each, named with
/// `tag` so two exports of a date have different file names, as RDS's UUIDs do.
struct Table {
    name: &'static str,
    files: usize,
    rows: usize,
    status: &'static str,
}

async fn put(store: &MemoryStore, bucket: &str, key: &str, body: Bytes) {
    store
        .put(bucket, key, body, &PutCondition::None)
        .await
        .unwrap();
}

/// Writes `<id>/liberator/liberator.<t>/1/part-…-<tag>.gz.parquet` for every table that is
/// COMPLETE, and the metadata AWS writes, into bucket `src`.
async fn write_export(store: &MemoryStore, id: &str, tag: &str, tables: &[Table]) -> Vec<String> {
    let mut keys = Vec::new();
    for (t, table) in tables.iter().enumerate() {
        if table.status != "COMPLETE" {
            continue;
        }
        for f in 0..table.files {
            let key = format!(
                "{id}/liberator/liberator.{}/1/part-{f:05}-{tag}-{t}.gz.parquet",
                table.name
            );
            let body = parquet_file(table.name, (t * 100 + f) as u64, table.rows);
            put(store, "src", &key, body).await;
            keys.push(key);
        }
    }
    let info = json!({"exportTaskIdentifier": id, "sourceArn": format!("arn:aws:rds:eu-west-2:123456789012:snapshot:{id}"), "status": "COMPLETE", "percentProgress": 100});
    put(
        store,
        "src",
        &format!("{id}/export_info_{id}.json"),
        info.to_string().into(),
    )
    .await;
    let per_table: Vec<_> = tables
        .iter()
        .map(|t| json!({"target": format!("liberator.{}", t.name), "status": t.status, "sizeGB": 0.001}))
        .collect();
    let tables_info = json!({ "perTableStatus": per_table });
    let key = format!(
        "{id}/export_tables_info_{id}_from_1_to_{}.json",
        tables.len()
    );
    put(store, "src", &key, tables_info.to_string().into()).await;
    keys
}

fn engine(store: &Arc<MemoryStore>, config: EngineConfig) -> Arc<Engine> {
    Engine::with_backend(store.clone(), config)
}

async fn land(engine: &Arc<Engine>, id: &str) -> Report {
    let request = ExportRequest {
        export_id: ExportId::parse(id).unwrap(),
        import_date: None,
        task: None,
        source: Location::parse("s3://src").unwrap(),
        target: Location::parse("s3://dst/parking").unwrap(),
    };
    engine
        .land_export(request, Arc::new(NoProgress))
        .await
        .unwrap()
}

async fn landed(store: &MemoryStore) -> Vec<String> {
    let page = store
        .list_page(&liberator_engine::store::ListRequest {
            bucket: "dst".into(),
            prefix: "parking/".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    page.objects.into_iter().map(|o| o.key).collect()
}

const DAILY: &str = "sql-to-parquet-24-06-04-101500";
const REDONE: &str = "sql-to-parquet-2024-06-04-backdated";

fn three_tables(permits: &'static str) -> Vec<Table> {
    vec![
        Table {
            name: "pcn",
            files: 3,
            rows: 100,
            status: "COMPLETE",
        },
        Table {
            name: "permits",
            files: 2,
            rows: 50,
            status: permits,
        },
        Table {
            name: "vrm",
            files: 1,
            rows: 10,
            status: "COMPLETE",
        },
    ]
}

#[tokio::test]
async fn a_table_the_export_failed_fails_the_run_naming_it() {
    let store = Arc::new(MemoryStore::new());
    write_export(&store, DAILY, "a", &three_tables("FAILED")).await;
    let report = land(&engine(&store, EngineConfig::default()), DAILY).await;
    assert!(!report.passed(), "{report}");
    let c = report.completeness.as_ref().expect("the check ran");
    let failing: Vec<_> = c.failing().map(|t| t.table.as_str()).collect();
    assert_eq!(failing, ["liberator.permits"], "{report}");
    assert!(
        report
            .failures
            .iter()
            .any(|f| f.key == "liberator.permits" && f.reason.contains("FAILED")),
        "{report}"
    );
    let text = report.to_string();
    assert!(text.contains("FAILED liberator.permits"), "{text}");
    // The other tables landed; nothing pretends the day is whole.
    assert_eq!(landed(&store).await.len(), 4);
}

#[tokio::test]
async fn rows_are_checked_against_the_restore_manifest() {
    let store = Arc::new(MemoryStore::new());
    write_export(&store, DAILY, "a", &three_tables("COMPLETE")).await;
    let manifest = |pcn_rows: u64| {
        json!({"version": 1, "snapshot_id": DAILY, "import_date": "2024-06-04",
               "created_at": "2024-06-04T10:15:00Z",
               "dump": {"bucket": "b", "key": "parking/liberator_dump_240604.zip", "size": 1, "entries": ["d.sql"]},
               "tables": [{"database": "liberator", "table": "pcn", "rows": pcn_rows},
                          {"database": "liberator", "table": "permits", "rows": 100},
                          {"database": "liberator", "table": "vrm", "rows": 10}]})
        .to_string()
    };
    let config = EngineConfig {
        manifests: Some(Location::parse("s3://dumps/liberator-manifests/").unwrap()),
        ..EngineConfig::default()
    };
    let key = format!("liberator-manifests/{DAILY}.json");
    put(&store, "dumps", &key, manifest(300).into()).await;
    let ok = land(&engine(&store, config.clone()), DAILY).await;
    assert!(ok.passed(), "{ok}");
    let c = ok.completeness.as_ref().unwrap();
    assert!(
        c.tables
            .iter()
            .all(|t| t.expected_rows == Some(t.landed_rows)),
        "{ok}"
    );

    // One row more in the database than landed: the run fails naming both counts.
    put(&store, "dumps", &key, manifest(301).into()).await;
    let short = land(&engine(&store, config), DAILY).await;
    assert!(!short.passed(), "{short}");
    let f = short
        .failures
        .iter()
        .find(|f| f.key == "liberator.pcn")
        .expect("pcn named");
    assert!(
        f.reason.contains("expected 301 rows") && f.reason.contains("landed 300 rows"),
        "{}",
        f.reason
    );
}

#[tokio::test]
async fn a_second_export_of_a_date_replaces_the_first() {
    let store = Arc::new(MemoryStore::new());
    let tables = three_tables("COMPLETE");
    write_export(&store, DAILY, "first", &tables).await;
    write_export(&store, REDONE, "second", &tables).await;
    let first = land(&engine(&store, EngineConfig::default()), DAILY).await;
    assert!(first.passed() && first.removed.is_empty(), "{first}");
    let before = landed(&store).await;
    assert_eq!(before.len(), 6);

    // A dry run of the second lists the first's files and removes nothing.
    let dry = EngineConfig {
        dry_run: true,
        ..EngineConfig::default()
    };
    let plan = land(&engine(&store, dry), REDONE).await;
    assert_eq!(plan.removed.len(), 6, "{plan}");
    assert_eq!(landed(&store).await, before);

    // Kept on request: both exports' files stand side by side.
    let keep = EngineConfig {
        keep_other_files: true,
        ..EngineConfig::default()
    };
    let kept = land(&engine(&store, keep), REDONE).await;
    assert!(kept.passed() && kept.removed.is_empty(), "{kept}");
    assert_eq!(landed(&store).await.len(), 12);

    // By default the second export's files are all that is left, and the report says which went.
    let second = land(&engine(&store, EngineConfig::default()), REDONE).await;
    assert!(second.passed(), "{second}");
    let mut removed = second.removed.clone();
    removed.sort();
    assert_eq!(removed, before, "{second}");
    let after = landed(&store).await;
    assert_eq!(after.len(), 6);
    assert!(after.iter().all(|k| k.contains("-second-")), "{after:?}");
    assert!(
        second
            .to_string()
            .contains("removed 6 file(s) of other exports"),
        "{second}"
    );
}

#[tokio::test]
async fn a_failed_landing_removes_nothing() {
    let store = Arc::new(MemoryStore::new());
    write_export(&store, DAILY, "first", &three_tables("COMPLETE")).await;
    write_export(&store, REDONE, "second", &three_tables("FAILED")).await;
    assert!(
        land(&engine(&store, EngineConfig::default()), DAILY)
            .await
            .passed()
    );
    let second = land(&engine(&store, EngineConfig::default()), REDONE).await;
    assert!(!second.passed() && second.removed.is_empty(), "{second}");
    assert_eq!(
        landed(&store).await.len(),
        6 + 4,
        "the first export's files stay"
    );
}
