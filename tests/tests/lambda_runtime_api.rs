//! Both Lambda binaries through the Lambda runtime API: `cargo lambda watch
//! --only-lambda-apis` emulates the runtime, the debug builds of the functions serve it,
//! `cargo lambda invoke --data-file` sends the shared sample events, and the functions talk
//! to moto through `AWS_ENDPOINT_URL`. The emulator, the binaries and cargo-lambda come from
//! the shared harness (`liberator_tests::lambda_watch`, which says where each is found).

use liberator_engine::{EngineConfig, Location};
use liberator_fixtures::sample::{SampleSpec, write_sample_export};
use liberator_tests::aws;
use liberator_tests::lambda_watch::{Watch, ensure_export, events, lambda_bin_dir};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn built_binaries_answer_the_shared_events_through_the_runtime_api() {
    let endpoint = liberator_tests::moto().endpoint.clone();
    let s3 = liberator_tests::s3_client(&endpoint);
    let rds = aws::rds_client(&endpoint);
    let glue = aws::glue_client(&endpoint);

    let export_id = "sql-to-parquet-24-06-04-101500"; // as in rds-event-0161-export-completed.json
    let source = liberator_tests::unique_bucket("exports");
    let target = liberator_tests::unique_bucket("landing");
    liberator_tests::create_bucket(&s3, &source).await;
    liberator_tests::create_bucket(&s3, &target).await;
    // The export records the snapshot ARN the shared events carry (eu-west-2): the trigger
    // compares them.
    let path = events().join("rds-event-0042-snapshot-created.json");
    let e0042: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let event_arn = e0042["detail"]["SourceArn"].as_str().unwrap();
    assert!(
        event_arn.ends_with(&format!(":snapshot:{export_id}")),
        "{event_arn}"
    );
    ensure_export(&rds, export_id, event_arn, &source).await;
    let engine = liberator_tests::engine(&endpoint, EngineConfig::default());
    let mut spec = SampleSpec::liberator(export_id);
    spec.tables.truncate(2);
    let summary = write_sample_export(
        engine.store(),
        &Location::parse(&format!("s3://{source}")).unwrap(),
        &spec,
    )
    .await
    .unwrap();
    let workflow = format!(
        "import-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    );
    aws::create_workflow(&glue, &workflow).await;

    let bins = lambda_bin_dir();

    let vars = [
        format!("AWS_ENDPOINT_URL={endpoint}"),
        format!("AWS_ACCESS_KEY_ID={}", liberator_tests::ACCESS_KEY),
        format!("AWS_SECRET_ACCESS_KEY={}", liberator_tests::SECRET_KEY),
        "AWS_REGION=us-east-1".into(),
        format!("SOURCE_BUCKET={source}"),
        format!("TARGET_BUCKET={target}"),
        "TARGET_PREFIX=parking".into(),
        format!("WORKFLOW_NAME={workflow}"),
        format!("BACKDATED_WORKFLOW_NAME={workflow}-backdated"),
        "CONCURRENCY=8".into(),
        format!("BUCKET_NAME={source}"),
        "IAM_ROLE_ARN=arn:aws:iam::123456789012:role/rds-export".into(),
        "KMS_KEY_ID=arn:aws:kms:us-east-1:123456789012:key/export".into(),
    ];
    let mut watch = Watch::start();
    for function in ["export-copier", "export-trigger"] {
        watch.start_function(&bins, function, &vars);
    }

    // The functions poll the emulator for their first event.
    let event = events().join("rds-event-0161-export-completed.json");
    let first = watch.invoke_when_up("export-copier", &event);
    assert_eq!(
        first["outcome"],
        "glue_started",
        "{first}\n{}",
        watch.log_tail()
    );
    assert_eq!(
        first["copied"],
        serde_json::json!(summary.parquet_files),
        "{first}"
    );
    let landed = liberator_tests::list_all(&s3, &target, "parking/").await;
    assert_eq!(landed.len() as u64, summary.parquet_files);
    assert_eq!(aws::workflow_runs(&glue, &workflow).await.len(), 1);

    // Re-delivery through the runtime: no second run.
    let second = watch
        .invoke("export-copier", &event)
        .unwrap_or_else(|e| panic!("{e}\n{}", watch.log_tail()));
    assert_eq!(second["outcome"], "already_started", "{second}");
    assert_eq!(aws::workflow_runs(&glue, &workflow).await.len(), 1);

    // The trigger with the shared 0042 event: the export of that snapshot exists already.
    let trigger_event = events().join("rds-event-0042-snapshot-created.json");
    let out = watch.invoke_when_up("export-trigger", &trigger_event);
    assert_eq!(out["outcome"], "already_exported", "{out}");

    // A malformed event fails the invocation with the handler's message.
    let bad = std::env::temp_dir().join(format!("liberator-bad-event-{}.json", watch.port));
    std::fs::write(&bad, r#"{"version":"0","id":"bad-1","source":"aws.rds"}"#).unwrap();
    let err = watch
        .invoke("export-copier", &bad)
        .expect_err("a malformed event must fail");
    assert!(err.contains("no `detail`"), "{err}");
    let log = std::fs::read_to_string(&watch.log).unwrap_or_default();
    assert!(
        log.contains(r#""export_id":"sql-to-parquet-24-06-04-101500""#),
        "JSON log lines carry the export id\n{}",
        watch.log_tail()
    );
    assert!(
        log.contains(r#""_aws""#),
        "an EMF metrics line is logged\n{}",
        watch.log_tail()
    );
    drop(watch);
}
