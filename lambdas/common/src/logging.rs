//! JSON logs for CloudWatch Logs Insights.
//!
//! Each line carries the fields of every enclosing span, so the `export_id` recorded on
//! the handler's span appears on every line logged while handling that export, the
//! engine's own lines included.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber (level from `RUST_LOG`, default `info`). Safe to call twice.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(true)
        .with_target(false)
        .with_ansi(false)
        .try_init();
}
