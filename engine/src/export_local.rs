//! A local stand-in for the RDS export service: writes every table of a MySQL/MariaDB
//! database as Parquet in the RDS export layout.
//!
//! No local server implements `StartExportTask` (moto accepts it and writes nothing), so
//! end-to-end runs on a laptop or in CI use this instead. It is a project tool, never used in
//! AWS. Layout, as RDS writes it:
//!
//! ```text
//! <export-id>/<db>/<db>.<table>/1/part-00000-<uuid>.gz.parquet   (large tables: part-00001, …)
//! <export-id>/export_info_<export-id>.json
//! <export-id>/export_tables_info_<export-id>_from_1_to_<N>.json
//! <export-id>/_SUCCESS
//! ```
//!
//! Type mapping, following RDS's documented MySQL → Parquet conversion:
//!
//! | MySQL | Parquet |
//! |---|---|
//! | TINYINT, SMALLINT, MEDIUMINT, INT, YEAR (signed; unsigned except INT) | INT32 |
//! | INT UNSIGNED, BIGINT | INT64 |
//! | BIGINT UNSIGNED | BYTE_ARRAY (UTF8 decimal digits; RDS: DECIMAL(20,0)) |
//! | DECIMAL(p,s), p ≤ 18 | INT64 DECIMAL(p,s) |
//! | DECIMAL(p,s), p > 18 | BYTE_ARRAY UTF8 (RDS: FIXED_LEN_BYTE_ARRAY DECIMAL) |
//! | FLOAT, DOUBLE | DOUBLE |
//! | DATE | INT32 DATE |
//! | DATETIME, TIMESTAMP | INT64 TIMESTAMP(MICROS, UTC) |
//! | TIME, CHAR, VARCHAR, *TEXT, ENUM, SET, JSON | BYTE_ARRAY UTF8 |
//! | BINARY, VARBINARY, *BLOB, BIT, GEOMETRY | BYTE_ARRAY |
//!
//! Zero dates (`0000-00-00`) become NULL, as RDS does. Nullable columns are OPTIONAL.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{NaiveDate, NaiveDateTime};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, Row, Value};
use parquet::basic::{Compression, GzipLevel};
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use serde::Serialize;
use serde_json::json;

use crate::error::{Error, Result};
use crate::location::Location;
use crate::stats::JobStats;
use crate::store::Store;

/// Exporter settings.
#[derive(Debug, Clone)]
pub struct LocalExportConfig {
    /// Rows per Parquet file; bigger tables get several parts. Default 100,000.
    pub rows_per_file: usize,
    /// Rows per row group. Default 10,000.
    pub row_group_rows: usize,
}

impl Default for LocalExportConfig {
    fn default() -> Self {
        LocalExportConfig {
            rows_per_file: 100_000,
            row_group_rows: 10_000,
        }
    }
}

/// What the exporter wrote.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LocalExportSummary {
    /// `<db>.<table>` → rows.
    pub tables: BTreeMap<String, u64>,
    pub parquet_files: u64,
    pub bytes: u64,
}

/// Parquet representation of one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int32,
    Int64,
    Decimal64 { scale: u32 },
    Double,
    Date,
    Timestamp,
    Utf8,
    Binary,
}

/// `information_schema.COLUMNS`: name, data type, column type, precision, scale, nullable.
type ColumnRow = (String, String, String, Option<u64>, Option<u64>, String);

#[derive(Debug, Clone)]
struct Column {
    name: String,
    kind: Kind,
    precision: u32,
    nullable: bool,
}

/// Maps an `information_schema.COLUMNS` row to a Parquet kind.
pub fn kind_of(data_type: &str, column_type: &str, precision: u32, scale: u32) -> Kind {
    let unsigned = column_type.contains("unsigned");
    match data_type {
        "tinyint" | "smallint" | "mediumint" | "year" => Kind::Int32,
        "int" | "integer" if !unsigned => Kind::Int32,
        "int" | "integer" => Kind::Int64,
        "bigint" if !unsigned => Kind::Int64,
        "bigint" => Kind::Utf8,
        "decimal" | "numeric" if precision <= 18 => Kind::Decimal64 { scale },
        "decimal" | "numeric" => Kind::Utf8,
        "float" | "double" | "real" => Kind::Double,
        "date" => Kind::Date,
        "datetime" | "timestamp" => Kind::Timestamp,
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" | "bit"
        | "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
        | "multipolygon" | "geometrycollection" => Kind::Binary,
        _ => Kind::Utf8,
    }
}

fn sql_err(what: &str, e: mysql_async::Error) -> Error {
    Error::Location {
        location: what.to_string(),
        reason: format!("MySQL: {e}"),
    }
}

fn schema_of(columns: &[Column]) -> String {
    let mut s = String::from("message rds_export {\n");
    for c in columns {
        let rep = if c.nullable { "OPTIONAL" } else { "REQUIRED" };
        // Backquotes and odd characters cannot appear in a Parquet schema string; RDS keeps
        // MySQL column names, which are plain identifiers in practice.
        let name = &c.name;
        let (ty, annotation) = match c.kind {
            Kind::Int32 => ("INT32", String::new()),
            Kind::Int64 => ("INT64", String::new()),
            Kind::Decimal64 { scale } => (
                "INT64",
                format!(" (DECIMAL({},{scale}))", c.precision.max(1)),
            ),
            Kind::Double => ("DOUBLE", String::new()),
            Kind::Date => ("INT32", " (DATE)".to_string()),
            Kind::Timestamp => ("INT64", " (TIMESTAMP(MICROS,true))".to_string()),
            Kind::Utf8 => ("BYTE_ARRAY", " (UTF8)".to_string()),
            Kind::Binary => ("BYTE_ARRAY", String::new()),
        };
        s.push_str(&format!("  {rep} {ty} {name}{annotation};\n"));
    }
    s.push('}');
    s
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(f) => Some(f.to_string()),
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

/// Parses `-12.3400` at `scale` into an unscaled integer (`-123400` at scale 4).
pub fn unscaled(s: &str, scale: u32) -> Option<i64> {
    let (neg, digits) = s.strip_prefix('-').map_or((false, s), |d| (true, d));
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let mut frac = frac.to_string();
    if frac.len() > scale as usize {
        return None;
    }
    while frac.len() < scale as usize {
        frac.push('0');
    }
    let v: i64 = format!("{int}{frac}").parse().ok()?;
    Some(if neg { -v } else { v })
}

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();

fn date_days(s: &str) -> Option<i32> {
    let d = NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()?;
    Some((d - EPOCH).num_days() as i32)
}

fn timestamp_micros(s: &str) -> Option<i64> {
    let fmt = if s.contains('.') {
        "%Y-%m-%d %H:%M:%S%.f"
    } else {
        "%Y-%m-%d %H:%M:%S"
    };
    let t = NaiveDateTime::parse_from_str(s, fmt).ok()?;
    Some(t.and_utc().timestamp_micros())
}

enum Buf {
    I32(Vec<i32>),
    I64(Vec<i64>),
    F64(Vec<f64>),
    Bytes(Vec<ByteArray>),
}

struct ColumnBuf {
    values: Buf,
    defs: Vec<i16>,
}

impl ColumnBuf {
    fn new(kind: Kind) -> Self {
        let values = match kind {
            Kind::Int32 | Kind::Date => Buf::I32(Vec::new()),
            Kind::Int64 | Kind::Decimal64 { .. } | Kind::Timestamp => Buf::I64(Vec::new()),
            Kind::Double => Buf::F64(Vec::new()),
            Kind::Utf8 | Kind::Binary => Buf::Bytes(Vec::new()),
        };
        ColumnBuf {
            values,
            defs: Vec::new(),
        }
    }

    fn push(&mut self, col: &Column, v: &Value) -> std::result::Result<(), String> {
        let bad = |s: &str| {
            format!(
                "column {}: cannot convert {s:?} to {:?}",
                col.name, col.kind
            )
        };
        let present = match (&mut self.values, v) {
            (_, Value::NULL) => false,
            (Buf::Bytes(out), Value::Bytes(b)) => {
                out.push(ByteArray::from(b.clone()));
                true
            }
            (values, v) => {
                let s = text(v).unwrap_or_default();
                match (values, col.kind) {
                    (Buf::I32(out), Kind::Date) => match date_days(&s) {
                        Some(d) => {
                            out.push(d);
                            true
                        }
                        None if s.starts_with("0000-00-00") => false,
                        None => return Err(bad(&s)),
                    },
                    (Buf::I32(out), _) => {
                        out.push(s.parse().map_err(|_| bad(&s))?);
                        true
                    }
                    (Buf::I64(out), Kind::Timestamp) => match timestamp_micros(&s) {
                        Some(t) => {
                            out.push(t);
                            true
                        }
                        None if s.starts_with("0000-00-00") => false,
                        None => return Err(bad(&s)),
                    },
                    (Buf::I64(out), Kind::Decimal64 { scale }) => {
                        out.push(unscaled(&s, scale).ok_or_else(|| bad(&s))?);
                        true
                    }
                    (Buf::I64(out), _) => {
                        out.push(s.parse().map_err(|_| bad(&s))?);
                        true
                    }
                    (Buf::F64(out), _) => {
                        out.push(s.parse().map_err(|_| bad(&s))?);
                        true
                    }
                    (Buf::Bytes(out), _) => {
                        out.push(ByteArray::from(s.into_bytes()));
                        true
                    }
                }
            }
        };
        if !present && !col.nullable {
            return Err(format!(
                "column {} is NOT NULL but holds NULL or a zero date",
                col.name
            ));
        }
        self.defs.push(i16::from(present));
        Ok(())
    }
}

struct FileWriter {
    writer: SerializedFileWriter<Vec<u8>>,
    rows: usize,
}

fn new_file(schema: &str) -> parquet::errors::Result<FileWriter> {
    let schema = Arc::new(parse_message_type(schema)?);
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::GZIP(GzipLevel::default()))
            .build(),
    );
    Ok(FileWriter {
        writer: SerializedFileWriter::new(Vec::new(), schema, props)?,
        rows: 0,
    })
}

fn write_row_group(
    file: &mut FileWriter,
    columns: &[Column],
    bufs: &mut [ColumnBuf],
) -> parquet::errors::Result<()> {
    let mut rg = file.writer.next_row_group()?;
    let mut i = 0;
    while let Some(mut w) = rg.next_column()? {
        let (col, buf) = (&columns[i], &mut bufs[i]);
        let defs = col.nullable.then_some(buf.defs.as_slice());
        match &buf.values {
            Buf::I32(v) => w.typed::<Int32Type>().write_batch(v, defs, None)?,
            Buf::I64(v) => w.typed::<Int64Type>().write_batch(v, defs, None)?,
            Buf::F64(v) => w.typed::<DoubleType>().write_batch(v, defs, None)?,
            Buf::Bytes(v) => w.typed::<ByteArrayType>().write_batch(v, defs, None)?,
        };
        w.close()?;
        *buf = ColumnBuf::new(col.kind);
        i += 1;
    }
    rg.close()?;
    Ok(())
}

/// Exports every base table of `database` to `location` as export `export_id`.
#[tracing::instrument(skip_all, fields(database, export_id))]
pub async fn export_database(
    opts: Opts,
    database: &str,
    store: &Store,
    location: &Location,
    export_id: &str,
    config: &LocalExportConfig,
) -> Result<LocalExportSummary> {
    let mut conn = Conn::new(opts).await.map_err(|e| sql_err(database, e))?;
    let tables: Vec<String> = conn
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
            (database,),
        )
        .await
        .map_err(|e| sql_err(database, e))?;
    let bucket = location.bucket();
    let root = format!("{}{export_id}/", location.prefix());
    let stats = JobStats::default();
    let mut summary = LocalExportSummary::default();
    for table in &tables {
        let rows = export_table(
            &mut conn,
            database,
            table,
            store,
            &bucket,
            &root,
            config,
            &stats,
            &mut summary,
        )
        .await?;
        summary.tables.insert(format!("{database}.{table}"), rows);
    }
    let info = json!({
        "exportTaskIdentifier": export_id,
        "sourceDatabase": database,
        "status": "COMPLETE",
        "exporter": "liberator export-local",
        "totalExportedFiles": summary.parquet_files,
    });
    let tables_info = json!({
        "perTableStatus": summary.tables.iter().map(|(t, rows)| json!({"target": t, "status": "COMPLETE", "rows": rows})).collect::<Vec<_>>()
    });
    let meta = [
        (
            format!("{root}export_info_{export_id}.json"),
            info.to_string(),
        ),
        (
            format!(
                "{root}export_tables_info_{export_id}_from_1_to_{}.json",
                tables.len()
            ),
            tables_info.to_string(),
        ),
        (format!("{root}_SUCCESS"), String::new()),
    ];
    for (key, body) in meta {
        store.write(&bucket, &key, Bytes::from(body)).await?;
    }
    conn.disconnect().await.map_err(|e| sql_err(database, e))?;
    Ok(summary)
}

#[allow(clippy::too_many_arguments)]
async fn export_table(
    conn: &mut Conn,
    database: &str,
    table: &str,
    store: &Store,
    bucket: &str,
    root: &str,
    config: &LocalExportConfig,
    stats: &JobStats,
    summary: &mut LocalExportSummary,
) -> Result<u64> {
    let what = format!("{database}.{table}");
    let cols: Vec<ColumnRow> = conn
        .exec(
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE, IS_NULLABLE
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
            (database, table),
        )
        .await
        .map_err(|e| sql_err(&what, e))?;
    let columns: Vec<Column> = cols
        .into_iter()
        .map(|(name, dt, ct, p, s, nullable)| {
            let (p, s) = (p.unwrap_or(0) as u32, s.unwrap_or(0) as u32);
            Column {
                name,
                kind: kind_of(&dt.to_ascii_lowercase(), &ct.to_ascii_lowercase(), p, s),
                precision: p,
                nullable: nullable == "YES",
            }
        })
        .collect();
    let schema = schema_of(&columns);
    let folder = format!("{root}{database}/{database}.{table}/1/");
    let write_err = |key: &str, source| Error::ParquetWrite {
        key: key.to_string(),
        source,
    };
    let mut result = conn
        .query_iter(format!(
            "SELECT * FROM `{}`.`{}`",
            database.replace('`', "``"),
            table.replace('`', "``")
        ))
        .await
        .map_err(|e| sql_err(&what, e))?;
    let mut bufs: Vec<ColumnBuf> = columns.iter().map(|c| ColumnBuf::new(c.kind)).collect();
    let mut in_group = 0;
    let mut file: Option<FileWriter> = None;
    let mut part = 0;
    let mut total = 0u64;
    loop {
        let row: Option<Row> = result.next().await.map_err(|e| sql_err(&what, e))?;
        let Some(row) = row else { break };
        for (i, col) in columns.iter().enumerate() {
            let v = row.as_ref(i).unwrap_or(&Value::NULL);
            bufs[i].push(col, v).map_err(|reason| Error::Location {
                location: what.clone(),
                reason,
            })?;
        }
        in_group += 1;
        total += 1;
        let key = format!("{folder}part-{part:05}.gz.parquet");
        if file.is_none() {
            file = Some(new_file(&schema).map_err(|e| write_err(&key, e))?);
        }
        let f = file.as_mut().expect("file open");
        if in_group == config.row_group_rows.max(1) {
            write_row_group(f, &columns, &mut bufs).map_err(|e| write_err(&key, e))?;
            f.rows += in_group;
            in_group = 0;
        }
        if f.rows >= config.rows_per_file.max(1) {
            let done = file.take().expect("file open");
            flush_file(done, store, bucket, &folder, part, stats, summary).await?;
            part += 1;
        }
    }
    if in_group > 0 {
        let key = format!("{folder}part-{part:05}.gz.parquet");
        let f = file.as_mut().expect("rows imply an open file");
        write_row_group(f, &columns, &mut bufs).map_err(|e| write_err(&key, e))?;
        f.rows += in_group;
    }
    if let Some(f) = file.take() {
        flush_file(f, store, bucket, &folder, part, stats, summary).await?;
    }
    tracing::info!(table = %what, rows = total, "exported");
    Ok(total)
}

async fn flush_file(
    f: FileWriter,
    store: &Store,
    bucket: &str,
    folder: &str,
    part: usize,
    stats: &JobStats,
    summary: &mut LocalExportSummary,
) -> Result<()> {
    let key = format!("{folder}part-{part:05}-{}.gz.parquet", uuid::Uuid::new_v4());
    let bytes = f
        .writer
        .into_inner()
        .map_err(|source| Error::ParquetWrite {
            key: key.clone(),
            source,
        })?;
    summary.parquet_files += 1;
    summary.bytes += bytes.len() as u64;
    store.write(bucket, &key, Bytes::from(bytes)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_mysql_types_like_rds() {
        assert_eq!(kind_of("int", "int(11)", 10, 0), Kind::Int32);
        assert_eq!(kind_of("int", "int(10) unsigned", 10, 0), Kind::Int64);
        assert_eq!(
            kind_of("smallint", "smallint(5) unsigned", 5, 0),
            Kind::Int32
        );
        assert_eq!(kind_of("bigint", "bigint(20)", 19, 0), Kind::Int64);
        assert_eq!(kind_of("bigint", "bigint(20) unsigned", 20, 0), Kind::Utf8);
        assert_eq!(
            kind_of("decimal", "decimal(5,2)", 5, 2),
            Kind::Decimal64 { scale: 2 }
        );
        assert_eq!(kind_of("decimal", "decimal(30,2)", 30, 2), Kind::Utf8);
        assert_eq!(kind_of("datetime", "datetime", 0, 0), Kind::Timestamp);
        assert_eq!(kind_of("timestamp", "timestamp", 0, 0), Kind::Timestamp);
        assert_eq!(kind_of("date", "date", 0, 0), Kind::Date);
        assert_eq!(kind_of("blob", "blob", 0, 0), Kind::Binary);
        assert_eq!(kind_of("enum", "enum('a','b')", 0, 0), Kind::Utf8);
        assert_eq!(kind_of("set", "set('a','b')", 0, 0), Kind::Utf8);
        assert_eq!(kind_of("year", "year(4)", 0, 0), Kind::Int32);
    }

    #[test]
    fn converts_decimals_dates_and_timestamps() {
        assert_eq!(unscaled("2.99", 2), Some(299));
        assert_eq!(unscaled("-12.3", 4), Some(-123000));
        assert_eq!(unscaled("7", 2), Some(700));
        assert_eq!(
            unscaled("1.234", 2),
            None,
            "more digits than the scale is refused"
        );
        assert_eq!(date_days("1970-01-02"), Some(1));
        assert_eq!(timestamp_micros("1970-01-01 00:00:01.5"), Some(1_500_000));
        assert_eq!(
            timestamp_micros("2006-02-15 04:34:33"),
            Some(1_139_978_073_000_000)
        );
    }
}
