//! The Lambda binaries under a local Lambda emulator: `cargo lambda watch
//! --only-lambda-apis` serves the runtime API and the Invoke API, the debug builds of the
//! functions serve it (started here, as Lambda would, with `AWS_LAMBDA_RUNTIME_API`
//! pointing at the emulator), and [`EventQueue`] gives the emulator the asynchronous
//! invocations it lacks.
//!
//! The binaries are the ones the suite built: `scripts/test` builds the workspace once up
//! front and sets `LIBERATOR_LAMBDA_BIN_DIR`. Run alone, a test builds them itself with
//! `cargo build` (the features cargo picks for two packages differ from the workspace's, so
//! that build compiles much of the dependency tree again).
//!
//! cargo-lambda comes from PyPI (`pip install cargo-lambda`) into the tools venv
//! (`$LIBERATOR_TOOLS/venv/bin/cargo-lambda`, LIBERATOR_TOOLS defaulting to
//! `~/.cache/liberator/tools`) or from PATH; without it the test fails, saying so.
//!
//! What `cargo lambda watch` 1.9.2 does (crates/cargo-lambda-watch/src in
//! cargo-lambda/cargo-lambda): `POST /2015-03-31/functions/{name}/invocations` queues an
//! invocation for the function `{name}` (a binary of this workspace) and answers with the
//! function's answer once it has run, whatever `X-Amz-Invocation-Type` says; every
//! invocation carries the deadline 600000 ms after the epoch (already past) and the
//! function ARN `function-arn`, whatever its flags (`--timeout` only bounds how long the
//! invoke request waits).

mod event_queue;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::aws;

pub use event_queue::{EventQueue, QueuedInvoke};

/// The workspace root.
pub fn workspace() -> PathBuf {
    crate::manifest_dir().join("..").canonicalize().unwrap()
}

/// The shared sample events (`../shared/events`).
pub fn events() -> PathBuf {
    workspace().join("../shared/events")
}

/// The cargo-lambda executable: the tools venv's, else PATH's; panics with how to install it.
pub fn cargo_lambda() -> PathBuf {
    let venv = crate::servers::tools_dir().join("venv/bin/cargo-lambda");
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
        crate::servers::tools_dir().display()
    );
}

/// Where the Lambda binaries are: `LIBERATOR_LAMBDA_BIN_DIR` (set by `scripts/test`, which
/// built them with the rest of the suite), else this test's own target directory once
/// `cargo build` has made them there.
pub fn lambda_bin_dir() -> PathBuf {
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
    // A test runs from <target>/debug/deps/; the binaries are in <target>/debug/.
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

/// `cargo lambda watch --only-lambda-apis` on a free loopback port, killed with its process
/// group (the functions started into it) on drop. Its output and the functions' go to
/// [`Watch::log`].
pub struct Watch {
    child: Child,
    cargo_lambda: PathBuf,
    pub port: u16,
    pub log: PathBuf,
    log_file: std::fs::File,
    /// The function processes, in the emulator's process group: reaped on drop.
    functions: Vec<Child>,
}

impl Watch {
    /// Starts the emulator and waits until it listens.
    pub fn start() -> Watch {
        let cargo_lambda = cargo_lambda();
        let port = crate::servers::free_port();
        let log = std::env::temp_dir().join(format!("liberator-cargo-lambda-watch-{port}.log"));
        let log_file = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(&cargo_lambda);
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
        let watch = Watch {
            child: cmd.spawn().expect("starting cargo lambda watch"),
            cargo_lambda,
            port,
            log,
            log_file,
            functions: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "cargo lambda watch did not listen on {port}\n{}",
                watch.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        watch
    }

    /// The emulator's Invoke API endpoint (`http://127.0.0.1:<port>`).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The last 60 lines of the log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// Starts the `function` binary from `bins` against the emulator, as Lambda starts a
    /// function: the runtime API address (the emulator serves each function under
    /// `/.rt/<name>`), the function's name, version and memory, and its configuration `vars`
    /// (KEY=VALUE). It joins the emulator's process group and is reaped on drop. Several
    /// processes of one function are several execution environments: each takes the next
    /// queued invocation when it is idle. Returns the process id, for
    /// [`Watch::stop_function`].
    pub fn start_function(&mut self, bins: &Path, function: &str, vars: &[String]) -> u32 {
        let bin = bins.join(function);
        assert!(bin.is_file(), "{} is not built", bin.display());
        let mut cmd = Command::new(&bin);
        cmd.env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("http://127.0.0.1:{}/.rt/{function}", self.port),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "4096")
        .stdin(Stdio::null())
        .stdout(self.log_file.try_clone().unwrap())
        .stderr(self.log_file.try_clone().unwrap());
        for v in vars {
            let (key, value) = v.split_once('=').unwrap();
            cmd.env(key, value);
        }
        std::os::unix::process::CommandExt::process_group(&mut cmd, self.child.id() as i32);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let pid = child.id();
        self.functions.push(child);
        pid
    }

    /// Kills one function process started by [`Watch::start_function`] and reaps it (an
    /// execution environment Lambda retired).
    pub fn stop_function(&mut self, pid: u32) {
        let i = self
            .functions
            .iter()
            .position(|c| c.id() == pid)
            .unwrap_or_else(|| panic!("no function process {pid}"));
        let mut child = self.functions.remove(i);
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Sends `data_file` to `function` with `cargo lambda invoke`; the function's JSON
    /// answer, or the error output.
    pub fn invoke(&self, function: &str, data_file: &Path) -> Result<Value, String> {
        let out = Command::new(&self.cargo_lambda)
            .args([
                "lambda",
                "invoke",
                function,
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
            ])
            .arg(self.port.to_string())
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

    /// [`Watch::invoke`] once the emulator takes invocations (until then invoke cannot
    /// connect); any other error is the function's and fails the test with the log.
    pub fn invoke_when_up(&self, function: &str, data_file: &Path) -> Value {
        let started = Instant::now();
        loop {
            match self.invoke(function, data_file) {
                Ok(v) => return v,
                Err(e)
                    if e.contains("error sending request to the runtime emulator")
                        && started.elapsed() < Duration::from_secs(240) =>
                {
                    std::thread::sleep(Duration::from_secs(1));
                }
                Err(e) => panic!(
                    "{function} failed: {e}\n--- watch log ---\n{}",
                    self.log_tail()
                ),
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // SAFETY: signalling the process group this harness created; no memory is involved.
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

/// Creates the snapshot `snapshot` of a new instance and its export task (moto completes it
/// at once), unless an earlier run against the same moto did: the shared events name fixed
/// snapshots. The task records `source_arn`, the ARN the event carries (moto keeps the ARN
/// it is given), as RDS's task and event would agree.
pub async fn ensure_export(
    rds: &aws_sdk_rds::Client,
    snapshot: &str,
    source_arn: &str,
    bucket: &str,
) {
    let instance = aws::unique_instance("lambda-watch");
    aws::create_instance(rds, &instance).await;
    if let Err(e) = rds
        .create_db_snapshot()
        .db_instance_identifier(&instance)
        .db_snapshot_identifier(snapshot)
        .send()
        .await
    {
        assert!(
            e.as_service_error()
                .is_some_and(|s| s.is_db_snapshot_already_exists_fault()),
            "creating snapshot {snapshot}: {}",
            aws_sdk_rds::error::DisplayErrorContext(e)
        );
    }
    let exists = rds
        .describe_export_tasks()
        .export_task_identifier(snapshot)
        .send()
        .await
        .is_ok_and(|out| !out.export_tasks().is_empty());
    if !exists {
        aws::start_export(rds, snapshot, source_arn, bucket).await;
    }
}
