//! What changed between two landings of the same tables: added, removed and retyped
//! columns, and nullability changes (its own kind, not a retype: see the module docs of
//! [`crate::schema`]).

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::Column;

/// How a column changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// In this landing, not in the previous one. Warns only: readers of older partitions
    /// see it as null.
    Added,
    /// In the previous landing, not in this one. Blocks with `--fail-on-schema-change`.
    Removed,
    /// Physical or logical type changed. Blocks with `--fail-on-schema-change`.
    Retyped,
    /// `REQUIRED` ↔ `OPTIONAL`: the catalog's type is the same either way, so it warns only.
    Nullability,
}

impl ChangeKind {
    /// Whether the change stops the run (Glue not started) when the operator asked for it.
    pub fn blocks(self) -> bool {
        matches!(self, ChangeKind::Removed | ChangeKind::Retyped)
    }

    /// The metric label and log field value.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Retyped => "retyped",
            ChangeKind::Nullability => "nullability",
        }
    }
}

/// One column that changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaChange {
    /// `<db>/<db.table>`, as in the report's tables.
    pub table: String,
    pub column: String,
    pub kind: ChangeKind,
    /// Before: the type ([`Column::type_name`]) for removed and retyped columns, the
    /// repetition for a nullability change; `None` for an added column.
    pub from: Option<String>,
    /// After: the type for added and retyped columns, the repetition for a nullability
    /// change; `None` for a removed column.
    pub to: Option<String>,
}

impl SchemaChange {
    /// One line naming the table, the column and both sides.
    pub fn describe(&self) -> String {
        let (t, c) = (&self.table, &self.column);
        let from = self.from.as_deref().unwrap_or("-");
        let to = self.to.as_deref().unwrap_or("-");
        match self.kind {
            ChangeKind::Added => format!("table {t}: column {c} added ({to})"),
            ChangeKind::Removed => format!("table {t}: column {c} removed (was {from})"),
            ChangeKind::Retyped => format!("table {t}: column {c} retyped from {from} to {to}"),
            ChangeKind::Nullability => {
                format!("table {t}: column {c} nullability changed from {from} to {to}")
            }
        }
    }
}

/// The landing compared with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousLanding {
    pub import_date: String,
    pub export_id: String,
    /// Where its report is kept (`_liberator/reports/…` in the landing bucket).
    pub key: String,
}

/// The schema section of a report: this landing against the previous import date's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaDrift {
    /// The landing compared with; `None` when no earlier import date landed on this
    /// target (the first landing, or history kept before this existed): nothing compared.
    pub previous: Option<PreviousLanding>,
    /// Every changed column, table by table.
    pub changes: Vec<SchemaChange>,
    /// Tables landed now that the previous landing did not have (new tables are not listed
    /// column by column).
    #[serde(default)]
    pub tables_added: Vec<String>,
    /// Tables the previous landing had and this one does not. Warns only: the export's own
    /// table list and the completeness check say whether a table should be there.
    #[serde(default)]
    pub tables_removed: Vec<String>,
    /// Why the comparison could not be made (the previous report could not be read), when
    /// it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl SchemaDrift {
    /// The changes that stop the run when the operator asked for it: removed and retyped
    /// columns.
    pub fn blocking(&self) -> impl Iterator<Item = &SchemaChange> {
        self.changes.iter().filter(|c| c.kind.blocks())
    }

    /// Changes of each kind.
    pub fn counts(&self) -> BTreeMap<ChangeKind, usize> {
        let mut out = BTreeMap::new();
        for c in &self.changes {
            *out.entry(c.kind).or_default() += 1;
        }
        out
    }

    /// Compares this landing's tables with the previous landing's.
    pub fn compare(
        previous: PreviousLanding,
        before: &BTreeMap<String, Vec<Column>>,
        now: &BTreeMap<String, Vec<Column>>,
    ) -> Self {
        let mut drift = SchemaDrift {
            previous: Some(previous),
            ..Default::default()
        };
        for (table, columns) in now {
            match before.get(table) {
                Some(old) => drift.changes.extend(diff_columns(table, old, columns)),
                None => drift.tables_added.push(table.clone()),
            }
        }
        drift.tables_removed = before
            .keys()
            .filter(|t| !now.contains_key(*t))
            .cloned()
            .collect();
        drift
    }
}

/// The changes from `before` to `after` of one table, matched by column name (an order
/// change alone is not a change): columns of `after` in its order, then removed ones.
pub fn diff_columns(table: &str, before: &[Column], after: &[Column]) -> Vec<SchemaChange> {
    let old: HashMap<&str, &Column> = before.iter().map(|c| (c.name.as_str(), c)).collect();
    let new: HashMap<&str, &Column> = after.iter().map(|c| (c.name.as_str(), c)).collect();
    let change = |c: &Column, kind, from: Option<String>, to: Option<String>| SchemaChange {
        table: table.to_string(),
        column: c.name.clone(),
        kind,
        from,
        to,
    };
    let mut out = Vec::new();
    for c in after {
        match old.get(c.name.as_str()) {
            None => out.push(change(c, ChangeKind::Added, None, Some(c.type_name()))),
            Some(o) => {
                let (was, is) = (o.type_name(), c.type_name());
                if was != is {
                    out.push(change(c, ChangeKind::Retyped, Some(was), Some(is)));
                }
                if o.repetition != c.repetition {
                    out.push(change(
                        c,
                        ChangeKind::Nullability,
                        Some(o.repetition.clone()),
                        Some(c.repetition.clone()),
                    ));
                }
            }
        }
    }
    for o in before {
        if !new.contains_key(o.name.as_str()) {
            out.push(change(o, ChangeKind::Removed, Some(o.type_name()), None));
        }
    }
    out
}
