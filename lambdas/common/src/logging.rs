//! JSON logs for CloudWatch Logs Insights, through the one logging set-up every liberator
//! binary uses (`liberator-telemetry`).
//!
//! Each line carries the fields of every enclosing span, so the `export_id` recorded on
//! the handler's span appears on every line logged while handling that export, the
//! engine's own lines included.

use liberator_telemetry::{LogConfig, LogFormat};

/// Installs the JSON subscriber (level from `RUST_LOG`, default `info`). Safe to call twice.
pub fn init() {
    let config = LogConfig {
        format: LogFormat::Json,
        ..LogConfig::default()
    };
    let _ = liberator_telemetry::init(&config);
}
