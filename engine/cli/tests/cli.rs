//! The `engine` binary end to end: exit codes, JSON reports, backfill order and resume.

use std::process::{Command, Output};
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use liberator_engine::{EngineConfig, Location, Report};
use liberator_fixtures::sample::{SampleSpec, write_sample_export};
use liberator_tests::{
    ACCESS_KEY, SECRET_KEY, create_bucket, engine, list_all, s3_client, seaweed, unique_bucket,
};

fn run(args: &[&str], endpoint: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_engine"))
        .args(args)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("running engine")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

async fn buckets(endpoint: &str) -> (aws_sdk_s3::Client, String, String) {
    let client = s3_client(endpoint);
    let (src, dst) = (unique_bucket("cli-src"), unique_bucket("cli-dst"));
    create_bucket(&client, &src).await;
    create_bucket(&client, &dst).await;
    (client, src, dst)
}

async fn write(endpoint: &str, bucket: &str, id: &str) {
    let e = engine(endpoint, EngineConfig::default());
    let loc = Location::parse(&format!("s3://{bucket}")).unwrap();
    write_sample_export(e.store(), &loc, &SampleSpec::liberator(id))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_exit_codes_and_json_report() {
    let ep = &seaweed().endpoint;
    let (client, src, dst) = buckets(ep).await;
    let id = "sql-to-parquet-24-06-04-101500";
    write(ep, &src, id).await;
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("report.json");
    let (source, target) = (format!("s3://{src}"), format!("s3://{dst}/parking"));
    let args = [
        "copy",
        id,
        "--source",
        &source,
        "--target",
        &target,
        "--report",
        report_path.to_str().unwrap(),
    ];
    let out = run(&args, ep);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Report = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    assert_eq!(
        (report.copied, report.failed, report.non_parquet),
        (14, 0, 3)
    );
    assert!(
        stderr(&out).contains("copied 14"),
        "human summary on stderr: {}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains(SECRET_KEY), "no secrets in output");

    // A corrupt file: exit 1, the key named, nothing else re-copied.
    let bad = format!("{id}/liberator/liberator.pcn/2/part-00009-bad.gz.parquet");
    client
        .put_object()
        .bucket(&src)
        .key(&bad)
        .body(ByteStream::from_static(b"not parquet at all"))
        .send()
        .await
        .unwrap();
    let out = run(&args, ep);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(&bad), "{}", stderr(&out));
    let report: Report = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    assert_eq!((report.copied, report.skipped, report.failed), (0, 14, 1));

    // Dry run prints the mapping and writes nothing.
    let fresh_target = format!("s3://{dst}/elsewhere");
    let out = run(
        &[
            "copy",
            id,
            "--source",
            &source,
            "--target",
            &fresh_target,
            "--dry-run",
            "--no-verify",
        ],
        ep,
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("-> elsewhere/liberator/liberator.pcn/import_year=2024/")
    );
    assert!(list_all(&client, &dst, "elsewhere").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_errors() {
    let ep = &seaweed().endpoint;
    let out = run(
        &[
            "copy",
            "sql-to-parquet-2023-02-29-backdated",
            "--source",
            "s3://a",
            "--target",
            "s3://b/p",
        ],
        ep,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("\"sql-to-parquet-2023-02-29-backdated\""),
        "{}",
        stderr(&out)
    );
    let out = run(
        &[
            "copy",
            "sql-to-parquet-24-06-04-101500",
            "--source",
            "s3://a",
            "--target",
            "/tmp/x",
        ],
        ep,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("must both be s3:// or both local"),
        "{}",
        stderr(&out)
    );
    // A missing export is a failure, not an empty success.
    let (_, src, dst) = buckets(ep).await;
    let out = run(
        &[
            "copy",
            "sql-to-parquet-24-06-04-101500",
            "--source",
            &format!("s3://{src}"),
            "--target",
            &format!("s3://{dst}/p"),
        ],
        ep,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no objects under the export folder"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_lands_in_date_order_and_resumes() {
    let ep = &seaweed().endpoint;
    let (client, src, dst) = buckets(ep).await;
    for id in [
        "sql-to-parquet-24-06-04-101500",
        "sql-to-parquet-2024-02-29-backdated",
        "sql-to-parquet-23-12-25-143000",
    ] {
        write(ep, &src, id).await;
    }
    // Not an export (ignored) and a malformed one (reported, not landed).
    client
        .put_object()
        .bucket(&src)
        .key("other/readme.txt")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    client
        .put_object()
        .bucket(&src)
        .key("sql-to-parquet-24-13-01-000000/x.parquet")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("reports.json");
    let (source, target) = (format!("s3://{src}"), format!("s3://{dst}/landing"));
    let args = [
        "backfill",
        "--source",
        &source,
        "--target",
        &target,
        "--since",
        "2024-01-01",
        "--report",
        report_path.to_str().unwrap(),
    ];
    let out = run(&args, ep);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("sql-to-parquet-24-13-01-000000"),
        "malformed folder named: {}",
        stderr(&out)
    );
    let reports: Vec<Report> =
        serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    let order: Vec<&str> = reports.iter().map(|r| r.import_date.as_str()).collect();
    assert_eq!(
        order,
        ["2024-02-29", "2024-06-04"],
        "--since filters, oldest first"
    );
    assert!(reports.iter().all(|r| r.copied == 14));
    let landed = list_all(&client, &dst, "landing/").await;
    assert_eq!(landed.len(), 28);
    assert!(
        landed
            .iter()
            .any(|(k, _)| k.contains("import_date=20240229/"))
    );

    let out = run(&args, ep);
    assert!(out.status.success(), "{}", stderr(&out));
    let reports: Vec<Report> =
        serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    assert!(
        reports.iter().all(|r| r.copied == 0 && r.skipped == 14),
        "resume copies nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_reports_each_bad_file() {
    let ep = &seaweed().endpoint;
    let (client, src, _) = buckets(ep).await;
    let id = "sql-to-parquet-24-06-04-101500";
    write(ep, &src, id).await;
    let loc = format!("s3://{src}/{id}");
    let out = run(&["verify", &loc], ep);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("14 Parquet file(s), 14 ok, 20900 rows"),
        "{}",
        stderr(&out)
    );
    let bad = format!("{id}/liberator/liberator.vrm/1/part-00001-bad.gz.parquet");
    client
        .put_object()
        .bucket(&src)
        .key(&bad)
        .body(ByteStream::from_static(b"PAR1....PAR1"))
        .send()
        .await
        .unwrap();
    let out = run(&["verify", &loc], ep);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&bad), "{}", stderr(&out));
}

#[test]
fn demo_runs_without_any_server() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_engine"))
        .args(["demo", "--dir"])
        .arg(dir.path().join("demo"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("copied 14  skipped 0  failed 0  non-parquet 3"),
        "{stdout}"
    );
    assert!(stdout.contains("copied 0, skipped 14"), "{stdout}");
    let landed = dir.path().join(
        "demo/landing/parking/liberator/liberator.pcn/import_year=2024/import_month=06/import_day=04/import_date=20240604",
    );
    assert_eq!(std::fs::read_dir(landed).unwrap().count(), 6);
}

/// `engine backfill` killed with SIGKILL mid-run, then re-run, leaves a landing zone identical
/// to a clean run's: nothing half-written is taken for landed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_killed_mid_run_then_rerun_matches_a_clean_run() {
    use liberator_tests::{FaultConfig, FaultProxy};
    let ep = &seaweed().endpoint;
    let (client, src, dst) = buckets(ep).await;
    let e = engine(ep, EngineConfig::default());
    let loc = Location::parse(&format!("s3://{src}")).unwrap();
    let ids = [
        "sql-to-parquet-24-06-04-101500",
        "sql-to-parquet-24-06-05-101500",
        "sql-to-parquet-24-06-06-101500",
    ];
    for id in ids {
        write_sample_export(e.store(), &loc, &SampleSpec::uniform(id, 5, 2, 30, 5))
            .await
            .unwrap();
    }
    let source = format!("s3://{src}");
    // A slow link, so the kill lands mid-run.
    let proxy = FaultProxy::start(
        ep,
        FaultConfig {
            delay: Duration::from_millis(25),
            ..FaultConfig::default()
        },
    )
    .await;
    let killed_target = format!("s3://{dst}/killed");
    let args = [
        "backfill",
        "--source",
        &source,
        "--target",
        &killed_target,
        "--concurrency",
        "8",
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_engine"))
        .args(args)
        .env("AWS_ENDPOINT_URL", &proxy.endpoint)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let n = list_all(&client, &dst, "killed/").await.len();
        if n >= 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "backfill made no progress"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let partial = list_all(&client, &dst, "killed/").await.len();
    assert!(partial < 900, "killed mid-run ({partial} of 900 landed)");

    let out = run(&args, ep);
    assert!(out.status.success(), "{}", stderr(&out));
    let clean_target = format!("s3://{dst}/clean");
    let out = run(
        &["backfill", "--source", &source, "--target", &clean_target],
        ep,
    );
    assert!(out.status.success(), "{}", stderr(&out));

    let strip = |prefix: &str, v: Vec<(String, u64)>| -> Vec<(String, u64)> {
        v.into_iter()
            .map(|(k, s)| (k.strip_prefix(prefix).unwrap().to_string(), s))
            .collect()
    };
    let resumed = strip("killed/", list_all(&client, &dst, "killed/").await);
    let clean = strip("clean/", list_all(&client, &dst, "clean/").await);
    assert_eq!(resumed.len(), 900);
    assert_eq!(
        resumed, clean,
        "the resumed landing zone equals a clean run's"
    );
    for (key, _) in resumed.iter().step_by(53) {
        let a = liberator_tests::get_bytes(&client, &dst, &format!("killed/{key}")).await;
        let b = liberator_tests::get_bytes(&client, &dst, &format!("clean/{key}")).await;
        assert!(a == b, "{key} differs");
    }
}
