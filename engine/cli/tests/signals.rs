//! The real `engine` binary stopped by real signals, against moto through the fault proxy
//! (a small delay on every request, so a run can be caught mid-way with multipart uploads
//! open): SIGTERM and SIGINT (twice) stop `copy` and `backfill` with exit 143 / 130, a
//! report that says `complete: false` and whose counts add up, and no multipart upload
//! left open; SIGKILL at seeded points during `backfill` leaves uploads open that the next
//! run aborts. After each, a re-run lands the rest and the landing equals a clean run's:
//! keys, sizes and ETags (moto's ETags, multipart ones included, are deterministic for the
//! same parts; ListMultipartUploads: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html>).

use std::collections::BTreeMap;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use liberator_engine::{EngineConfig, Location, Report};
use liberator_fixtures::sample::{SampleSpec, write_sample_export};
use liberator_tests::landing::{objects, open_uploads};
use liberator_tests::{
    ACCESS_KEY, FaultConfig, FaultProxy, SECRET_KEY, create_bucket, engine, get_bytes, moto,
    s3_client, unique_bucket,
};

const MIB: usize = 1024 * 1024;
/// S3's smallest part: objects above it are copied in parts of this size.
const PART: &str = "5242880";

/// The `engine` binary with the local servers' credentials and `endpoint`.
fn engine_cmd(endpoint: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_engine"));
    cmd.args(args)
        .args(["--multipart-threshold", PART, "--part-size", PART])
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("RUST_LOG");
    cmd
}

/// A running engine; its stderr is read as it comes, so a chatty run never blocks on it.
struct Running {
    child: Child,
    stderr: std::thread::JoinHandle<String>,
}

fn spawn(mut cmd: Command) -> Running {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting engine");
    let mut pipe = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut err = String::new();
        std::io::Read::read_to_string(&mut pipe, &mut err).ok();
        err
    });
    Running { child, stderr }
}

fn signal(run: &Running, sig: i32) {
    // SAFETY: kill(2) on a child we spawned and have not reaped.
    assert_eq!(unsafe { libc::kill(run.child.id() as i32, sig) }, 0, "kill");
}

/// Waits for the engine to exit, failing the test after `limit`; its status and stderr.
async fn wait(mut run: Running, limit: Duration) -> (ExitStatus, String) {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = run.child.try_wait().unwrap() {
            return (status, run.stderr.join().unwrap());
        }
        if Instant::now() > deadline {
            run.child.kill().ok();
            run.child.wait().ok();
            panic!(
                "engine did not exit within {limit:?}: {}",
                run.stderr.join().unwrap()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A run to completion, directly against the server.
fn run_ok(endpoint: &str, args: &[&str]) {
    let out = engine_cmd(endpoint, args).output().unwrap();
    assert!(
        out.status.success(),
        "engine {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every object under `prefix`: key without the prefix → (size, ETag).
async fn landing(client: &Client, bucket: &str, prefix: &str) -> BTreeMap<String, (u64, String)> {
    objects(client, bucket, prefix)
        .await
        .into_iter()
        .map(|(k, v)| (k[prefix.len()..].to_string(), v))
        .collect()
}

/// Parquet files landed under `prefix`.
async fn landed(client: &Client, bucket: &str, prefix: &str) -> usize {
    landing(client, bucket, prefix).await.len()
}

/// `tables` small tables of 2 × `files` files, then the first file of `big` of them grown
/// to ~12 MiB (3 parts of 5 MiB) by padding before its footer: still valid Parquet (the
/// column chunks keep their offsets, the footer stays at the end), so verification runs.
async fn write_export(
    client: &Client,
    endpoint: &str,
    bucket: &str,
    id: &str,
    big: usize,
) -> usize {
    let e = engine(endpoint, EngineConfig::default());
    let loc = Location::parse(&format!("s3://{bucket}")).unwrap();
    let summary = write_sample_export(e.store(), &loc, &SampleSpec::uniform(id, 4, 2, 3, 50))
        .await
        .unwrap();
    for (n, key) in summary.parquet_keys.iter().step_by(6).take(big).enumerate() {
        let small = get_bytes(client, bucket, key).await.to_vec();
        let footer =
            u32::from_le_bytes(small[small.len() - 8..small.len() - 4].try_into().unwrap());
        let split = small.len() - 8 - footer as usize;
        let mut grown = small[..split].to_vec();
        let mut x = 0x9e37_79b9_7f4a_7c15_u64 ^ n as u64;
        grown.extend((0..12 * MIB + 4321 * n).map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        }));
        grown.extend_from_slice(&small[split..]);
        client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(grown))
            .send()
            .await
            .unwrap();
    }
    summary.parquet_files as usize
}

struct Fixture {
    client: Client,
    src: String,
    dst: String,
    /// Parquet files in all.
    files: usize,
}

async fn fixture(ids: &[&str], big: usize) -> Fixture {
    let ep = &moto().endpoint;
    let client = s3_client(ep);
    let (src, dst) = (unique_bucket("sig-src"), unique_bucket("sig-dst"));
    create_bucket(&client, &src).await;
    create_bucket(&client, &dst).await;
    let mut files = 0;
    for id in ids {
        files += write_export(&client, ep, &src, id, big).await;
    }
    Fixture {
        client,
        src,
        dst,
        files,
    }
}

/// A slow link: every request waits `ms` each way.
async fn slow(ms: u64) -> FaultProxy {
    let config = FaultConfig {
        delay: Duration::from_millis(ms),
        ..FaultConfig::default()
    };
    FaultProxy::start(&moto().endpoint, config).await
}

/// Waits until a multipart upload is open on the target (the run is mid-copy).
async fn until_an_upload_is_open(f: &Fixture, run: &mut Running) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while open_uploads(&f.client, &f.dst).await.is_empty() {
        assert!(
            run.child.try_wait().unwrap().is_none(),
            "engine ended before any upload opened"
        );
        assert!(Instant::now() < deadline, "no multipart upload was opened");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Objects of one report add up: each listed object is accounted for exactly once.
fn assert_adds_up(r: &Report) {
    assert_eq!(
        r.copied + r.skipped + r.failed + r.non_parquet + r.planned + r.not_landed,
        r.listed,
        "counts add up: {r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_copy_aborts_its_uploads_and_a_rerun_lands_the_rest() {
    let id = "sql-to-parquet-24-06-04-101500";
    let f = fixture(&[id], 4).await;
    let ep = moto().endpoint.clone();
    let source = format!("s3://{}", f.src);
    let (stopped_t, clean_t) = (
        format!("s3://{}/stopped", f.dst),
        format!("s3://{}/clean", f.dst),
    );
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("report.json");
    let report_arg = report_path.to_str().unwrap();
    let args = [
        "copy",
        id,
        "--source",
        &source,
        "--target",
        &stopped_t,
        "--concurrency",
        "4",
    ];

    let proxy = slow(60).await;
    let mut cmd = engine_cmd(&proxy.endpoint, &args);
    cmd.args(["--stop-grace", "1", "--report", report_arg]);
    let mut run = spawn(cmd);
    until_an_upload_is_open(&f, &mut run).await;
    signal(&run, libc::SIGTERM);
    let (status, stderr) = wait(run, Duration::from_secs(60)).await;

    assert_eq!(status.code(), Some(143), "SIGTERM exits 143: {stderr}");
    assert!(stderr.contains("SIGTERM received"), "{stderr}");
    assert!(stderr.contains("engine: stopped by SIGTERM"), "{stderr}");
    let report: Report = serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    assert_eq!(json["complete"], false, "the JSON carries complete: false");
    assert!(!report.passed());
    assert_adds_up(&report);
    assert_eq!(
        report.failed, 0,
        "a stop is no failure: {:?}",
        report.failures
    );
    let note = report
        .stopped
        .as_deref()
        .expect("the report says why it stopped");
    assert!(note.starts_with("stopped by SIGTERM"), "{note}");
    let partial = landed(&f.client, &f.dst, "stopped/").await;
    assert!(
        partial < f.files,
        "stopped mid-way ({partial} of {} landed)",
        f.files
    );
    // A CopyObject cancelled in flight may still have landed on the server's side.
    assert!(
        partial as u64 >= report.copied,
        "the report's copies landed ({partial} landed, {} copied)",
        report.copied
    );
    assert_eq!(
        open_uploads(&f.client, &f.dst).await,
        Vec::<(String, String)>::new(),
        "no multipart upload left open after SIGTERM"
    );

    // A re-run lands the rest; the landing equals a clean run's.
    run_ok(&ep, &args);
    run_ok(
        &ep,
        &["copy", id, "--source", &source, "--target", &clean_t],
    );
    let resumed = landing(&f.client, &f.dst, "stopped/").await;
    assert_eq!(resumed.len(), f.files);
    assert_eq!(resumed, landing(&f.client, &f.dst, "clean/").await);
    assert!(open_uploads(&f.client, &f.dst).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigint_cancels_a_backfill_at_once_and_nothing_is_left_open() {
    let ids = [
        "sql-to-parquet-24-06-05-101500",
        "sql-to-parquet-24-06-06-101500",
    ];
    let f = fixture(&ids, 3).await;
    let ep = moto().endpoint.clone();
    let source = format!("s3://{}", f.src);
    let (stopped_t, clean_t) = (
        format!("s3://{}/stopped", f.dst),
        format!("s3://{}/clean", f.dst),
    );
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("reports.json");
    let args = [
        "backfill",
        "--source",
        &source,
        "--target",
        &stopped_t,
        "--concurrency",
        "4",
    ];

    let proxy = slow(60).await;
    let mut cmd = engine_cmd(&proxy.endpoint, &args);
    // A grace far longer than the test allows: only the second signal can end it in time.
    cmd.args([
        "--stop-grace",
        "600",
        "--report",
        report_path.to_str().unwrap(),
    ]);
    let mut run = spawn(cmd);
    until_an_upload_is_open(&f, &mut run).await;
    signal(&run, libc::SIGINT);
    tokio::time::sleep(Duration::from_millis(200)).await;
    signal(&run, libc::SIGINT);
    let (status, stderr) = wait(run, Duration::from_secs(60)).await;

    assert_eq!(status.code(), Some(130), "SIGINT exits 130: {stderr}");
    assert!(stderr.contains("SIGINT again: cancelling"), "{stderr}");
    let reports: Vec<Report> =
        serde_json::from_slice(&std::fs::read(&report_path).unwrap()).unwrap();
    assert_eq!(reports.len(), 2, "every selected export has a report");
    for r in &reports {
        assert!(!r.complete, "{r:?}");
        assert_adds_up(r);
        assert_eq!(r.failed, 0, "{:?}", r.failures);
        assert!(
            r.stopped
                .as_deref()
                .unwrap_or_default()
                .starts_with("stopped by SIGINT"),
            "{r:?}"
        );
    }
    assert!(
        reports[0].stopped.as_deref().unwrap().contains("cancelled"),
        "the copies in flight were cancelled: {:?}",
        reports[0].stopped
    );
    assert!(
        reports.iter().any(|r| r.not_landed > 0 || r.listed == 0),
        "something was left to land: {reports:?}"
    );
    assert_eq!(
        open_uploads(&f.client, &f.dst).await,
        Vec::<(String, String)>::new(),
        "no multipart upload left open after two SIGINTs"
    );

    run_ok(&ep, &args);
    run_ok(
        &ep,
        &["backfill", "--source", &source, "--target", &clean_t],
    );
    let resumed = landing(&f.client, &f.dst, "stopped/").await;
    assert_eq!(resumed.len(), f.files);
    assert_eq!(resumed, landing(&f.client, &f.dst, "clean/").await);
}

/// A small seeded generator (xorshift64*), so a failing sequence of kill points replays.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// Where a backfill is killed, observed from outside.
#[derive(Debug, Clone, Copy)]
enum KillPoint {
    /// After the proxy forwarded this many requests: discovery or the first listing.
    Listing { requests: u64 },
    /// Once this many objects landed.
    Landed { objects: usize },
    /// While a multipart upload is open, this many ms after it was seen.
    UploadOpen { after_ms: u64 },
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_seeded_points_then_rerun_equals_a_clean_run() {
    let seed: u64 = std::env::var("LIBERATOR_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_240_604);
    let ids = [
        "sql-to-parquet-24-06-07-101500",
        "sql-to-parquet-24-06-08-101500",
    ];
    let f = fixture(&ids, 3).await;
    let ep = moto().endpoint.clone();
    let source = format!("s3://{}", f.src);
    let (killed_t, clean_t) = (
        format!("s3://{}/killed", f.dst),
        format!("s3://{}/clean", f.dst),
    );
    run_ok(
        &ep,
        &["backfill", "--source", &source, "--target", &clean_t],
    );
    let clean = landing(&f.client, &f.dst, "clean/").await;
    assert_eq!(clean.len(), f.files);

    let mut rng = Rng(seed | 1);
    let mut points = vec![
        KillPoint::Listing {
            requests: 1 + rng.below(4),
        },
        KillPoint::Landed {
            objects: 1 + rng.below(f.files as u64 / 3) as usize,
        },
        KillPoint::UploadOpen {
            after_ms: rng.below(100),
        },
        KillPoint::UploadOpen {
            after_ms: rng.below(100),
        },
    ];
    for i in (1..points.len()).rev() {
        points.swap(i, rng.below(i as u64 + 1) as usize);
    }
    eprintln!("seed {seed} (LIBERATOR_CRASH_SEED replays it): kill points {points:?}");

    let args = [
        "backfill",
        "--source",
        &source,
        "--target",
        &killed_t,
        "--concurrency",
        "4",
    ];
    let mut left_open = 0;
    for point in &points {
        let proxy = slow(40).await;
        // Relative to what earlier kills left: objects landed and uploads open.
        let base = landed(&f.client, &f.dst, "killed/").await;
        let before = open_uploads(&f.client, &f.dst).await;
        let mut run = spawn(engine_cmd(&proxy.endpoint, &args));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(
                Instant::now() < deadline,
                "kill point {point:?} never reached"
            );
            let reached = match *point {
                KillPoint::Listing { requests } => {
                    liberator_tests::proxy::ProxyStats::get(&proxy.stats.forwarded) >= requests
                }
                KillPoint::Landed { objects } => {
                    landed(&f.client, &f.dst, "killed/").await >= base + objects
                }
                KillPoint::UploadOpen { after_ms } => {
                    let now = open_uploads(&f.client, &f.dst).await;
                    let open = now.iter().any(|u| !before.contains(u));
                    if open {
                        tokio::time::sleep(Duration::from_millis(after_ms)).await;
                    }
                    open
                }
            };
            if reached {
                break;
            }
            if run.child.try_wait().unwrap().is_some() {
                break; // finished before the point: the next re-run has less to do
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        run.child.kill().ok(); // SIGKILL
        run.child.wait().unwrap();
        let open = open_uploads(&f.client, &f.dst).await.len();
        left_open += open;
        eprintln!(
            "killed at {point:?}: {} of {} landed, {open} upload(s) left open",
            landed(&f.client, &f.dst, "killed/").await,
            f.files
        );
    }
    assert!(
        left_open > 0,
        "some kill left a multipart upload open for the re-run to abort"
    );

    run_ok(&ep, &args);
    assert_eq!(
        landing(&f.client, &f.dst, "killed/").await,
        clean,
        "after the kills, a re-run's landing equals a clean run's (keys, sizes, ETags)"
    );
    assert_eq!(
        open_uploads(&f.client, &f.dst).await,
        Vec::<(String, String)>::new(),
        "the re-run aborted the uploads the killed runs left open"
    );
}
