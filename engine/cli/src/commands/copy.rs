//! `engine copy`: land one export.

use anyhow::Result;
use clap::Args;
use liberator_engine::export_id::parse_date;
use liberator_engine::{AwsOptions, Engine, ExportId, ExportRequest};
use liberator_telemetry::pipe;

use crate::args::{CopyArgs, Locations};
use crate::output::{location, write_json};
use crate::progress::CliProgress;
use crate::signals;

#[derive(Args, Debug)]
pub struct Copy {
    /// Export id, e.g. sql-to-parquet-24-06-04-101500.
    pub export_id: String,
    #[command(flatten)]
    pub locations: Locations,
    /// Import date (YYYY-MM-DD) instead of the one in the export id.
    #[arg(long)]
    pub import_date: Option<String>,
    #[command(flatten)]
    pub copy: CopyArgs,
}

impl Copy {
    pub async fn run(self, s3: &AwsOptions) -> Result<bool> {
        let shutdown = signals::on_signals(self.copy.stop_grace())?;
        let export_id = ExportId::parse(&self.export_id)?;
        let import_date = self.import_date.as_deref().map(parse_date).transpose()?;
        let (source, target) = (
            location(&self.locations.source)?,
            location(&self.locations.target)?,
        );
        let engine = Engine::connect(&source, &target, s3, self.copy.config()?).await?;
        let progress = CliProgress::new(self.copy.dry_run, None);
        let request = ExportRequest {
            export_id,
            import_date,
            task: None,
            source,
            target,
        };
        let report = engine
            .land_export_with(request, progress, shutdown.clone())
            .await?;
        pipe::eprint(format_args!("{report}"));
        write_json(self.copy.report.as_deref(), self.copy.json, &report)?;
        signals::check(&shutdown, std::slice::from_ref(&report))?;
        Ok(report.passed() || (report.dry_run && report.failures.is_empty()))
    }
}
