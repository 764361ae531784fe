//! Both Lambda binaries through the Lambda runtime API: `cargo lambda watch
//! --only-lambda-apis` emulates the runtime, the debug builds of the functions serve it
//! (started here, as Lambda would, with `AWS_LAMBDA_RUNTIME_API` pointing at the emulator),
//! `cargo lambda invoke --data-file` sends the shared sample events, and the functions talk
//! to moto through `AWS_ENDPOINT_URL`.
//!
//! The binaries are the ones the suite built: `scripts/test` builds the workspace once up
//! front and sets `LIBERATOR_LAMBDA_BIN_DIR`. Run alone, the test builds them itself with
//! `cargo build` (the features cargo picks for two packages differ from the workspace's, so
//! that build compiles much of the dependency tree again).
//!
//! cargo-lambda comes from PyPI (`pip install cargo-lambda`) into the tools venv
//! (`$LIBERATOR_TOOLS/venv/bin/cargo-lambda`, LIBERATOR_TOOLS defaulting to
//! `~/.cache/liberator/tools`) or from PATH; without it the test fails, saying so.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use liberator_engine::{EngineConfig, Location};
use liberator_fixtures::sample::{SampleSpec, write_sample_export};
use liberator_tests::aws;
use serde_json::Value;

fn workspace() -> PathBuf {
    liberator_tests::manifest_dir()
        .join("..")
        .canonicalize()
        .unwrap()
}

fn events() -> PathBuf {
    workspace().join("../shared/events")
}

fn cargo_lambda() -> PathBuf {
    let venv = liberator_tests::servers::tools_dir().join("venv/bin/cargo-lambda");
    if venv.is_file() {
        return venv;
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("cargo-lambda");
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "cargo-lambda not found at {} nor on PATH: install it with `{}/venv/bin/pip install cargo-lambda` (scripts/test does)",
        venv.display(),
        liberator_tests::servers::tools_dir().display()
    );
}

/// `cargo lambda watch`, killed with its process group (the functions started into it) on
/// drop.
struct Watch {
    child: Child,
    log: PathBuf,
    /// The function processes, in the emulator's process group: reaped on drop.
    functions: Vec<Child>,
}

impl Watch {
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // SAFETY: signalling the process group this test created; no memory is involved.
        unsafe {
            libc::kill(-(self.child.id() as i32), libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut exited = false;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                exited = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if !exited {
            // SAFETY: as above.
            unsafe {
                libc::kill(-(self.child.id() as i32), libc::SIGKILL);
            }
            let _ = self.child.wait();
        }
        for f in &mut self.functions {
            let _ = f.kill();
            let _ = f.wait();
        }
    }
}

/// Where the Lambda binaries are: `LIBERATOR_LAMBDA_BIN_DIR` (set by `scripts/test`, which
/// built them with the rest of the suite), else this test's own target directory once
/// `cargo build` has made them there.
fn lambda_bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LIBERATOR_LAMBDA_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let status = Command::new(env!("CARGO"))
        .args([
            "build",
            "-p",
            "export-copier",
            "-p",
            "export-trigger",
            "--bins",
        ])
        .current_dir(workspace())
        .status()
        .unwrap();
    assert!(status.success(), "building the Lambda binaries failed");
    // This test runs from <target>/debug/deps/; the binaries are in <target>/debug/.
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

/// Waits until the emulator accepts connections.
fn wait_listening(port: u16, watch: &Watch) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "cargo lambda watch did not listen on {port}\n{}",
            watch.log_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Starts the `function` binary against the emulator, as Lambda starts a function: the
/// runtime API address (the emulator serves each function under `/.rt/<name>`), the
/// function's name, version and memory, and its configuration `vars` (KEY=VALUE). It joins
/// the emulator's process group, so dropping `watch` stops it too (and reaps it: the caller
/// adds it to `watch.functions`); its output goes to the watch log.
fn start_function(
    bins: &Path,
    function: &str,
    port: u16,
    vars: &[String],
    log: &std::fs::File,
    watch: &Watch,
) -> Child {
    let bin = bins.join(function);
    assert!(bin.is_file(), "{} is not built", bin.display());
    let mut cmd = Command::new(&bin);
    cmd.env(
        "AWS_LAMBDA_RUNTIME_API",
        format!("http://127.0.0.1:{port}/.rt/{function}"),
    )
    .env("AWS_LAMBDA_FUNCTION_NAME", function)
    .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
    .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "4096")
    .stdin(Stdio::null())
    .stdout(log.try_clone().unwrap())
    .stderr(log.try_clone().unwrap());
    for v in vars {
        let (key, value) = v.split_once('=').unwrap();
        cmd.env(key, value);
    }
    std::os::unix::process::CommandExt::process_group(&mut cmd, watch.child.id() as i32);
    cmd.spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()))
}

/// Sends `data_file` to `function`; the function's JSON answer, or the error output.
fn invoke(cl: &Path, port: u16, function: &str, data_file: &Path) -> Result<Value, String> {
    let out = Command::new(cl)
        .args([
            "lambda",
            "invoke",
            function,
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
        ])
        .arg(port.to_string())
        .arg("--data-file")
        .arg(data_file)
        .args(["--output-format", "json"])
        .current_dir(workspace())
        .output()
        .expect("running cargo-lambda invoke");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        return Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)));
    }
    serde_json::from_str(&stdout).map_err(|e| format!("{e}: {stdout}"))
}

/// Invokes once the emulator listens (until then invoke cannot connect); any other error
/// is the function's and fails the test with the watch log.
fn invoke_when_up(cl: &Path, port: u16, function: &str, data_file: &Path, watch: &Watch) -> Value {
    let started = Instant::now();
    loop {
        match invoke(cl, port, function, data_file) {
            Ok(v) => return v,
            Err(e)
                if e.contains("error sending request to the runtime emulator")
                    && started.elapsed() < Duration::from_secs(240) =>
            {
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(e) => panic!(
                "{function} failed: {e}\n--- watch log ---\n{}",
                watch.log_tail()
            ),
        }
    }
}

/// Creates `snapshot` (with its export task) unless an earlier run against the same moto
/// did: the shared events name fixed snapshots.
async fn ensure_export(rds: &aws_sdk_rds::Client, snapshot: &str, bucket: &str) {
    let instance = aws::unique_instance("runtime-api");
    aws::create_instance(rds, &instance).await;
    let arn = match rds
        .create_db_snapshot()
        .db_instance_identifier(&instance)
        .db_snapshot_identifier(snapshot)
        .send()
        .await
    {
        Ok(out) => out
            .db_snapshot()
            .and_then(|s| s.db_snapshot_arn())
            .unwrap()
            .to_string(),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_db_snapshot_already_exists_fault()) =>
        {
            let out = rds
                .describe_db_snapshots()
                .db_snapshot_identifier(snapshot)
                .send()
                .await
                .unwrap();
            out.db_snapshots()[0].db_snapshot_arn().unwrap().to_string()
        }
        Err(e) => panic!(
            "creating snapshot {snapshot}: {}",
            aws_sdk_rds::error::DisplayErrorContext(e)
        ),
    };
    let exists = rds
        .describe_export_tasks()
        .export_task_identifier(snapshot)
        .send()
        .await
        .is_ok();
    if !exists {
        // The export records the snapshot ARN the shared events carry (eu-west-2; moto keeps
        // the ARN it is given), as RDS's task and event would agree: the trigger compares them.
        let path = events().join("rds-event-0042-snapshot-created.json");
        let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let event_arn = event["detail"]["SourceArn"].as_str().unwrap().to_string();
        assert!(
            event_arn.ends_with(&format!(":snapshot:{snapshot}")),
            "{event_arn} vs {arn}"
        );
        aws::start_export(rds, snapshot, &event_arn, bucket).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn built_binaries_answer_the_shared_events_through_the_runtime_api() {
    let cl = cargo_lambda();
    let endpoint = liberator_tests::moto().endpoint.clone();
    let s3 = liberator_tests::s3_client(&endpoint);
    let rds = aws::rds_client(&endpoint);
    let glue = aws::glue_client(&endpoint);

    let export_id = "sql-to-parquet-24-06-04-101500"; // as in rds-event-0161-export-completed.json
    let source = liberator_tests::unique_bucket("exports");
    let target = liberator_tests::unique_bucket("landing");
    liberator_tests::create_bucket(&s3, &source).await;
    liberator_tests::create_bucket(&s3, &target).await;
    ensure_export(&rds, export_id, &source).await;
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

    let port = liberator_tests::servers::free_port();
    let log = std::env::temp_dir().join(format!("liberator-cargo-lambda-watch-{port}.log"));
    let log_file = std::fs::File::create(&log).unwrap();
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
    let mut cmd = Command::new(&cl);
    cmd.args([
        "lambda",
        "watch",
        "--only-lambda-apis",
        "--ignore-changes",
        "--invoke-address",
        "127.0.0.1",
        "--invoke-port",
    ])
    .arg(port.to_string())
    .current_dir(workspace())
    .stdin(Stdio::null())
    .stdout(log_file.try_clone().unwrap())
    .stderr(log_file.try_clone().unwrap());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut watch = Watch {
        child: cmd.spawn().expect("starting cargo lambda watch"),
        log,
        functions: Vec::new(),
    };
    wait_listening(port, &watch);
    for function in ["export-copier", "export-trigger"] {
        let child = start_function(&bins, function, port, &vars, &log_file, &watch);
        watch.functions.push(child);
    }

    // The functions poll the emulator for their first event.
    let event = events().join("rds-event-0161-export-completed.json");
    let first = invoke_when_up(&cl, port, "export-copier", &event, &watch);
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
    let second = invoke(&cl, port, "export-copier", &event)
        .unwrap_or_else(|e| panic!("{e}\n{}", watch.log_tail()));
    assert_eq!(second["outcome"], "already_started", "{second}");
    assert_eq!(aws::workflow_runs(&glue, &workflow).await.len(), 1);

    // The trigger with the shared 0042 event: the export of that snapshot exists already.
    let trigger_event = events().join("rds-event-0042-snapshot-created.json");
    let out = invoke_when_up(&cl, port, "export-trigger", &trigger_event, &watch);
    assert_eq!(out["outcome"], "already_exported", "{out}");

    // A malformed event fails the invocation with the handler's message.
    let bad = std::env::temp_dir().join(format!("liberator-bad-event-{port}.json"));
    std::fs::write(&bad, r#"{"version":"0","id":"bad-1","source":"aws.rds"}"#).unwrap();
    let err = invoke(&cl, port, "export-copier", &bad).expect_err("a malformed event must fail");
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
