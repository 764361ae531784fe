//! What the "nothing lost" tests check on a landing, in one place: no multipart upload left
//! open (a failing ListMultipartUploads fails the test), each source object landed exactly
//! once with its size (and, where the server's ETags are stable, the ETag a clean run
//! gives), and exports mixing small objects with objects large enough to go multipart.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use bytes::Bytes;
use liberator_engine::layout::{Layout, Mapped};
use liberator_engine::store::Store;
use liberator_engine::{ExportId, Location};
use liberator_fixtures::sample::{SampleSpec, write_sample_export};
use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The multipart uploads open in `bucket` (key, upload id), all pages. Panics, naming the
/// bucket, when the listing itself fails: "no upload open" must never mean "could not tell".
pub async fn open_uploads(client: &Client, bucket: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
    loop {
        let page = client
            .list_multipart_uploads()
            .bucket(bucket)
            .set_key_marker(key_marker.clone())
            .set_upload_id_marker(id_marker.clone())
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "ListMultipartUploads on {bucket} failed, so whether uploads are left open is unknown: {}",
                    DisplayErrorContext(e)
                )
            });
        out.extend(page.uploads().iter().map(|u| {
            (
                u.key().unwrap_or_default().to_string(),
                u.upload_id().unwrap_or_default().to_string(),
            )
        }));
        key_marker = page.next_key_marker().map(str::to_string);
        id_marker = page.next_upload_id_marker().map(str::to_string);
        if !page.is_truncated().unwrap_or(false) || (key_marker.is_none() && id_marker.is_none()) {
            return out;
        }
    }
}

/// Fails the test, naming each upload, when any multipart upload is open in `bucket`
/// (open uploads are invisible in listings and billed until aborted).
pub async fn assert_no_open_uploads(client: &Client, bucket: &str) {
    let open = open_uploads(client, bucket).await;
    assert!(
        open.is_empty(),
        "{} multipart upload(s) left open in {bucket}: {open:?}",
        open.len()
    );
}

/// Every object under `prefix`: key → (size, ETag without quotes).
pub async fn objects(
    client: &Client,
    bucket: &str,
    prefix: &str,
) -> BTreeMap<String, (u64, String)> {
    let mut out = BTreeMap::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page
            .unwrap_or_else(|e| panic!("listing {bucket}/{prefix}: {}", DisplayErrorContext(e)));
        for o in page.contents() {
            out.insert(
                o.key().unwrap_or_default().to_string(),
                (
                    o.size().unwrap_or(0) as u64,
                    o.e_tag().unwrap_or_default().trim_matches('"').to_string(),
                ),
            );
        }
    }
    out
}

/// Where each Parquet object of an export must land (target key → source size), from the
/// engine's own layout.
pub fn expected_targets(
    export_id: &str,
    target_prefix: &str,
    source: &BTreeMap<String, (u64, String)>,
) -> BTreeMap<String, u64> {
    let id = ExportId::parse(export_id).unwrap();
    let layout = Layout::new("", export_id, target_prefix, id.date());
    source
        .iter()
        .filter_map(|(key, (size, _))| match layout.map(key) {
            Ok(Mapped::Parquet(p)) => Some((p.target_key, *size)),
            _ => None,
        })
        .collect()
}

/// A landing compared with what should be there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub expected: usize,
    /// Expected objects missing, or present with another size.
    pub lost: Vec<String>,
    /// Objects that should not be there (a second copy of anything lands under a key no
    /// source maps to).
    pub duplicates: Vec<String>,
}

/// The pipeline's bookkeeping in the landing bucket, outside every table folder: the
/// copier's Glue markers and the kept reports (`_liberator/reports/`), which are neither
/// lost nor duplicate data.
pub const BOOKKEEPING_PREFIX: &str = "_liberator/";

/// Compares `landed` with `expected`; bookkeeping objects ([`BOOKKEEPING_PREFIX`]) are not
/// data and are left out.
pub fn tally(expected: &BTreeMap<String, u64>, landed: &BTreeMap<String, (u64, String)>) -> Tally {
    Tally {
        expected: expected.len(),
        lost: expected
            .iter()
            .filter(|(k, size)| landed.get(*k).map(|l| l.0) != Some(**size))
            .map(|(k, size)| format!("{k} ({size} bytes; landed {:?})", landed.get(k)))
            .collect(),
        duplicates: landed
            .keys()
            .filter(|k| !expected.contains_key(*k) && !k.starts_with(BOOKKEEPING_PREFIX))
            .cloned()
            .collect(),
    }
}

/// A valid Parquet file of about `size` bytes that does not compress (the sample's schema,
/// a random 1 KiB `street` per row, no compression): big enough to go multipart without
/// writing millions of rows.
pub fn big_parquet_file(seed: u64, size: usize) -> Bytes {
    const SCHEMA: &str = "message liberator_row {
  REQUIRED INT64 id;
  REQUIRED BYTE_ARRAY vrm (UTF8);
  OPTIONAL DOUBLE amount;
  REQUIRED INT64 issued_at (TIMESTAMP(MILLIS,true));
  OPTIONAL BYTE_ARRAY street (UTF8);
}";
    let rows = size / 1060 + 1;
    let mut rng = StdRng::seed_from_u64(seed);
    let schema = Arc::new(parse_message_type(SCHEMA).unwrap());
    let props = Arc::new(
        WriterProperties::builder()
            .set_compression(Compression::UNCOMPRESSED)
            .build(),
    );
    let mut w = SerializedFileWriter::new(Vec::new(), schema, props).unwrap();
    let ids: Vec<i64> = (0..rows as i64)
        .map(|i| seed as i64 * 1_000_000 + i)
        .collect();
    let mut rg = w.next_row_group().unwrap();
    let mut col = 0;
    while let Some(mut c) = rg.next_column().unwrap() {
        match col {
            0 => c
                .typed::<Int64Type>()
                .write_batch(&ids, None, None)
                .map(drop),
            1 => {
                let v: Vec<ByteArray> = ids
                    .iter()
                    .map(|i| ByteArray::from(format!("LB{i}").as_str()))
                    .collect();
                c.typed::<ByteArrayType>()
                    .write_batch(&v, None, None)
                    .map(drop)
            }
            2 => {
                let v: Vec<f64> = ids.iter().map(|i| *i as f64 / 2.0).collect();
                let def = vec![1i16; ids.len()];
                c.typed::<DoubleType>()
                    .write_batch(&v, Some(&def), None)
                    .map(drop)
            }
            3 => {
                let v: Vec<i64> = ids.iter().map(|i| 1_717_200_000_000 + i).collect();
                c.typed::<Int64Type>().write_batch(&v, None, None).map(drop)
            }
            _ => {
                let v: Vec<ByteArray> = ids
                    .iter()
                    .map(|_| {
                        let s: String = (0..1024)
                            .map(|_| rng.sample(rand::distr::Alphanumeric) as char)
                            .collect();
                        ByteArray::from(s.as_str())
                    })
                    .collect();
                let def = vec![1i16; ids.len()];
                c.typed::<ByteArrayType>()
                    .write_batch(&v, Some(&def), None)
                    .map(drop)
            }
        }
        .unwrap();
        c.close().unwrap();
        col += 1;
    }
    rg.close().unwrap();
    Bytes::from(w.into_inner().unwrap())
}

/// Writes `spec` (small objects, with the export's metadata files) under `source`, plus one
/// [`big_parquet_file`] of each size in `big` into the first table's first batch folder;
/// returns every source object (key → size, ETag).
pub async fn write_mixed_export(
    store: &Store,
    client: &Client,
    source: &Location,
    spec: &SampleSpec,
    big: &[usize],
) -> BTreeMap<String, (u64, String)> {
    write_sample_export(store, source, spec)
        .await
        .unwrap_or_else(|e| panic!("writing sample export {}: {e}", spec.export_id));
    let table = &spec.tables[0];
    let batch = if table.batches == 0 { "" } else { "1/" };
    for (i, size) in big.iter().enumerate() {
        let key = format!(
            "{}{}/{}/{}/{batch}part-{:05}-big{i}.parquet",
            source.prefix(),
            spec.export_id,
            spec.database,
            table.name,
            90_000 + i,
        );
        store
            .write(
                &source.bucket(),
                &key,
                big_parquet_file(i as u64 + 1, *size),
            )
            .await
            .unwrap_or_else(|e| panic!("writing {key}: {e}"));
    }
    objects(
        client,
        &source.bucket(),
        &format!("{}{}/", source.prefix(), spec.export_id),
    )
    .await
}
