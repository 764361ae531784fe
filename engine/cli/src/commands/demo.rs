//! `engine demo`: write a sample export into DIR/exports and land it in DIR/landing, with no
//! server or AWS account: the README's first command.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use liberator_engine::layout::{Layout, Mapped};
use liberator_engine::{AwsOptions, Engine, EngineConfig, ExportId, ExportRequest};
use liberator_fixtures::sample::{SampleSpec, write_sample_export};
use liberator_telemetry::{outln, pipe};

use crate::output::{location, write_json};
use crate::progress::CliProgress;

const EXPORT_ID: &str = "sql-to-parquet-24-06-04-101500";

#[derive(Args, Debug)]
pub struct Demo {
    #[arg(long, default_value = "liberator-demo")]
    pub dir: PathBuf,
}

impl Demo {
    pub async fn run(self) -> Result<bool> {
        let dir = &self.dir;
        let exports_dir = dir.join("exports");
        let landing_dir = dir.join("landing");
        if dir.exists() {
            std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
        for d in [&exports_dir, &landing_dir] {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        let source = location(exports_dir.to_str().context("non-UTF-8 demo path")?)?;
        let target =
            location(landing_dir.to_str().context("non-UTF-8 demo path")?)?.join("parking");
        let engine = Engine::connect(
            &source,
            &target,
            &AwsOptions::default(),
            EngineConfig::default(),
        )
        .await?;
        let sample =
            write_sample_export(engine.store(), &source, &SampleSpec::liberator(EXPORT_ID)).await?;
        outln!(
            "1. wrote a sample RDS export: {} objects ({} Parquet files, {} KiB) in {}",
            sample.objects,
            sample.parquet_files,
            sample.bytes / 1024,
            source.join(EXPORT_ID)
        );
        let export_id = ExportId::parse(EXPORT_ID)?;
        let request = ExportRequest {
            export_id: export_id.clone(),
            import_date: None,
            task: None,
            source: source.clone(),
            target: target.clone(),
        };
        let report = engine
            .land_export(request.clone(), CliProgress::new(false, None))
            .await?;
        outln!(
            "2. landed it with `engine copy {EXPORT_ID} --source {source} --target {target}`:\n"
        );
        pipe::print(format_args!("{report}"));
        let report_path = dir.join("report.json");
        write_json(Some(&report_path), false, &report)?;
        outln!("\n   JSON report: {}", report_path.display());
        let rerun = engine
            .land_export(request, CliProgress::new(false, None))
            .await?;
        outln!(
            "3. ran it again: copied {}, skipped {} (already landed)",
            rerun.copied,
            rerun.skipped
        );
        let example = sample
            .parquet_keys
            .first()
            .map(String::as_str)
            .unwrap_or_default();
        let layout = Layout::new("", EXPORT_ID, target.prefix(), export_id.date());
        if let Ok(Mapped::Parquet(p)) = layout.map(example) {
            outln!(
                "\n   e.g. {example}\n     -> {}",
                landing_dir.join(&p.target_key).display()
            );
        }
        Ok(report.passed() && rerun.passed() && rerun.copied == 0)
    }
}
