//! Benchmark data: Parquet files padded to a chosen size, export-shaped key sets, and the S3
//! chores around a run (buckets, seeding, counting, clearing), done directly against the
//! server, never through the latency proxy.

use std::ops::Range;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};
use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use rand::{RngCore, SeedableRng};

/// The export id every scenario uses (a valid RDS-export id: import date 2024-06-04).
pub const EXPORT_ID: &str = "sql-to-parquet-24-06-04-101500";

/// Largest single value in a padded file.
const VALUE: usize = 1024 * 1024;

/// A valid, uncompressed Parquet file of about `size` bytes: one required BYTE_ARRAY column
/// of random (incompressible) bytes, no dictionary, no statistics, so the footer stays small
/// and the engine's footer verification passes whatever the size.
pub fn padded_parquet(size: usize, seed: u64) -> Bytes {
    let first = write_padded(size.saturating_sub(200).max(1), seed);
    let payload =
        (size.saturating_sub(200).max(1) as i64 + size as i64 - first.len() as i64).max(1) as usize;
    write_padded(payload, seed)
}

fn write_padded(payload: usize, seed: u64) -> Bytes {
    let schema = Arc::new(
        parse_message_type("message padded { REQUIRED BYTE_ARRAY payload; }")
            .expect("valid schema"),
    );
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::UNCOMPRESSED)
            .set_dictionary_enabled(false)
            .set_statistics_enabled(EnabledStatistics::None)
            .set_data_page_size_limit(VALUE)
            .build(),
    );
    let mut noise = vec![0u8; payload.min(VALUE)];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut noise);
    let noise = Bytes::from(noise);
    let mut values = Vec::with_capacity(payload.div_ceil(VALUE));
    let mut left = payload;
    while left > 0 {
        let n = left.min(VALUE);
        values.push(ByteArray::from(noise.slice(..n)));
        left -= n;
    }
    let mut out = Vec::with_capacity(payload + 4096);
    let mut writer = SerializedFileWriter::new(&mut out, schema, props).expect("writing to memory");
    let mut rg = writer.next_row_group().expect("row group");
    let mut col = rg.next_column().expect("column").expect("one column");
    for batch in values.chunks(16) {
        col.typed::<ByteArrayType>()
            .write_batch(batch, None, None)
            .expect("write batch");
    }
    col.close().expect("close column");
    rg.close().expect("close row group");
    writer.close().expect("close file");
    Bytes::from(out)
}

/// An RDS-export-shaped object set:
/// `<export-id>/liberator/liberator.table_NNN/<batch>/part-NNNNN-<uuid>.gz.parquet`
/// (no batch folder when `batches` is 0) plus the three metadata objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub tables: usize,
    pub batches: usize,
    pub files_per_batch: usize,
    /// Bytes per Parquet file (approximate: within a few bytes).
    pub object_size: usize,
}

impl Shape {
    pub fn parquet_files(&self) -> usize {
        self.tables * self.batches.max(1) * self.files_per_batch
    }

    /// The Parquet keys with file index in `files` (per batch folder).
    pub fn keys(&self, export_id: &str, files: Range<usize>) -> Vec<String> {
        let mut keys = Vec::new();
        for t in 0..self.tables {
            let batches: Vec<String> = if self.batches == 0 {
                vec![String::new()]
            } else {
                (1..=self.batches).map(|b| format!("{b}/")).collect()
            };
            for (b, batch) in batches.iter().enumerate() {
                for f in files.clone() {
                    let id = ((t as u64) << 40) | ((b as u64) << 24) | f as u64;
                    keys.push(format!(
                        "{export_id}/liberator/liberator.table_{t:03}/{batch}part-{f:05}-{:032x}.gz.parquet",
                        id.wrapping_mul(0x9E37_79B9_7F4A_7C15) as u128 | ((id as u128) << 64)
                    ));
                }
            }
        }
        keys
    }
}

/// An S3 client for `endpoint` from the project's one client factory (path-style, the
/// engine's timeouts), credentials and region from the environment (region `us-east-1`
/// when none is set). The SDK's retries stay on: the harness's own setup calls do not
/// retry themselves.
pub async fn client(endpoint: &str) -> Client {
    let options = liberator_engine::AwsOptions {
        s3_sdk_retries: true,
        ..liberator_engine::AwsOptions::default().with_endpoint(endpoint)
    };
    liberator_engine::ClientFactory::load(options).await.s3()
}

/// Creates `bucket` (fine if it exists).
pub async fn ensure_bucket(client: &Client, bucket: &str) -> Result<()> {
    match client.create_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(e) => {
            let svc = e.as_service_error();
            if svc
                .is_some_and(|s| s.is_bucket_already_owned_by_you() || s.is_bucket_already_exists())
            {
                Ok(())
            } else {
                Err(anyhow::Error::from(e).context(format!("creating bucket {bucket}")))
            }
        }
    }
}

/// Writes the Parquet files of `shape` with file index in `files` (plus, when `files`
/// starts at 0, the export metadata) under `bucket`. Every file of one size has the same
/// body. Returns (objects, bytes) written.
pub async fn seed(
    client: &Client,
    bucket: &str,
    export_id: &str,
    shape: &Shape,
    files: Range<usize>,
    concurrency: usize,
) -> Result<(u64, u64)> {
    let body = {
        let size = shape.object_size;
        tokio::task::spawn_blocking(move || padded_parquet(size, 42)).await?
    };
    let mut keys = shape.keys(export_id, files.clone());
    let mut meta = Vec::new();
    if files.start == 0 {
        meta = vec![
            (
                format!("{export_id}/export_info_{export_id}.json"),
                Bytes::from(format!(
                    r#"{{"exportTaskIdentifier":"{export_id}","status":"COMPLETE"}}"#
                )),
            ),
            (
                format!(
                    "{export_id}/export_tables_info_{export_id}_from_1_to_{}.json",
                    shape.tables
                ),
                // Every table COMPLETE, in AWS's shape, so the engine's completeness check
                // (which every verified run makes) passes.
                Bytes::from(
                    serde_json::json!({
                        "perTableStatus": (0..shape.tables)
                            .map(|t| serde_json::json!({
                                "target": format!("liberator.table_{t:03}"),
                                "status": "COMPLETE",
                            }))
                            .collect::<Vec<_>>()
                    })
                    .to_string(),
                ),
            ),
            (format!("{export_id}/_SUCCESS"), Bytes::new()),
        ];
    }
    let count = (keys.len() + meta.len()) as u64;
    let mut bytes = meta.iter().map(|(_, b)| b.len() as u64).sum::<u64>();
    bytes += keys.len() as u64 * body.len() as u64;
    let items: Vec<(String, Bytes)> = keys
        .drain(..)
        .map(|k| (k, body.clone()))
        .chain(meta)
        .collect();
    stream::iter(items)
        .map(|(key, body)| async move {
            client
                .put_object()
                .bucket(bucket)
                .key(&key)
                .body(ByteStream::from(body))
                .send()
                .await
                .with_context(|| format!("seeding {bucket}/{key}"))
        })
        .buffer_unordered(concurrency.max(1))
        .try_for_each(|_| async { Ok(()) })
        .await?;
    Ok((count, bytes))
}

/// Every key (with its size) under `prefix`.
pub async fn list(client: &Client, bucket: &str, prefix: &str) -> Result<Vec<(String, u64)>> {
    let mut out = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.with_context(|| format!("listing {bucket}/{prefix}"))?;
        for o in page.contents() {
            out.push((
                o.key().unwrap_or_default().to_string(),
                o.size().unwrap_or_default().max(0) as u64,
            ));
        }
    }
    Ok(out)
}

/// (objects, bytes) under `prefix`.
pub async fn count(client: &Client, bucket: &str, prefix: &str) -> Result<(u64, u64)> {
    let all = list(client, bucket, prefix).await?;
    Ok((all.len() as u64, all.iter().map(|(_, s)| s).sum()))
}

/// Deletes everything under `prefix` (DeleteObjects, 1,000 keys a request).
pub async fn clear(client: &Client, bucket: &str, prefix: &str) -> Result<()> {
    let keys = list(client, bucket, prefix).await?;
    let batches: Vec<Vec<String>> = keys
        .chunks(1000)
        .map(|c| c.iter().map(|(k, _)| k.clone()).collect())
        .collect();
    stream::iter(batches)
        .map(|batch| async move {
            let objects = batch
                .iter()
                .map(|k| ObjectIdentifier::builder().key(k).build())
                .collect::<std::result::Result<Vec<_>, _>>()?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()?;
            let out = client
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .with_context(|| format!("clearing {bucket}/{prefix}"))?;
            if let Some(e) = out.errors().first() {
                bail!(
                    "clearing {bucket}/{prefix}: {} errors, first {:?}: {:?}",
                    out.errors().len(),
                    e.key(),
                    e.message()
                );
            }
            Ok(())
        })
        .buffer_unordered(4)
        .try_for_each(|_| async { Ok(()) })
        .await
}

/// Empties and deletes `bucket` (best effort).
pub async fn remove_bucket(client: &Client, bucket: &str) {
    let _ = clear(client, bucket, "").await;
    let _ = client.delete_bucket().bucket(bucket).send().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use liberator_engine::verify::check_footer;

    #[test]
    fn padded_files_are_valid_parquet_of_the_size_asked() {
        for size in [4 * 1024, 32 * 1024, 3 * 1024 * 1024 + 17] {
            let file = padded_parquet(size, 7);
            let diff = file.len().abs_diff(size);
            assert!(diff <= 16, "asked {size}, got {}", file.len());
            let info = check_footer(&file, file.len() as u64).expect("valid footer");
            assert!(info.rows >= 1);
            assert!(info.metadata_len < 2048, "{info:?}");
        }
    }

    #[test]
    fn keys_are_unique_and_export_shaped() {
        let shape = Shape {
            tables: 3,
            batches: 2,
            files_per_batch: 4,
            object_size: 1,
        };
        let keys = shape.keys(EXPORT_ID, 0..4);
        assert_eq!(keys.len(), shape.parquet_files());
        let unique: std::collections::BTreeSet<_> =
            keys.iter().map(|k| k.rsplit('/').next().unwrap()).collect();
        assert_eq!(unique.len(), keys.len());
        assert!(keys[0].starts_with(&format!(
            "{EXPORT_ID}/liberator/liberator.table_000/1/part-00000-"
        )));
    }
}
