//! Inflating one entry as its compressed bytes stream in, checked against the size, ratio
//! and CRC its directory entry declares.

use bytes::Bytes;
use flate2::{Decompress, FlushDecompress, Status};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};

use super::directory::{Entry, ZipLimits, le16};
use super::source::{ByteChunks, RangeSource};
use crate::error::{RestoreError, Result};

/// Body reads that fail mid-entry are resumed from the failed byte this many times in a row.
const RESUMES: u32 = 5;

type Reopen = Box<dyn Fn(u64) -> BoxFuture<'static, Result<ByteChunks>> + Send + Sync>;

/// Inflated bytes of one entry, read with one ranged GET (resumed with another ranged GET
/// from the failed byte if the connection breaks: the loader may pause reading for a long
/// DDL statement, and S3 connections do not always survive that).
pub struct EntryReader {
    object: String,
    entry: Entry,
    body: ByteChunks,
    reopen: Reopen,
    /// Absolute offset of the next byte the body will deliver.
    offset: u64,
    resumes: u32,
    /// Bytes of the local header still to skip (known once its fixed part is read).
    header: Vec<u8>,
    header_done: bool,
    pending: Bytes,
    compressed_left: u64,
    inflate: Option<Decompress>,
    crc: flate2::Crc,
    produced: u64,
    limit: u64,
    max_ratio: u64,
    done: bool,
}

impl EntryReader {
    /// Starts reading `entry`; `budget` is what is left of [`ZipLimits::max_total_bytes`].
    pub async fn open<S: RangeSource + Clone + 'static>(
        src: &S,
        entry: &Entry,
        limits: &ZipLimits,
        budget: u64,
    ) -> Result<Self> {
        let object = src.name();
        let bad = |reason: String| RestoreError::Zip {
            object: object.clone(),
            reason,
        };
        if entry.method != 0 && entry.method != 8 {
            return Err(bad(format!(
                "entry {:?} uses compression method {} (only stored and deflate are supported)",
                entry.name, entry.method
            )));
        }
        let declared_ratio = entry.uncompressed_size / entry.compressed_size.max(1);
        if declared_ratio > limits.max_ratio || entry.uncompressed_size > budget {
            return Err(RestoreError::Bomb {
                object,
                entry: entry.name.clone(),
                produced: 0,
                reason: format!(
                    "declares {} bytes from {} compressed (limits: ratio {}, {} bytes left of the total)",
                    entry.uncompressed_size, entry.compressed_size, limits.max_ratio, budget
                ),
            });
        }
        let len = src.size().await?;
        // The local header's name and extra lengths are only known once read, so ask for
        // everything up to the end of the object and stop reading when the entry is done.
        let body = src.range(entry.local_header_offset, len).await?;
        let src2 = src.clone();
        let reopen: Reopen = Box::new(move |from| {
            let src = src2.clone();
            async move { src.range(from, len).await }.boxed()
        });
        Ok(EntryReader {
            object,
            entry: entry.clone(),
            body,
            reopen,
            offset: entry.local_header_offset,
            resumes: 0,
            header: Vec::new(),
            header_done: false,
            pending: Bytes::new(),
            compressed_left: entry.compressed_size,
            inflate: (entry.method == 8).then(|| Decompress::new(false)),
            crc: flate2::Crc::new(),
            produced: 0,
            // Declared size is checked against the limits above; never inflate past it.
            limit: entry.uncompressed_size,
            max_ratio: limits.max_ratio,
            done: false,
        })
    }

    /// Inflated bytes so far.
    pub fn produced(&self) -> u64 {
        self.produced
    }

    fn zip_err(&self, reason: String) -> RestoreError {
        RestoreError::Zip {
            object: self.object.clone(),
            reason: format!("entry {:?}: {reason}", self.entry.name),
        }
    }

    async fn fill(&mut self) -> Result<bool> {
        loop {
            match self.body.next().await {
                Some(Ok(b)) => {
                    self.offset += b.len() as u64;
                    self.pending = b;
                    self.resumes = 0;
                    return Ok(true);
                }
                Some(Err(e)) if self.resumes < RESUMES => {
                    self.resumes += 1;
                    tracing::warn!(object = %self.object, entry = %self.entry.name, offset = self.offset, error = %e, "read failed; resuming with a ranged GET");
                    self.body = (self.reopen)(self.offset).await?;
                }
                Some(Err(e)) => {
                    return Err(self.zip_err(format!(
                        "reading failed at byte {} after {RESUMES} resumes: {e}",
                        self.offset
                    )));
                }
                None => return Ok(false),
            }
        }
    }

    /// The next chunk of inflated bytes, `None` at the end of the entry.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        if self.done {
            return Ok(None);
        }
        while !self.header_done {
            if self.pending.is_empty() && !self.fill().await? {
                return Err(self.zip_err("object ends inside the local header".into()));
            }
            let need = if self.header.len() < 30 {
                30
            } else {
                30 + le16(&self.header, 26) as usize + le16(&self.header, 28) as usize
            };
            let take = (need - self.header.len()).min(self.pending.len());
            self.header.extend_from_slice(&self.pending.split_to(take));
            if self.header.len() == 30 && !self.header.starts_with(b"PK\x03\x04") {
                return Err(self.zip_err("bad local header signature".into()));
            }
            if self.header.len() >= 30
                && self.header.len()
                    == 30 + le16(&self.header, 26) as usize + le16(&self.header, 28) as usize
            {
                self.header_done = true;
            }
        }
        let mut out = vec![0u8; 256 << 10];
        loop {
            if self.pending.is_empty() && self.compressed_left > 0 && !self.fill().await? {
                return Err(self.zip_err(format!(
                    "object ends {} bytes before the entry does",
                    self.compressed_left
                )));
            }
            let avail = (self.pending.len() as u64).min(self.compressed_left) as usize;
            let input = &self.pending[..avail];
            let (consumed, written, finished) = match &mut self.inflate {
                None => {
                    let n = input.len().min(out.len());
                    out[..n].copy_from_slice(&input[..n]);
                    (n, n, self.compressed_left == n as u64)
                }
                Some(d) => {
                    let (before_in, before_out) = (d.total_in(), d.total_out());
                    let flush = if avail as u64 == self.compressed_left {
                        FlushDecompress::Finish
                    } else {
                        FlushDecompress::None
                    };
                    let status = d.decompress(input, &mut out, flush).map_err(|e| {
                        RestoreError::Corrupt {
                            object: self.object.clone(),
                            entry: self.entry.name.clone(),
                            source: e.into(),
                        }
                    })?;
                    let consumed = (d.total_in() - before_in) as usize;
                    let written = (d.total_out() - before_out) as usize;
                    (consumed, written, status == Status::StreamEnd)
                }
            };
            let _ = self.pending.split_to(consumed);
            self.compressed_left -= consumed as u64;
            self.produced += written as u64;
            let compressed_read = self.entry.compressed_size - self.compressed_left;
            if self.produced > self.limit
                || (self.produced > (1 << 20)
                    && self.produced / compressed_read.max(1) > self.max_ratio)
            {
                return Err(RestoreError::Bomb {
                    object: self.object.clone(),
                    entry: self.entry.name.clone(),
                    produced: self.produced,
                    reason: format!(
                        "inflates past its declared {} bytes or the {}:1 ratio limit",
                        self.limit, self.max_ratio
                    ),
                });
            }
            self.crc.update(&out[..written]);
            if finished || (self.compressed_left == 0 && written == 0) {
                self.done = true;
                if self.produced != self.entry.uncompressed_size
                    || self.crc.sum() != self.entry.crc32
                {
                    return Err(RestoreError::Corrupt {
                        object: self.object.clone(),
                        entry: self.entry.name.clone(),
                        source: format!(
                            "inflated {} bytes with CRC {:08x}; the directory says {} bytes, CRC {:08x}",
                            self.produced,
                            self.crc.sum(),
                            self.entry.uncompressed_size,
                            self.entry.crc32
                        )
                        .into(),
                    });
                }
                out.truncate(written);
                return Ok(if written > 0 { Some(out) } else { None });
            }
            if written > 0 {
                out.truncate(written);
                return Ok(Some(out));
            }
            if consumed == 0 && avail > 0 {
                return Err(self.zip_err("deflate stream made no progress".into()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::BoxError;
    use crate::zip::read_entries;

    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// An in-memory object whose first `failures` bodies break after 1000 bytes.
    #[derive(Clone)]
    struct Flaky {
        data: Arc<Vec<u8>>,
        failures: Arc<AtomicU32>,
        /// Failing bodies deliver nothing before breaking.
        immediate: Arc<std::sync::atomic::AtomicBool>,
    }

    impl RangeSource for Flaky {
        fn name(&self) -> String {
            "flaky".into()
        }
        async fn size(&self) -> Result<u64> {
            Ok(self.data.len() as u64)
        }
        async fn range(&self, start: u64, end: u64) -> Result<ByteChunks> {
            let bytes = Bytes::copy_from_slice(&self.data[start as usize..end as usize]);
            let fail = self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            let chunks: Vec<std::result::Result<Bytes, BoxError>> =
                if fail && self.immediate.load(Ordering::SeqCst) {
                    vec![Err("connection refused mid-body".into())]
                } else if fail && bytes.len() > 1000 {
                    vec![Ok(bytes.slice(..1000)), Err("connection reset".into())]
                } else {
                    bytes
                        .chunks(777)
                        .map(|c| Ok(Bytes::copy_from_slice(c)))
                        .collect()
                };
            Ok(futures::stream::iter(chunks).boxed())
        }
    }

    /// A one-entry deflated zip.
    fn zip_of(name: &str, data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        let c = enc.finish().unwrap();
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let fields = |v: &mut Vec<u8>| {
            v.extend_from_slice(&[20, 0, 0, 0, 8, 0, 0, 0, 0, 0]);
            v.extend_from_slice(&crc.sum().to_le_bytes());
            v.extend_from_slice(&(c.len() as u32).to_le_bytes());
            v.extend_from_slice(&(data.len() as u32).to_le_bytes());
            v.extend_from_slice(&(name.len() as u16).to_le_bytes());
            v.extend_from_slice(&[0, 0]);
        };
        let mut z = b"PK\x03\x04".to_vec();
        fields(&mut z);
        z.extend_from_slice(name.as_bytes());
        z.extend_from_slice(&c);
        let cd_at = z.len() as u32;
        let mut cd = b"PK\x01\x02\x14\x00".to_vec();
        fields(&mut cd);
        cd.extend_from_slice(&[0; 10]);
        cd.extend_from_slice(&0u32.to_le_bytes());
        cd.extend_from_slice(name.as_bytes());
        z.extend_from_slice(&cd);
        z.extend_from_slice(b"PK\x05\x06\0\0\0\0\x01\x00\x01\x00");
        z.extend_from_slice(&(cd.len() as u32).to_le_bytes());
        z.extend_from_slice(&cd_at.to_le_bytes());
        z.extend_from_slice(&[0, 0]);
        z
    }

    async fn inflate_all(src: &Flaky) -> Result<Vec<u8>> {
        let entries = read_entries(src).await?;
        let mut r = EntryReader::open(src, &entries[0], &ZipLimits::default(), u64::MAX).await?;
        let mut out = Vec::new();
        while let Some(c) = r.next_chunk().await? {
            out.extend_from_slice(&c);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn broken_reads_resume_from_the_failed_byte() {
        let data: Vec<u8> = (0..400_000u32)
            .flat_map(|i| (i.wrapping_mul(2654435761) >> 13).to_le_bytes())
            .collect();
        let zip = zip_of("d.sql", &data);
        // A clean read first, then one with three breaks mid-entry.
        let src = Flaky {
            data: Arc::new(zip.clone()),
            failures: Arc::new(AtomicU32::new(0)),
            immediate: Arc::default(),
        };
        assert_eq!(inflate_all(&src).await.unwrap(), data);
        let entries = read_entries(&src).await.unwrap();
        src.failures.store(3, Ordering::SeqCst);
        let mut r = EntryReader::open(&src, &entries[0], &ZipLimits::default(), u64::MAX)
            .await
            .unwrap();
        let mut out = Vec::new();
        while let Some(c) = r.next_chunk().await.unwrap() {
            out.extend_from_slice(&c);
        }
        assert_eq!(out, data);
        // Breaks that make progress are resumed indefinitely; more consecutive breaks
        // without a byte than allowed are a clear error.
        src.failures.store(100, Ordering::SeqCst);
        src.immediate.store(true, Ordering::SeqCst);
        let mut r = EntryReader::open(&src, &entries[0], &ZipLimits::default(), u64::MAX)
            .await
            .unwrap();
        let err = loop {
            match r.next_chunk().await {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("read should fail"),
                Err(e) => break e,
            }
        };
        assert!(err.to_string().contains("resumes"), "{err}");
    }

    #[tokio::test]
    async fn corrupt_crc_is_an_error() {
        let mut zip = zip_of("d.sql", b"SELECT 1;");
        // Flip the CRC in the central directory.
        let cd = zip.windows(4).rposition(|w| w == b"PK\x01\x02").unwrap();
        zip[cd + 16] ^= 0xff;
        let src = Flaky {
            data: Arc::new(zip),
            failures: Arc::new(AtomicU32::new(0)),
            immediate: Arc::default(),
        };
        assert!(matches!(
            inflate_all(&src).await,
            Err(RestoreError::Corrupt { .. })
        ));
    }
}
