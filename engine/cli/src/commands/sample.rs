//! `engine sample`: write a realistic sample export.

use anyhow::Result;
use clap::Args;
use liberator_engine::{AwsOptions, Engine, EngineConfig, ExportId};
use liberator_fixtures::sample::{SampleSpec, write_sample_export};
use liberator_telemetry::errln;

use crate::output::location;

#[derive(Args, Debug)]
pub struct Sample {
    /// Where export folders go, e.g. ./exports or s3://bucket.
    pub location: String,
    #[arg(long, default_value = "sql-to-parquet-24-06-04-101500")]
    pub export_id: String,
    /// Uniform shape instead of the Liberator-like default: tables, batches, files, rows.
    #[arg(long, num_args = 4, value_names = ["TABLES", "BATCHES", "FILES", "ROWS"])]
    pub uniform: Option<Vec<usize>>,
}

impl Sample {
    pub async fn run(self, s3: &AwsOptions) -> Result<bool> {
        let loc = location(&self.location)?;
        ExportId::parse(&self.export_id)?;
        let spec = match self.uniform.as_deref() {
            Some([t, b, f, r]) => SampleSpec::uniform(&self.export_id, *t, *b, *f, *r),
            _ => SampleSpec::liberator(&self.export_id),
        };
        let engine = Engine::connect(&loc, &loc, s3, EngineConfig::default()).await?;
        let summary = write_sample_export(engine.store(), &loc, &spec).await?;
        errln!(
            "wrote {} objects ({} Parquet files, {} bytes) under {}",
            summary.objects,
            summary.parquet_files,
            summary.bytes,
            loc.join(&self.export_id)
        );
        Ok(true)
    }
}
