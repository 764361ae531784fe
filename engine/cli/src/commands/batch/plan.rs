//! The plan: which objects the job must land, found exactly as `engine backfill` finds
//! them, by the engine itself in a dry run without footer reads (the copier reads each
//! footer when it lands the file): listing page by page, mapping, collision checks per
//! table, and the skip check against the target (a table with nothing at its target needs
//! no HEAD). Every object the dry run plans to copy becomes a manifest line, streamed to
//! the manifest writer as it is found.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Result;
use liberator_engine::batch::manifest_line;
use liberator_engine::{
    Engine, EngineConfig, ExportId, ExportProgress, ExportRequest, Location, ObjectOutcome, Report,
};
use liberator_telemetry::outln;
use tokio::sync::mpsc;

/// What the plan found for one export.
#[derive(Debug, Clone)]
pub struct ExportPlan {
    /// The dry run's report: listed, planned, skipped, failures (collisions, listing).
    pub report: Report,
}

/// Sends each planned object's manifest line on; prints it on a dry run.
struct Planner {
    bucket: String,
    lines: mpsc::UnboundedSender<String>,
    print: bool,
    planned: AtomicU64,
}

impl ExportProgress for Planner {
    fn object(&self, source_key: &str, target_key: &str, size: u64, outcome: &ObjectOutcome) {
        if let ObjectOutcome::Planned(_) = outcome {
            self.planned.fetch_add(1, Ordering::Relaxed);
            // The writer only stops taking lines when it failed; that error is reported.
            let _ = self.lines.send(manifest_line(&self.bucket, source_key));
            if self.print {
                outln!("{source_key} -> {target_key} ({size} bytes)");
            }
        }
    }
}

/// The engine configuration of the plan: the backfill's, as a dry run without footer
/// reads that never removes anything.
pub fn plan_config(copy: &EngineConfig) -> EngineConfig {
    EngineConfig {
        dry_run: true,
        verify: false,
        keep_other_files: true,
        manifests: None,
        ..copy.clone()
    }
}

/// Plans every export in turn, sending manifest lines to `lines`.
pub async fn plan(
    engine: &Arc<Engine>,
    source: &Location,
    target: &Location,
    exports: &[String],
    lines: mpsc::UnboundedSender<String>,
    print: bool,
) -> Result<Vec<ExportPlan>> {
    let planner = Arc::new(Planner {
        bucket: source.bucket(),
        lines,
        print,
        planned: AtomicU64::new(0),
    });
    let mut plans = Vec::with_capacity(exports.len());
    for id in exports {
        let request = ExportRequest {
            export_id: ExportId::parse(id)?,
            import_date: None,
            task: None,
            source: source.clone(),
            target: target.clone(),
        };
        let report = engine.land_export(request, planner.clone()).await?;
        tracing::info!(
            export_id = id,
            to_land = report.planned,
            already_landed = report.skipped,
            failed = report.failed,
            "planned"
        );
        plans.push(ExportPlan { report });
    }
    Ok(plans)
}
