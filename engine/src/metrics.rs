//! Metric names, in one place so dashboards and alarms have one list to follow.
//!
//! Recorded through the `metrics` facade: the CLI prints a summary of them on stderr; the
//! Lambdas render them in CloudWatch Embedded Metric Format.

/// Objects seen by the listing (counter).
pub const OBJECTS_LISTED: &str = "liberator_objects_listed_total";
/// Objects copied (counter).
pub const OBJECTS_COPIED: &str = "liberator_objects_copied_total";
/// Objects already at the target and skipped (counter).
pub const OBJECTS_SKIPPED: &str = "liberator_objects_skipped_total";
/// Objects that failed (counter).
pub const OBJECTS_FAILED: &str = "liberator_objects_failed_total";
/// Non-Parquet objects counted but not copied (counter).
pub const OBJECTS_NON_PARQUET: &str = "liberator_objects_non_parquet_total";
/// Bytes copied server-side (counter).
pub const BYTES_COPIED: &str = "liberator_bytes_copied_total";
/// Requests retried (counter, label `op`).
pub const REQUEST_RETRIES: &str = "liberator_request_retries_total";
/// Throttling responses (`SlowDown`, 503, 429) seen (counter).
pub const THROTTLES: &str = "liberator_throttles_total";
/// Current concurrency limit of the adaptive limiter (gauge).
pub const CONCURRENCY_LIMIT: &str = "liberator_concurrency_limit";
/// Seconds per object, from first request to verified copy (histogram).
pub const OBJECT_SECONDS: &str = "liberator_object_seconds";
/// Tables of the last export checked that did not land whole (gauge): the alarm on a
/// partial day watches it.
pub const TABLES_INCOMPLETE: &str = "liberator_tables_incomplete";
/// Seconds per export (histogram).
pub const EXPORT_SECONDS: &str = "liberator_export_seconds";
/// Columns changed since the previous import date landed on the target (counter, label
/// `kind`: `added`, `removed`, `retyped`, `nullability`): an alarm on breaking changes
/// watches `removed` and `retyped`.
pub const SCHEMA_CHANGES: &str = "liberator_schema_changes_total";
