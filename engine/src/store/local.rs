//! A local folder as a bucket, through object_store's `LocalFileSystem`: the embedded
//! default (the README's first command and quick experiments need no server).
//!
//! Keys map to files one path part at a time: each part goes through object_store's
//! [`PathPart`] encoding on the way in and is percent-decoded on the way out, so a key with
//! `%`, unicode, spaces, `+`, `#` or `$` lists as the same key it was written under (listing
//! used to hand back the encoded form, and reading that back double-encoded it). Local
//! files have no comparable ETag in listings, so the skip check falls back to size; copies
//! are object_store's copy. Conditional writes: `IfAbsent` is object_store's create mode;
//! `IfMatch` compares object_store's ETag (inode, mtime, size) under a process-wide lock,
//! which is enough for one machine's tools and tests.

use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::{Path, PathPart};
use object_store::{ObjectStore as _, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use percent_encoding::percent_decode_str;
use tokio::sync::Mutex;

use super::api::{
    CopyObject, CopyPart, GetOutput, ListPage, ListRequest, ObjectHead, ObjectInfo, ObjectStore,
    PutCondition, PutOutcome, Upload, WriteOptions,
};
use crate::error::{Error, Result};

/// The local filesystem, rooted at `/`; a "bucket" is a folder.
#[derive(Debug, Clone)]
pub struct LocalStore {
    fs: Arc<LocalFileSystem>,
    /// Serialises `IfMatch` writes (read, compare, write).
    conditional: Arc<Mutex<()>>,
}

impl Default for LocalStore {
    fn default() -> Self {
        Self::new()
    }
}

fn parts(s: &str) -> impl Iterator<Item = PathPart<'static>> + '_ {
    s.split('/')
        .filter(|p| !p.is_empty())
        .map(|p| PathPart::from(p.to_string()))
}

/// The object_store path of a key in a bucket folder.
fn path(bucket: &str, key: &str) -> Path {
    Path::from_iter(parts(bucket).chain(parts(key)))
}

/// The key of an object_store path under a bucket folder: decoded part by part.
fn key_of(bucket_parts: usize, p: &Path) -> String {
    p.parts()
        .skip(bucket_parts)
        .map(|part| {
            percent_decode_str(part.as_ref())
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn local_err<'a>(op: &'static str, p: &'a Path) -> impl FnOnce(object_store::Error) -> Error + 'a {
    move |source| Error::Local {
        op,
        path: format!("/{p}"),
        source,
    }
}

fn not_found(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. })
}

fn unsupported(op: &str, bucket: &str, key: &str) -> Error {
    Error::Unsupported {
        bucket: bucket.to_string(),
        key: key.to_string(),
        reason: format!("{op} is not available on a local folder (copies there are whole-file)"),
    }
}

/// Cuts one page out of a sorted listing: entries after `continuation`, at most `max`.
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

impl LocalStore {
    pub fn new() -> Self {
        LocalStore {
            fs: Arc::new(LocalFileSystem::new()),
            conditional: Arc::new(Mutex::new(())),
        }
    }

    async fn put_mode(&self, p: &Path, body: Bytes, mode: PutMode) -> Result<PutOutcome> {
        let opts = PutOptions {
            mode,
            ..Default::default()
        };
        match self.fs.put_opts(p, PutPayload::from(body), opts).await {
            Ok(r) => Ok(PutOutcome::Written { etag: r.e_tag }),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(PutOutcome::PreconditionFailed),
            Err(e) => Err(local_err("write", p)(e)),
        }
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

    /// Walks the folder under the prefix's last `/` once per page; S3's key order and
    /// continuation semantics are kept by sorting the walk.
    async fn list_page(&self, req: &ListRequest) -> Result<ListPage> {
        let bucket_parts = parts(&req.bucket).count();
        let dir_key = req.prefix.rsplit_once('/').map_or("", |(d, _)| d);
        let dir = path(&req.bucket, dir_key);
        let mut entries = Vec::new();
        if req.delimiter.is_some() {
            let res = match self.fs.list_with_delimiter(Some(&dir)).await {
                Ok(r) => r,
                Err(e) if not_found(&e) => return Ok(ListPage::default()),
                Err(e) => return Err(local_err("list", &dir)(e)),
            };
            for m in res.objects {
                let key = key_of(bucket_parts, &m.location);
                if key.starts_with(&req.prefix) {
                    let info = ObjectInfo {
                        key: key.clone(),
                        size: m.size,
                        etag: None,
                    };
                    entries.push((key, Some(info)));
                }
            }
            for p in res.common_prefixes {
                let key = format!("{}/", key_of(bucket_parts, &p));
                if key.starts_with(&req.prefix) {
                    entries.push((key, None));
                }
            }
        } else {
            let listed: Vec<_> = match self.fs.list(Some(&dir)).try_collect().await {
                Ok(v) => v,
                Err(e) if not_found(&e) => return Ok(ListPage::default()),
                Err(e) => return Err(local_err("list", &dir)(e)),
            };
            for m in listed {
                let key = key_of(bucket_parts, &m.location);
                if key.starts_with(&req.prefix) {
                    let info = ObjectInfo {
                        key: key.clone(),
                        size: m.size,
                        etag: None,
                    };
                    entries.push((key, Some(info)));
                }
            }
        }
        Ok(page_of(entries, req))
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectHead>> {
        let p = path(bucket, key);
        match self.fs.head(&p).await {
            Ok(m) => Ok(Some(ObjectHead {
                size: m.size,
                ..Default::default()
            })),
            Err(e) if not_found(&e) => Ok(None),
            Err(e) => Err(local_err("head", &p)(e)),
        }
    }

    async fn get_range(&self, bucket: &str, key: &str, range: Range<u64>) -> Result<Bytes> {
        let p = path(bucket, key);
        self.fs
            .get_range(&p, range)
            .await
            .map_err(local_err("read", &p))
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<GetOutput>> {
        let p = path(bucket, key);
        let res = match self.fs.get(&p).await {
            Ok(r) => r,
            Err(e) if not_found(&e) => return Ok(None),
            Err(e) => return Err(local_err("read", &p)(e)),
        };
        let etag = res.meta.e_tag.clone();
        let body = res.bytes().await.map_err(local_err("read", &p))?;
        Ok(Some(GetOutput { body, etag }))
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        condition: &PutCondition,
    ) -> Result<PutOutcome> {
        let p = path(bucket, key);
        match condition {
            PutCondition::None => self.put_mode(&p, body, PutMode::Overwrite).await,
            PutCondition::IfAbsent => self.put_mode(&p, body, PutMode::Create).await,
            PutCondition::IfMatch(etag) => {
                let _guard = self.conditional.lock().await;
                match self.fs.head(&p).await {
                    Ok(m) if m.e_tag.as_deref() == Some(etag.as_str()) => {
                        self.put_mode(&p, body, PutMode::Overwrite).await
                    }
                    Ok(_) => Ok(PutOutcome::PreconditionFailed),
                    Err(e) if not_found(&e) => Ok(PutOutcome::PreconditionFailed),
                    Err(e) => Err(local_err("head", &p)(e)),
                }
            }
        }
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<()> {
        let p = path(bucket, key);
        match self.fs.delete(&p).await {
            Ok(()) => Ok(()),
            Err(e) if not_found(&e) => Ok(()),
            Err(e) => Err(local_err("delete", &p)(e)),
        }
    }

    async fn copy_object(&self, req: &CopyObject<'_>) -> Result<Option<String>> {
        let from = path(req.src_bucket, req.src_key);
        let to = path(req.dst_bucket, req.dst_key);
        self.fs
            .copy(&from, &to)
            .await
            .map_err(local_err("copy", &from))?;
        Ok(None)
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
