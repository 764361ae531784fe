//! Schema drift: each table's schema, read from the footers the engine decodes anyway,
//! and its changes since the previous landed import date on the same target.
//!
//! A Glue crawler that meets a removed or retyped column changes the catalog table under
//! every job that reads it; knowing before the workflow starts is cheaper than a broken
//! night. The pieces:
//!
//! - [`Column`]: one leaf column as the footer declares it (name, physical type, logical
//!   and converted type, repetition), from the `SchemaDescriptor` the footer check already
//!   decoded ([`columns`]); nothing is decoded twice.
//! - [`TableSchemas`]: during a run, the schemas of each table's files. Files of one table
//!   must agree; those that do not are failures naming the table and the file.
//! - [`diff`]: added, removed, retyped columns, and nullability changes, between two
//!   landings ([`SchemaDrift`]).
//! - [`history`]: where landed reports are kept (`_liberator/reports/<target-prefix>/<date>.json`
//!   in the landing bucket), so the CLI and the copier find the previous date's the same way.
//!
//! A nullability change (`REQUIRED` ↔ `OPTIONAL`) is listed as its own kind and is not a
//! retype: the Glue catalog, Athena and Spark type a column the same whatever its
//! repetition, so it breaks no reader's type; like an added column it only warns.

pub mod diff;
pub mod history;
mod render;

use std::collections::{BTreeMap, HashMap};

use parquet::basic::{ConvertedType, LogicalType, TimeUnit, Type as PhysicalType};
use parquet::schema::types::{ColumnDescriptor, SchemaDescPtr};
use serde::{Deserialize, Serialize};

use crate::report::Failure;

pub use diff::{ChangeKind, PreviousLanding, SchemaChange, SchemaDrift, diff_columns};

/// One (leaf) column of a table, as its files' footers declare it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// The column's name; a nested leaf's dotted path (RDS exports are flat).
    pub name: String,
    /// Parquet physical type, a fixed-length array with its length: `INT64`,
    /// `FIXED_LEN_BYTE_ARRAY(9)`.
    pub physical: String,
    /// The logical type, written as Parquet's schema syntax writes it (`STRING`,
    /// `DECIMAL(20,0)`, `TIMESTAMP(MILLIS,true)`); for a file with only a converted type
    /// (older writers), its logical equivalent per the Parquet spec's compatibility table
    /// (`UTF8` is `STRING`, `TIMESTAMP_MILLIS` is `TIMESTAMP(MILLIS,true)`), so the same
    /// column written by an older and a newer writer compares equal. `None` when neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logical: Option<String>,
    /// The converted type as written (`UTF8`, `DECIMAL(20,0)`, `TIMESTAMP_MILLIS`), for
    /// the reader; not compared. `None` when the file has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converted: Option<String>,
    /// `REQUIRED` (NOT NULL), `OPTIONAL` (nullable) or `REPEATED`.
    pub repetition: String,
}

impl Column {
    /// The type compared between landings: the physical type and the logical type, e.g.
    /// `INT64 TIMESTAMP(MILLIS,true)`, `BYTE_ARRAY STRING`, `DOUBLE`.
    pub fn type_name(&self) -> String {
        match &self.logical {
            Some(t) => format!("{} {t}", self.physical),
            None => self.physical.clone(),
        }
    }
}

/// The columns of a decoded footer schema, in file order.
pub fn columns(schema: &SchemaDescPtr) -> Vec<Column> {
    schema.columns().iter().map(|c| column(c)).collect()
}

fn column(c: &ColumnDescriptor) -> Column {
    let physical = match c.physical_type() {
        PhysicalType::FIXED_LEN_BYTE_ARRAY => format!("FIXED_LEN_BYTE_ARRAY({})", c.type_length()),
        other => other.to_string(),
    };
    let converted = match c.converted_type() {
        ConvertedType::NONE => None,
        ConvertedType::DECIMAL => Some(format!(
            "DECIMAL({},{})",
            c.type_precision(),
            c.type_scale()
        )),
        other => Some(other.to_string()),
    };
    Column {
        name: c.path().string(),
        physical,
        logical: logical_type(c).as_ref().map(logical_name),
        converted,
        repetition: c.self_type().get_basic_info().repetition().to_string(),
    }
}

fn unit(u: &TimeUnit) -> &'static str {
    match u {
        TimeUnit::MILLIS => "MILLIS",
        TimeUnit::MICROS => "MICROS",
        TimeUnit::NANOS => "NANOS",
    }
}

/// The column's logical type, or the logical equivalent of its converted type ("Backward
/// compatibility" in <https://github.com/apache/parquet-format/blob/master/LogicalTypes.md>:
/// converted timestamps and times are adjusted to UTC). `INTERVAL` and `MAP_KEY_VALUE` have
/// none.
fn logical_type(c: &ColumnDescriptor) -> Option<LogicalType> {
    if let Some(t) = c.logical_type_ref() {
        return Some(t.clone());
    }
    Some(match c.converted_type() {
        ConvertedType::UTF8 => LogicalType::String,
        ConvertedType::ENUM => LogicalType::Enum,
        ConvertedType::JSON => LogicalType::Json,
        ConvertedType::BSON => LogicalType::Bson,
        ConvertedType::DATE => LogicalType::Date,
        ConvertedType::LIST => LogicalType::List,
        ConvertedType::MAP => LogicalType::Map,
        ConvertedType::DECIMAL => LogicalType::decimal(c.type_scale(), c.type_precision()),
        ConvertedType::TIME_MILLIS => LogicalType::time(true, TimeUnit::MILLIS),
        ConvertedType::TIME_MICROS => LogicalType::time(true, TimeUnit::MICROS),
        ConvertedType::TIMESTAMP_MILLIS => LogicalType::timestamp(true, TimeUnit::MILLIS),
        ConvertedType::TIMESTAMP_MICROS => LogicalType::timestamp(true, TimeUnit::MICROS),
        ConvertedType::INT_8 => LogicalType::integer(8, true),
        ConvertedType::INT_16 => LogicalType::integer(16, true),
        ConvertedType::INT_32 => LogicalType::integer(32, true),
        ConvertedType::INT_64 => LogicalType::integer(64, true),
        ConvertedType::UINT_8 => LogicalType::integer(8, false),
        ConvertedType::UINT_16 => LogicalType::integer(16, false),
        ConvertedType::UINT_32 => LogicalType::integer(32, false),
        ConvertedType::UINT_64 => LogicalType::integer(64, false),
        _ => return None,
    })
}

/// A logical type in Parquet's schema syntax (as `parquet::schema::printer` writes it).
fn logical_name(t: &LogicalType) -> String {
    match t {
        LogicalType::Integer(i) => format!("INTEGER({},{})", i.bit_width, i.is_signed),
        LogicalType::Decimal(d) => format!("DECIMAL({},{})", d.precision, d.scale),
        LogicalType::Timestamp(t) => {
            format!("TIMESTAMP({},{})", unit(&t.unit), t.is_adjusted_to_u_t_c)
        }
        LogicalType::Time(t) => format!("TIME({},{})", unit(&t.unit), t.is_adjusted_to_u_t_c),
        LogicalType::Date => "DATE".into(),
        LogicalType::Bson => "BSON".into(),
        LogicalType::Json => "JSON".into(),
        LogicalType::String => "STRING".into(),
        LogicalType::Uuid => "UUID".into(),
        LogicalType::Enum => "ENUM".into(),
        LogicalType::List => "LIST".into(),
        LogicalType::Map => "MAP".into(),
        LogicalType::Float16 => "FLOAT16".into(),
        LogicalType::Unknown => "UNKNOWN".into(),
        // Types no MySQL export writes: named by their debug form, which still compares.
        other => format!("{other:?}"),
    }
}

/// Whether two footers declare the same columns: names, types and repetition, leaf by
/// leaf, as [`Column::type_name`] compares them. Allocates nothing in the usual case (the
/// same writer's annotations; it runs for every file).
pub fn same_schema(a: &SchemaDescPtr, b: &SchemaDescPtr) -> bool {
    if std::sync::Arc::ptr_eq(a, b) {
        return true;
    }
    a.num_columns() == b.num_columns()
        && a.columns().iter().zip(b.columns()).all(|(x, y)| {
            x.path() == y.path()
                && x.physical_type() == y.physical_type()
                && x.type_length() == y.type_length()
                && x.type_precision() == y.type_precision()
                && x.type_scale() == y.type_scale()
                && (x.logical_type_ref() == y.logical_type_ref()
                    && x.converted_type() == y.converted_type()
                    || logical_type(x) == logical_type(y))
                && x.self_type().get_basic_info().repetition()
                    == y.self_type().get_basic_info().repetition()
        })
}

/// Files of one schema within a table.
#[derive(Debug)]
struct Variant {
    schema: SchemaDescPtr,
    files: u64,
    /// The smallest key with this schema (the file a failure names).
    first_key: String,
}

/// The schemas of each table's files during one run: one entry per distinct schema, so
/// memory stays per table, not per file.
#[derive(Debug, Default)]
pub struct TableSchemas {
    tables: HashMap<String, Vec<Variant>>,
}

impl TableSchemas {
    /// Records the schema of `key`, a file of `table`.
    pub fn add(&mut self, table: &str, key: &str, schema: &SchemaDescPtr) {
        let variants = match self.tables.get_mut(table) {
            Some(v) => v,
            None => self.tables.entry(table.to_string()).or_default(),
        };
        match variants.iter_mut().find(|v| same_schema(&v.schema, schema)) {
            Some(v) => {
                v.files += 1;
                if key < v.first_key.as_str() {
                    v.first_key = key.to_string();
                }
            }
            None => variants.push(Variant {
                schema: schema.clone(),
                files: 1,
                first_key: key.to_string(),
            }),
        }
    }

    /// Each table's columns (the schema most of its files have; ties go to the smallest
    /// key), and a failure for every other schema found in a table, naming the table, its
    /// first file and how it differs.
    pub fn finish(self) -> (BTreeMap<String, Vec<Column>>, Vec<Failure>) {
        let mut out = BTreeMap::new();
        let mut failures = Vec::new();
        for (table, mut variants) in self.tables {
            variants.sort_by(|a, b| {
                b.files
                    .cmp(&a.files)
                    .then_with(|| a.first_key.cmp(&b.first_key))
            });
            let mut iter = variants.into_iter();
            let Some(main) = iter.next() else { continue };
            let main_columns = columns(&main.schema);
            for odd in iter {
                let changes: Vec<String> =
                    diff_columns(&table, &main_columns, &columns(&odd.schema))
                        .iter()
                        .map(SchemaChange::describe)
                        .collect();
                failures.push(Failure {
                    key: odd.first_key.clone(),
                    reason: format!(
                        "table {table}: {} file(s) of this export, first {}, have another schema than its other {} file(s) (first {}): {}",
                        odd.files,
                        odd.first_key,
                        main.files,
                        main.first_key,
                        if changes.is_empty() {
                            "columns in another order".to_string()
                        } else {
                            changes.join("; ")
                        }
                    ),
                });
            }
            out.insert(table, main_columns);
        }
        failures.sort_by(|a, b| a.key.cmp(&b.key));
        (out, failures)
    }
}

#[cfg(test)]
mod tests;
