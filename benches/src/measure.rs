//! Runs a child process and measures it the way `/usr/bin/time -v` does: wall time from
//! spawn to exit, and the kernel's `wait4` rusage for user + system CPU and peak RSS
//! (the child and the descendants it waited for).

//!
//! Linux keeps the pre-`exec` peak RSS of a process (`signal->maxrss`), and std spawns
//! with `vfork` semantics, so a child spawned directly by the harness would inherit the
//! harness's own peak as a floor. [`wrap`] therefore runs each tool under
//! `side_by_side measure`, a freshly exec'd small process that spawns the tool and reports
//! the tool's own rusage.

use std::ffi::OsString;
use std::io;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// What one child process cost.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Measured {
    pub wall: Duration,
    pub user: Duration,
    pub sys: Duration,
    /// Peak resident set size, bytes.
    pub max_rss: u64,
    /// Exit code; `None` when killed by a signal.
    pub exit_code: Option<i32>,
}

impl Measured {
    /// User + system CPU.
    pub fn cpu(&self) -> Duration {
        self.user + self.sys
    }

    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64)
}

/// Spawns `cmd` and blocks until it exits. Call from a blocking thread.
pub fn run_measured(cmd: &mut Command) -> io::Result<Measured> {
    let start = Instant::now();
    let child = cmd.spawn()?;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data; all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own child, not yet reaped (std's Child is never waited on).
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    let wall = start.elapsed();
    drop(child);
    let exit_code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Ok(Measured {
        wall,
        user: timeval(usage.ru_utime),
        sys: timeval(usage.ru_stime),
        // Linux reports kilobytes.
        max_rss: usage.ru_maxrss as u64 * 1024,
        exit_code,
    })
}

/// User + system CPU a running process has used so far (`/proc/PID/stat`), e.g. the S3
/// server's, sampled around each run.
pub fn process_cpu(pid: u32) -> io::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| io::Error::other("unexpected /proc stat format"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> io::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::other("unexpected /proc stat format"))
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let total = ticks(11)? + ticks(12)?;
    Ok(Duration::from_secs_f64(total as f64 / hz as f64))
}

/// `harness measure --out RUSAGE -- <cmd>`, with `cmd`'s environment changes.
pub fn wrap(harness: &Path, rusage: &Path, cmd: &Command) -> Command {
    let mut out = Command::new(harness);
    out.arg("measure")
        .arg("--out")
        .arg(rusage)
        .arg("--")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => out.env(k, v),
            None => out.env_remove(k),
        };
    }
    out
}

/// The `measure` subcommand: runs `argv` and writes its [`Measured`] as JSON to `out`.
/// Returns the child's exit code.
pub fn measure_main(out: &Path, argv: &[OsString]) -> io::Result<i32> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| io::Error::other("measure: no command"))?;
    let m = run_measured(Command::new(program).args(args))?;
    let json = format!(
        "{{\"wall\":{},\"user\":{},\"sys\":{},\"max_rss\":{},\"exit_code\":{}}}",
        m.wall.as_secs_f64(),
        m.user.as_secs_f64(),
        m.sys.as_secs_f64(),
        m.max_rss,
        m.exit_code.map_or("null".to_string(), |c| c.to_string())
    );
    std::fs::write(out, json)?;
    Ok(m.exit_code.unwrap_or(128))
}

/// Reads what [`measure_main`] wrote.
pub fn read_measured(path: &Path) -> io::Result<Measured> {
    let text = std::fs::read_to_string(path)?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(io::Error::other)?;
    let secs = |k: &str| Duration::from_secs_f64(v[k].as_f64().unwrap_or(0.0));
    Ok(Measured {
        wall: secs("wall"),
        user: secs("user"),
        sys: secs("sys"),
        max_rss: v["max_rss"].as_u64().unwrap_or(0),
        exit_code: v["exit_code"].as_i64().map(|c| c as i32),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_a_child() {
        let m = run_measured(Command::new("sh").args(["-c", "sleep 0.2; exit 3"])).unwrap();
        assert_eq!(m.exit_code, Some(3));
        assert!(m.wall >= Duration::from_millis(200), "{m:?}");
        assert!(m.max_rss > 0, "{m:?}");
    }

    #[test]
    fn reads_process_cpu() {
        let before = process_cpu(std::process::id()).unwrap();
        let mut x = 0u64;
        for i in 0..50_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        std::hint::black_box(x);
        assert!(process_cpu(std::process::id()).unwrap() >= before);
    }
}
