//! Listing and reading: ListObjectsV2, HeadObject, ranged and whole GetObject,
//! ListMultipartUploads.

use std::ops::Range;

use bytes::Bytes;

use super::S3Store;
use super::errors::{attempt_error, status};
use crate::error::{Error, Result};
use crate::retry::Class;
use crate::store::api::{GetOutput, ListPage, ListRequest, ObjectHead, ObjectInfo, Upload};
use crate::store::normalize_etag;

impl S3Store {
    pub(super) async fn list_page_impl(&self, req: &ListRequest) -> Result<ListPage> {
        let page = self
            .client
            .list_objects_v2()
            .bucket(&req.bucket)
            .prefix(&req.prefix)
            .set_delimiter(req.delimiter.clone())
            .set_continuation_token(req.continuation.clone())
            .set_max_keys(req.max_keys.map(|n| n.min(i32::MAX as u32) as i32))
            .send()
            .await
            .map_err(|e| attempt_error("ListObjectsV2", &req.bucket, &req.prefix, e))?;
        let next = page.next_continuation_token().map(str::to_string);
        let truncated = page.is_truncated().unwrap_or(false);
        Ok(ListPage {
            objects: page
                .contents()
                .iter()
                .filter_map(|o| {
                    Some(ObjectInfo {
                        key: o.key()?.to_string(),
                        size: o.size().unwrap_or(0).max(0) as u64,
                        etag: o.e_tag().map(normalize_etag),
                    })
                })
                .collect(),
            prefixes: page
                .common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_string))
                .collect(),
            next: if truncated { next } else { None },
        })
    }

    pub(super) async fn head_impl(&self, bucket: &str, key: &str) -> Result<Option<ObjectHead>> {
        match self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(o) => Ok(Some(ObjectHead {
                size: o.content_length().unwrap_or(0).max(0) as u64,
                etag: o.e_tag().map(normalize_etag),
                content_type: o.content_type().map(str::to_string),
                content_encoding: o.content_encoding().map(str::to_string),
                content_disposition: o.content_disposition().map(str::to_string),
                content_language: o.content_language().map(str::to_string),
                cache_control: o.cache_control().map(str::to_string),
                metadata: o.metadata().cloned().unwrap_or_default(),
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(attempt_error("HeadObject", bucket, key, e)),
        }
    }

    pub(super) async fn get_range_impl(
        &self,
        bucket: &str,
        key: &str,
        range: Range<u64>,
    ) -> Result<Bytes> {
        let header = format!("bytes={}-{}", range.start, range.end.saturating_sub(1));
        let want = range.end - range.start;
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .range(&header)
            .send()
            .await
            .map_err(|e| attempt_error("GetObject", bucket, key, e))?;
        let body = out.body.collect().await.map_err(|e| {
            Error::attempt(
                "GetObject",
                bucket,
                key,
                Class::Transient,
                format!("reading the response body: {e}"),
                e,
            )
        })?;
        let bytes = body.into_bytes();
        if bytes.len() as u64 != want {
            return Err(Error::attempt(
                "GetObject",
                bucket,
                key,
                Class::Transient,
                format!("asked for {want} bytes ({header}), got {}", bytes.len()),
                format!("short read of {header}"),
            ));
        }
        Ok(bytes)
    }

    pub(super) async fn get_impl(&self, bucket: &str, key: &str) -> Result<Option<GetOutput>> {
        let out = match self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if status(&e) == Some(404) => return Ok(None),
            Err(e) => return Err(attempt_error("GetObject", bucket, key, e)),
        };
        let etag = out.e_tag().map(normalize_etag);
        let want = out.content_length();
        let body = out.body.collect().await.map_err(|e| {
            Error::attempt(
                "GetObject",
                bucket,
                key,
                Class::Transient,
                format!("reading the response body: {e}"),
                e,
            )
        })?;
        let body = body.into_bytes();
        if let Some(want) = want
            && want >= 0
            && body.len() as u64 != want as u64
        {
            return Err(Error::attempt(
                "GetObject",
                bucket,
                key,
                Class::Transient,
                format!("Content-Length {want}, got {} bytes", body.len()),
                "truncated body",
            ));
        }
        Ok(Some(GetOutput { body, etag }))
    }

    pub(super) async fn list_multipart_uploads_impl(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<Upload>> {
        let mut out = Vec::new();
        let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .client
                .list_multipart_uploads()
                .bucket(bucket)
                .prefix(prefix)
                .set_key_marker(key_marker.clone())
                .set_upload_id_marker(id_marker.clone())
                .send()
                .await
                .map_err(|e| attempt_error("ListMultipartUploads", bucket, prefix, e))?;
            out.extend(page.uploads().iter().filter_map(|u| {
                Some(Upload {
                    key: u.key()?.to_string(),
                    upload_id: u.upload_id()?.to_string(),
                })
            }));
            if !page.is_truncated().unwrap_or(false) {
                return Ok(out);
            }
            key_marker = page.next_key_marker().map(str::to_string);
            id_marker = page.next_upload_id_marker().map(str::to_string);
            if key_marker.is_none() && id_marker.is_none() {
                return Ok(out);
            }
        }
    }
}
