//! `engine verify`: check the Parquet footer of every `.parquet` file under a location.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use liberator_engine::verify::verify_location;
use liberator_engine::{AwsOptions, Engine, EngineConfig};
use liberator_telemetry::errln;

use crate::output::{location, write_json};

#[derive(Args, Debug)]
pub struct Verify {
    pub location: String,
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Write the JSON report here.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// The JSON report on stdout even on a terminal.
    #[arg(long)]
    pub json: bool,
}

impl Verify {
    pub async fn run(self, s3: &AwsOptions) -> Result<bool> {
        let loc = location(&self.location)?;
        let engine = Engine::connect(&loc, &loc, s3, EngineConfig::default()).await?;
        let out = verify_location(
            engine.store(),
            &loc,
            EngineConfig::default().footer_read_size,
            self.concurrency,
        )
        .await?;
        if out.files == 0 {
            anyhow::bail!(
                "no .parquet file under {}: check the location (does it exist?)",
                out.location
            );
        }
        errln!(
            "{}: {} Parquet file(s), {} ok, {} rows, {} failed",
            out.location,
            out.files,
            out.ok,
            out.rows,
            out.failures.len()
        );
        for f in &out.failures {
            errln!("  FAILED {}: {}", f.key, f.reason);
        }
        write_json(self.report.as_deref(), self.json, &out)?;
        Ok(out.failures.is_empty())
    }
}
