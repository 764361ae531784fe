//! End to end, on this machine: a dump dropped in S3 lands as Parquet in the landing zone
//! (see `liberator_tests::pipeline`), and re-delivering both events changes nothing.

use liberator_tests::mariadb::mariadb;
use liberator_tests::moto;
use liberator_tests::pipeline::{run, shared};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_dump_lands_as_parquet_and_starts_glue_exactly_once() {
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
        matches!(r.copier, export_copier::Answer::GlueStarted { .. }),
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
    r.check().unwrap();
}
