//! CloudWatch Embedded Metric Format: one JSON line on stdout becomes metrics in the
//! `Liberator` namespace, with no agent and no PutMetricData permission.

use serde_json::{Map, Value, json};

/// Namespace of every metric the Lambdas emit.
pub const NAMESPACE: &str = "Liberator";

/// A metric unit understood by CloudWatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Bytes,
    Seconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Bytes => "Bytes",
            Unit::Seconds => "Seconds",
        }
    }
}

/// A metric: name, value, unit.
pub type Metric<'a> = (&'a str, f64, Unit);

/// One EMF document: `dimensions` (name, value), `metrics`, and `properties` (searchable
/// in Logs Insights, not metrics), at `timestamp_ms`.
pub fn document(
    dimensions: &[(&str, &str)],
    metrics: &[Metric<'_>],
    properties: &[(&str, Value)],
    timestamp_ms: i64,
) -> Value {
    let mut root = Map::new();
    for (name, value) in properties {
        root.insert((*name).to_string(), value.clone());
    }
    for (name, value) in dimensions {
        root.insert((*name).to_string(), Value::String((*value).to_string()));
    }
    for (name, value, _) in metrics {
        root.insert((*name).to_string(), json!(value));
    }
    let dims: Vec<&str> = dimensions.iter().map(|(n, _)| *n).collect();
    let defs: Vec<Value> = metrics
        .iter()
        .map(|(name, _, unit)| json!({"Name": name, "Unit": unit.as_str()}))
        .collect();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [dims], "Metrics": defs}],
        }),
    );
    Value::Object(root)
}

/// Prints one EMF document as a single stdout line (where the Lambda agent picks it up).
pub fn emit(dimensions: &[(&str, &str)], metrics: &[Metric<'_>], properties: &[(&str, Value)]) {
    let doc = document(
        dimensions,
        metrics,
        properties,
        chrono::Utc::now().timestamp_millis(),
    );
    println!("{doc}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_declares_every_metric_and_dimension() {
        let doc = document(
            &[("Function", "export-copier")],
            &[
                ("ObjectsCopied", 3.0, Unit::Count),
                ("BytesCopied", 10.0, Unit::Bytes),
            ],
            &[("export_id", json!("e1"))],
            42,
        );
        assert_eq!(doc["Function"], "export-copier");
        assert_eq!(doc["ObjectsCopied"], 3.0);
        assert_eq!(doc["_aws"]["Timestamp"], 42);
        assert_eq!(doc["export_id"], "e1");
        let cw = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], NAMESPACE);
        assert_eq!(cw["Dimensions"], json!([["Function"]]));
        assert_eq!(
            cw["Metrics"][1],
            json!({"Name": "BytesCopied", "Unit": "Bytes"})
        );
    }
}
