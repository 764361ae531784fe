//! The deadline hand-off of the real export-copier binary, end to end: under `cargo lambda
//! watch` (the shared harness, `liberator_tests::lambda_watch`), a first invocation lands
//! part of an export in moto before its deadline, re-invokes itself through the Lambda
//! Invoke API (`InvocationType=Event`), and the re-invocation, delivered to the emulator,
//! lands the rest and starts the Glue workflow exactly once.
//!
//! How the pieces stand in for Lambda:
//! - **The short deadline.** The emulator sends every invocation a deadline already past
//!   (600000 ms after the epoch) and has no flag to change it, so the copier takes
//!   `MAX_INVOCATION_SECONDS` (the function's timeout, a documented setting Terraform also
//!   passes): the first execution environment gets 10 s, and with `DEADLINE_MARGIN_SECONDS`
//!   capped at a quarter of that it stops starting copies after 7.5 s. Slowing S3 alone
//!   (the fault proxy's `delay`) could not do it: without a short timeout the copier plans
//!   for 15 minutes. The setting is the clean lever; the delay below only makes "part"
//!   certain.
//! - **Part of the export, certainly.** The first environment's S3 goes through the
//!   harness's `FaultProxy` with a delay of 50 ms each way, at `CONCURRENCY=2`: every
//!   object needs at least a footer read and a copy, so it lands at most
//!   2 / (2 × 100 ms) = 10 objects a second, at most about 80 of the 200 in 7.5 s on any
//!   machine, and surely some. The objects started by then finish before the answer: the
//!   test checks, on the copier's own log clock, that it answered within its 10 s (Lambda
//!   would have ended it there, with no hand-off).
//! - **The asynchronous Invoke.** The emulator's invoke endpoint runs every invocation
//!   synchronously whatever `X-Amz-Invocation-Type` says, so the copier's Lambda client
//!   (`AWS_ENDPOINT_URL_LAMBDA`) points at `EventQueue`, which answers an `Event` invoke
//!   `202` as Lambda does and keeps the request; the test then sends that same request to the
//!   emulator's `POST /2015-03-31/functions/export-copier/invocations`.
//! - **A fresh execution environment.** Before delivering, the test retires the first
//!   process and starts another with the production defaults (900 s, 90 s margin) and S3
//!   straight to moto: the re-invocation finishes there, and nothing depends on which
//!   environment Lambda would pick.
//!
//! Endpoints are given per service (`AWS_ENDPOINT_URL_<SERVICE>`), not with one
//! `AWS_ENDPOINT_URL`, which the client factory would apply over the Lambda one.

use std::time::{Duration, Instant};

use liberator_engine::{EngineConfig, Location};
use liberator_fixtures::sample::{SampleSpec, write_sample_export};
use liberator_tests::lambda_watch::{EventQueue, Watch, ensure_export, events, lambda_bin_dir};
use liberator_tests::{FaultConfig, FaultProxy, aws};
use rand::Rng;
use serde_json::{Value, json};

/// When the copier first logged `message` (the timestamp of its JSON log line).
fn logged_at(log: &str, message: &str) -> chrono::DateTime<chrono::Utc> {
    log.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|v| v["fields"]["message"] == message)
        .and_then(|v| v["timestamp"].as_str()?.parse().ok())
        .unwrap_or_else(|| panic!("no log line {message:?} in\n{log}"))
}

/// A daily export id no other test uses (the grammar's `YY-MM-DD-HHMMSS`, random).
fn unique_export_id() -> String {
    let mut r = rand::rng();
    format!(
        "sql-to-parquet-{:02}-{:02}-{:02}-{:02}{:02}{:02}",
        r.random_range(10..30),
        r.random_range(1..13),
        r.random_range(1..29),
        r.random_range(0..24),
        r.random_range(0..60),
        r.random_range(0..60)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deadline_hands_the_rest_on_through_lambda_invoke_and_glue_starts_once() {
    let started = Instant::now();
    let moto = liberator_tests::moto().endpoint.clone();
    let s3 = liberator_tests::s3_client(&moto);
    let rds = aws::rds_client(&moto);
    let glue = aws::glue_client(&moto);

    // The shared RDS-EVENT-0161, for an export of its own.
    let export_id = unique_export_id();
    let shared = events().join("rds-event-0161-export-completed.json");
    let text = std::fs::read_to_string(&shared).unwrap();
    let event: Value =
        serde_json::from_str(&text.replace("sql-to-parquet-24-06-04-101500", &export_id)).unwrap();
    let event_file = std::env::temp_dir().join(format!("liberator-handoff-{export_id}.json"));
    std::fs::write(&event_file, event.to_string()).unwrap();

    let source = liberator_tests::unique_bucket("exports");
    let target = liberator_tests::unique_bucket("landing");
    liberator_tests::create_bucket(&s3, &source).await;
    liberator_tests::create_bucket(&s3, &target).await;
    let source_arn = event["detail"]["SourceArn"].as_str().unwrap();
    ensure_export(&rds, &export_id, source_arn, &source).await;
    let engine = liberator_tests::engine(&moto, EngineConfig::default());
    let spec = SampleSpec::uniform(&export_id, 4, 2, 25, 10);
    let summary = write_sample_export(
        engine.store(),
        &Location::parse(&format!("s3://{source}")).unwrap(),
        &spec,
    )
    .await
    .unwrap();
    let total = summary.parquet_files;
    assert_eq!(total, 200);
    let workflow = format!(
        "import-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    );
    aws::create_workflow(&glue, &workflow).await;

    let bins = lambda_bin_dir();
    let queue = EventQueue::start().await;
    let slow_s3 = FaultProxy::start(
        &moto,
        FaultConfig {
            delay: Duration::from_millis(50),
            ..FaultConfig::default()
        },
    )
    .await;
    let common = [
        format!("AWS_ENDPOINT_URL_RDS={moto}"),
        format!("AWS_ENDPOINT_URL_GLUE={moto}"),
        format!("AWS_ENDPOINT_URL_LAMBDA={}", queue.endpoint),
        format!("AWS_ACCESS_KEY_ID={}", liberator_tests::ACCESS_KEY),
        format!("AWS_SECRET_ACCESS_KEY={}", liberator_tests::SECRET_KEY),
        "AWS_REGION=us-east-1".into(),
        format!("SOURCE_BUCKET={source}"),
        format!("TARGET_BUCKET={target}"),
        format!("WORKFLOW_NAME={workflow}"),
    ];
    let short: Vec<String> = common
        .iter()
        .cloned()
        .chain([
            format!("AWS_ENDPOINT_URL_S3={}", slow_s3.endpoint),
            "MAX_INVOCATION_SECONDS=10".into(),
            "DEADLINE_MARGIN_SECONDS=3".into(),
            "CONCURRENCY=2".into(),
        ])
        .collect();
    let fresh: Vec<String> = common
        .iter()
        .cloned()
        .chain([
            format!("AWS_ENDPOINT_URL_S3={moto}"),
            "CONCURRENCY=8".into(),
        ])
        .collect();

    let mut watch = Watch::start();
    let first_env = watch.start_function(&bins, "export-copier", &short);
    let setup = started.elapsed();

    // The first invocation: it blocks on `cargo lambda invoke`, the proxy and the queue run
    // on this runtime meanwhile.
    let file = event_file.clone();
    let (watch_back, first) = tokio::task::spawn_blocking(move || {
        let answer = watch.invoke_when_up("export-copier", &file);
        (watch, answer)
    })
    .await
    .unwrap();
    let mut watch = watch_back;
    let first_took = started.elapsed() - setup;
    assert_eq!(
        first["outcome"],
        "handed_on",
        "{first}\n{}",
        watch.log_tail()
    );
    let landed = liberator_tests::list_all(&s3, &target, "parking/").await;
    let part = landed.len() as u64;
    assert!(
        part > 0 && part < total,
        "the first invocation must land part of the export: {part} of {total}\n{first}"
    );
    assert_eq!(first["copied"], json!(part), "{first}");
    let log = std::fs::read_to_string(&watch.log).unwrap_or_default();
    let began = logged_at(
        &log,
        "the runtime's deadline has already passed: assuming the function's timeout",
    );
    let handed_on = logged_at(
        &log,
        "deadline near: handing the rest on to a new invocation",
    );
    let ran = (handed_on - began).to_std().unwrap();
    assert!(
        ran < Duration::from_secs(10),
        "the first invocation ran {ran:?} of its 10 s before handing on: past the deadline\n{}",
        watch.log_tail()
    );
    assert!(
        aws::workflow_runs(&glue, &workflow).await.is_empty(),
        "no run before everything landed"
    );

    // The hand-off on the wire: one asynchronous Invoke of this function with the same
    // event (the emulator's context names no ARN: the copier used its function name).
    let sent = queue.received();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let handoff = &sent[0];
    assert!(
        handoff.head.starts_with("POST ")
            && handoff.path() == "/2015-03-31/functions/export-copier/invocations",
        "{}",
        handoff.head
    );
    assert_eq!(
        handoff.header("x-amz-invocation-type"),
        Some("Event"),
        "{}",
        handoff.head
    );
    assert!(
        handoff
            .header("authorization")
            .is_some_and(|a| a.starts_with("AWS4-HMAC-SHA256")),
        "a signed Lambda API request\n{}",
        handoff.head
    );
    assert_eq!(handoff.payload(), event);

    // A fresh execution environment takes the delivered re-invocation.
    watch.stop_function(first_env);
    watch.start_function(&bins, "export-copier", &fresh);
    let (status, body) = queue.deliver(handoff, &watch.endpoint()).await;
    let second: Value = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "status {status}, {e}: {}\n{}",
            String::from_utf8_lossy(&body),
            watch.log_tail()
        )
    });
    assert_eq!(status, 200, "{second}\n{}", watch.log_tail());
    assert_eq!(
        second["outcome"],
        "glue_started",
        "{second}\n{}",
        watch.log_tail()
    );
    assert_eq!(second["copied"], json!(total - part), "{second}");
    assert_eq!(second["skipped"], json!(part), "{second}");
    let landed = liberator_tests::list_all(&s3, &target, "parking/").await;
    assert_eq!(landed.len() as u64, total);
    let runs = aws::workflow_runs(&glue, &workflow).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(
        queue.received().len(),
        1,
        "the second invocation finished: no further hand-off"
    );
    let log = std::fs::read_to_string(&watch.log).unwrap_or_default();
    assert!(
        log.contains("assuming the function's timeout")
            && log.contains("re-invoking by the function's name"),
        "the emulator's context is named in the log\n{}",
        watch.log_tail()
    );
    eprintln!(
        "hand-off: setup {setup:?}, first invocation {first_took:?} (copier: {ran:?} to hand on; {part} of {total} landed, {} S3 requests through the delay), total {:?}",
        liberator_tests::proxy::ProxyStats::get(&slow_s3.stats.forwarded),
        started.elapsed()
    );
    drop(watch);
}
