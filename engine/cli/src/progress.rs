//! Progress: bars on a terminal, a line per thousand objects otherwise, and the plan on a
//! dry run.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressState, ProgressStyle};
use liberator_engine::{ExportProgress, ObjectOutcome, Report};
use liberator_telemetry::{errln, outln, pipe};

use crate::output::{rate, thousands};

/// Progress bars on a terminal; periodic lines otherwise; the plan on a dry run.
pub struct CliProgress {
    bars: Option<(MultiProgress, ProgressBar, ProgressBar)>,
    exports: Option<ProgressBar>,
    dry_run: bool,
    done: AtomicU64,
    started: Instant,
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .expect("a valid progress template")
        // `6,612 objects/s`, not indicatif's `6611.5642/s`.
        .with_key(
            "rate",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = w.write_str(&rate(state.per_sec(), "objects"));
            },
        )
}

impl CliProgress {
    /// `exports`: the number of exports a backfill lands (a bar of its own).
    pub fn new(dry_run: bool, exports: Option<u64>) -> Arc<Self> {
        let mut exports_bar = None;
        let bars = std::io::stderr().is_terminal().then(|| {
            let multi = MultiProgress::new();
            if let Some(n) = exports {
                let e = multi.add(ProgressBar::new(n));
                e.set_style(style("exports {pos}/{len} {wide_bar}"));
                e.tick();
                exports_bar = Some(e);
            }
            let objects = multi.add(ProgressBar::new(0));
            objects.set_style(style("objects {pos}/{len} {wide_bar} {rate} eta {eta}"));
            let bytes = multi.add(ProgressBar::new(0));
            bytes.set_style(style(
                "bytes   {bytes}/{total_bytes} {wide_bar} {bytes_per_sec}",
            ));
            objects.enable_steady_tick(Duration::from_millis(200));
            (multi, objects, bytes)
        });
        Arc::new(CliProgress {
            bars,
            exports: exports_bar,
            dry_run,
            done: AtomicU64::new(0),
            started: Instant::now(),
        })
    }

    /// One export of a backfill finished: its summary above the bars, or on stderr.
    pub fn export_done(&self, report: &Report) {
        match &self.exports {
            Some(bar) => {
                bar.inc(1);
                bar.println(report.to_string());
            }
            None => pipe::eprint(format_args!("{report}")),
        }
    }
}

impl ExportProgress for CliProgress {
    fn listed(&self, n: u64, bytes: u64) {
        if let Some((_, objects, b)) = &self.bars {
            objects.inc_length(n);
            b.inc_length(bytes);
        }
    }

    fn object(&self, source_key: &str, target_key: &str, size: u64, outcome: &ObjectOutcome) {
        if let Some((_, objects, bytes)) = &self.bars {
            objects.inc(1);
            bytes.inc(size);
        } else {
            let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
            if done.is_multiple_of(1000) {
                let secs = self.started.elapsed().as_secs_f64().max(1e-9);
                errln!(
                    "progress: {} objects done ({})",
                    thousands(done),
                    rate(done as f64 / secs, "objects")
                );
            }
        }
        if self.dry_run
            && let ObjectOutcome::Planned(plan) = outcome
        {
            outln!("{source_key} -> {target_key} ({size} bytes, {plan:?})");
        }
    }
}

/// An S3 Batch Operations job's progress: a bar of tasks (succeeded and failed against the
/// total, with the rate) on a terminal, a log line per change otherwise.
pub struct JobProgress {
    bar: Option<ProgressBar>,
    last: std::sync::Mutex<(String, u64, u64)>,
}

impl JobProgress {
    pub fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(style(
                "tasks {pos}/{len} {wide_bar} {per_sec} eta {eta} {msg}",
            ));
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        JobProgress {
            bar,
            last: std::sync::Mutex::new((String::new(), u64::MAX, u64::MAX)),
        }
    }

    /// The job's state as DescribeJob gave it: `done` = succeeded + failed of `total`.
    pub fn update(
        &self,
        job_id: &str,
        status: &str,
        succeeded: u64,
        failed: u64,
        total: Option<u64>,
    ) {
        match &self.bar {
            Some(bar) => {
                if let Some(t) = total {
                    bar.set_length(t);
                }
                bar.set_position(succeeded + failed);
                bar.set_message(format!("{status}, {failed} failed"));
            }
            None => {
                let mut last = self.last.lock().expect("not poisoned");
                if *last != (status.to_string(), succeeded, failed) {
                    *last = (status.to_string(), succeeded, failed);
                    let total = total.map_or_else(|| "?".to_string(), |t| t.to_string());
                    errln!(
                        "job {job_id}: {status}, {succeeded} succeeded, {failed} failed of {total} task(s)"
                    );
                }
            }
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}

impl Default for JobProgress {
    fn default() -> Self {
        Self::new()
    }
}
