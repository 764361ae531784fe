//! The recorder's documents, checked against the EMF rules they rely on.

use super::*;

fn documents(emf: &EmfRecorder) -> Vec<Value> {
    let mut out = Vec::new();
    emf.flush(&mut out).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn counters_gauges_and_histograms_become_one_document_per_label_set() {
    let emf = EmfRecorder::new("export-copier");
    emf.set_property("export_id", "e1");
    metrics::with_local_recorder(&emf, || {
        metrics::counter!("liberator_objects_copied_total").increment(3);
        metrics::counter!("liberator_bytes_copied_total").increment(10);
        metrics::gauge!("liberator_concurrency_limit").set(8.0);
        metrics::histogram!("liberator_object_seconds").record(0.5);
        metrics::histogram!("liberator_object_seconds").record(1.5);
        metrics::counter!("liberator_request_retries_total", "op" => "CopyObject").increment(2);
    });
    let docs = documents(&emf);
    assert_eq!(docs.len(), 2, "{docs:?}");
    let plain = &docs[0];
    assert_eq!(plain["Function"], "export-copier");
    assert_eq!(plain["export_id"], "e1");
    assert_eq!(plain["liberator_objects_copied_total"], 3);
    assert_eq!(plain["liberator_object_seconds"], json!([0.5, 1.5]));
    let cw = &plain["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(cw["Namespace"], NAMESPACE);
    assert_eq!(cw["Dimensions"], json!([["Function"]]));
    let defs = cw["Metrics"].as_array().unwrap();
    assert!(defs.contains(&json!({"Name": "liberator_bytes_copied_total", "Unit": "Bytes"})));
    assert!(defs.contains(&json!({"Name": "liberator_object_seconds", "Unit": "Seconds"})));
    assert!(defs.contains(&json!({"Name": "liberator_concurrency_limit"})));
    let retries = &docs[1];
    assert_eq!(retries["op"], "CopyObject");
    assert_eq!(
        retries["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["Function", "op"]])
    );
    assert_eq!(retries["liberator_request_retries_total"], 2);
}

#[test]
fn a_flush_sends_increments_only_once() {
    let emf = EmfRecorder::new("f");
    metrics::with_local_recorder(&emf, || {
        metrics::counter!("c_total").increment(1);
    });
    assert_eq!(documents(&emf).len(), 1);
    assert!(documents(&emf).is_empty(), "nothing new, nothing written");
}

#[test]
fn many_histogram_values_are_split_into_documents_of_100() {
    let emf = EmfRecorder::new("f");
    metrics::with_local_recorder(&emf, || {
        metrics::counter!("c_total").increment(1);
        for i in 0..250 {
            metrics::histogram!("h_seconds").record(f64::from(i));
        }
    });
    let docs = documents(&emf);
    assert_eq!(docs.len(), 3);
    let lens: Vec<usize> = docs
        .iter()
        .map(|d| d["h_seconds"].as_array().unwrap().len())
        .collect();
    assert_eq!(lens, [100, 100, 50]);
    assert_eq!(docs[0]["c_total"], 1);
    assert!(docs[1].get("c_total").is_none());
}

#[test]
fn described_units_win_over_the_name() {
    let emf = EmfRecorder::new("f");
    metrics::with_local_recorder(&emf, || {
        metrics::describe_histogram!("wait", Unit::Milliseconds, "waits");
        metrics::histogram!("wait").record(3.0);
    });
    let docs = documents(&emf);
    assert_eq!(
        docs[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"][0],
        json!({"Name": "wait", "Unit": "Milliseconds"})
    );
}
