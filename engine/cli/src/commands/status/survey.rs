//! When no marker records the landing (the copier is still at it, or failed), how far it
//! got: the Parquet files of each table folder of the export against those in the date's
//! landing partition, `<TARGET_PREFIX>/<db>/<db.table>/import_year=…/import_date=YYYYMMDD/`
//! (the engine's layout: table folders kept byte for byte, batch folders dropped).

use anyhow::Result;
use liberator_engine::ExportId;
use liberator_engine::export_id::partition_path;

use super::Ctx;
use super::aws;

/// Landed against exported Parquet files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Survey {
    pub tables: usize,
    pub exported_files: u64,
    pub landed_files: u64,
    /// `<db.table>: landed of exported` for tables not (yet) whole, at most ten.
    pub short: Vec<String>,
}

impl std::fmt::Display for Survey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "so far {} of {} Parquet files of {} tables are in the landing partition",
            self.landed_files, self.exported_files, self.tables
        )?;
        if !self.short.is_empty() {
            write!(f, "; short: {}", self.short.join(", "))?;
        }
        Ok(())
    }
}

/// `None` when the export folder is not there.
pub async fn survey(ctx: &Ctx<'_>, id: &ExportId) -> Result<Option<Survey>> {
    let s = ctx.settings;
    let s3 = &ctx.clients.s3;
    let root = format!("{}{id}/", s.export_prefix);
    let (_, databases) = aws::list(s3, &s.export_bucket, &root).await?;
    if databases.is_empty() {
        return Ok(None);
    }
    let partition = partition_path(id.date());
    let mut out = Survey::default();
    for db in databases {
        let (_, tables) = aws::list(s3, &s.export_bucket, &db).await?;
        for table in tables {
            // `<root><db>/<db.table>/` → `<db>/<db.table>/`
            let rel = table.strip_prefix(&root).unwrap_or(&table);
            let exported = aws::count_parquet(s3, &s.export_bucket, &table).await?;
            let landed = aws::count_parquet(
                s3,
                &s.landing_bucket,
                &format!("{}{rel}{partition}/", s.landing_prefix),
            )
            .await?;
            out.tables += 1;
            out.exported_files += exported;
            out.landed_files += landed;
            if landed < exported && out.short.len() < 10 {
                let name = rel.trim_end_matches('/').rsplit('/').next().unwrap_or(rel);
                out.short.push(format!("{name} {landed} of {exported}"));
            }
        }
    }
    Ok(Some(out))
}
