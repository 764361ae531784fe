//! A local folder as a bucket, through object_store's `LocalFileSystem`.
//!
//! This is the embedded default: the README's first command and quick experiments need no
//! server. Local files have no comparable ETag (object_store derives one from inode and
//! mtime), so the skip check falls back to size; copies are object_store's atomic copy.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::{DelimitedPage, ObjectHead, ObjectInfo};
use crate::error::{Error, Result};

/// Objects listed per page from a local walk.
const PAGE: usize = 1000;

/// The local filesystem, rooted at `/`; a "bucket" is a folder.
#[derive(Debug, Clone)]
pub struct LocalStore {
    fs: Arc<LocalFileSystem>,
}

impl Default for LocalStore {
    fn default() -> Self {
        Self::new()
    }
}

fn path(bucket: &str, key: &str) -> Path {
    Path::from(format!("{}/{key}", bucket.trim_end_matches('/')))
}

fn root(bucket: &str) -> String {
    let root = Path::from(bucket.trim_end_matches('/')).to_string();
    if root.is_empty() {
        root
    } else {
        format!("{root}/")
    }
}

fn local_err<'a>(op: &'static str, p: &'a Path) -> impl FnOnce(object_store::Error) -> Error + 'a {
    move |source| Error::Local {
        op,
        path: format!("/{p}"),
        source,
    }
}

impl LocalStore {
    pub fn new() -> Self {
        LocalStore {
            fs: Arc::new(LocalFileSystem::new()),
        }
    }

    pub(crate) fn list(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> BoxStream<'static, Result<Vec<ObjectInfo>>> {
        let root = root(bucket);
        let dir = path(bucket, prefix.trim_end_matches('/'));
        let shown = format!("/{dir}");
        let wanted = format!("{root}{prefix}");
        self.fs
            .list(Some(&dir))
            .map_err(move |source| Error::Local {
                op: "list",
                path: shown.clone(),
                source,
            })
            .try_filter_map(move |meta| {
                let full = meta.location.to_string();
                let out = full.starts_with(&wanted).then(|| ObjectInfo {
                    key: full[root.len()..].to_string(),
                    size: meta.size,
                    etag: None,
                });
                futures::future::ready(Ok(out))
            })
            .try_chunks(PAGE)
            .map_err(|e| e.1)
            .boxed()
    }

    pub(crate) async fn list_delimited(&self, bucket: &str, prefix: &str) -> Result<DelimitedPage> {
        let root = root(bucket);
        let dir = path(bucket, prefix.trim_end_matches('/'));
        let res = match self.fs.list_with_delimiter(Some(&dir)).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(DelimitedPage::default()),
            Err(e) => return Err(local_err("list", &dir)(e)),
        };
        let strip = |p: &Path| {
            p.to_string()
                .get(root.len()..)
                .unwrap_or_default()
                .to_string()
        };
        Ok(DelimitedPage {
            objects: res
                .objects
                .iter()
                .map(|m| ObjectInfo {
                    key: strip(&m.location),
                    size: m.size,
                    etag: None,
                })
                .collect(),
            prefixes: res
                .common_prefixes
                .iter()
                .map(|p| format!("{}/", strip(p)))
                .collect(),
        })
    }

    pub(crate) async fn any_under(&self, bucket: &str, prefix: &str) -> Result<bool> {
        let mut s = self.list(bucket, prefix);
        match s.next().await {
            None => Ok(false),
            Some(Ok(page)) => Ok(!page.is_empty()),
            Some(Err(Error::Local {
                source: object_store::Error::NotFound { .. },
                ..
            })) => Ok(false),
            Some(Err(e)) => Err(e),
        }
    }

    pub(crate) async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectHead>> {
        let p = path(bucket, key);
        match self.fs.head(&p).await {
            Ok(m) => Ok(Some(ObjectHead {
                size: m.size,
                ..Default::default()
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(local_err("head", &p)(e)),
        }
    }

    pub(crate) async fn get_range(
        &self,
        bucket: &str,
        key: &str,
        range: Range<u64>,
    ) -> Result<Bytes> {
        let p = path(bucket, key);
        self.fs
            .get_range(&p, range)
            .await
            .map_err(local_err("read", &p))
    }

    pub(crate) async fn put(&self, bucket: &str, key: &str, body: Bytes) -> Result<()> {
        let p = path(bucket, key);
        self.fs
            .put(&p, PutPayload::from(body))
            .await
            .map(|_| ())
            .map_err(local_err("write", &p))
    }

    pub(crate) async fn copy(
        &self,
        src_bucket: &str,
        src_key: &str,
        dst_bucket: &str,
        dst_key: &str,
    ) -> Result<()> {
        let from = path(src_bucket, src_key);
        let to = path(dst_bucket, dst_key);
        self.fs
            .copy(&from, &to)
            .await
            .map_err(local_err("copy", &from))
    }
}
