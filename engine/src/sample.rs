//! Realistic sample exports: RDS's layout, metadata files and real Parquet.
//!
//! Used by `engine demo` (the README's first command), the integration tests and the
//! benchmarks, so all three exercise the same shape of data as production.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};
use parquet::basic::{Compression, GzipLevel};
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use serde_json::json;

use crate::error::{Error, Result};
use crate::location::Location;
use crate::store::Store;

/// One table of a sample export.
#[derive(Debug, Clone)]
pub struct SampleTable {
    /// The exported table folder, `<db>.<table>`.
    pub name: String,
    /// Batch folders (`1/`, `2/`, …); 0 writes the older flat layout.
    pub batches: usize,
    pub files_per_batch: usize,
    pub rows_per_file: usize,
}

/// A sample export.
#[derive(Debug, Clone)]
pub struct SampleSpec {
    pub export_id: String,
    pub database: String,
    pub tables: Vec<SampleTable>,
    /// Objects written concurrently. Default 32.
    pub concurrency: usize,
}

impl SampleSpec {
    /// A small export shaped like the Liberator parking database: five tables, some split
    /// into two batch folders.
    pub fn liberator(export_id: &str) -> Self {
        let t = |name: &str, batches, files_per_batch, rows_per_file| SampleTable {
            name: format!("liberator.{name}"),
            batches,
            files_per_batch,
            rows_per_file,
        };
        SampleSpec {
            export_id: export_id.to_string(),
            database: "liberator".into(),
            tables: vec![
                t("pcn", 2, 3, 2000),
                t("permits", 1, 2, 1500),
                t("vrm", 1, 1, 800),
                t("suspensions", 1, 1, 300),
                t("cash_payments", 2, 2, 1200),
            ],
            concurrency: 32,
        }
    }

    /// `tables` tables of `batches` × `files` files of `rows` rows each.
    pub fn uniform(
        export_id: &str,
        tables: usize,
        batches: usize,
        files: usize,
        rows: usize,
    ) -> Self {
        SampleSpec {
            export_id: export_id.to_string(),
            database: "liberator".into(),
            tables: (0..tables)
                .map(|i| SampleTable {
                    name: format!("liberator.table_{i:03}"),
                    batches,
                    files_per_batch: files,
                    rows_per_file: rows,
                })
                .collect(),
            concurrency: 32,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct SampleSummary {
    /// Every object written, metadata included.
    pub objects: u64,
    pub parquet_files: u64,
    pub bytes: u64,
    /// Rows per table, `<db>/<db.table>` → rows.
    pub rows: BTreeMap<String, u64>,
    /// Keys of the Parquet files written.
    pub parquet_keys: Vec<String>,
}

const SCHEMA: &str = "message liberator_row {
  REQUIRED INT64 id;
  REQUIRED BYTE_ARRAY vrm (UTF8);
  OPTIONAL DOUBLE amount;
  REQUIRED INT64 issued_at (TIMESTAMP(MILLIS,true));
  OPTIONAL BYTE_ARRAY street (UTF8);
}";

const STREETS: &[&str] = &[
    "Mare Street",
    "Dalston Lane",
    "Kingsland Road",
    "Well Street",
    "Chatsworth Road",
];

/// A gzip-compressed Parquet file of `rows` rows, deterministic in `(table, seed)`.
pub fn parquet_file(table: &str, seed: u64, rows: usize) -> Bytes {
    try_parquet_file(table, seed, rows).expect("writing Parquet to memory cannot fail")
}

fn try_parquet_file(table: &str, seed: u64, rows: usize) -> parquet::errors::Result<Bytes> {
    let schema = Arc::new(parse_message_type(SCHEMA)?);
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::GZIP(GzipLevel::default()))
            .set_max_row_group_row_count(Some(1000))
            .build(),
    );
    let mut writer = SerializedFileWriter::new(Vec::new(), schema, props)?;
    let base = seed * 1_000_000 + table.len() as u64 * 10_000;
    let mut done = 0;
    while done < rows {
        let n = (rows - done).min(1000);
        let ids: Vec<i64> = (0..n).map(|i| (base + (done + i) as u64) as i64).collect();
        let mut rg = writer.next_row_group()?;
        let mut col = 0;
        while let Some(mut c) = rg.next_column()? {
            match col {
                0 => {
                    c.typed::<Int64Type>().write_batch(&ids, None, None)?;
                }
                1 => {
                    let v: Vec<ByteArray> = ids
                        .iter()
                        .map(|id| ByteArray::from(format!("LB{:02}ABC{id}", id % 97).as_str()))
                        .collect();
                    c.typed::<ByteArrayType>().write_batch(&v, None, None)?;
                }
                2 => {
                    let def: Vec<i16> = ids.iter().map(|id| i16::from(id % 7 != 0)).collect();
                    let v: Vec<f64> = ids
                        .iter()
                        .filter(|id| *id % 7 != 0)
                        .map(|id| (id % 13) as f64 * 10.5)
                        .collect();
                    c.typed::<DoubleType>().write_batch(&v, Some(&def), None)?;
                }
                3 => {
                    let v: Vec<i64> = ids.iter().map(|id| 1_717_200_000_000 + id * 1000).collect();
                    c.typed::<Int64Type>().write_batch(&v, None, None)?;
                }
                _ => {
                    let def: Vec<i16> = ids.iter().map(|id| i16::from(id % 5 != 0)).collect();
                    let v: Vec<ByteArray> = ids
                        .iter()
                        .filter(|id| *id % 5 != 0)
                        .map(|id| ByteArray::from(STREETS[(*id as usize) % STREETS.len()]))
                        .collect();
                    c.typed::<ByteArrayType>()
                        .write_batch(&v, Some(&def), None)?;
                }
            }
            c.close()?;
            col += 1;
        }
        rg.close()?;
        done += n;
    }
    Ok(Bytes::from(writer.into_inner()?))
}

/// Writes the sample export under `location` (`<prefix>/<export-id>/…`).
pub async fn write_sample_export(
    store: &Store,
    location: &Location,
    spec: &SampleSpec,
) -> Result<SampleSummary> {
    let bucket = location.bucket();
    let root = format!("{}{}/", location.prefix(), spec.export_id);
    let mut summary = SampleSummary::default();
    let mut files = Vec::new();
    let mut seed = 0;
    for table in &spec.tables {
        let folder = format!("{root}{}/{}/", spec.database, table.name);
        let batches: Vec<String> = if table.batches == 0 {
            vec![String::new()]
        } else {
            (1..=table.batches).map(|b| format!("{b}/")).collect()
        };
        for batch in batches {
            for f in 0..table.files_per_batch {
                seed += 1;
                let uuid = uuid::Uuid::from_u64_pair(seed, table.name.len() as u64);
                let key = format!("{folder}{batch}part-{f:05}-{uuid}.gz.parquet");
                files.push((key, table.name.clone(), seed, table.rows_per_file));
            }
        }
        *summary
            .rows
            .entry(format!("{}/{}", spec.database, table.name))
            .or_default() +=
            (table.batches.max(1) * table.files_per_batch * table.rows_per_file) as u64;
    }
    let written: Vec<(String, u64)> = stream::iter(files)
        .map(|(key, table, seed, rows)| {
            let (store, bucket) = (store, &bucket);
            async move {
                let body = tokio::task::spawn_blocking({
                    let key = key.clone();
                    move || {
                        try_parquet_file(&table, seed, rows)
                            .map_err(|source| Error::ParquetWrite { key, source })
                    }
                })
                .await
                .map_err(|e| Error::Interrupted(e.to_string()))??;
                let len = body.len() as u64;
                store.write(bucket, &key, body).await?;
                Ok::<_, Error>((key, len))
            }
        })
        .buffer_unordered(spec.concurrency.max(1))
        .try_collect()
        .await?;
    for (key, len) in written {
        summary.parquet_files += 1;
        summary.bytes += len;
        summary.parquet_keys.push(key);
    }
    summary.parquet_keys.sort();
    let tables_info = json!({
        "perTableStatus": spec.tables.iter().map(|t| json!({
            "target": format!("{}.{}", spec.database, t.name.split_once('.').map_or(t.name.as_str(), |x| x.1)),
            "status": "COMPLETE",
            "sizeGB": 0.0,
        })).collect::<Vec<_>>()
    });
    let meta = [
        (
            format!("{root}export_info_{}.json", spec.export_id),
            json!({"exportTaskIdentifier": spec.export_id, "status": "COMPLETE", "totalExportedDataInGB": 0.0}).to_string(),
        ),
        (
            format!("{root}export_tables_info_{}_from_1_to_{}.json", spec.export_id, spec.tables.len()),
            tables_info.to_string(),
        ),
        (format!("{root}_SUCCESS"), String::new()),
    ];
    for (key, body) in meta {
        summary.bytes += body.len() as u64;
        store.write(&bucket, &key, Bytes::from(body)).await?;
    }
    summary.objects = summary.parquet_files + 3;
    Ok(summary)
}
