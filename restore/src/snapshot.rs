//! RDS snapshots: clearing the instance's previous manual snapshots and taking the new one.
//!
//! Only manual snapshots are ours to delete: automated ones belong to RDS's retention and
//! `awsbackup*` ones to AWS Backup's plans, so both are always kept.

use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};

use crate::error::{RestoreError, Result};

/// The snapshot id: `sql-to-parquet-YY-MM-DD-HHMMSS` for `now`, or
/// `sql-to-parquet-YYYY-MM-DD-backdated` when the import date was overridden (the
/// downstream export reads the date from the id).
pub fn snapshot_id(now: DateTime<Utc>, override_date: Option<NaiveDate>) -> String {
    match override_date {
        Some(d) => liberator_export_id::backdated_id(d),
        None => liberator_export_id::daily_id(now.naive_utc()),
    }
}

/// Whether a snapshot may be deleted: manual, and not made by AWS Backup.
pub fn deletable(id: &str, snapshot_type: Option<&str>) -> bool {
    snapshot_type == Some("manual") && !id.starts_with("awsbackup")
}

/// Deletes the instance's previous manual snapshots (never `awsbackup*`, never automated)
/// and returns the ids deleted.
#[tracing::instrument(skip_all, fields(instance = %instance))]
pub async fn delete_old(rds: &aws_sdk_rds::Client, instance: &str) -> Result<Vec<String>> {
    let err =
        |operation, id: &str, e: Box<dyn std::error::Error + Send + Sync>| RestoreError::Rds {
            operation,
            id: id.to_string(),
            source: e,
        };
    let mut snapshots = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = rds
            .describe_db_snapshots()
            .db_instance_identifier(instance)
            .snapshot_type("manual")
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| err("DescribeDBSnapshots", instance, e.into()))?;
        snapshots.extend(page.db_snapshots().iter().cloned());
        marker = page.marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    let mut deleted = Vec::new();
    for s in snapshots {
        let id = s.db_snapshot_identifier().unwrap_or_default().to_string();
        if !deletable(&id, s.snapshot_type()) {
            tracing::info!(snapshot = %id, snapshot_type = ?s.snapshot_type(), "keeping snapshot");
            continue;
        }
        tracing::info!(snapshot = %id, "deleting previous manual snapshot");
        rds.delete_db_snapshot()
            .db_snapshot_identifier(&id)
            .send()
            .await
            .map_err(|e| err("DeleteDBSnapshot", &id, e.into()))?;
        deleted.push(id);
    }
    Ok(deleted)
}

/// Starts `CreateDBSnapshot` for `instance`.
#[tracing::instrument(skip_all, fields(instance = %instance, snapshot = %id))]
pub async fn create(rds: &aws_sdk_rds::Client, instance: &str, id: &str) -> Result<()> {
    rds.create_db_snapshot()
        .db_instance_identifier(instance)
        .db_snapshot_identifier(id)
        .send()
        .await
        .map_err(|e| RestoreError::Rds {
            operation: "CreateDBSnapshot",
            id: id.to_string(),
            source: e.into(),
        })?;
    tracing::info!("snapshot requested");
    Ok(())
}

/// Polls until the snapshot is `available` (or fails, or `timeout` passes).
#[tracing::instrument(skip_all, fields(snapshot = %id))]
pub async fn wait_available(
    rds: &aws_sdk_rds::Client,
    id: &str,
    poll: Duration,
    timeout: Duration,
) -> Result<()> {
    let start = Instant::now();
    loop {
        let out = rds
            .describe_db_snapshots()
            .db_snapshot_identifier(id)
            .send()
            .await
            .map_err(|e| RestoreError::Rds {
                operation: "DescribeDBSnapshots",
                id: id.to_string(),
                source: e.into(),
            })?;
        let status = out
            .db_snapshots()
            .first()
            .and_then(|s| s.status())
            .unwrap_or("missing")
            .to_string();
        match status.as_str() {
            "available" => {
                tracing::info!(elapsed_s = start.elapsed().as_secs(), "snapshot available");
                return Ok(());
            }
            "failed" | "deleted" | "missing" | "incompatible-restore" => {
                return Err(RestoreError::Snapshot {
                    id: id.to_string(),
                    reason: format!("status {status}"),
                });
            }
            _ => {}
        }
        if start.elapsed() > timeout {
            return Err(RestoreError::Snapshot {
                id: id.to_string(),
                reason: format!("still {status} after {}s", timeout.as_secs()),
            });
        }
        tracing::debug!(status = %status, "waiting for snapshot");
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ids() {
        let now = Utc.with_ymd_and_hms(2024, 6, 4, 10, 15, 0).unwrap();
        assert_eq!(snapshot_id(now, None), "sql-to-parquet-24-06-04-101500");
        assert_eq!(
            snapshot_id(now, NaiveDate::from_ymd_opt(2024, 2, 29)),
            "sql-to-parquet-2024-02-29-backdated"
        );
    }

    #[test]
    fn keeps_backup_and_automated() {
        assert!(deletable("sql-to-parquet-24-06-04-101500", Some("manual")));
        assert!(!deletable("awsbackup:job-1", Some("manual")));
        assert!(!deletable("rds:db-2024-06-04", Some("automated")));
    }
}
