//! The engine's metrics reach CloudWatch: with the copier's EMF recorder installed (as its
//! binary installs it), a real landing writes the engine's counters and histograms as
//! Embedded Metric Format documents.

use std::sync::OnceLock;

use liberator_engine::metrics as names;
use liberator_lambda_common::emf::{EmfRecorder, NAMESPACE};

use super::*;

/// The process's recorder, installed once for this test binary. Other tests running at the
/// same time record into it too, so counts below are lower bounds.
fn recorder() -> &'static EmfRecorder {
    static EMF: OnceLock<EmfRecorder> = OnceLock::new();
    EMF.get_or_init(|| {
        let emf = EmfRecorder::new("export-copier");
        emf.install()
            .expect("the only metrics recorder of this test binary");
        emf
    })
}

/// The documents written by one flush, each checked against the EMF rules it relies on.
fn flush(emf: &EmfRecorder) -> Vec<Value> {
    let mut out = Vec::new();
    emf.flush(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let docs: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    for doc in &docs {
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], NAMESPACE, "{doc}");
        assert!(doc["_aws"]["Timestamp"].as_u64().unwrap() > 0, "{doc}");
        for dims in directive["Dimensions"].as_array().unwrap() {
            for dim in dims.as_array().unwrap() {
                assert!(
                    doc[dim.as_str().unwrap()].is_string(),
                    "dimension {dim}: {doc}"
                );
            }
        }
        for metric in directive["Metrics"].as_array().unwrap() {
            let value = &doc[metric["Name"].as_str().unwrap()];
            assert!(
                value.is_number() || value.as_array().is_some_and(|v| v.len() <= 100),
                "metric {metric}: {doc}"
            );
        }
        assert_eq!(doc["Function"], "export-copier");
    }
    docs
}

/// `(unit, values)` of one metric across the documents.
fn metric(docs: &[Value], name: &str) -> (Option<String>, Vec<f64>) {
    let mut unit = None;
    let mut values = Vec::new();
    for doc in docs {
        let defs = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
            .as_array()
            .unwrap();
        if let Some(def) = defs.iter().find(|d| d["Name"] == name) {
            unit = def["Unit"].as_str().map(str::to_string);
            match &doc[name] {
                Value::Array(a) => values.extend(a.iter().map(|v| v.as_f64().unwrap())),
                v => values.push(v.as_f64().unwrap()),
            }
        }
    }
    (unit, values)
}

#[tokio::test]
async fn a_landing_writes_the_engine_metrics_as_emf() {
    let emf = recorder();
    let f = Fixture::new(&unique_export_id()).await;
    flush(emf); // what came before this landing
    let out = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap();
    assert!(matches!(out, Answer::GlueStarted { .. }), "{out:?}");
    let docs = flush(emf);

    let (unit, copied) = metric(&docs, names::OBJECTS_COPIED);
    assert_eq!(unit.as_deref(), Some("Count"));
    assert!(
        copied.iter().sum::<f64>() >= f.parquet_files as f64,
        "{} objects landed, counter says {copied:?}: {docs:#?}",
        f.parquet_files
    );
    let (unit, seconds) = metric(&docs, names::OBJECT_SECONDS);
    assert_eq!(unit.as_deref(), Some("Seconds"));
    assert!(
        seconds.len() >= f.parquet_files && seconds.iter().all(|s| *s >= 0.0),
        "one value per object: {seconds:?}"
    );
    let (unit, bytes) = metric(&docs, names::BYTES_COPIED);
    assert_eq!(unit.as_deref(), Some("Bytes"));
    assert!(bytes.iter().sum::<f64>() > 0.0, "{bytes:?}");
    let (_, export_seconds) = metric(&docs, names::EXPORT_SECONDS);
    assert!(
        !export_seconds.is_empty(),
        "the export's duration: {docs:#?}"
    );
}
