//! The zip's table of contents: the end-of-central-directory record (ZIP64 included), each
//! entry's name checked against path escapes, and the `.sql` entries to load.

use futures::StreamExt;

use super::source::RangeSource;
use crate::error::{RestoreError, Result};

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

pub(super) fn le16(b: &[u8], at: usize) -> u16 {
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

#[cfg(test)]
mod tests {
    use super::*;

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
