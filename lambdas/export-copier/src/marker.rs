//! The exactly-once marker: one small object per export under `_liberator/` in the landing
//! bucket, outside every table folder, so Glue jobs reading `<prefix>/<db>/<db.table>/`
//! never see it.
//!
//! It is created with a conditional PutObject (`If-None-Match: *`) before the workflow is
//! started: only the invocation whose write succeeds may start a run. After the run has
//! started the marker is rewritten with its run id; if starting fails it is rewritten as
//! released, and a retry takes it over with a conditional write on its ETag.

use liberator_engine::Report;
use serde::{Deserialize, Serialize};

/// Default marker folder in the landing bucket.
pub const DEFAULT_MARKER_PREFIX: &str = "_liberator/glue-runs/";

/// Run property set on every workflow run the copier starts, so a run whose marker was
/// never completed can still be found by export id.
pub const RUN_PROPERTY_EXPORT_ID: &str = "liberator_export_id";

/// Where the workflow start stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkerState {
    /// This invocation owns the start; the run may or may not have started yet.
    Claimed,
    /// The run started; `run_id` names it.
    Started,
    /// Starting the run failed; the next invocation may claim the marker again (with
    /// `If-Match` on this version, so only one does).
    Released,
}

/// The marker's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Marker {
    pub export_id: String,
    pub workflow: String,
    /// `YYYYMMDD` for backdated exports.
    pub import_date: Option<String>,
    pub state: MarkerState,
    /// RFC 3339, when the claim was written.
    pub claimed_at: String,
    pub run_id: Option<String>,
    /// The engine's report of the copy that preceded the start.
    pub report: Option<Report>,
}

/// The marker key of an export.
pub fn key(prefix: &str, export_id: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        format!("{export_id}.json")
    } else {
        format!("{prefix}/{export_id}.json")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_joins_cleanly() {
        assert_eq!(
            key(DEFAULT_MARKER_PREFIX, "e"),
            "_liberator/glue-runs/e.json"
        );
        assert_eq!(key("/m/", "e"), "m/e.json");
    }
}
