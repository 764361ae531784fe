//! The completeness check of a landed export (see [`crate::completeness`]): read the
//! export's own metadata (`export_info_*`, every `export_tables_info_*`) and, where the
//! engine is told where manifests live, the restore manifest of the export's snapshot, then
//! compare them with the rows the footers say landed. Runs after every object was handled
//! and before any file of another export is removed, so a partial day is never made to
//! look finished.

use std::collections::BTreeMap;

use super::{EngineConfig, prune};
use crate::completeness::{
    self, Completeness, CompletenessError, ExportOutcome, ExportTables, LandedTable, Manifest,
    metadata,
};
use crate::error::{Error, Result};
use crate::layout::Layout;
use crate::location::Location;
use crate::metrics as names;
use crate::report::{Failure, Report};
use crate::store::{ObjectStore, Store};

fn metadata_error(e: CompletenessError) -> Error {
    Error::Completeness(e.to_string())
}

/// The snapshot an export was taken from: the last part of its source ARN
/// (`arn:aws:rds:<region>:<account>:snapshot:<id>`), else the export id itself.
pub(super) fn snapshot_id(source_arn: Option<&str>, export_id: &str) -> String {
    source_arn
        .and_then(|arn| arn.rsplit(':').next())
        .filter(|s| !s.is_empty())
        .unwrap_or(export_id)
        .to_string()
}

/// Reads the witnesses and checks them.
pub(super) async fn check(
    store: &Store,
    src_bucket: &str,
    layout: &Layout,
    export_id: &str,
    manifests: Option<&Location>,
    task: Option<&ExportOutcome>,
    report: &Report,
) -> Result<Completeness> {
    let root = layout.export_root();
    let info_key = metadata::export_info_key(root, export_id);
    let info = match store.get(src_bucket, &info_key).await? {
        Some(out) => metadata::parse_export_info(&info_key, &out.body).map_err(metadata_error)?,
        None => {
            return Err(Error::Completeness(format!(
                "{info_key} is missing: without the export's own record of its tables nothing says the export is whole"
            )));
        }
    };
    let prefix = metadata::tables_info_prefix(root, export_id);
    let mut files = Vec::new();
    let listed = store.list_delimited(src_bucket, &prefix).await?;
    for obj in listed.objects {
        let body = store.get(src_bucket, &obj.key).await?.ok_or_else(|| {
            Error::Completeness(format!("{} was listed but could not be read", obj.key))
        })?;
        let parsed = metadata::parse_tables_info(&obj.key, &body.body).map_err(metadata_error)?;
        files.push((obj.key, parsed));
    }
    let tables = ExportTables::from_files(files).map_err(metadata_error)?;
    let manifest = match manifests {
        Some(loc) => {
            let snapshot = snapshot_id(info.source_arn.as_deref(), export_id);
            let key = format!("{}{snapshot}.json", loc.prefix());
            match store.get(&loc.bucket(), &key).await? {
                Some(out) => Some(Manifest::parse(&key, &out.body).map_err(metadata_error)?),
                None => {
                    tracing::warn!(
                        key,
                        "no restore manifest for this export's snapshot: checking the export's own table list only"
                    );
                    None
                }
            }
        }
        None => None,
    };
    let mut outcome = ExportOutcome::from_info(&info);
    if let Some(t) = task {
        outcome = outcome.with_task(
            t.status.as_deref(),
            t.warning_message.as_deref(),
            t.failure_cause.as_deref(),
        );
    }
    let landed: BTreeMap<String, LandedTable> = report
        .tables
        .iter()
        .map(|(name, t)| {
            (
                name.clone(),
                LandedTable {
                    files: t.files,
                    rows: t.rows,
                },
            )
        })
        .collect();
    Ok(completeness::check(
        manifest.as_ref(),
        &tables,
        &outcome,
        &landed,
    ))
}

/// The end of a landing, whoever copied the objects (this run, or S3 Batch Operations tasks
/// whose rows the caller put in `report.tables`): the completeness check, when
/// verification is on and the run is whole, then, for a clean landing, the removal of
/// other exports' files in its date partitions. Every problem goes into the report.
#[allow(clippy::too_many_arguments)]
pub(super) async fn conclude(
    store: &Store,
    cfg: &EngineConfig,
    src_bucket: &str,
    dst_bucket: &str,
    layout: &Layout,
    export_id: &str,
    task: Option<&ExportOutcome>,
    report: &mut Report,
) {
    if report.complete && cfg.verify && report.listed > 0 {
        let checked = check(
            store,
            src_bucket,
            layout,
            export_id,
            cfg.manifests.as_ref(),
            task,
            report,
        )
        .await;
        match checked {
            Ok(c) => {
                for t in c.failing() {
                    tracing::error!(table = %t.table, verdict = ?t.verdict, expected = ?t.expected_rows, landed = t.landed_rows, "table incomplete");
                    report.failures.push(Failure {
                        key: t.table.clone(),
                        reason: t.to_string(),
                    });
                }
                for p in &c.problems {
                    report.failures.push(Failure {
                        key: layout.export_root().to_string(),
                        reason: p.clone(),
                    });
                }
                metrics::gauge!(names::TABLES_INCOMPLETE).set(c.failing().count() as f64);
                report.completeness = Some(c);
            }
            Err(e) => report.failures.push(Failure {
                key: layout.export_root().to_string(),
                reason: e.to_string(),
            }),
        }
    }
    let clean = report.passed() || report.dry_run && report.failures.is_empty();
    if clean && !cfg.keep_other_files {
        let tables = report.tables.keys().cloned().collect();
        match prune::prune(store, src_bucket, dst_bucket, layout, &tables, cfg.dry_run).await {
            Ok(stale) => report.removed = stale.keys,
            Err(e) => report.failures.push(Failure {
                key: layout.export_root().to_string(),
                reason: format!(
                    "removing the files of other exports of this import date failed: {e}"
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snapshot_comes_from_the_source_arn() {
        assert_eq!(
            snapshot_id(
                Some("arn:aws:rds:eu-west-2:123456789012:snapshot:sql-to-parquet-24-06-04-101500"),
                "x"
            ),
            "sql-to-parquet-24-06-04-101500"
        );
        assert_eq!(snapshot_id(None, "sql-to-parquet-x"), "sql-to-parquet-x");
        assert_eq!(snapshot_id(Some(""), "e"), "e");
    }
}
