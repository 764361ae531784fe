//! Schema drift in the copier: the engine compares each table's columns with the previous
//! import date landed on the target and logs every change (fields `table`, `column`,
//! `kind`, `from`, `to`); here `FAIL_ON_SCHEMA_CHANGE` turns a removed or retyped column
//! into a failed invocation before the Glue workflow is started, so the crawler never
//! meets it unannounced. Added columns and nullability changes only warn.
//!
//! The reports compared live at `_liberator/reports/<target-prefix>/<YYYY-MM-DD>.json` in
//! the landing bucket (`liberator_engine::schema::history`), written by the engine after
//! every clean landing, the copier's and `engine copy`/`backfill`'s alike. A blocked landing
//! keeps no report and removes no file of an earlier export of the date; to accept the
//! change, land the export again with the setting off (re-send the event, or
//! `engine copy` without `--fail-on-schema-change` and start the workflow by hand).

use liberator_engine::Report;

use crate::{Config, Error};

/// `Err(SchemaChanged)` when the setting is on and `report` lists a removed or retyped
/// column; the error names every such table and column.
pub fn gate(config: &Config, export_id: &str, report: &Report) -> Result<(), Error> {
    let Some(drift) = &report.schema_drift else {
        return Ok(());
    };
    let blocking: Vec<String> = drift.blocking().map(|c| c.describe()).collect();
    if blocking.is_empty() {
        if !drift.changes.is_empty() {
            tracing::warn!(
                changes = drift.changes.len(),
                "the schema changed (added columns or nullability only): the Glue workflow starts"
            );
        }
        return Ok(());
    }
    if !config.fail_on_schema_change {
        tracing::warn!(
            changes = ?blocking,
            "columns were removed or retyped; FAIL_ON_SCHEMA_CHANGE is off, so the Glue workflow starts"
        );
        return Ok(());
    }
    let since = drift
        .previous
        .as_ref()
        .map(|p| format!("{} ({})", p.import_date, p.export_id))
        .unwrap_or_default();
    tracing::error!(
        changes = ?blocking,
        since,
        "columns were removed or retyped and FAIL_ON_SCHEMA_CHANGE is on: the Glue workflow is not started"
    );
    Err(Error::SchemaChanged {
        export_id: export_id.into(),
        since,
        changes: blocking,
    })
}

#[cfg(test)]
mod tests {
    use liberator_engine::schema::{ChangeKind, PreviousLanding, SchemaChange, SchemaDrift};

    use super::*;

    fn report(kinds: &[ChangeKind]) -> Report {
        Report {
            schema_drift: Some(SchemaDrift {
                previous: Some(PreviousLanding {
                    import_date: "2024-06-03".into(),
                    export_id: "sql-to-parquet-24-06-03-101500".into(),
                    key: "_liberator/reports/parking/2024-06-03.json".into(),
                }),
                changes: kinds
                    .iter()
                    .map(|&kind| SchemaChange {
                        table: "liberator/liberator.pcn".into(),
                        column: format!("c_{}", kind.as_str()),
                        kind,
                        from: Some("INT64".into()),
                        to: Some("INT32".into()),
                    })
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn only_removed_or_retyped_columns_stop_and_only_when_asked() {
        let on = Config {
            fail_on_schema_change: true,
            ..Config::default()
        };
        let warn_only = [ChangeKind::Added, ChangeKind::Nullability];
        assert!(gate(&on, "e", &report(&warn_only)).is_ok());
        assert!(gate(&on, "e", &Report::default()).is_ok(), "not compared");
        let all = [
            ChangeKind::Added,
            ChangeKind::Removed,
            ChangeKind::Retyped,
            ChangeKind::Nullability,
        ];
        assert!(
            gate(&Config::default(), "e", &report(&all)).is_ok(),
            "off by default"
        );
        let err = gate(&on, "e", &report(&all)).unwrap_err();
        assert_eq!(err.kind(), "SchemaChanged");
        let msg = err.to_string();
        for needle in [
            "column c_removed removed",
            "column c_retyped retyped from INT64 to INT32",
            "liberator/liberator.pcn",
            "2024-06-03 (sql-to-parquet-24-06-03-101500)",
        ] {
            assert!(msg.contains(needle), "{needle}: {msg}");
        }
        assert!(
            !msg.contains("c_added") && !msg.contains("c_nullability"),
            "{msg}"
        );
    }
}
