//! Which export a date means: every `sql-to-parquet-*` id of that import date that any
//! stage knows (RDS snapshots and export tasks, restore manifests, export folders, markers),
//! the latest snapshot's latest export first. Past days' snapshots are gone (each restore
//! deletes the previous manual snapshots), so the S3 witnesses matter as much as RDS.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use aws_sdk_rds::error::DisplayErrorContext;
use chrono::NaiveDate;
use liberator_engine::ExportId;
use liberator_engine::export_id::EXPORT_ID_PREFIX;

use super::Ctx;
use super::aws;
use super::export::task_ids;

/// The two id prefixes of a date: daily `sql-to-parquet-YY-MM-DD-` and backdated
/// `sql-to-parquet-YYYY-MM-DD-backdated`.
pub fn date_prefixes(date: NaiveDate) -> [String; 2] {
    [
        format!("{EXPORT_ID_PREFIX}{}-", date.format("%y-%m-%d")),
        format!("{EXPORT_ID_PREFIX}{}-backdated", date.format("%Y-%m-%d")),
    ]
}

/// The export ids of `date` known anywhere, ordered for [`pick`].
pub async fn ids_for(ctx: &Ctx<'_>, date: NaiveDate) -> Result<Vec<ExportId>> {
    let s = ctx.settings;
    let mut names = BTreeSet::new();
    for p in date_prefixes(date) {
        let (_, folders) = aws::list(
            &ctx.clients.s3,
            &s.export_bucket,
            &format!("{}{p}", s.export_prefix),
        )
        .await?;
        names.extend(folders.iter().map(|f| last_segment(f)));
        for (bucket, prefix) in [
            (&s.manifest_bucket, &s.manifest_prefix),
            (&s.landing_bucket, &s.marker_prefix),
        ] {
            let (keys, _) = aws::list(&ctx.clients.s3, bucket, &format!("{prefix}{p}")).await?;
            names.extend(
                keys.iter()
                    .filter_map(|k| last_segment(k).strip_suffix(".json").map(String::from)),
            );
        }
    }
    names.extend(snapshot_ids(ctx).await?);
    names.extend(task_ids(ctx).await?);
    let mut ids: Vec<ExportId> = names
        .iter()
        .filter_map(|n| ExportId::parse(n).ok())
        .filter(|id| id.date() == date)
        .collect();
    ids.sort_by_key(order);
    Ok(ids)
}

/// Snapshot id, then export number: the last is the day's latest export.
fn order(id: &ExportId) -> (String, u32) {
    (id.snapshot_id().to_string(), id.export_number())
}

/// The last of `ids` (the latest), and the others, latest first.
pub fn pick(mut ids: Vec<ExportId>) -> Option<(ExportId, Vec<String>)> {
    let latest = ids.pop()?;
    Some((latest, ids.iter().rev().map(|i| i.to_string()).collect()))
}

fn last_segment(path: &str) -> String {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Manual snapshots named `sql-to-parquet-*` (of `--rds-instance-id` when set).
async fn snapshot_ids(ctx: &Ctx<'_>) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    let mut marker = None;
    loop {
        let page = ctx
            .clients
            .rds
            .describe_db_snapshots()
            .snapshot_type("manual")
            .set_db_instance_identifier(ctx.settings.rds_instance_id.clone())
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(&e)))
            .context("DescribeDBSnapshots")?;
        ids.extend(
            page.db_snapshots()
                .iter()
                .filter_map(|s| s.db_snapshot_identifier())
                .filter(|id| id.starts_with(EXPORT_ID_PREFIX))
                .map(String::from),
        );
        marker = page.marker().map(String::from);
        if marker.is_none() {
            return Ok(ids);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_snapshot_then_the_latest_export_of_it_is_picked() {
        let mut ids: Vec<ExportId> = [
            "sql-to-parquet-24-06-04-231500",
            "sql-to-parquet-24-06-04-101500-r2",
            "sql-to-parquet-24-06-04-101500",
        ]
        .iter()
        .map(|s| ExportId::parse(s).unwrap())
        .collect();
        ids.sort_by_key(order);
        let (latest, others) = pick(ids).unwrap();
        assert_eq!(latest.as_str(), "sql-to-parquet-24-06-04-231500");
        assert_eq!(
            others,
            [
                "sql-to-parquet-24-06-04-101500-r2",
                "sql-to-parquet-24-06-04-101500"
            ]
        );
        let d = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        assert_eq!(
            date_prefixes(d),
            [
                "sql-to-parquet-24-02-29-",
                "sql-to-parquet-2024-02-29-backdated"
            ]
        );
    }
}
