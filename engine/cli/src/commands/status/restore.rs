//! The restore: the RDS snapshot the restore task took, and the manifest it wrote before
//! taking it (`<MANIFEST_LOCATION><snapshot-id>.json`, restore/src/manifest.rs), whose table
//! count and rows say what the database held.

use anyhow::{Context, Result};
use aws_sdk_rds::error::DisplayErrorContext;
use liberator_engine::completeness::Manifest;

use super::Ctx;
use super::aws::{self, time};
use super::model::ManifestSummary;

/// A snapshot as RDS describes it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub id: String,
    pub status: String,
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// The snapshot named `id`; `None` when RDS has none (each restore deletes the previous
/// manual snapshots, so past days' are gone).
pub async fn snapshot(ctx: &Ctx<'_>, id: &str) -> Result<Option<Snapshot>> {
    let out = ctx
        .clients
        .rds
        .describe_db_snapshots()
        .db_snapshot_identifier(id)
        .send()
        .await;
    let out = match out {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_db_snapshot_not_found_fault()) =>
        {
            return Ok(None);
        }
        Err(e) => {
            return Err(anyhow::anyhow!("{}", DisplayErrorContext(&e)))
                .with_context(|| format!("DescribeDBSnapshots {id}"));
        }
    };
    Ok(out
        .db_snapshots()
        .iter()
        .find(|s| s.db_snapshot_identifier() == Some(id))
        .map(|s| Snapshot {
            id: id.to_string(),
            status: s.status().unwrap_or("unknown").to_string(),
            created_at: time(s.snapshot_create_time()),
        }))
}

/// The manifest's location for `snapshot_id`.
pub fn manifest_url(ctx: &Ctx<'_>, snapshot_id: &str) -> String {
    format!(
        "s3://{}/{}{snapshot_id}.json",
        ctx.settings.manifest_bucket, ctx.settings.manifest_prefix
    )
}

/// The manifest, summed, and the dump it names (`bucket`, `key`); `Err` text when it
/// exists but does not parse (shown as a note: the copier's check would refuse it too).
pub async fn manifest(
    ctx: &Ctx<'_>,
    snapshot_id: &str,
) -> Result<Option<Result<(ManifestSummary, (String, String)), String>>> {
    let key = format!("{}{snapshot_id}.json", ctx.settings.manifest_prefix);
    let Some(body) = aws::get(&ctx.clients.s3, &ctx.settings.manifest_bucket, &key).await? else {
        return Ok(None);
    };
    let url = manifest_url(ctx, snapshot_id);
    Ok(Some(match Manifest::parse(&url, &body) {
        Ok(m) => Ok((
            ManifestSummary {
                location: url,
                tables: m.tables.len(),
                rows: m.tables.iter().map(|t| t.rows).sum(),
                created_at: m.created_at,
            },
            (m.dump.bucket, m.dump.key),
        )),
        Err(e) => Err(e.to_string()),
    }))
}
