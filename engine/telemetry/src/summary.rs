//! An in-memory `metrics` recorder whose contents render as a short text summary: what the
//! CLI prints on stderr at the end of a run, so the engine's counters and histograms are
//! seen somewhere other than in a Lambda's EMF.
//!
//! Histograms keep a count, sum, min and max exactly, and quantiles from log-scale buckets
//! (eight per power of two: within about 9 % of the true value) in bounded memory.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use metrics::{
    Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};

use crate::Error;

/// Buckets per power of two.
const BUCKETS_PER_OCTAVE: f64 = 8.0;

#[derive(Debug, Default)]
struct HistogramState {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    /// Bucket index (`floor(log2(v) × 8)`) → values; zero and negative values in `zeros`.
    buckets: BTreeMap<i32, u64>,
    zeros: u64,
}

/// One histogram's numbers.
#[derive(Debug, Default)]
struct Hist(Mutex<HistogramState>);

impl HistogramFn for Hist {
    fn record(&self, value: f64) {
        if value.is_nan() {
            return;
        }
        let mut s = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if s.count == 0 {
            (s.min, s.max) = (value, value);
        }
        s.count += 1;
        s.sum += value;
        s.min = s.min.min(value);
        s.max = s.max.max(value);
        if value > 0.0 {
            let bucket = (value.log2() * BUCKETS_PER_OCTAVE).floor() as i32;
            *s.buckets.entry(bucket).or_default() += 1;
        } else {
            s.zeros += 1;
        }
    }
}

impl HistogramState {
    /// The `q` quantile (0–1), as the geometric middle of its bucket, clamped to [min, max].
    fn quantile(&self, q: f64) -> f64 {
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count.max(1));
        if rank <= self.zeros {
            return self.min.min(0.0);
        }
        let mut seen = self.zeros;
        for (bucket, n) in &self.buckets {
            seen += n;
            if seen >= rank {
                let mid = 2f64.powf((*bucket as f64 + 0.5) / BUCKETS_PER_OCTAVE);
                return mid.clamp(self.min, self.max);
            }
        }
        self.max
    }
}

#[derive(Debug, Default)]
struct Registry {
    counters: BTreeMap<String, Arc<AtomicU64>>,
    gauges: BTreeMap<String, Arc<AtomicU64>>,
    histograms: BTreeMap<String, Arc<Hist>>,
    units: BTreeMap<String, Unit>,
}

/// The recorder and its handle: clones share one set of metrics.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    registry: Arc<Mutex<Registry>>,
}

/// `name{label=value,…}`, labels in the order given.
fn render_key(key: &Key) -> String {
    let mut s = key.name().to_string();
    let labels: Vec<String> = key
        .labels()
        .map(|l| format!("{}={}", l.key(), l.value()))
        .collect();
    if !labels.is_empty() {
        let _ = write!(s, "{{{}}}", labels.join(","));
    }
    s
}

impl Summary {
    /// A recorder of its own, for tests (`metrics::with_local_recorder`).
    pub fn new() -> Self {
        Summary::default()
    }

    /// Installs a new summary as the process-wide recorder and returns its handle.
    pub fn install() -> Result<Summary, Error> {
        let summary = Summary::new();
        metrics::set_global_recorder(summary.clone())
            .map_err(|e| Error::RecorderInstalled(e.to_string()))?;
        Ok(summary)
    }

    fn registry(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A counter's value (`name{label=value}` for labelled ones), if it was registered.
    pub fn counter(&self, rendered_key: &str) -> Option<u64> {
        self.registry()
            .counters
            .get(rendered_key)
            .map(|c| c.load(Ordering::Relaxed))
    }

    /// A histogram's number of values, if it was registered.
    pub fn histogram_count(&self, rendered_key: &str) -> Option<u64> {
        let h = self.registry().histograms.get(rendered_key).cloned()?;
        let n = h.0.lock().unwrap_or_else(PoisonError::into_inner).count;
        Some(n)
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        let r = self.registry();
        r.counters.is_empty() && r.gauges.is_empty() && r.histograms.is_empty()
    }

    /// The summary: a `metrics:` line, then one line per metric, sorted by name:
    /// counters and gauges with their value, histograms with
    /// `count N mean M p50 P p99 P max M`, seconds shown as such.
    pub fn render(&self) -> String {
        let r = self.registry();
        let mut lines: Vec<(String, String)> = Vec::new();
        for (k, c) in &r.counters {
            lines.push((k.clone(), c.load(Ordering::Relaxed).to_string()));
        }
        for (k, g) in &r.gauges {
            lines.push((k.clone(), num(f64::from_bits(g.load(Ordering::Relaxed)))));
        }
        for (k, h) in &r.histograms {
            let s = h.0.lock().unwrap_or_else(PoisonError::into_inner);
            let name = k.split('{').next().unwrap_or(k);
            let seconds =
                matches!(r.units.get(name), Some(Unit::Seconds)) || name.ends_with("_seconds");
            let v = |x: f64| {
                if seconds {
                    format!("{}s", num(x))
                } else {
                    num(x)
                }
            };
            let mean = if s.count == 0 {
                0.0
            } else {
                s.sum / s.count as f64
            };
            lines.push((
                k.clone(),
                format!(
                    "count {} mean {} p50 {} p99 {} max {}",
                    s.count,
                    v(mean),
                    v(s.quantile(0.5)),
                    v(s.quantile(0.99)),
                    v(s.max)
                ),
            ));
        }
        lines.sort();
        let width = lines.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let mut out = String::from("metrics:\n");
        for (k, v) in lines {
            let _ = writeln!(out, "  {k:<width$}  {v}");
        }
        out
    }
}

/// A number as short as it reads well: integers without decimals, else 3 significant digits.
fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

impl Recorder for Summary {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        if let Some(unit) = unit {
            self.registry().units.insert(key.as_str().to_string(), unit);
        }
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        let c = self
            .registry()
            .counters
            .entry(render_key(key))
            .or_default()
            .clone();
        Counter::from_arc(c)
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        let g = self
            .registry()
            .gauges
            .entry(render_key(key))
            .or_default()
            .clone();
        Gauge::from_arc(g)
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        let h = self
            .registry()
            .histograms
            .entry(render_key(key))
            .or_default()
            .clone();
        Histogram::from_arc(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_gauges_and_histograms_render_sorted() {
        let summary = Summary::new();
        metrics::with_local_recorder(&summary, || {
            metrics::counter!("b_total").increment(2);
            metrics::counter!("b_total").increment(3);
            metrics::counter!("a_total", "op" => "copy").increment(1);
            metrics::gauge!("limit").set(64.0);
            for v in 1..=100 {
                metrics::histogram!("object_seconds").record(v as f64 / 100.0);
            }
        });
        assert_eq!(summary.counter("b_total"), Some(5));
        assert_eq!(summary.counter("a_total{op=copy}"), Some(1));
        assert_eq!(summary.histogram_count("object_seconds"), Some(100));
        let text = summary.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "metrics:");
        assert!(
            lines[1].starts_with("  a_total{op=copy}") && lines[1].ends_with(" 1"),
            "{text}"
        );
        assert!(
            lines[2].starts_with("  b_total") && lines[2].ends_with(" 5"),
            "{text}"
        );
        assert!(
            lines[3].contains("limit") && lines[3].ends_with(" 64"),
            "{text}"
        );
        assert!(
            lines[4].contains("object_seconds") && lines[4].contains("count 100 mean 0.505s"),
            "{text}"
        );
        assert!(lines[4].ends_with("max 1s"), "{text}");
    }

    #[test]
    fn quantiles_are_within_a_bucket() {
        let h = Hist::default();
        for v in 1..=1000 {
            h.record(v as f64);
        }
        let s = h.0.lock().unwrap();
        let (p50, p99) = (s.quantile(0.5), s.quantile(0.99));
        assert!((p50 - 500.0).abs() / 500.0 < 0.1, "p50 {p50}");
        assert!((p99 - 990.0).abs() / 990.0 < 0.1, "p99 {p99}");
        let p100 = s.quantile(1.0);
        assert!(
            (p100 - 1000.0).abs() / 1000.0 < 0.1 && p100 <= 1000.0,
            "p100 {p100}"
        );
        let p0 = s.quantile(0.0001);
        assert!((1.0..1.1).contains(&p0), "p0 {p0}");
    }

    #[test]
    fn empty_until_something_is_recorded() {
        let summary = Summary::new();
        assert!(summary.is_empty());
        assert_eq!(summary.render(), "metrics:\n");
        assert_eq!(summary.histogram_count("x"), None);
    }
}
