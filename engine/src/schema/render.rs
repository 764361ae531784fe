//! The human rendering of a [`SchemaDrift`]: one line saying what was compared, then one
//! line per changed column, blocking kinds first.

use std::fmt;

use super::{ChangeKind, SchemaDrift};

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for SchemaDrift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.problem {
            return writeln!(f, "  schema: not compared: {p}");
        }
        let Some(prev) = &self.previous else {
            return writeln!(
                f,
                "  schema: no earlier import date landed on this target; nothing to compare"
            );
        };
        let since = format!("since {} ({})", prev.import_date, prev.export_id);
        if self.changes.is_empty() && self.tables_added.is_empty() && self.tables_removed.is_empty()
        {
            return writeln!(f, "  schema: no change {since}");
        }
        let counts = self.counts();
        let summary: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
        writeln!(
            f,
            "  schema: {} column change(s) {since}{}{}",
            self.changes.len(),
            if summary.is_empty() {
                String::new()
            } else {
                format!(": {}", summary.join(", "))
            },
            if self.blocking().next().is_some() {
                " (removed or retyped columns: --fail-on-schema-change / FAIL_ON_SCHEMA_CHANGE stops before Glue)"
            } else {
                ""
            }
        )?;
        let mut changes: Vec<_> = self.changes.iter().collect();
        changes.sort_by_key(|c| (!c.kind.blocks(), c.kind, c.table.as_str()));
        let width = changes.iter().map(|c| c.table.len()).max().unwrap_or(5);
        let cwidth = changes.iter().map(|c| c.column.len()).max().unwrap_or(6);
        for c in changes {
            writeln!(
                f,
                "    {:<11}  {:<width$}  {:<cwidth$}  {} -> {}",
                c.kind.as_str().to_uppercase(),
                c.table,
                c.column,
                c.from.as_deref().unwrap_or("-"),
                c.to.as_deref().unwrap_or("-"),
            )?;
        }
        for t in &self.tables_added {
            writeln!(f, "    new table    {t}")?;
        }
        for t in &self.tables_removed {
            writeln!(
                f,
                "    table gone   {t} (landed {}, not now)",
                prev.import_date
            )?;
        }
        Ok(())
    }
}
