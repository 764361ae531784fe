//! An in-memory store: the conformance suite's reference and the backend of fast tests
//! (no server, no disk). It follows S3's semantics where the engine depends on them: key
//! order, continuation tokens, conditional writes answering "precondition failed",
//! multipart uploads that are invisible until completed, and ETags that are a content hash
//! for single-part objects and `<hash>-<parts>` for multipart ones.

use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};

use super::api::{
    CopyObject, CopyPart, GetOutput, ListPage, ListRequest, ObjectHead, ObjectInfo, ObjectStore,
    PutCondition, PutOutcome, Upload, WriteOptions,
};
use super::local::page_of;
use crate::error::{Error, Result};
use crate::retry::Class;

#[derive(Debug, Clone)]
struct Object {
    body: Bytes,
    head: ObjectHead,
}

#[derive(Debug)]
struct Pending {
    bucket: String,
    key: String,
    head: ObjectHead,
    parts: BTreeMap<i32, (Bytes, String)>,
}

#[derive(Debug, Default)]
struct State {
    objects: BTreeMap<(String, String), Object>,
    uploads: HashMap<String, Pending>,
}

/// Objects in memory, shared by clones of the `Arc` it is used through.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    next_upload: AtomicU64,
}

/// A 32-hex-digit content hash, shaped like S3's MD5 ETag.
pub(crate) fn content_etag(body: &[u8]) -> String {
    let mut a = DefaultHasher::new();
    body.hash(&mut a);
    let mut b = DefaultHasher::new();
    (body.len(), a.finish()).hash(&mut b);
    format!("{:016x}{:016x}", a.finish(), b.finish())
}

fn missing(op: &'static str, bucket: &str, key: &str, what: &str) -> Error {
    Error::attempt(
        op,
        bucket,
        key,
        Class::Permanent,
        format!("{what} (HTTP 404)"),
        what.to_string(),
    )
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("memory store lock")
    }

    fn source(
        &self,
        op: &'static str,
        bucket: &str,
        key: &str,
        if_match: Option<&str>,
    ) -> Result<Object> {
        let state = self.state();
        let obj = state
            .objects
            .get(&(bucket.to_string(), key.to_string()))
            .cloned()
            .ok_or_else(|| missing(op, bucket, key, "NoSuchKey: the source does not exist"))?;
        if let Some(want) = if_match
            && obj.head.etag.as_deref() != Some(want)
        {
            return Err(Error::attempt(
                op,
                bucket,
                key,
                Class::Permanent,
                "PreconditionFailed: CopySourceIfMatch (HTTP 412)",
                "precondition failed",
            ));
        }
        Ok(obj)
    }
}

#[async_trait]
impl ObjectStore for MemoryStore {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn list_page(&self, req: &ListRequest) -> Result<ListPage> {
        let state = self.state();
        let mut entries = Vec::new();
        let from = (req.bucket.clone(), req.prefix.clone());
        for ((bucket, key), obj) in state.objects.range(from..) {
            if *bucket != req.bucket || !key.starts_with(&req.prefix) {
                break;
            }
            let rest = &key[req.prefix.len()..];
            match req
                .delimiter
                .as_deref()
                .and_then(|d| rest.find(d).map(|i| i + d.len()))
            {
                Some(end) => entries.push((format!("{}{}", req.prefix, &rest[..end]), None)),
                None => entries.push((
                    key.clone(),
                    Some(ObjectInfo {
                        key: key.clone(),
                        size: obj.head.size,
                        etag: obj.head.etag.clone(),
                    }),
                )),
            }
        }
        Ok(page_of(entries, req))
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectHead>> {
        Ok(self
            .state()
            .objects
            .get(&(bucket.to_string(), key.to_string()))
            .map(|o| o.head.clone()))
    }

    async fn get_range(&self, bucket: &str, key: &str, range: Range<u64>) -> Result<Bytes> {
        let obj = self.source("GetObject", bucket, key, None)?;
        let len = obj.body.len() as u64;
        if range.start > range.end || range.end > len {
            return Err(Error::attempt(
                "GetObject",
                bucket,
                key,
                Class::Permanent,
                format!("InvalidRange: {range:?} of {len} bytes (HTTP 416)"),
                "invalid range",
            ));
        }
        Ok(obj.body.slice(range.start as usize..range.end as usize))
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<GetOutput>> {
        Ok(self
            .state()
            .objects
            .get(&(bucket.to_string(), key.to_string()))
            .map(|o| GetOutput {
                body: o.body.clone(),
                etag: o.head.etag.clone(),
            }))
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        condition: &PutCondition,
    ) -> Result<PutOutcome> {
        let mut state = self.state();
        let id = (bucket.to_string(), key.to_string());
        let current = state.objects.get(&id).and_then(|o| o.head.etag.clone());
        let holds = match condition {
            PutCondition::None => true,
            PutCondition::IfAbsent => !state.objects.contains_key(&id),
            PutCondition::IfMatch(etag) => current.as_deref() == Some(etag.as_str()),
        };
        if !holds {
            return Ok(PutOutcome::PreconditionFailed);
        }
        let etag = content_etag(&body);
        let head = ObjectHead {
            size: body.len() as u64,
            etag: Some(etag.clone()),
            ..Default::default()
        };
        state.objects.insert(id, Object { body, head });
        Ok(PutOutcome::Written { etag: Some(etag) })
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<()> {
        self.state()
            .objects
            .remove(&(bucket.to_string(), key.to_string()));
        Ok(())
    }

    async fn copy_object(&self, req: &CopyObject<'_>) -> Result<Option<String>> {
        let src = self.source("CopyObject", req.src_bucket, req.src_key, req.if_match)?;
        let mut head = match req.replace {
            Some(h) => h.clone(),
            None => src.head.clone(),
        };
        let etag = content_etag(&src.body);
        head.size = src.body.len() as u64;
        head.etag = Some(etag.clone());
        self.state().objects.insert(
            (req.dst_bucket.to_string(), req.dst_key.to_string()),
            Object {
                body: src.body,
                head,
            },
        );
        Ok(Some(etag))
    }

    async fn create_multipart(
        &self,
        bucket: &str,
        key: &str,
        _write: &WriteOptions,
        head: &ObjectHead,
    ) -> Result<String> {
        let id = format!("mem-{}", self.next_upload.fetch_add(1, Ordering::Relaxed));
        self.state().uploads.insert(
            id.clone(),
            Pending {
                bucket: bucket.to_string(),
                key: key.to_string(),
                head: head.clone(),
                parts: BTreeMap::new(),
            },
        );
        Ok(id)
    }

    async fn upload_part_copy(&self, req: &CopyPart<'_>) -> Result<String> {
        let src = self.source("UploadPartCopy", req.src_bucket, req.src_key, req.if_match)?;
        let (start, end) = (req.range.start as usize, req.range.end as usize);
        if start >= end || end > src.body.len() {
            return Err(Error::attempt(
                "UploadPartCopy",
                req.src_bucket,
                req.src_key,
                Class::Permanent,
                format!("InvalidRange: {:?} of {} bytes", req.range, src.body.len()),
                "invalid range",
            ));
        }
        let body = src.body.slice(start..end);
        let etag = content_etag(&body);
        let mut state = self.state();
        let up = state.uploads.get_mut(req.upload_id).ok_or_else(|| {
            missing(
                "UploadPartCopy",
                req.dst_bucket,
                req.dst_key,
                "NoSuchUpload",
            )
        })?;
        up.parts.insert(req.part_number, (body, etag.clone()));
        Ok(etag)
    }

    async fn complete_multipart(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(i32, String)],
    ) -> Result<Option<String>> {
        let mut state = self.state();
        let up = state
            .uploads
            .remove(upload_id)
            .ok_or_else(|| missing("CompleteMultipartUpload", bucket, key, "NoSuchUpload"))?;
        let mut body = BytesMut::new();
        let mut etags = String::new();
        for (n, etag) in parts {
            match up.parts.get(n) {
                Some((b, e)) if e == etag => {
                    body.extend_from_slice(b);
                    etags.push_str(e);
                }
                _ => {
                    let err = Error::attempt(
                        "CompleteMultipartUpload",
                        bucket,
                        key,
                        Class::Permanent,
                        format!("InvalidPart: part {n} (HTTP 400)"),
                        "invalid part",
                    );
                    state.uploads.insert(upload_id.to_string(), up);
                    return Err(err);
                }
            }
        }
        let etag = format!("{}-{}", &content_etag(etags.as_bytes())[..32], parts.len());
        let mut head = up.head;
        head.size = body.len() as u64;
        head.etag = Some(etag.clone());
        state.objects.insert(
            (up.bucket, up.key),
            Object {
                body: body.freeze(),
                head,
            },
        );
        Ok(Some(etag))
    }

    async fn abort_multipart(&self, _bucket: &str, _key: &str, upload_id: &str) -> Result<()> {
        self.state().uploads.remove(upload_id);
        Ok(())
    }

    async fn list_multipart_uploads(&self, bucket: &str, prefix: &str) -> Result<Vec<Upload>> {
        let mut out: Vec<Upload> = self
            .state()
            .uploads
            .iter()
            .filter(|(_, u)| u.bucket == bucket && u.key.starts_with(prefix))
            .map(|(id, u)| Upload {
                key: u.key.clone(),
                upload_id: id.clone(),
            })
            .collect();
        out.sort_by(|a, b| (&a.key, &a.upload_id).cmp(&(&b.key, &b.upload_id)));
        Ok(out)
    }
}
