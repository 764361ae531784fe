//! One cold start: spawn the function's `bootstrap` against a fresh [`Emulator`] holding one
//! event, and time process start → first `/next` (init) and → the event's response (event
//! handled). Peak RSS and CPU are read from `/proc/<pid>` once the response is in, while the
//! process waits on its second `/next` (as Lambda would freeze it), then it is killed.
//!
//! Peak RSS is the kernel's `VmHWM` of the exec'd image (a new address space at `exec`, so
//! the harness's own size does not show, unlike `wait4`'s `ru_maxrss`, see `crate::measure`).
//! CPU is user + system of every thread, in clock ticks (10 ms on this kernel).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::Value;

use super::emulator::{Emulator, Event, Seen};
use crate::measure::process_cpu;

/// What one cold start measured.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Spawn → the first `GET .../invocation/next`.
    pub init: Duration,
    /// Spawn → the first event's response posted.
    pub first_event: Duration,
    /// `VmHWM` after the first event, bytes.
    pub peak_rss: u64,
    /// CPU time of every thread up to the first `/next` (read while the process waits on
    /// it): what start-up cost, whatever else the machine is doing.
    pub init_cpu: Duration,
    /// CPU time of every thread up to the response.
    pub cpu: Duration,
    /// The function's answer.
    pub answer: Value,
}

/// Runs `bootstrap` once with `env` (and nothing else from the harness's environment) and
/// `AWS_LAMBDA_RUNTIME_API` pointing at an emulator serving `event`. Its stdout and stderr
/// go to `log`, whose tail an error shows. A non-empty `wrap` (a profiler's command line)
/// runs the bootstrap under it.
pub async fn cold_start(
    wrap: &[String],
    bootstrap: &Path,
    env: &[(String, String)],
    event: Event,
    log: &Path,
    limit: Duration,
) -> Result<Sample> {
    let mut emulator = Emulator::start(event)
        .await
        .context("starting the emulator")?;
    let out = std::fs::File::create(log).with_context(|| format!("{}", log.display()))?;
    let err = out.try_clone()?;
    let mut cmd = match wrap.split_first() {
        Some((program, args)) => {
            let mut cmd = tokio::process::Command::new(program);
            cmd.args(args).arg(bootstrap);
            cmd
        }
        None => tokio::process::Command::new(bootstrap),
    };
    cmd.env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("AWS_LAMBDA_RUNTIME_API", emulator.runtime_api())
        .current_dir(bootstrap.parent().unwrap_or(Path::new("/")))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .kill_on_drop(true);
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("spawning {}", bootstrap.display()))?;
    let pid = child.id().context("the child has no pid")?;
    let fail = |what: String| -> anyhow::Error {
        anyhow::anyhow!(
            "{}: {what}\n--- log tail ---\n{}",
            bootstrap.display(),
            tail(log)
        )
    };
    let mut init = None;
    let mut init_cpu = None;
    let deadline = started + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let seen = tokio::select! {
            seen = emulator.next_seen(left) => seen,
            status = child.wait() => {
                return Err(fail(format!("exited before answering: {:?}", status?)));
            }
        };
        match seen {
            None => {
                let _ = child.kill().await;
                return Err(fail(format!("no answer within {limit:?}")));
            }
            Some(Seen::Next { at }) => {
                if init.is_none() {
                    init = Some(at - started);
                    init_cpu = Some(thread_cpu(target_of(pid, wrap)));
                }
            }
            Some(Seen::Response { at, body }) => {
                let first_event = at - started;
                let target = target_of(pid, wrap);
                let peak_rss = vm_hwm(target).context("reading VmHWM")?;
                let cpu = thread_cpu(target);
                stop(&mut child, pid, !wrap.is_empty()).await;
                let answer = serde_json::from_slice(&body)
                    .map_err(|e| fail(format!("response is not JSON: {e}")))?;
                let init = init.ok_or_else(|| fail("answered without /next".into()))?;
                return Ok(Sample {
                    init,
                    init_cpu: init_cpu.unwrap_or_default(),
                    first_event,
                    peak_rss,
                    cpu,
                    answer,
                });
            }
            Some(Seen::Error {
                error_type, body, ..
            }) => {
                let _ = child.kill().await;
                let body = String::from_utf8_lossy(&body);
                return Err(fail(format!("invocation failed ({error_type}): {body}")));
            }
            Some(Seen::InitError { body, .. }) => {
                let _ = child.kill().await;
                let body = String::from_utf8_lossy(&body);
                return Err(fail(format!("init error: {body}")));
            }
            Some(Seen::Unknown { method, path }) => {
                let _ = child.kill().await;
                return Err(fail(format!("not a runtime API request: {method} {path}")));
            }
        }
    }
}

/// Kills the bootstrap. A wrapper (profiler) gets its child killed instead and is waited
/// for, so that it writes its data.
async fn stop(child: &mut tokio::process::Child, pid: u32, wrapped: bool) {
    if wrapped {
        for c in children(pid) {
            // SAFETY: kill(2) with a pid read from our own child's /proc entry.
            unsafe { libc::kill(c as libc::pid_t, libc::SIGKILL) };
        }
        if tokio::time::timeout(Duration::from_secs(60), child.wait())
            .await
            .is_ok()
        {
            return;
        }
    }
    let _ = child.kill().await;
}

/// The bootstrap's pid: under a wrapper, the wrapper's child.
fn target_of(pid: u32, wrap: &[String]) -> u32 {
    match wrap.is_empty() {
        true => pid,
        false => children(pid).first().copied().unwrap_or(pid),
    }
}

/// On-CPU time of every live thread of `pid` (`/proc/PID/task/*/schedstat`, nanoseconds),
/// finer than `/proc/PID/stat`'s clock ticks; `crate::measure::process_cpu` when unreadable.
/// Threads that already exited are not counted (tokio's blocking threads live 10 s).
fn thread_cpu(pid: u32) -> Duration {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"));
    let ns: Option<u64> = tasks.ok().map(|tasks| {
        tasks
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
            .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
            .sum()
    });
    match ns {
        Some(ns) if ns > 0 => Duration::from_nanos(ns),
        _ => process_cpu(pid).unwrap_or_default(),
    }
}

/// The child processes of `pid`.
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|c| c.parse().ok())
        .collect()
}

/// `VmHWM` (peak resident set) of a running process, bytes.
fn vm_hwm(pid: u32) -> Result<u64> {
    let path = PathBuf::from(format!("/proc/{pid}/status"));
    let status = std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .with_context(|| format!("no VmHWM in {}", path.display()))?;
    Ok(kib * 1024)
}

/// The last lines of a log file.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
