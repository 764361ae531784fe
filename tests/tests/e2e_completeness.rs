//! Nothing lost between the dump and the landing zone, end to end on sakila through the
//! faithful export stand-in: the restore's manifest (rows in the database), the export's
//! own table list and the landed footers are compared table by table, and a day that is
//! not whole starts no Glue run, naming the table and both counts.

use liberator_fixtures::export_local::LocalExportConfig;
use liberator_tests::mariadb::mariadb;
use liberator_tests::moto;
use liberator_tests::pipeline::{Options, PipelineRun, run_with, shared};

/// The scenarios share the test MariaDB's databases: one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn sakila(opts: Options) -> PipelineRun {
    let _turn = ONE_AT_A_TIME.lock().await;
    let zip = std::fs::read(shared("data/sakila.zip")).expect("shared/data/sakila.zip");
    run_with(&moto().endpoint, mariadb(), zip, &opts)
        .await
        .expect("the pipeline ran")
}

fn refused(r: &PipelineRun) -> &str {
    let (kind, message) = r.copier_error.as_ref().unwrap_or_else(|| {
        panic!(
            "the copier should refuse a partial day, answered {:?}",
            r.copier
        )
    });
    assert_eq!(*kind, "ExportIncomplete", "{message}");
    assert_eq!(r.workflow_runs, 0, "no Glue run on a partial day");
    message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_the_export_skips_fails_the_copier_naming_it_and_starts_no_glue() {
    let r = sakila(Options {
        export: LocalExportConfig {
            fail_tables: vec!["sakila.rental".into()],
            ..LocalExportConfig::default()
        },
        ..Options::default()
    })
    .await;
    let message = refused(&r);
    assert!(
        message.contains("sakila.rental") && message.contains("expected 16044 rows (manifest)"),
        "{message}"
    );
    eprintln!("copier refused: {message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parquet_file_lost_from_the_export_fails_naming_the_table_with_both_counts() {
    let r = sakila(Options {
        export: LocalExportConfig {
            rows_per_file: 5000,
            ..LocalExportConfig::default()
        },
        delete_one_file_of: Some("sakila.payment".into()),
        ..Options::default()
    })
    .await;
    let message = refused(&r);
    assert!(
        message.contains("sakila.payment")
            && message.contains("row mismatch")
            && message.contains("expected 16049 rows (manifest)")
            && message.contains("landed 11049 rows"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_table_across_batch_folders_with_gaps_lands_exactly() {
    let r = sakila(Options {
        export: LocalExportConfig {
            rows_per_file: 2000,
            files_per_batch: 2,
            partition_step: 2,
            batch_step: 2,
            ..LocalExportConfig::default()
        },
        ..Options::default()
    })
    .await;
    let rental: Vec<&str> = r
        .exported
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| k.contains("/sakila.rental/") && k.ends_with(".parquet"))
        .collect();
    assert_eq!(
        rental.len(),
        9,
        "16,044 rows in files of 2,000: {rental:#?}"
    );
    assert!(
        rental.iter().any(|k| k.contains("/sakila.rental/9/")),
        "{rental:#?}"
    );
    assert!(
        !rental.iter().any(|k| k.contains("/sakila.rental/2/")),
        "batch gaps: {rental:#?}"
    );
    assert!(
        rental.iter().any(|k| k.contains("/part-00002-")),
        "part gaps: {rental:#?}"
    );
    assert!(
        !rental.iter().any(|k| k.contains("/part-00001-")),
        "part gaps: {rental:#?}"
    );
    assert!(
        matches!(r.copier, Some(export_copier::Answer::GlueStarted { .. })),
        "{:?} {:?}",
        r.copier,
        r.copier_error
    );
    assert_eq!(r.landing, r.database, "{}", r.table_report());
    let completeness = r
        .completeness
        .as_deref()
        .expect("the report's completeness");
    assert!(
        completeness.contains("completeness PASSED"),
        "{completeness}"
    );
    r.check().unwrap();
}
