//! The schema steps of a run ([`crate::schema`]): each table's columns into the report
//! (files of one table that disagree are failures), the comparison with the previous import
//! date landed on the target, and keeping this landing's report for the next one.

use chrono::NaiveDate;

use super::EngineConfig;
use crate::layout::Layout;
use crate::metrics as names;
use crate::report::{Failure, Report};
use crate::schema::history;
use crate::schema::{PreviousLanding, SchemaDrift, TableSchemas};
use crate::store::Store;

/// Puts each table's columns into the report; a table whose files disagree is a failure
/// naming the table and the file.
pub(super) fn record_schemas(schemas: TableSchemas, report: &mut Report) {
    let (columns, failures) = schemas.finish();
    for (table, cols) in columns {
        if let Some(t) = report.tables.get_mut(&table) {
            t.columns = cols;
        }
    }
    for f in failures {
        tracing::error!(key = %f.key, reason = %f.reason, "files of one table disagree on the schema");
        report.failures.push(f);
    }
}

/// Compares the report's tables with the previous import date's kept report, logs and
/// counts each change, and (with [`EngineConfig::fail_on_schema_change`]) fails the run on
/// a removed or retyped column. A previous report that cannot be found or read is a note
/// in the drift section, and a failure only when changes must fail the run (nothing then
/// proves there were none).
pub(super) async fn compare(
    store: &Store,
    dst_bucket: &str,
    layout: &Layout,
    cfg: &EngineConfig,
    date: NaiveDate,
    report: &mut Report,
) {
    let now = report
        .tables
        .iter()
        .filter(|(_, t)| !t.columns.is_empty())
        .map(|(name, t)| (name.clone(), t.columns.clone()))
        .collect();
    let folder = history::folder(&cfg.reports_prefix, layout.target_prefix());
    let previous = match history::previous_key(store, dst_bucket, &folder, date).await {
        Ok(Some((_, key))) => match history::read(store, dst_bucket, &key).await {
            Ok(kept) => Ok(Some((kept, key))),
            Err(e) => Err(e.to_string()),
        },
        Ok(None) => Ok(None),
        Err(e) => Err(format!(
            "listing the kept reports under {folder} failed: {e}"
        )),
    };
    let drift = match previous {
        Ok(Some((kept, key))) => SchemaDrift::compare(
            PreviousLanding {
                import_date: kept.import_date.clone(),
                export_id: kept.export_id.clone(),
                key,
            },
            &kept.schemas(),
            &now,
        ),
        Ok(None) => {
            tracing::info!(
                folder,
                "no earlier import date landed on this target: no schema to compare"
            );
            SchemaDrift::default()
        }
        Err(problem) => {
            tracing::warn!(
                problem,
                "the schema could not be compared with the previous landing"
            );
            if cfg.fail_on_schema_change {
                report.failures.push(Failure {
                    key: folder.clone(),
                    reason: format!(
                        "schema changes must fail the run, but the previous landing could not be read: {problem}"
                    ),
                });
            }
            SchemaDrift {
                problem: Some(problem),
                ..Default::default()
            }
        }
    };
    let since = drift
        .previous
        .as_ref()
        .map(|p| p.import_date.as_str())
        .unwrap_or("");
    for c in &drift.changes {
        metrics::counter!(names::SCHEMA_CHANGES, "kind" => c.kind.as_str()).increment(1);
        tracing::warn!(
            table = %c.table,
            column = %c.column,
            kind = c.kind.as_str(),
            from = c.from.as_deref().unwrap_or(""),
            to = c.to.as_deref().unwrap_or(""),
            since,
            "schema change"
        );
    }
    for t in &drift.tables_added {
        tracing::info!(table = %t, since, "new table");
    }
    for t in &drift.tables_removed {
        tracing::warn!(table = %t, since, "table landed on the previous date is not in this export");
    }
    if cfg.fail_on_schema_change {
        for c in drift.blocking() {
            report.failures.push(Failure {
                key: c.table.clone(),
                reason: format!("schema change since {since}: {}", c.describe()),
            });
        }
    }
    report.schema_drift = Some(drift);
}

/// Keeps a clean landing's report for the next date's comparison; a failed write fails
/// the run (the next date would be compared with an older landing).
pub(super) async fn keep(
    store: &Store,
    dst_bucket: &str,
    layout: &Layout,
    cfg: &EngineConfig,
    date: NaiveDate,
    report: &mut Report,
) {
    let folder = history::folder(&cfg.reports_prefix, layout.target_prefix());
    let key = history::key(&folder, date);
    match history::write(store, dst_bucket, &key, report).await {
        Ok(()) => tracing::info!(key, "report kept for the next schema comparison"),
        Err(e) => report.failures.push(Failure {
            key,
            reason: format!("keeping the report for the next schema comparison failed: {e}"),
        }),
    }
}
