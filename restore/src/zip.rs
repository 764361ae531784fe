//! Reading a zip straight from ranged GETs, entry by entry, inflating as bytes arrive.
//!
//! A zip's table of contents (the central directory) is at its end, so we fetch the tail
//! first, then stream each entry's compressed bytes with one ranged GET and inflate them
//! on the fly: the dump never touches the disk and memory stays at a few chunks.
//! Entry names are checked before anything is loaded (absolute or `..` paths refuse the
//! whole dump), and inflation is bounded by a size and a ratio limit against zip bombs.

use std::future::Future;
use std::path::PathBuf;

use bytes::Bytes;
use flate2::{Decompress, FlushDecompress, Status};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};

use crate::error::{BoxError, RestoreError, Result};

/// A stream of byte chunks from one ranged read.
pub type ByteChunks = BoxStream<'static, std::result::Result<Bytes, BoxError>>;

/// Something we can read byte ranges of: an S3 object, or a local file in tests and benchmarks.
pub trait RangeSource: Send + Sync {
    /// A name for logs and errors (`s3://bucket/key`, a path).
    fn name(&self) -> String;
    /// Total length in bytes.
    fn size(&self) -> impl Future<Output = Result<u64>> + Send;
    /// Bytes `start..end` (end exclusive) as a stream.
    fn range(&self, start: u64, end: u64) -> impl Future<Output = Result<ByteChunks>> + Send;
}

/// An S3 object read with ranged GETs.
#[derive(Debug, Clone)]
pub struct S3Object {
    pub client: aws_sdk_s3::Client,
    pub bucket: String,
    pub key: String,
}

impl S3Object {
    fn err(&self, operation: &'static str, e: impl Into<BoxError>) -> RestoreError {
        RestoreError::S3 {
            operation,
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            source: e.into(),
        }
    }
}

impl RangeSource for S3Object {
    fn name(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    async fn size(&self) -> Result<u64> {
        let head = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .send()
            .await;
        let head = head.map_err(|e| self.err("HeadObject", e))?;
        let len = head.content_length().unwrap_or(0);
        u64::try_from(len).map_err(|_| self.err("HeadObject", format!("negative length {len}")))
    }

    async fn range(&self, start: u64, end: u64) -> Result<ByteChunks> {
        let range = format!("bytes={}-{}", start, end.saturating_sub(1));
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .range(range)
            .send()
            .await;
        let body = out.map_err(|e| self.err("GetObject", e))?.body;
        Ok(futures::stream::unfold(body, |mut body| async move {
            body.next().await.map(|r| (r.map_err(BoxError::from), body))
        })
        .boxed())
    }
}

/// A local file, read the same way (used by `--from-file`, tests and the benchmark).
#[derive(Debug, Clone)]
pub struct LocalFile {
    pub path: PathBuf,
}

impl RangeSource for LocalFile {
    fn name(&self) -> String {
        self.path.display().to_string()
    }

    async fn size(&self) -> Result<u64> {
        let meta = tokio::fs::metadata(&self.path).await;
        Ok(meta
            .map_err(|e| RestoreError::Io {
                path: self.name(),
                source: e,
            })?
            .len())
    }

    async fn range(&self, start: u64, end: u64) -> Result<ByteChunks> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let io = |e| RestoreError::Io {
            path: self.name(),
            source: e,
        };
        let mut file = tokio::fs::File::open(&self.path).await.map_err(io)?;
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(io)?;
        let remaining = end.saturating_sub(start);
        Ok(
            futures::stream::unfold((file, remaining), |(mut file, remaining)| async move {
                if remaining == 0 {
                    return None;
                }
                let mut buf = vec![0u8; remaining.min(1 << 20) as usize];
                match file.read(&mut buf).await {
                    Ok(0) => None,
                    Ok(n) => {
                        buf.truncate(n);
                        Some((Ok(Bytes::from(buf)), (file, remaining - n as u64)))
                    }
                    Err(e) => Some((Err(BoxError::from(e)), (file, 0))),
                }
            })
            .boxed(),
        )
    }
}

/// Limits against decompression bombs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZipLimits {
    /// Largest total inflated size of all entries. Default 256 GiB: far above any real
    /// dump of the Liberator database, far below what would fill an RDS volume by surprise.
    pub max_total_bytes: u64,
    /// Largest inflated/compressed ratio of an entry. Default 1100: deflate cannot
    /// legitimately exceed about 1032:1, so anything above is a lie in the headers or a bomb.
    pub max_ratio: u64,
}

impl Default for ZipLimits {
    fn default() -> Self {
        ZipLimits {
            max_total_bytes: 256 << 30,
            max_ratio: 1100,
        }
    }
}

/// One file in the zip, from the central directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    /// 0 = stored, 8 = deflate.
    pub method: u16,
    pub crc32: u32,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
    pub local_header_offset: u64,
}

impl Entry {
    /// Whether this entry is SQL to load (by extension, case-insensitive).
    pub fn is_sql(&self) -> bool {
        self.name.to_ascii_lowercase().ends_with(".sql")
    }

    fn is_dir(&self) -> bool {
        self.name.ends_with('/')
    }
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

async fn fetch<S: RangeSource>(src: &S, start: u64, end: u64) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity((end - start) as usize);
    let mut body = src.range(start, end).await?;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| RestoreError::Zip {
            object: src.name(),
            reason: format!("reading bytes {start}-{end}: {e}"),
        })?;
        out.extend_from_slice(&chunk);
    }
    if out.len() as u64 != end - start {
        return Err(RestoreError::Zip {
            object: src.name(),
            reason: format!(
                "short read at {start}: got {} of {} bytes",
                out.len(),
                end - start
            ),
        });
    }
    Ok(out)
}

/// The zip's entries in central-directory order, each name checked.
///
/// Fails on entries with absolute or `..` paths: such a zip was not made by the uploader's
/// tooling and is refused as a whole rather than partly loaded.
#[tracing::instrument(skip_all, fields(object = %src.name()))]
pub async fn read_entries<S: RangeSource>(src: &S) -> Result<Vec<Entry>> {
    let object = src.name();
    let bad = |reason: String| RestoreError::Zip {
        object: object.clone(),
        reason,
    };
    let len = src.size().await?;
    // End of central directory: 22 bytes plus a comment of up to 64 KiB.
    let tail_len = len.min(22 + 65535 + 20);
    let tail_start = len - tail_len;
    let tail = fetch(src, tail_start, len).await?;
    let eocd = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..].starts_with(b"PK\x05\x06"))
        .ok_or_else(|| {
            bad("no end-of-central-directory record (not a zip, or truncated)".into())
        })?;
    let mut count = le16(&tail, eocd + 10) as u64;
    let mut cd_size = le32(&tail, eocd + 12) as u64;
    let mut cd_offset = le32(&tail, eocd + 16) as u64;
    if count == 0xffff || cd_size == 0xffff_ffff || cd_offset == 0xffff_ffff {
        // ZIP64: the locator sits just before the classic record.
        let loc = eocd
            .checked_sub(20)
            .filter(|&l| tail[l..].starts_with(b"PK\x06\x07"));
        let loc = loc.ok_or_else(|| bad("ZIP64 sizes without a ZIP64 locator".into()))?;
        let rec_offset = le64(&tail, loc + 8);
        let rec = fetch(src, rec_offset, (rec_offset + 56).min(len)).await?;
        if !rec.starts_with(b"PK\x06\x06") {
            return Err(bad("bad ZIP64 end-of-central-directory record".into()));
        }
        count = le64(&rec, 32);
        cd_size = le64(&rec, 40);
        cd_offset = le64(&rec, 48);
    }
    if cd_offset.checked_add(cd_size).is_none_or(|e| e > len) {
        return Err(bad(format!(
            "central directory at {cd_offset}+{cd_size} lies outside the {len}-byte object"
        )));
    }
    let cd = if cd_offset >= tail_start {
        let at = (cd_offset - tail_start) as usize;
        tail[at..at + cd_size as usize].to_vec()
    } else {
        fetch(src, cd_offset, cd_offset + cd_size).await?
    };

    let mut entries = Vec::with_capacity(count as usize);
    let mut p = 0usize;
    for _ in 0..count {
        if p + 46 > cd.len() || !cd[p..].starts_with(b"PK\x01\x02") {
            return Err(bad(format!(
                "central directory entry {} is malformed",
                entries.len()
            )));
        }
        let flags = le16(&cd, p + 8);
        let method = le16(&cd, p + 10);
        let crc32 = le32(&cd, p + 16);
        let mut compressed_size = le32(&cd, p + 20) as u64;
        let mut uncompressed_size = le32(&cd, p + 24) as u64;
        let name_len = le16(&cd, p + 28) as usize;
        let extra_len = le16(&cd, p + 30) as usize;
        let comment_len = le16(&cd, p + 32) as usize;
        let mut local_header_offset = le32(&cd, p + 42) as u64;
        let end = p + 46 + name_len + extra_len + comment_len;
        if end > cd.len() {
            return Err(bad(format!(
                "central directory entry {} overruns the directory",
                entries.len()
            )));
        }
        let name = String::from_utf8_lossy(&cd[p + 46..p + 46 + name_len]).into_owned();
        // ZIP64 extended information: only the fields that overflowed are present, in order.
        let mut extra = &cd[p + 46 + name_len..p + 46 + name_len + extra_len];
        while extra.len() >= 4 {
            let (id, size) = (le16(extra, 0), le16(extra, 2) as usize);
            let body = &extra[4..(4 + size).min(extra.len())];
            if id == 0x0001 {
                let mut q = 0;
                for field in [
                    &mut uncompressed_size,
                    &mut compressed_size,
                    &mut local_header_offset,
                ] {
                    if *field == 0xffff_ffff && q + 8 <= body.len() {
                        *field = le64(body, q);
                        q += 8;
                    }
                }
            }
            extra = &extra[(4 + size).min(extra.len())..];
        }
        if flags & 1 != 0 {
            return Err(bad(format!("entry {name:?} is encrypted")));
        }
        check_name(&object, &name)?;
        entries.push(Entry {
            name,
            method,
            crc32,
            compressed_size,
            uncompressed_size,
            local_header_offset,
        });
        p = end;
    }
    Ok(entries)
}

/// Refuses names that are absolute or climb out with `..` (zip-slip), whatever the separator.
fn check_name(object: &str, name: &str) -> Result<()> {
    let reject = |reason| {
        Err(RestoreError::UnsafeEntry {
            object: object.to_string(),
            entry: name.to_string(),
            reason,
        })
    };
    let unified = name.replace('\\', "/");
    if unified.starts_with('/') || unified.as_bytes().get(1) == Some(&b':') {
        return reject("absolute path");
    }
    if unified.split('/').any(|part| part == "..") {
        return reject("path contains '..'");
    }
    if name.contains('\0') {
        return reject("NUL in name");
    }
    Ok(())
}

/// The entries to load, in name order; the others are logged and skipped.
pub fn sql_entries(entries: &[Entry]) -> Vec<Entry> {
    let mut sql: Vec<Entry> = Vec::new();
    for e in entries {
        if e.is_sql() {
            sql.push(e.clone());
        } else if !e.is_dir() {
            tracing::warn!(entry = %e.name, size = e.uncompressed_size, "skipping non-SQL zip entry");
        }
    }
    sql.sort_by(|a, b| a.name.cmp(&b.name));
    sql
}

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

    #[test]
    fn names_escaping_the_root_are_rejected() {
        for bad in [
            "../x.sql",
            "a/../../x.sql",
            "/etc/passwd",
            "..\\x.sql",
            "C:/x.sql",
        ] {
            assert!(
                matches!(check_name("z", bad), Err(RestoreError::UnsafeEntry { .. })),
                "{bad}"
            );
        }
        for ok in ["a.sql", "dir/a.sql", "a..b.sql", "..a.sql"] {
            assert!(check_name("z", ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn sql_entries_sorted_and_filtered() {
        let e = |name: &str| Entry {
            name: name.into(),
            method: 8,
            crc32: 0,
            compressed_size: 1,
            uncompressed_size: 1,
            local_header_offset: 0,
        };
        let got = sql_entries(&[e("b.sql"), e("readme.txt"), e("dir/"), e("a.SQL")]);
        assert_eq!(
            got.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            ["a.SQL", "b.sql"]
        );
    }
}
