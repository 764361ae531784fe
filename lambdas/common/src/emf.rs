//! A `metrics` recorder that writes CloudWatch Embedded Metric Format (EMF): every metric
//! recorded through the `metrics` facade (the engine's counters and histograms, the
//! Lambdas' own) becomes JSON lines on stdout, which CloudWatch Logs turns into metrics in
//! the [`NAMESPACE`] namespace, with no agent and no PutMetricData permission.
//!
//! Format: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>
//! (one document per set of labels; at most 100 metrics per directive and 100 values per
//! metric in one document, at most 30 dimensions).
//!
//! Why not `metrics_cloudwatch_embedded` (0.10, metrics 0.24): it keeps at most 100
//! histogram values between flushes and drops the rest, logging an error per value. The
//! copier records one `liberator_object_seconds` value per object, thousands per
//! invocation, so it would lose most of them and flood the log; its Lambda integration also
//! brings in `lambda_http`. This recorder keeps every value up to [`MAX_VALUES_PER_FLUSH`]
//! and writes them in documents of 100.
//!
//! ```
//! use liberator_lambda_common::emf::EmfRecorder;
//!
//! let emf = EmfRecorder::new("export-copier");
//! metrics::with_local_recorder(&emf, || {
//!     metrics::counter!("liberator_objects_copied_total").increment(3);
//! });
//! let mut out = Vec::new();
//! emf.flush(&mut out).unwrap();
//! assert!(String::from_utf8(out).unwrap().contains("\"liberator_objects_copied_total\":3"));
//! ```

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use serde_json::{Map, Value, json};

/// Namespace of every metric the Lambdas emit.
pub const NAMESPACE: &str = "Liberator";

/// Name of the dimension every document carries (the function's name).
pub const FUNCTION_DIMENSION: &str = "Function";

/// Values one EMF document may carry per metric.
pub const VALUES_PER_DOCUMENT: usize = 100;

/// Histogram values kept per metric between two flushes (100 documents' worth); values past
/// it are counted and reported in one warning at the next flush, so a runaway histogram
/// cannot exhaust the function's memory.
pub const MAX_VALUES_PER_FLUSH: usize = 100 * VALUES_PER_DOCUMENT;

/// The recorder installed by [`EmfRecorder::install`], for [`set_property`].
static INSTALLED: OnceLock<EmfRecorder> = OnceLock::new();

/// The CloudWatch EMF recorder. Cloning shares the recorded values.
#[derive(Debug, Clone)]
pub struct EmfRecorder {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    namespace: String,
    function: String,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Label set (sorted) → metric name → slot.
    metrics: BTreeMap<Vec<(String, String)>, BTreeMap<String, Slot>>,
    /// Units given by `describe_*`; see [`unit_of`] for the fallback.
    units: HashMap<String, Unit>,
    /// Extra top-level members (searchable in Logs Insights, not metrics).
    properties: BTreeMap<String, Value>,
}

#[derive(Debug, Clone)]
enum Slot {
    Counter(Arc<AtomicU64>),
    /// `f64` bits, as `metrics` implements `GaugeFn` for `AtomicU64`.
    Gauge(Arc<AtomicU64>),
    Histogram(Arc<Values>),
}

/// A histogram's values since the last flush.
#[derive(Debug, Default)]
struct Values {
    values: Mutex<Vec<f64>>,
    dropped: AtomicU64,
}

impl metrics::HistogramFn for Values {
    fn record(&self, value: f64) {
        let mut values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        if values.len() < MAX_VALUES_PER_FLUSH {
            values.push(value);
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl EmfRecorder {
    /// A recorder for `function` (the `Function` dimension of every document), in the
    /// [`NAMESPACE`] namespace.
    pub fn new(function: impl Into<String>) -> Self {
        EmfRecorder {
            inner: Arc::new(Inner {
                namespace: NAMESPACE.to_string(),
                function: function.into(),
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// Installs this recorder as the process's `metrics` recorder. Fails when one is
    /// installed already.
    pub fn install(&self) -> Result<(), crate::Error> {
        metrics::set_global_recorder(self.clone()).map_err(|e| crate::Error::Metrics {
            reason: e.to_string(),
        })?;
        let _ = INSTALLED.set(self.clone());
        Ok(())
    }

    /// Sets a property written with every following document (until [`Self::clear_properties`]).
    pub fn set_property(&self, name: impl Into<String>, value: impl Into<Value>) {
        self.state().properties.insert(name.into(), value.into());
    }

    /// Removes every property (at the end of an invocation).
    pub fn clear_properties(&self) {
        self.state().properties.clear();
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes what was recorded since the last flush as EMF documents, one per line:
    /// counters' increments, gauges' current values, histograms' values. Metrics with
    /// nothing new are left out; nothing at all writes nothing.
    pub fn flush(&self, mut out: impl Write) -> std::io::Result<()> {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        let mut lines = String::new();
        let mut dropped = Vec::new();
        {
            let state = self.state();
            for (labels, metrics) in &state.metrics {
                let mut scalars = Vec::new();
                let mut histograms = Vec::new();
                for (name, slot) in metrics {
                    let unit = state.units.get(name).copied().or_else(|| unit_of(name));
                    match slot {
                        Slot::Counter(c) => match c.swap(0, Ordering::Relaxed) {
                            0 => {}
                            n => scalars.push((name.as_str(), unit, json!(n))),
                        },
                        Slot::Gauge(g) => {
                            let v = f64::from_bits(g.load(Ordering::Relaxed));
                            scalars.push((name.as_str(), unit, json!(v)));
                        }
                        Slot::Histogram(h) => {
                            let values = std::mem::take(
                                &mut *h.values.lock().unwrap_or_else(|p| p.into_inner()),
                            );
                            let lost = h.dropped.swap(0, Ordering::Relaxed);
                            if lost > 0 {
                                dropped.push((name.clone(), lost));
                            }
                            if !values.is_empty() {
                                histograms.push((name.as_str(), unit, values));
                            }
                        }
                    }
                }
                // The first document carries the scalars and the first 100 values of each
                // histogram; further documents carry the remaining values, 100 at a time.
                let chunks = histograms
                    .iter()
                    .map(|(_, _, v)| v.len().div_ceil(VALUES_PER_DOCUMENT))
                    .max()
                    .unwrap_or(0)
                    .max(usize::from(!scalars.is_empty()));
                for i in 0..chunks {
                    let mut members: Vec<(&str, Option<Unit>, Value)> = Vec::new();
                    if i == 0 {
                        members.extend(scalars.iter().cloned());
                    }
                    for (name, unit, values) in &histograms {
                        let from = i * VALUES_PER_DOCUMENT;
                        if from < values.len() {
                            let to = (from + VALUES_PER_DOCUMENT).min(values.len());
                            members.push((name, *unit, json!(values[from..to])));
                        }
                    }
                    let doc = self.document(timestamp, labels, &members, &state.properties);
                    lines.push_str(&doc.to_string());
                    lines.push('\n');
                }
            }
        }
        for (name, lost) in dropped {
            tracing::warn!(
                metric = name,
                lost,
                kept = MAX_VALUES_PER_FLUSH,
                "histogram values past the per-flush limit were not emitted"
            );
        }
        out.write_all(lines.as_bytes())?;
        out.flush()
    }

    /// Flushes to stdout, where the Lambda agent picks the documents up; a failed write is
    /// logged, never fatal.
    pub fn flush_stdout(&self) {
        if let Err(e) = self.flush(std::io::stdout().lock()) {
            tracing::warn!(error = %e, "could not write metrics to stdout");
        }
    }

    /// Runs one invocation's handler with `request_id` as a property, then writes its
    /// metrics to stdout (before the runtime answers, so they land in that invocation's
    /// log stream) and clears the properties for the next one.
    pub async fn invocation<F: std::future::Future>(
        &self,
        request_id: &str,
        handler: F,
    ) -> F::Output {
        self.set_property("request_id", request_id);
        let out = handler.await;
        self.flush_stdout();
        self.clear_properties();
        out
    }

    /// Flushes to stdout every `every` from now on (a long invocation's metrics then reach
    /// CloudWatch as it runs, and histograms stay far below [`MAX_VALUES_PER_FLUSH`]).
    /// While Lambda freezes the environment between invocations, the task sleeps with it.
    pub fn spawn_periodic_flush(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let emf = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            tick.tick().await; // the first tick is immediate
            loop {
                tick.tick().await;
                emf.flush_stdout();
            }
        })
    }

    /// One EMF document: the `_aws` metadata, the dimensions (`Function` and the labels),
    /// the metric members and the properties.
    fn document(
        &self,
        timestamp: u64,
        labels: &[(String, String)],
        members: &[(&str, Option<Unit>, Value)],
        properties: &BTreeMap<String, Value>,
    ) -> Value {
        let mut root = Map::new();
        for (name, value) in properties {
            root.insert(name.clone(), value.clone());
        }
        let mut dimensions = vec![FUNCTION_DIMENSION];
        root.insert(FUNCTION_DIMENSION.into(), json!(self.inner.function));
        for (name, value) in labels {
            dimensions.push(name);
            root.insert(name.clone(), json!(value));
        }
        let mut definitions = Vec::new();
        for (name, unit, value) in members {
            root.insert((*name).to_string(), value.clone());
            definitions.push(match unit.and_then(cloudwatch_unit) {
                Some(u) => json!({"Name": name, "Unit": u}),
                None => json!({"Name": name}),
            });
        }
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp,
                "CloudWatchMetrics": [{
                    "Namespace": self.inner.namespace,
                    "Dimensions": [dimensions],
                    "Metrics": definitions,
                }],
            }),
        );
        Value::Object(root)
    }

    fn register(&self, key: &Key, make: impl FnOnce() -> Slot) -> Slot {
        let mut labels: Vec<(String, String)> = key
            .labels()
            .map(|l| (l.key().to_string(), l.value().to_string()))
            .collect();
        labels.sort();
        // EMF allows 30 dimensions; ours are `Function` plus the labels.
        labels.truncate(29);
        let mut state = self.state();
        state
            .metrics
            .entry(labels)
            .or_default()
            .entry(key.name().to_string())
            .or_insert_with(make)
            .clone()
    }
}

/// A metric's unit when none was described: by the Prometheus-style name the engine uses
/// (`…_seconds`, `…bytes…`, `…_total`).
fn unit_of(name: &str) -> Option<Unit> {
    if name.ends_with("_seconds") {
        Some(Unit::Seconds)
    } else if name.contains("bytes") {
        Some(Unit::Bytes)
    } else if name.ends_with("_total") {
        Some(Unit::Count)
    } else {
        None
    }
}

/// The CloudWatch name of a unit (`MetricDatum.Unit`), where it has one.
/// <https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDatum.html>
fn cloudwatch_unit(unit: Unit) -> Option<&'static str> {
    Some(match unit {
        Unit::Count => "Count",
        Unit::Percent => "Percent",
        Unit::Seconds => "Seconds",
        Unit::Milliseconds => "Milliseconds",
        Unit::Microseconds => "Microseconds",
        Unit::Bytes => "Bytes",
        Unit::Kibibytes => "Kilobytes",
        Unit::Mebibytes => "Megabytes",
        Unit::Gibibytes => "Gigabytes",
        Unit::Tebibytes => "Terabytes",
        Unit::BitsPerSecond => "Bits/Second",
        Unit::CountPerSecond => "Count/Second",
        _ => return None,
    })
}

impl Recorder for EmfRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.describe(key, unit);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.describe(key, unit);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, _: SharedString) {
        self.describe(key, unit);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        match self.register(key, || Slot::Counter(Arc::default())) {
            Slot::Counter(c) => Counter::from_arc(c),
            _ => mismatch(key, "counter", Counter::noop()),
        }
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        match self.register(key, || Slot::Gauge(Arc::default())) {
            Slot::Gauge(g) => Gauge::from_arc(g),
            _ => mismatch(key, "gauge", Gauge::noop()),
        }
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        match self.register(key, || Slot::Histogram(Arc::default())) {
            Slot::Histogram(h) => Histogram::from_arc(h),
            _ => mismatch(key, "histogram", Histogram::noop()),
        }
    }
}

impl EmfRecorder {
    fn describe(&self, key: KeyName, unit: Option<Unit>) {
        if let Some(unit) = unit {
            self.state().units.insert(key.as_str().to_string(), unit);
        }
    }
}

/// A name registered as two kinds: the second registration records nothing.
fn mismatch<T>(key: &Key, kind: &str, noop: T) -> T {
    tracing::warn!(metric = %key.name(), kind, "metric already registered as another kind: not recorded");
    noop
}

/// Sets a property on the installed recorder's following documents (no-op when none is
/// installed, as in library tests).
pub fn set_property(name: impl Into<String>, value: impl Into<Value>) {
    if let Some(r) = INSTALLED.get() {
        r.set_property(name, value);
    }
}

#[cfg(test)]
mod tests;
