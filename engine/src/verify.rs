//! Parquet footer checks: one suffix-range GET per file.
//!
//! A Parquet file ends with the Thrift-encoded metadata, its length (u32 LE) and `PAR1`.
//! Reading the last [`DEFAULT_FOOTER_READ`] bytes gets the whole footer of almost every file
//! in one request; a longer footer costs a second, exact, ranged GET. The metadata is
//! decoded with the `parquet` crate and checked for consistency with the object's size, so
//! a truncated or corrupt export file is caught before it reaches the landing zone.

use bytes::BytesMut;
use parquet::file::metadata::{FooterTail, ParquetMetaDataReader};
use parquet::schema::types::SchemaDescPtr;

use crate::error::{Error, Result};
use crate::store::{ObjectStore, Store};

/// Bytes read from the end of each file. Default 16 KiB: footers of export part files are a
/// few KiB (a longer one costs a second, exact read); the request, not its bytes, is what
/// costs (benches/RESULTS.md), but each object in flight holds its tail until decoded, so
/// a smaller read keeps the peak RSS down.
pub const DEFAULT_FOOTER_READ: u64 = 16 * 1024;

const MAGIC: &[u8; 4] = b"PAR1";
/// Header magic + footer length + footer magic.
const MIN_SIZE: u64 = 12;

/// What a footer says about its file.
#[derive(Debug, Clone, PartialEq)]
pub struct FooterInfo {
    pub rows: u64,
    pub row_groups: usize,
    /// Column chunks over all row groups.
    pub columns: usize,
    pub metadata_len: u64,
    /// The file's schema as decoded with the footer (shared, not copied): the run compares
    /// it across a table's files and with the previous landing ([`crate::schema`]).
    pub schema: SchemaDescPtr,
}

/// Reads and checks the footer of `bucket/key`, `size` bytes long.
#[tracing::instrument(level = "debug", skip_all, fields(key))]
pub async fn verify_object(
    store: &Store,
    bucket: &str,
    key: &str,
    size: u64,
    read_size: u64,
) -> Result<FooterInfo> {
    let bad = |reason: String| Error::Parquet {
        bucket: bucket.to_string(),
        key: key.to_string(),
        reason,
    };
    if size < MIN_SIZE {
        return Err(bad(format!("{size} bytes is too small for a Parquet file")));
    }
    let read = read_size.clamp(MIN_SIZE, size);
    let mut tail = store.get_range(bucket, key, size - read..size).await?;
    let metadata_len = footer_len(&tail, size).map_err(bad)?;
    let needed = metadata_len + 8;
    if needed > tail.len() as u64 {
        let head = store
            .get_range(bucket, key, size - needed..size - tail.len() as u64)
            .await?;
        let mut joined = BytesMut::with_capacity(needed as usize);
        joined.extend_from_slice(&head);
        joined.extend_from_slice(&tail);
        tail = joined.freeze();
    }
    check_footer(&tail, size).map_err(bad)
}

/// The metadata length from the last 8 bytes, checked against the object size.
fn footer_len(tail: &[u8], size: u64) -> std::result::Result<u64, String> {
    let last8: [u8; 8] = tail[tail.len() - 8..].try_into().expect("8 bytes");
    if &last8[4..] != MAGIC {
        if &last8[4..] == b"PARE" {
            return Err("encrypted footer (PARE); cannot be checked".into());
        }
        return Err(format!(
            "bad magic {:?} at the end, expected \"PAR1\"",
            String::from_utf8_lossy(&last8[4..])
        ));
    }
    let tail = FooterTail::try_new(&last8).map_err(|e| e.to_string())?;
    let len = tail.metadata_length() as u64;
    if len + MIN_SIZE > size {
        return Err(format!(
            "footer length {len} does not fit in a {size}-byte file (truncated?)"
        ));
    }
    Ok(len)
}

/// Checks a buffer holding at least the whole footer (`tail` ends at the end of the file).
pub fn check_footer(tail: &[u8], size: u64) -> std::result::Result<FooterInfo, String> {
    if (tail.len() as u64) < 8 || tail.len() as u64 > size {
        return Err(format!("{} tail bytes for a {size}-byte file", tail.len()));
    }
    let metadata_len = footer_len(tail, size)?;
    if tail.len() as u64 == size && &tail[..4] != MAGIC {
        return Err("bad magic at the start, expected \"PAR1\"".into());
    }
    let end = tail.len() - 8;
    let start = end
        .checked_sub(metadata_len as usize)
        .ok_or_else(|| "footer longer than the bytes read".to_string())?;
    // Decoded in place: no copy of the footer bytes.
    let meta = ParquetMetaDataReader::decode_metadata(&tail[start..end])
        .map_err(|e| format!("corrupt footer metadata: {e}"))?;
    let data_end = size - 8 - metadata_len;
    let mut rows: i64 = 0;
    let mut columns = 0;
    for (i, rg) in meta.row_groups().iter().enumerate() {
        if rg.num_rows() < 0 {
            return Err(format!("row group {i} has a negative row count"));
        }
        rows += rg.num_rows();
        for col in rg.columns() {
            columns += 1;
            let (offset, len) = col.byte_range();
            if offset < 4 || offset.saturating_add(len) > data_end {
                return Err(format!(
                    "row group {i} column {} spans bytes {offset}..{} outside the data area 4..{data_end}",
                    col.column_path(),
                    offset.saturating_add(len)
                ));
            }
        }
    }
    let declared = meta.file_metadata().num_rows();
    if declared != rows {
        return Err(format!(
            "footer declares {declared} rows but its row groups hold {rows}"
        ));
    }
    Ok(FooterInfo {
        rows: rows as u64,
        row_groups: meta.num_row_groups(),
        columns,
        metadata_len,
        schema: meta.file_metadata().schema_descr_ptr(),
    })
}

/// Result of checking every Parquet file under a location.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct VerifyReport {
    pub location: String,
    pub files: u64,
    pub ok: u64,
    pub rows: u64,
    pub bytes: u64,
    pub failures: Vec<crate::report::Failure>,
}

/// Checks the footer of every `.parquet` object under `location`, `concurrency` at a time.
pub async fn verify_location(
    store: &Store,
    location: &crate::location::Location,
    read_size: u64,
    concurrency: usize,
) -> Result<VerifyReport> {
    use futures::TryStreamExt;
    let bucket = location.bucket();
    let mut report = VerifyReport {
        location: location.to_string(),
        ..Default::default()
    };
    let mut results = store
        .list(&bucket, location.prefix())
        .map_ok(|page| futures::stream::iter(page.into_iter().map(Ok::<_, Error>)))
        .try_flatten()
        .try_filter(|o| futures::future::ready(o.key.ends_with(".parquet")))
        .map_ok(|o| {
            let bucket = &bucket;
            async move {
                let res = verify_object(store, bucket, &o.key, o.size, read_size).await;
                Ok::<_, Error>((o, res))
            }
        })
        .try_buffer_unordered(concurrency.max(1));
    while let Some((obj, res)) = results.try_next().await? {
        report.files += 1;
        report.bytes += obj.size;
        match res {
            Ok(info) => {
                report.ok += 1;
                report.rows += info.rows;
            }
            Err(e) => report.failures.push(crate::report::Failure {
                key: obj.key,
                reason: e.to_string(),
            }),
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use liberator_fixtures::sample::parquet_file;

    #[test]
    fn accepts_a_real_file_and_counts_rows() {
        let file = parquet_file("liberator.pcn", 0, 250);
        let info = check_footer(&file, file.len() as u64).unwrap();
        assert_eq!(info.rows, 250);
        assert!(info.row_groups >= 1);
        assert!(info.columns >= 4);
        // Only the tail is needed.
        let tail = &file[file.len() - (info.metadata_len as usize + 8)..];
        assert_eq!(check_footer(tail, file.len() as u64).unwrap(), info);
    }

    #[test]
    fn rejects_bad_magic() {
        let mut file = parquet_file("t", 0, 10).to_vec();
        let n = file.len();
        file[n - 1] = b'X';
        let err = check_footer(&file, n as u64).unwrap_err();
        assert!(err.contains("bad magic"), "{err}");
        let mut file = parquet_file("t", 0, 10).to_vec();
        file[0] = b'X';
        let err = check_footer(&file, n as u64).unwrap_err();
        assert!(err.contains("start"), "{err}");
    }

    #[test]
    fn rejects_truncated_files() {
        let file = parquet_file("t", 0, 10);
        // Cut out the middle: the footer length no longer fits the data.
        let mut cut = file[..6].to_vec();
        cut.extend_from_slice(&file[file.len() - 8..]);
        let err = check_footer(&cut, cut.len() as u64).unwrap_err();
        assert!(
            err.contains("does not fit") || err.contains("corrupt"),
            "{err}"
        );
    }

    #[test]
    fn rejects_corrupt_metadata() {
        let mut file = parquet_file("t", 0, 10).to_vec();
        let n = file.len();
        let meta_len = u32::from_le_bytes(file[n - 8..n - 4].try_into().unwrap()) as usize;
        for b in &mut file[n - 8 - meta_len..n - 8] {
            *b = 0xff;
        }
        let err = check_footer(&file, n as u64).unwrap_err();
        assert!(err.contains("corrupt footer"), "{err}");
    }

    #[test]
    fn rejects_column_chunks_outside_the_file() {
        // The footer of a bigger file grafted onto a shorter body: offsets point past the data.
        let big = parquet_file("t", 0, 5000);
        let small_body = &big[..64];
        let meta_len =
            u32::from_le_bytes(big[big.len() - 8..big.len() - 4].try_into().unwrap()) as usize;
        let mut file = small_body.to_vec();
        file.extend_from_slice(&big[big.len() - 8 - meta_len..]);
        let err = check_footer(&file, file.len() as u64).unwrap_err();
        assert!(err.contains("outside the data area"), "{err}");
    }
}
