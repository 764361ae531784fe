//! `engine export-local`: the MySQL/MariaDB → Parquet stand-in for RDS exports.

use anyhow::{Context, Result};
use clap::Args;
use liberator_engine::{AwsOptions, Engine, EngineConfig, ExportId};
use liberator_fixtures::export_local::{Layout, LocalExportConfig, export_database};
use liberator_fixtures::mysql_async::OptsBuilder;
use liberator_telemetry::errln;

use crate::output::{location, write_json};

#[derive(Args, Debug)]
pub struct ExportLocal {
    pub export_id: String,
    /// Where export folders go (like the export bucket): s3://BUCKET[/PREFIX] or a folder.
    #[arg(long)]
    pub target: String,
    #[arg(long)]
    pub database: String,
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    #[arg(long, default_value_t = 3306)]
    pub port: u16,
    /// Unix socket (instead of host/port).
    #[arg(long)]
    pub socket: Option<String>,
    #[arg(long, default_value = "root")]
    pub user: String,
    #[arg(long, default_value_t = 100_000)]
    pub rows_per_file: usize,
    /// Files per batch folder (`1/`, `2/`, …); 0 keeps every file in `1/`.
    #[arg(long, default_value_t = 0)]
    pub files_per_batch: usize,
    /// Step between partition numbers (2 leaves gaps: part-00000, part-00002, …).
    #[arg(long, default_value_t = 1)]
    pub partition_step: usize,
    /// Step between batch numbers (2 leaves gaps: 1/, 3/, …).
    #[arg(long, default_value_t = 1)]
    pub batch_step: usize,
    /// The older layout: no batch folders.
    #[arg(long)]
    pub flat: bool,
    /// Entries per export_tables_info file.
    #[arg(long, default_value_t = 100)]
    pub tables_per_info_file: usize,
}

impl ExportLocal {
    pub async fn run(self, s3: &AwsOptions) -> Result<bool> {
        ExportId::parse(&self.export_id)?;
        let loc = location(&self.target)?;
        let opts = OptsBuilder::default()
            .ip_or_hostname(self.host)
            .tcp_port(self.port)
            .socket(self.socket)
            .user(Some(self.user))
            // The password comes from the environment only: never argv, never logged.
            .pass(std::env::var("MYSQL_PASS").ok())
            .db_name(Some(self.database.clone()));
        let engine = Engine::connect(&loc, &loc, s3, EngineConfig::default()).await?;
        let config = LocalExportConfig {
            rows_per_file: self.rows_per_file,
            files_per_batch: self.files_per_batch,
            partition_step: self.partition_step,
            batch_step: self.batch_step,
            layout: if self.flat {
                Layout::Flat
            } else {
                Layout::Batched
            },
            tables_per_info_file: self.tables_per_info_file,
            ..LocalExportConfig::default()
        };
        let summary = export_database(
            opts.into(),
            &self.database,
            engine.store(),
            &loc,
            &self.export_id,
            &config,
        )
        .await
        .with_context(|| format!("exporting database {}", self.database))?;
        for (table, rows) in &summary.tables {
            errln!("  {table:<40} {rows:>10} rows");
        }
        for (table, reason) in &summary.skipped {
            errln!("  {table:<40} SKIPPED: {reason}");
        }
        errln!(
            "exported {} tables to {} Parquet files ({} bytes) under {}",
            summary.tables.len(),
            summary.parquet_files,
            summary.bytes,
            loc.join(&self.export_id)
        );
        write_json(None, true, &summary)?;
        Ok(true)
    }
}
