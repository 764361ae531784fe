//! The snapshot an invocation exports: from the event, or the newest one of
//! `RDS_INSTANCE_ID` for a manual invocation; and when RDS took it.

use aws_sdk_rds::error::DisplayErrorContext;
use aws_sdk_rds::primitives::DateTime;

use crate::{Error, Trigger};

/// The snapshot an invocation exports.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Its identifier: the name the first export task is given.
    pub id: String,
    /// Its ARN. RDS makes it from the name, so a snapshot deleted and taken again under the
    /// same name has the same ARN.
    pub arn: String,
    /// When RDS took it (`SnapshotCreateTime`); read on demand, only an export identifier
    /// already taken needs it.
    pub created: Option<DateTime>,
}

impl Trigger {
    /// `SnapshotCreateTime` of the snapshot named `id` (DescribeDBSnapshots), `None` when
    /// it no longer exists or RDS does not say.
    pub(crate) async fn snapshot_created(&self, id: &str) -> Result<Option<DateTime>, Error> {
        let out = self
            .rds
            .describe_db_snapshots()
            .db_snapshot_identifier(id)
            .send()
            .await;
        match out {
            Ok(out) => Ok(out
                .db_snapshots()
                .iter()
                .find(|s| s.db_snapshot_identifier() == Some(id))
                .and_then(|s| s.snapshot_create_time().copied())),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_db_snapshot_not_found_fault()) =>
            {
                Ok(None)
            }
            Err(e) => Err(Error::DescribeSnapshot {
                snapshot: id.to_string(),
                detail: DisplayErrorContext(&e).to_string(),
            }),
        }
    }

    /// The newest available manual snapshot of `RDS_INSTANCE_ID` with the prefix.
    pub(crate) async fn latest_snapshot(&self) -> Result<Snapshot, Error> {
        let instance = self
            .config
            .rds_instance_id
            .clone()
            .ok_or(Error::NoInstance)?;
        let prefix = &self.config.snapshot_prefix;
        let mut pages = self
            .rds
            .describe_db_snapshots()
            .db_instance_identifier(&instance)
            .snapshot_type("manual")
            .into_paginator()
            .send();
        let mut best: Option<Snapshot> = None;
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| Error::DescribeSnapshots {
                instance: instance.clone(),
                detail: DisplayErrorContext(&e).to_string(),
            })?;
            for s in page.db_snapshots() {
                let (Some(id), Some(arn), Some(created)) = (
                    s.db_snapshot_identifier(),
                    s.db_snapshot_arn(),
                    s.snapshot_create_time(),
                ) else {
                    continue;
                };
                // The filter asks for manual snapshots already; the check guards against
                // a server that ignores it (automated ones are named `rds:…`).
                let manual = s
                    .snapshot_type()
                    .is_none_or(|t| t.eq_ignore_ascii_case("manual"));
                let available = s
                    .status()
                    .is_some_and(|st| st.eq_ignore_ascii_case("available"));
                if !manual || !available || !id.starts_with(prefix.as_str()) {
                    continue;
                }
                // Every snapshot kept has a creation time (it is read above).
                let newer = best.as_ref().is_none_or(|b| {
                    b.created
                        .as_ref()
                        .is_none_or(|at| (created, id) > (at, b.id.as_str()))
                });
                if newer {
                    best = Some(Snapshot {
                        id: id.to_string(),
                        arn: arn.to_string(),
                        created: Some(*created),
                    });
                }
            }
        }
        let best = best.ok_or_else(|| Error::NoSnapshot {
            instance: instance.clone(),
            prefix: prefix.clone(),
        })?;
        tracing::info!(snapshot = best.id, instance, "latest snapshot found");
        Ok(best)
    }
}
