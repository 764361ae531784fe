//! The exactly-once marker: one small object per export under `_liberator/` in the landing
//! bucket, outside every table folder, so Glue jobs reading `<prefix>/<db>/<db.table>/`
//! never see it.
//!
//! It is created with a conditional PutObject (`If-None-Match: *`) before the workflow is
//! started: only the invocation whose write succeeds may start a run. Each claim carries a
//! token of its own, so an invocation whose write landed but whose reply was lost knows
//! the marker it then reads for its own; and a lease, after which a claim whose holder
//! died (no run carries the export id) may be taken over. After the run has started the
//! marker is rewritten with its run id; if Glue refuses the start it is rewritten as
//! released. Every rewrite and take-over is a conditional write on the ETag read
//! (`If-Match`), so exactly one invocation wins each step. The protocol is in
//! [`crate::start`].
//!
//! Markers written before tokens and leases existed still read: `token` and `lease_until`
//! are then absent, and the lease is counted from `claimed_at`.

use std::time::Duration;

use chrono::{DateTime, Utc};
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
    /// The claim's own random token: the invocation that wrote it recognises its claim by
    /// it (a write whose reply was lost, then refused on retry). Absent in older markers.
    #[serde(default)]
    pub token: Option<String>,
    pub workflow: String,
    /// `YYYYMMDD` for backdated exports.
    pub import_date: Option<String>,
    pub state: MarkerState,
    /// RFC 3339, when the claim was written.
    pub claimed_at: String,
    /// RFC 3339, when the claim may be taken over if no run carries the export id. Absent
    /// in older markers (the lease then runs from `claimed_at`).
    #[serde(default)]
    pub lease_until: Option<String>,
    pub run_id: Option<String>,
    /// The engine's report of the copy that preceded the start.
    pub report: Option<Report>,
}

impl Marker {
    /// A fresh claim with a new token, leased for `lease` from `now`.
    pub fn claim(
        export_id: &str,
        workflow: &str,
        import_date: Option<String>,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Self {
        Marker {
            export_id: export_id.into(),
            token: Some(new_token()),
            workflow: workflow.into(),
            import_date,
            state: MarkerState::Claimed,
            claimed_at: now.to_rfc3339(),
            lease_until: Some(lease_end(now, lease).to_rfc3339()),
            run_id: None,
            report: None,
        }
    }

    /// When the claim's lease ends: `lease_until`, or for an older marker `claimed_at`
    /// plus `lease`; `None` when neither parses (the claim is then taken as expired).
    pub fn lease_end(&self, lease: Duration) -> Option<DateTime<Utc>> {
        let parse = |s: &str| DateTime::parse_from_rfc3339(s).ok().map(|t| t.to_utc());
        match &self.lease_until {
            Some(until) => parse(until),
            None => parse(&self.claimed_at).map(|at| lease_end(at, lease)),
        }
    }

    /// Whether the claim is still leased at `now`.
    pub fn leased_at(&self, now: DateTime<Utc>, lease: Duration) -> bool {
        self.lease_end(lease).is_some_and(|end| now < end)
    }

    /// Whether `other` is this very version as far as the protocol is concerned: same
    /// claim token, state and run (a rewrite of ours whose reply was lost reads back so).
    pub fn same_step(&self, other: &Marker) -> bool {
        self.token.is_some()
            && self.token == other.token
            && self.state == other.state
            && self.run_id == other.run_id
    }
}

/// A random claim token (UUID v4).
pub fn new_token() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn lease_end(from: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    from + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX)
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

    const LEASE: Duration = Duration::from_secs(1200);

    #[test]
    fn an_older_marker_reads_and_its_lease_runs_from_the_claim() {
        // As written before claims carried a token and a lease.
        let old = r#"{"export_id":"sql-to-parquet-24-06-04-101500","workflow":"wf",
            "import_date":null,"state":"claimed","claimed_at":"2024-06-04T11:02:10+00:00",
            "run_id":null,"report":null}"#;
        let m: Marker = serde_json::from_str(old).unwrap();
        assert_eq!((m.token.as_deref(), m.lease_until.as_deref()), (None, None));
        let at = DateTime::parse_from_rfc3339("2024-06-04T11:02:10+00:00")
            .unwrap()
            .to_utc();
        assert_eq!(m.lease_end(LEASE), Some(at + chrono::Duration::minutes(20)));
        assert!(m.leased_at(at + chrono::Duration::minutes(19), LEASE));
        assert!(!m.leased_at(at + chrono::Duration::minutes(21), LEASE));
        assert!(!m.leased_at(Utc::now(), LEASE), "long expired");
        let started = old
            .replace("\"claimed\"", "\"started\"")
            .replace("\"run_id\":null", "\"run_id\":\"wr_1\"");
        let m: Marker = serde_json::from_str(&started).unwrap();
        assert_eq!(m.state, MarkerState::Started);
        assert_eq!(m.run_id.as_deref(), Some("wr_1"));
        let mut bad = m.clone();
        bad.claimed_at = "yesterday".into();
        assert_eq!(bad.lease_end(LEASE), None, "an unreadable claim is expired");
    }

    #[test]
    fn a_claim_has_its_own_token_and_lease() {
        let now = Utc::now();
        let a = Marker::claim("e", "wf", None, now, LEASE);
        let b = Marker::claim("e", "wf", None, now, LEASE);
        assert_ne!(a.token, b.token);
        assert!(!a.same_step(&b));
        assert!(a.same_step(&a.clone()));
        assert!(a.leased_at(now, LEASE));
        assert!(!a.leased_at(now + chrono::Duration::minutes(20), LEASE));
        // The lease written wins over this deployment's setting.
        assert!(a.leased_at(now + chrono::Duration::minutes(19), Duration::ZERO));
        let back: Marker = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert_eq!(back, a);
    }
}
