//! Lambda cold starts through a runtime API emulator (`lambda_start` binary, see
//! `benches/LAMBDA.md`): each function's zip, unpacked, started as Lambda starts a
//! `provided.al2023` function, with one real event against moto; process start → first
//! `/next` (init) and → the event's response (first event), peak RSS and CPU, over N cold
//! starts per build, builds interleaved so that a busy machine weighs on each alike.

pub mod emulator;
pub mod functions;
pub mod process;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};

pub use functions::{Fixture, Function};
pub use process::{Sample, cold_start};

/// One build of both Lambdas: a label (`before`, `after`) and the folder holding
/// `<package>/bootstrap.zip` (cargo lambda's `--lambda-dir` layout).
#[derive(Debug, Clone)]
pub struct Build {
    pub label: String,
    pub dir: PathBuf,
}

/// One function of one build, unpacked.
#[derive(Debug, Clone)]
pub struct Unpacked {
    pub function: Function,
    pub build: String,
    pub zip_bytes: u64,
    pub bootstrap: PathBuf,
    pub bootstrap_bytes: u64,
}

impl Build {
    /// Unzips `<dir>/<package>/bootstrap.zip` under `into/<label>/<package>/`.
    pub fn unpack(&self, function: Function, into: &Path) -> Result<Unpacked> {
        let zip = self.dir.join(function.package()).join("bootstrap.zip");
        let zip_bytes = std::fs::metadata(&zip)
            .with_context(|| {
                format!(
                    "{}: build the zips first (benches/LAMBDA.md)",
                    zip.display()
                )
            })?
            .len();
        let dest = into.join(&self.label).join(function.package());
        std::fs::create_dir_all(&dest)?;
        let status = Command::new("unzip")
            .args(["-o", "-q"])
            .arg(&zip)
            .arg("-d")
            .arg(&dest)
            .status()
            .context("running unzip")?;
        if !status.success() {
            bail!("unzip {} failed: {status}", zip.display());
        }
        let bootstrap = dest.join("bootstrap");
        let bootstrap_bytes = std::fs::metadata(&bootstrap)
            .with_context(|| format!("{} holds no bootstrap", zip.display()))?
            .len();
        Ok(Unpacked {
            function,
            build: self.label.clone(),
            zip_bytes,
            bootstrap,
            bootstrap_bytes,
        })
    }
}

/// Every cold start of one function of one build.
#[derive(Debug, Clone)]
pub struct Row {
    pub unpacked: Unpacked,
    pub samples: Vec<Sample>,
}

/// Median, min and max.
#[derive(Debug, Clone, Copy)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(mut values: Vec<f64>) -> Spread {
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let median = match n {
            0 => f64::NAN,
            _ if n % 2 == 1 => values[n / 2],
            _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
        };
        Spread {
            median,
            min: values.first().copied().unwrap_or(f64::NAN),
            max: values.last().copied().unwrap_or(f64::NAN),
        }
    }

    fn cell(&self, decimals: usize) -> String {
        format!(
            "{:.d$} ({:.d$}–{:.d$})",
            self.median,
            self.min,
            self.max,
            d = decimals
        )
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

const MIB: f64 = 1024.0 * 1024.0;

impl Row {
    fn spread(&self, f: impl Fn(&Sample) -> f64) -> Spread {
        Spread::of(self.samples.iter().map(f).collect())
    }
    pub fn init_ms(&self) -> Spread {
        self.spread(|s| ms(s.init))
    }
    pub fn first_event_ms(&self) -> Spread {
        self.spread(|s| ms(s.first_event))
    }
    /// First `/next` → response: the handler's own work (moto's answers included).
    pub fn handle_ms(&self) -> Spread {
        self.spread(|s| ms(s.first_event - s.init))
    }
    pub fn rss_mib(&self) -> Spread {
        self.spread(|s| s.peak_rss as f64 / MIB)
    }
    pub fn cpu_ms(&self) -> Spread {
        self.spread(|s| ms(s.cpu))
    }
    pub fn init_cpu_ms(&self) -> Spread {
        self.spread(|s| ms(s.init_cpu))
    }
    fn name(&self) -> String {
        format!(
            "{} ({})",
            self.unpacked.function.package(),
            self.unpacked.build
        )
    }
}

/// The markdown table: medians with (min–max) over the cold starts.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| lambda | zip bytes | zip KiB | bootstrap KiB | init ms | init CPU ms | first event ms | handler ms | peak RSS MiB | CPU ms | runs |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let u = &r.unpacked;
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.0} | {} | {} | {} | {} | {} | {} | {} |",
            r.name(),
            u.zip_bytes,
            u.zip_bytes as f64 / 1024.0,
            u.bootstrap_bytes as f64 / 1024.0,
            r.init_ms().cell(2),
            r.init_cpu_ms().cell(2),
            r.first_event_ms().cell(1),
            r.handle_ms().cell(1),
            r.rss_mib().cell(1),
            r.cpu_ms().cell(1),
            r.samples.len()
        );
    }
    out
}

/// The CSV: one line per function and build, medians.
pub fn csv(rows: &[Row]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for r in rows {
        let _ = writeln!(
            out,
            "{},{:.0},{:.2},{:.1},{:.1}",
            r.name(),
            r.unpacked.zip_bytes as f64 / 1024.0,
            r.init_ms().median,
            r.first_event_ms().median,
            r.rss_mib().median
        );
    }
    out
}

/// Header of [`csv`].
pub const CSV_HEADER: &str = "lambda,zip KiB,init ms (median),first event ms (median),peak RSS MiB";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_takes_the_middle() {
        let s = Spread::of(vec![3.0, 1.0, 2.0]);
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(Spread::of(vec![4.0, 1.0, 2.0, 3.0]).median, 2.5);
    }
}
