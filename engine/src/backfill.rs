//! Re-landing historic exports: discover `sql-to-parquet-*` folders, order them by date,
//! land each. Re-runs skip what landed, so a killed backfill just runs again. A
//! [`Shutdown`] stops it between exports and inside the one landing (see [`backfill_until`]).

use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::export_id::{EXPORT_ID_PREFIX, ExportId};
use crate::location::Location;
use crate::report::Report;
use crate::run::{Engine, ExportProgress, ExportRequest, Shutdown};

/// Which exports to land.
#[derive(Debug, Clone, Default)]
pub struct BackfillFilter {
    /// Earliest import date (inclusive).
    pub since: Option<NaiveDate>,
    /// Latest import date (inclusive).
    pub until: Option<NaiveDate>,
    /// Only these export ids (all must exist).
    pub only: Vec<String>,
}

/// Exports found under a source, in landing order.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Discovery {
    pub exports: Vec<String>,
    /// Folders that look like exports but whose id does not parse, with the reason.
    pub ignored: Vec<(String, String)>,
}

/// Lists the export folders directly under `source` and keeps those the filter selects,
/// ordered by import date, then id.
pub async fn discover(
    engine: &Engine,
    source: &Location,
    filter: &BackfillFilter,
) -> Result<Discovery> {
    let page = engine
        .store()
        .list_delimited(&source.bucket(), source.prefix())
        .await?;
    let mut found = Vec::new();
    let mut ignored = Vec::new();
    for prefix in page.prefixes {
        let name = prefix
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        if !name.starts_with(EXPORT_ID_PREFIX) {
            continue;
        }
        match ExportId::parse(&name) {
            Ok(id) => found.push(id),
            Err(e) => {
                tracing::warn!(folder = %prefix, error = %e, "ignoring folder that is not a valid export");
                ignored.push((name, e.to_string()));
            }
        }
    }
    if !filter.only.is_empty() {
        let missing: Vec<&String> = filter
            .only
            .iter()
            .filter(|o| !found.iter().any(|id| id.as_str() == o.as_str()))
            .collect();
        if !missing.is_empty() {
            return Err(Error::Location {
                location: source.to_string(),
                reason: format!("exports not found: {missing:?}"),
            });
        }
        found.retain(|id| filter.only.iter().any(|o| o == id.as_str()));
    }
    found.retain(|id| {
        filter.since.is_none_or(|s| id.date() >= s) && filter.until.is_none_or(|u| id.date() <= u)
    });
    found.sort_by(|a, b| (a.date(), a.as_str()).cmp(&(b.date(), b.as_str())));
    Ok(Discovery {
        exports: found.into_iter().map(|id| id.to_string()).collect(),
        ignored,
    })
}

/// Lands each discovered export in turn; `on_export` sees each report as it completes.
pub async fn backfill(
    engine: &Arc<Engine>,
    source: &Location,
    target: &Location,
    discovery: &Discovery,
    progress: Arc<dyn ExportProgress>,
    on_export: impl FnMut(&Report),
) -> Result<Vec<Report>> {
    let shutdown = Shutdown::new();
    backfill_until(
        engine, source, target, discovery, progress, on_export, &shutdown,
    )
    .await
}

/// [`backfill`] that stops when `shutdown` asks: the export landing then stops as
/// [`Shutdown`] describes, and each export not started yet gets a report with
/// `complete: false` saying so, so the reports still name every selected export.
pub async fn backfill_until(
    engine: &Arc<Engine>,
    source: &Location,
    target: &Location,
    discovery: &Discovery,
    progress: Arc<dyn ExportProgress>,
    mut on_export: impl FnMut(&Report),
    shutdown: &Shutdown,
) -> Result<Vec<Report>> {
    let mut reports = Vec::with_capacity(discovery.exports.len());
    for id in &discovery.exports {
        let export_id = ExportId::parse(id)?;
        let report = if shutdown.is_draining() {
            not_started(engine, &export_id, source, target, shutdown)
        } else {
            let request = ExportRequest {
                export_id,
                import_date: None,
                task: None,
                source: source.clone(),
                target: target.clone(),
            };
            engine
                .land_export_with(request, progress.clone(), shutdown.clone())
                .await?
        };
        on_export(&report);
        reports.push(report);
    }
    Ok(reports)
}

/// The report of an export a stopped backfill never started.
fn not_started(
    engine: &Engine,
    id: &ExportId,
    source: &Location,
    target: &Location,
    shutdown: &Shutdown,
) -> Report {
    let by = shutdown.reason().unwrap_or("a stop request");
    let cfg = engine.config();
    Report {
        export_id: id.to_string(),
        import_date: id.date().format("%Y-%m-%d").to_string(),
        source: source.join(id.as_str()).to_string(),
        target: target.to_string(),
        dry_run: cfg.dry_run,
        force: cfg.force,
        verify: cfg.verify,
        complete: false,
        stopped: Some(format!(
            "stopped by {by} before this export started: nothing of it was listed or landed; run it again to land it"
        )),
        ..Default::default()
    }
}
