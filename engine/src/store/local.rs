//! A local folder as a bucket: the embedded default (the README's first command and quick
//! experiments need no server).
//!
//! Keys map to files verbatim, one path part per `/`-separated part of the key, so a file
//! written by any other tool (an export synced down with `aws s3 sync`, say) is listed under
//! the key S3 would give it, and a key with `%`, unicode, spaces, `+`, `#` or `$` is stored
//! under exactly that name. (object_store's `LocalFileSystem`, used before, keeps such names
//! percent-encoded on disk, and read back keys listed from other tools' files as different
//! keys: an export with `liberator.ünïcode` and `liberator.pct%x` tables lost 12 of 30 files.)
//! Parts S3 allows but a file system cannot hold (`.`, `..`, empty) are refused, naming the
//! key.
//!
//! Writes go to a hidden temporary file in the same folder and are renamed into place, so a
//! reader never sees half a file. Local files have no comparable ETag in listings and HEADs
//! (the skip check falls back to size); whole reads and writes give a content hash as the
//! version, so conditional writes work: `IfAbsent` links the temporary file into place
//! (which fails if something is there), `IfMatch` compares the hash under a process-wide
//! lock, which is enough for one machine's tools and tests.

use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::Mutex;

use super::api::{
    CopyObject, CopyPart, GetOutput, ListPage, ListRequest, ObjectHead, ObjectInfo, ObjectStore,
    PutCondition, PutOutcome, Upload, WriteOptions,
};
use super::memory::content_etag;
use crate::error::{Error, Result};

/// Temporary files start with this; listings skip them.
const TMP: &str = ".liberator-tmp-";

/// The local filesystem; a "bucket" is a folder path.
#[derive(Debug, Clone, Default)]
pub struct LocalStore {
    /// Serialises `IfMatch` writes (read, compare, write).
    conditional: Arc<Mutex<()>>,
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Local {
        op,
        path: path.display().to_string(),
        source,
    }
}

/// The file of `key` in the `bucket` folder.
fn path(bucket: &str, key: &str) -> Result<PathBuf> {
    let mut p = PathBuf::from(bucket);
    for part in key.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err(Error::Unsupported {
                bucket: bucket.to_string(),
                key: key.to_string(),
                reason: "a local folder cannot hold a key with an empty, `.` or `..` path part"
                    .into(),
            });
        }
        p.push(part);
    }
    Ok(p)
}

fn unsupported(op: &str, bucket: &str, key: &str) -> Error {
    Error::Unsupported {
        bucket: bucket.to_string(),
        key: key.to_string(),
        reason: format!("{op} is not available on a local folder (copies there are whole-file)"),
    }
}

/// Cuts one page out of a listing: entries after `continuation` in key order, at most
/// `max_keys`. Entries are `(key, Some(object))` or `(prefix, None)`.
pub(crate) fn page_of(
    mut entries: Vec<(String, Option<ObjectInfo>)>,
    req: &ListRequest,
) -> ListPage {
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries.dedup_by(|a, b| a.0 == b.0);
    let start = match &req.continuation {
        Some(after) => entries.partition_point(|(k, _)| k <= after),
        None => 0,
    };
    let max = req
        .max_keys
        .map(|m| m.max(1) as usize)
        .unwrap_or(usize::MAX);
    let rest = entries.len() - start;
    let take = rest.min(max);
    let last = (take > 0).then(|| entries[start + take - 1].0.clone());
    let mut page = ListPage::default();
    for (k, obj) in entries.drain(start..start + take) {
        match obj {
            Some(o) => page.objects.push(o),
            None => page.prefixes.push(k),
        }
    }
    if take < rest {
        page.next = last;
    }
    page
}

/// Every file under `dir` whose key (relative to `root`, `/`-joined) starts with `prefix`;
/// with `delimiter`, deeper keys fold into their common prefix. Names that are not UTF-8
/// cannot be keys and are skipped with a warning.
fn walk(
    dir: &Path,
    rel: &str,
    req: &ListRequest,
    out: &mut Vec<(String, Option<ObjectInfo>)>,
) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            tracing::warn!(path = %entry.path().display(), "skipping a file whose name is not UTF-8");
            continue;
        };
        if name.starts_with(TMP) {
            continue;
        }
        let key = format!("{rel}{name}");
        let is_dir = entry.file_type()?.is_dir();
        if is_dir {
            let sub = format!("{key}/");
            // Only descend where keys can match the prefix.
            if !(sub.starts_with(&req.prefix) || req.prefix.starts_with(&sub)) {
                continue;
            }
            if req.delimiter.is_some()
                && sub.starts_with(&req.prefix)
                && sub.len() > req.prefix.len()
            {
                out.push((sub, None));
                continue;
            }
            walk(&entry.path(), &sub, req, out)?;
        } else if key.starts_with(&req.prefix) {
            let size = entry.metadata()?.len();
            out.push((
                key.clone(),
                Some(ObjectInfo {
                    key,
                    size,
                    etag: None,
                }),
            ));
        }
    }
    Ok(())
}

/// Writes `body` to a temporary file beside `dst`.
fn write_tmp(dst: &Path, body: &[u8]) -> io::Result<PathBuf> {
    let dir = dst.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{TMP}{}", uuid::Uuid::new_v4().simple()));
    std::fs::write(&tmp, body)?;
    Ok(tmp)
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Interrupted(format!("local file task ended: {e}")))?
}

impl LocalStore {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl ObjectStore for LocalStore {
    fn name(&self) -> &'static str {
        "local"
    }

    fn supports_multipart(&self) -> bool {
        false
    }

    async fn list_page(&self, req: &ListRequest) -> Result<ListPage> {
        let req = req.clone();
        blocking(move || {
            let root = PathBuf::from(&req.bucket);
            let mut out = Vec::new();
            walk(&root, "", &req, &mut out).map_err(io_err("list", &root))?;
            Ok(page_of(out, &req))
        })
        .await
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectHead>> {
        let p = path(bucket, key)?;
        match tokio::fs::metadata(&p).await {
            Ok(m) if m.is_file() => Ok(Some(ObjectHead {
                size: m.len(),
                ..Default::default()
            })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("head", &p)(e)),
        }
    }

    async fn get_range(&self, bucket: &str, key: &str, range: Range<u64>) -> Result<Bytes> {
        let p = path(bucket, key)?;
        blocking(move || {
            use std::io::{Read, Seek, SeekFrom};
            let mut f = std::fs::File::open(&p).map_err(io_err("read", &p))?;
            f.seek(SeekFrom::Start(range.start))
                .map_err(io_err("read", &p))?;
            let mut buf = vec![0; (range.end - range.start) as usize];
            f.read_exact(&mut buf).map_err(io_err("read", &p))?;
            Ok(Bytes::from(buf))
        })
        .await
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<GetOutput>> {
        let p = path(bucket, key)?;
        match tokio::fs::read(&p).await {
            Ok(body) => Ok(Some(GetOutput {
                etag: Some(content_etag(&body)),
                body: Bytes::from(body),
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("read", &p)(e)),
        }
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        condition: &PutCondition,
    ) -> Result<PutOutcome> {
        let p = path(bucket, key)?;
        let _guard = match condition {
            PutCondition::IfMatch(_) => Some(self.conditional.lock().await),
            _ => None,
        };
        let condition = condition.clone();
        blocking(move || {
            if let PutCondition::IfMatch(want) = &condition {
                match std::fs::read(&p) {
                    Ok(current) if content_etag(&current) == *want => {}
                    Ok(_) => return Ok(PutOutcome::PreconditionFailed),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        return Ok(PutOutcome::PreconditionFailed);
                    }
                    Err(e) => return Err(io_err("read", &p)(e)),
                }
            }
            let tmp = write_tmp(&p, &body).map_err(io_err("write", &p))?;
            let placed = if condition == PutCondition::IfAbsent {
                let linked = std::fs::hard_link(&tmp, &p);
                let _ = std::fs::remove_file(&tmp);
                match linked {
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        return Ok(PutOutcome::PreconditionFailed);
                    }
                    other => other,
                }
            } else {
                std::fs::rename(&tmp, &p)
            };
            placed.map_err(io_err("write", &p))?;
            Ok(PutOutcome::Written {
                etag: Some(content_etag(&body)),
            })
        })
        .await
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<()> {
        let p = path(bucket, key)?;
        match tokio::fs::remove_file(&p).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("delete", &p)(e)),
        }
    }

    async fn copy_object(&self, req: &CopyObject<'_>) -> Result<Option<String>> {
        let from = path(req.src_bucket, req.src_key)?;
        let to = path(req.dst_bucket, req.dst_key)?;
        blocking(move || {
            let dir = to.parent().unwrap_or(Path::new("/"));
            std::fs::create_dir_all(dir).map_err(io_err("copy", &to))?;
            let tmp = dir.join(format!("{TMP}{}", uuid::Uuid::new_v4().simple()));
            std::fs::copy(&from, &tmp).map_err(io_err("copy", &from))?;
            std::fs::rename(&tmp, &to).map_err(io_err("copy", &to))?;
            Ok(None)
        })
        .await
    }

    async fn create_multipart(
        &self,
        bucket: &str,
        key: &str,
        _write: &WriteOptions,
        _head: &ObjectHead,
    ) -> Result<String> {
        Err(unsupported("CreateMultipartUpload", bucket, key))
    }

    async fn upload_part_copy(&self, req: &CopyPart<'_>) -> Result<String> {
        Err(unsupported("UploadPartCopy", req.src_bucket, req.src_key))
    }

    async fn complete_multipart(
        &self,
        bucket: &str,
        key: &str,
        _upload_id: &str,
        _parts: &[(i32, String)],
    ) -> Result<Option<String>> {
        Err(unsupported("CompleteMultipartUpload", bucket, key))
    }

    async fn abort_multipart(&self, _bucket: &str, _key: &str, _upload_id: &str) -> Result<()> {
        Ok(())
    }

    async fn list_multipart_uploads(&self, _bucket: &str, _prefix: &str) -> Result<Vec<Upload>> {
        Ok(Vec::new())
    }
}
