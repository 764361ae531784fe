//! End to end, on this machine: a dump dropped in S3 lands as Parquet in the landing zone
//! (see `liberator_tests::pipeline`), and re-delivering both events changes nothing. Keys
//! land under `parking/<db>/<db.table>/import_year=…/…/import_date=YYYYMMDD/`, where the
//! platform's Glue crawler reads them: sakila's database is `sakila`; the company's dumps
//! (and `liberator_dump`) hold `liberator`.

use chrono::Datelike;
use liberator_tests::mariadb::mariadb;
use liberator_tests::moto;
use liberator_tests::pipeline::{PipelineRun, liberator_dump, run, run_zip, shared};
use tokio::sync::Mutex;

/// Both tests restore into the one MariaDB of this binary, and each resets the target
/// database `liberator`: one pipeline at a time.
static PIPELINE: Mutex<()> = Mutex::const_new(());

/// `parking/<db>/<db_table>/import_year=YYYY/import_month=MM/import_day=DD/import_date=YYYYMMDD/<file>`
/// for each file the export holds for `db_table`, spelled out.
fn expected_keys(r: &PipelineRun, db: &str, db_table: &str) -> Vec<String> {
    let d = r.import_date;
    let files = r.exported_files(db_table);
    assert!(!files.is_empty(), "the export has no files for {db_table}");
    files
        .iter()
        .map(|file| {
            format!(
                "parking/{db}/{db_table}/import_year={:04}/import_month={:02}/import_day={:02}/import_date={:04}{:02}{:02}/{file}",
                d.year(),
                d.month(),
                d.day(),
                d.year(),
                d.month(),
                d.day()
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_dump_lands_as_parquet_and_starts_glue_exactly_once() {
    let _one = PIPELINE.lock().await;
    let r = run(
        &moto().endpoint,
        mariadb(),
        &shared("data/sakila.zip"),
        true,
    )
    .await
    .unwrap();
    assert!(
        matches!(r.trigger, export_trigger::Answer::Started { .. }),
        "{:?}",
        r.trigger
    );
    assert!(
        matches!(r.copier, Some(export_copier::Answer::GlueStarted { .. })),
        "{:?}",
        r.copier
    );
    assert!(r.layout_errors.is_empty(), "{:?}", r.layout_errors);
    assert_eq!(r.database.len(), 16, "sakila has 16 tables");
    assert_eq!(r.database["sakila.rental"].rows, 16044);
    assert_eq!(r.database["sakila.payment"].rows, 16049);
    assert_eq!(
        r.landing,
        r.database,
        "rows and checksums of every table match MariaDB:\n{}",
        r.table_report()
    );
    assert_eq!(r.workflow_runs, 1);
    // Rows checked against the restore manifest, table by table, before Glue started.
    let completeness = r
        .completeness
        .as_deref()
        .expect("the report's completeness");
    eprintln!("{completeness}");
    assert!(
        completeness.contains("completeness PASSED: 16 table(s), 0 failing")
            && completeness.contains("restore manifest"),
        "{completeness}"
    );
    let (t, c, unchanged) = r.redelivered.as_ref().unwrap();
    assert!(
        matches!(t, export_trigger::Answer::AlreadyExported { .. }),
        "{t:?}"
    );
    assert!(
        matches!(c, export_copier::Answer::AlreadyStarted { .. }),
        "{c:?}"
    );
    assert!(
        unchanged,
        "re-delivery changed the landing zone, the export tasks or the Glue runs"
    );
    // The exact landed key of one sakila table.
    let keys = r.landed_keys("sakila.actor");
    assert_eq!(keys, expected_keys(&r, "sakila", "sakila.actor"));
    assert!(
        keys.iter().all(
            |k| k.starts_with("parking/sakila/sakila.actor/import_year=")
                && k.contains("/part-")
                && k.ends_with(".parquet")
        ),
        "{keys:?}"
    );
    println!("landed key of sakila.actor: {}", keys[0]);
    r.check().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_liberator_dump_lands_where_the_glue_crawler_reads() {
    let _one = PIPELINE.lock().await;
    let r = run_zip(&moto().endpoint, mariadb(), liberator_dump(1200), true)
        .await
        .unwrap();
    assert_eq!(r.database.len(), 1, "{:?}", r.database.keys());
    assert_eq!(r.database["liberator.pcn"].rows, 1200);
    assert_eq!(r.landing, r.database, "{}", r.table_report());
    let keys = r.landed_keys("liberator.pcn");
    assert_eq!(keys, expected_keys(&r, "liberator", "liberator.pcn"));
    // What the crawler reads: s3://<landing>/parking/liberator.
    assert!(
        keys.iter()
            .all(|k| k.starts_with("parking/liberator/liberator.pcn/import_year=")),
        "{keys:?}"
    );
    assert!(
        r.landed
            .iter()
            .all(|(k, _)| k.starts_with("parking/liberator/") || k.starts_with("_liberator/")),
        "everything lands under parking/liberator/ (or the marker): {:?}",
        r.landed
    );
    println!("landed key of liberator.pcn: {}", keys[0]);
    r.check().unwrap();
}
