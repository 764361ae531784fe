//! The landing, read from the copier's exactly-once marker
//! `s3://<landing>/_liberator/glue-runs/<export-id>.json` (`MARKER_PREFIX`): the copier writes
//! it only after the export landed whole, with the engine's report of that landing, and
//! rewrites it with the Glue run id once the run started (lambdas/README.md).
//!
//! Only the fields shown are read, each optional where older markers lack it, so the view
//! keeps reading markers as the copier's shape grows.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Deserialize;

use super::Ctx;
use super::aws;
use super::model::Landing;

/// The copier's marker, as far as `engine status` shows it.
#[derive(Debug, Clone, Deserialize)]
pub struct MarkerView {
    pub workflow: Option<String>,
    /// `claimed`, `started` or `released`.
    pub state: String,
    pub claimed_at: Option<String>,
    /// RFC 3339: when a claim without a run may be taken over.
    pub lease_until: Option<String>,
    pub run_id: Option<String>,
    pub report: Option<ReportView>,
}

/// The engine report the marker carries (`liberator_engine::Report`), summed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ReportView {
    pub copied: u64,
    pub skipped: u64,
    pub failed: u64,
    pub tables: BTreeMap<String, TableView>,
    pub completeness: Option<CompletenessView>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TableView {
    pub rows: u64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CompletenessView {
    pub problems: Vec<String>,
    pub tables: Vec<TableCompletenessView>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TableCompletenessView {
    pub table: String,
    pub verdict: String,
    pub expected_rows: Option<u64>,
    pub landed_rows: u64,
}

impl TableCompletenessView {
    fn passes(&self) -> bool {
        matches!(self.verdict.as_str(), "ok" | "status_only")
    }
}

/// The marker's location, for messages.
pub fn marker_url(ctx: &Ctx<'_>, export_id: &str) -> String {
    format!(
        "s3://{}/{}",
        ctx.settings.landing_bucket,
        marker_key(ctx, export_id)
    )
}

fn marker_key(ctx: &Ctx<'_>, export_id: &str) -> String {
    format!("{}{export_id}.json", ctx.settings.marker_prefix)
}

/// The export's marker, `None` when there is none. A marker that does not parse is an
/// error naming it: the copier's protocol depends on it.
pub async fn read_marker(ctx: &Ctx<'_>, export_id: &str) -> Result<Option<MarkerView>> {
    let key = marker_key(ctx, export_id);
    let Some(body) = aws::get(&ctx.clients.s3, &ctx.settings.landing_bucket, &key).await? else {
        return Ok(None);
    };
    let marker = serde_json::from_slice(&body).map_err(|e| {
        anyhow::anyhow!(
            "the marker s3://{}/{key} is not the copier's JSON: {e}",
            ctx.settings.landing_bucket
        )
    })?;
    Ok(Some(marker))
}

/// What the marker says about the landing.
pub fn landing(marker_url: String, marker: &MarkerView) -> Landing {
    let report = marker.report.clone().unwrap_or_default();
    let (completeness, incomplete) = match &report.completeness {
        None => ("not_checked", Vec::new()),
        Some(c) => {
            let mut incomplete: Vec<String> = c
                .tables
                .iter()
                .filter(|t| !t.passes())
                .map(|t| {
                    format!(
                        "{}: {}, expected {} rows, landed {}",
                        t.table,
                        t.verdict,
                        t.expected_rows
                            .map_or_else(|| "unknown".to_string(), |r| r.to_string()),
                        t.landed_rows
                    )
                })
                .collect();
            incomplete.extend(c.problems.iter().cloned());
            let verdict = if incomplete.is_empty() {
                "passed"
            } else {
                "failed"
            };
            (verdict, incomplete)
        }
    };
    Landing {
        marker: marker_url,
        marker_state: marker.state.clone(),
        claimed_at: marker.claimed_at.clone(),
        copied: report.copied,
        skipped: report.skipped,
        failed: report.failed,
        rows: report.tables.values().map(|t| t.rows).sum(),
        tables: report
            .tables
            .iter()
            .map(|(name, t)| (name.clone(), t.rows))
            .collect(),
        completeness,
        incomplete,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_started_marker_reads_with_its_report() {
        // As the copier writes it (lambdas/export-copier/src/marker.rs), report abridged:
        // fields the view does not show are ignored.
        let json = r#"{"export_id":"sql-to-parquet-24-06-04-101500","token":"t","workflow":"wf",
            "import_date":null,"state":"started","claimed_at":"2024-06-04T11:02:10+00:00",
            "lease_until":"2024-06-04T11:22:10+00:00","run_id":"wr_1",
            "report":{"export_id":"sql-to-parquet-24-06-04-101500","copied":14,"skipped":0,
              "failed":0,"listed":17,"complete":true,"failures":[],
              "tables":{"liberator/liberator.pcn":{"files":6,"bytes":10,"rows":12000}},
              "completeness":{"basis":"manifest","problems":[],"notes":[],"tables":[
                {"table":"liberator.pcn","expected_rows":12000,"expected_from":"manifest",
                 "landed_rows":12000,"landed_files":6,"export_status":"COMPLETE",
                 "size_gb":null,"verdict":"ok"},
                {"table":"liberator.vrm","expected_rows":800,"expected_from":"manifest",
                 "landed_rows":700,"landed_files":1,"export_status":"COMPLETE",
                 "size_gb":null,"verdict":"row_mismatch"}]}}}"#;
        let marker: MarkerView = serde_json::from_str(json).unwrap();
        assert_eq!(
            (marker.state.as_str(), marker.run_id.as_deref()),
            ("started", Some("wr_1"))
        );
        let l = landing("s3://l/m.json".into(), &marker);
        assert_eq!((l.copied, l.rows, l.completeness), (14, 12000, "failed"));
        assert_eq!(
            l.incomplete,
            ["liberator.vrm: row_mismatch, expected 800 rows, landed 700"]
        );
    }

    #[test]
    fn an_older_marker_without_report_or_lease_reads() {
        let json = r#"{"export_id":"e","workflow":"wf","state":"claimed",
            "claimed_at":"2024-06-04T11:02:10+00:00","run_id":null,"report":null}"#;
        let marker: MarkerView = serde_json::from_str(json).unwrap();
        let l = landing("m".into(), &marker);
        assert_eq!(
            (l.marker_state.as_str(), l.completeness),
            ("claimed", "not_checked")
        );
        assert_eq!(marker.lease_until, None);
    }
}
