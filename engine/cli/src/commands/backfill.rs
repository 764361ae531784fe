//! `engine backfill`: discover the exports under a source and land each, oldest first.

use anyhow::Result;
use clap::Args;
use liberator_engine::backfill::{BackfillFilter, backfill_until, discover};
use liberator_engine::export_id::parse_date;
use liberator_engine::{AwsOptions, Engine, Report};
use liberator_telemetry::errln;

use crate::args::{CopyArgs, Locations};
use crate::commands::batch::{self, BatchArgs};
use crate::output::{location, write_json};
use crate::progress::CliProgress;
use crate::signals;

/// A source with no export in the range is a mistake (a mistyped bucket or prefix, a
/// wrong range), not a finished backfill: the error names where and what was looked for.
fn nothing_to_land(source: &liberator_engine::Location, filter: &BackfillFilter) -> String {
    let bound =
        |d: Option<chrono::NaiveDate>| d.map_or_else(|| "any".to_string(), |d| d.to_string());
    format!(
        "no sql-to-parquet-* export under {source} with an import date from {} to {}{}: check the location (does it exist?) and the range",
        bound(filter.since),
        bound(filter.until),
        if filter.only.is_empty() {
            String::new()
        } else {
            format!(" among {}", filter.only.join(", "))
        }
    )
}

#[derive(Args, Debug)]
pub struct Backfill {
    #[command(flatten)]
    pub locations: Locations,
    /// Earliest import date (YYYY-MM-DD), inclusive.
    #[arg(long)]
    pub since: Option<String>,
    /// Latest import date (YYYY-MM-DD), inclusive.
    #[arg(long)]
    pub until: Option<String>,
    /// Only these export ids (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    #[command(flatten)]
    pub copy: CopyArgs,
    /// Where the copies run: `local` (this process) or `batch-operations` (an S3 Batch
    /// Operations job invoking the deployed copier on every object; see --manifest-location).
    #[arg(long, value_enum, default_value = "local")]
    pub via: Via,
    #[command(flatten)]
    pub batch: Box<BatchArgs>,
}

/// `--via`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Local,
    BatchOperations,
}

impl Backfill {
    pub async fn run(self, s3: &AwsOptions) -> Result<bool> {
        if self.via == Via::BatchOperations {
            return batch::run(&self, s3).await;
        }
        let shutdown = signals::on_signals(self.copy.stop_grace())?;
        let filter = BackfillFilter {
            since: self.since.as_deref().map(parse_date).transpose()?,
            until: self.until.as_deref().map(parse_date).transpose()?,
            only: self.only,
        };
        let (source, target) = (
            location(&self.locations.source)?,
            location(&self.locations.target)?,
        );
        let engine = Engine::connect(&source, &target, s3, self.copy.config()?).await?;
        let discovery = discover(&engine, &source, &filter).await?;
        if discovery.exports.is_empty() {
            anyhow::bail!("{}", nothing_to_land(&source, &filter));
        }
        errln!(
            "{} export(s) to land: {}",
            discovery.exports.len(),
            discovery.exports.join(", ")
        );
        for (name, reason) in &discovery.ignored {
            errln!("ignored folder {name}: {reason}");
        }
        let progress = CliProgress::new(self.copy.dry_run, Some(discovery.exports.len() as u64));
        let bars = progress.clone();
        let reports = backfill_until(
            &engine,
            &source,
            &target,
            &discovery,
            progress,
            |r: &Report| bars.export_done(r),
            &shutdown,
        )
        .await?;
        write_json(self.copy.report.as_deref(), self.copy.json, &reports)?;
        signals::check(&shutdown, &reports)?;
        Ok(reports
            .iter()
            .all(|r| r.passed() || (r.dry_run && r.failures.is_empty())))
    }
}
