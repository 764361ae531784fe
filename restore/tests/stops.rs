//! A load that does not reach the dump's end is never snapshotted (issue 12, items 4 and 5):
//! a dump reader that panics mid-entry fails the task naming it, and SIGTERM or SIGINT sent
//! to the real `restore` binary mid-load stops it with a clear log line and 128 + the
//! signal's number. In every case no snapshot is created, the previous one is kept, and no
//! manifest is written. Against moto (S3, RDS) and the harness's MariaDB.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use liberator_restore::task::Run;
use liberator_restore::zip::{ByteChunks, RangeSource, S3Object};
use liberator_restore::{RestoreError, Result};
use liberator_tests::mariadb::{MariaDb, mariadb, zip_bytes};
use liberator_tests::restore_day::{DumpDay, restore_command};
use liberator_tests::{ACCESS_KEY, SECRET_KEY, moto};
use mysql_async::prelude::Queryable;

/// `rows` single-row inserts into `t` with 40 characters of noise each (so the zip does
/// not shrink to nothing), after its CREATE TABLE.
fn dump_sql(rows: u64) -> Vec<u8> {
    let mut sql = b"CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(64));\n".to_vec();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..rows {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        sql.extend_from_slice(
            format!("INSERT INTO t VALUES ({i},'{:016x}{:024x}');\n", x, x >> 7).as_bytes(),
        );
    }
    sql
}

async fn rows_in(db: &str) -> u64 {
    let n: Option<u64> = mariadb()
        .conn()
        .await
        .query_first(format!("SELECT COUNT(*) FROM `{db}`.t"))
        .await
        .unwrap_or(None);
    n.unwrap_or(0)
}

/// Reads like the S3 object, except that every ranged read after the first (the central
/// directory) panics once `after` bytes of it were delivered: a bug in the dump reader,
/// mid-entry.
#[derive(Clone)]
struct PanicsMidEntry {
    inner: S3Object,
    calls: Arc<AtomicU32>,
    after: usize,
}

impl RangeSource for PanicsMidEntry {
    fn name(&self) -> String {
        self.inner.name()
    }

    async fn size(&self) -> Result<u64> {
        self.inner.size().await
    }

    async fn range(&self, start: u64, end: u64) -> Result<ByteChunks> {
        let body = self.inner.range(start, end).await?;
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            return Ok(body);
        }
        let after = self.after;
        // Small pieces, so the panic falls inside the entry whatever the server's chunking.
        let pieces = body.flat_map(|r| {
            let items: Vec<std::result::Result<Bytes, _>> = match r {
                Ok(b) => (0..b.len())
                    .step_by(4096)
                    .map(|i| Ok(b.slice(i..(i + 4096).min(b.len()))))
                    .collect(),
                Err(e) => vec![Err(e)],
            };
            futures::stream::iter(items)
        });
        let mut sent = 0usize;
        Ok(pieces
            .map(move |item| {
                if sent >= after {
                    panic!("injected fault: the dump reader panicked after {sent} bytes");
                }
                if let Ok(b) = &item {
                    sent += b.len();
                }
                item
            })
            .boxed())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_panic_mid_entry_fails_without_snapshot() {
    let rows = 20_000;
    let zip = zip_bytes(&[("dump.sql", dump_sql(rows).as_slice())]);
    assert!(
        zip.len() > 300_000,
        "the entry must be well past the fault: {}",
        zip.len()
    );
    let day = DumpDay::new("panic", zip).await;
    let cfg = day.task_config("panic_db");
    let err = Run::new(&cfg)
        .execute_with(&day.s3, &day.rds, |inner| PanicsMidEntry {
            inner,
            calls: Arc::default(),
            after: 100_000,
        })
        .await
        .expect_err("a reader that panics mid-entry must fail the task");
    match &err {
        RestoreError::Task { task, reason } => {
            assert_eq!(task, "dump reader");
            assert!(
                reason.contains("panicked") && reason.contains("injected fault"),
                "{reason}"
            );
        }
        other => panic!("expected the dump reader's panic, got {other:?}"),
    }
    assert!(
        err.to_string()
            .contains("dump reader task failed: panicked"),
        "{err}"
    );
    // It did stop mid-entry: some rows, not all.
    let loaded = rows_in("panic_db").await;
    assert!(loaded < rows, "{loaded} of {rows} rows");
    // No snapshot, the old one kept, no manifest.
    day.assert_nothing_snapshotted().await;
    assert!(day.manifests().await.is_empty());
}

/// The `restore` binary with only the given configuration.
fn restore() -> Command {
    let mut cmd = restore_command(Path::new(env!("CARGO_BIN_EXE_restore")));
    let server = mariadb();
    cmd.env("MYSQL_HOST", format!("127.0.0.1:{}", server.port))
        .env("MYSQL_USER", &server.user)
        .env("MYSQL_PASS", MariaDb::PASSWORD)
        .env("MYSQL_TLS", "false")
        // One connection, one round trip per insert: slow enough to be caught mid-load.
        .env("LOAD_WORKERS", "0")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Waits until `db.t` has rows, sends `signal`, and returns (exit code, output).
async fn signal_mid_load(mut child: Child, db: &str, signal: i32) -> (Option<i32>, String) {
    let start = Instant::now();
    while rows_in(db).await == 0 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "restore ended before loading anything: {status}: {}",
                output(&mut child)
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no rows after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!(
                "restore did not stop within 20 s of the signal: {}",
                output(&mut child)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    (status.code(), output(&mut child))
}

fn output(child: &mut Child) -> String {
    let mut all = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut all);
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut all);
    }
    all
}

const ROWS: u64 = 600_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_load_stops_without_snapshot() {
    let zip = zip_bytes(&[("dump.sql", dump_sql(ROWS).as_slice())]);
    let day = DumpDay::new("sigterm", zip).await;
    let child = restore()
        .env("DB_NAME", "sigterm_db")
        .env("BUCKET_NAME", &day.bucket)
        .env("RDS_INSTANCE_ID", &day.instance)
        .env("AWS_ENDPOINT_URL", &moto().endpoint)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .spawn()
        .unwrap();
    let (code, out) = signal_mid_load(child, "sigterm_db", libc::SIGTERM).await;
    assert_eq!(code, Some(143), "exit status 128 + SIGTERM: {out}");
    assert!(
        out.contains("restore stopped by SIGTERM")
            && out.contains("no snapshot taken, no snapshot deleted"),
        "{out}"
    );
    let loaded = rows_in("sigterm_db").await;
    assert!(
        loaded < ROWS,
        "the signal came mid-load: {loaded} of {ROWS}"
    );
    day.assert_nothing_snapshotted().await;
    assert!(day.manifests().await.is_empty());
    assert!(!out.contains(MariaDb::PASSWORD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_a_local_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dump.zip");
    std::fs::write(&path, zip_bytes(&[("dump.sql", dump_sql(ROWS).as_slice())])).unwrap();
    let child = restore()
        .env("DB_NAME", "sigint_db")
        .arg("--from-file")
        .arg(&path)
        .spawn()
        .unwrap();
    let (code, out) = signal_mid_load(child, "sigint_db", libc::SIGINT).await;
    assert_eq!(code, Some(130), "exit status 128 + SIGINT: {out}");
    assert!(out.contains("restore stopped by SIGINT"), "{out}");
    assert!(rows_in("sigint_db").await < ROWS);
}
