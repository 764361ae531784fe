//! Writing: PutObject (plain and conditional), DeleteObject, CopyObject and the multipart
//! copy calls.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, MetadataDirective, ObjectCannedAcl,
    ServerSideEncryption,
};
use bytes::Bytes;

use super::errors::{attempt_error, malformed, status};
use super::{S3Store, copy_source};
use crate::error::Result;
use crate::store::api::{CopyObject, CopyPart, ObjectHead, PutCondition, PutOutcome, WriteOptions};
use crate::store::normalize_etag;

impl S3Store {
    pub(super) async fn put_impl(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        condition: &PutCondition,
    ) -> Result<PutOutcome> {
        let mut req = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body));
        req = match condition {
            PutCondition::None => req,
            PutCondition::IfAbsent => req.if_none_match("*"),
            PutCondition::IfMatch(etag) => req.if_match(format!("\"{etag}\"")),
        };
        match req.send().await {
            Ok(out) => Ok(PutOutcome::Written {
                etag: out.e_tag().map(normalize_etag),
            }),
            // 412: the condition failed; 409: a concurrent conditional write to the same key
            // won (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).
            Err(e)
                if *condition != PutCondition::None
                    && matches!(status(&e), Some(409) | Some(412)) =>
            {
                Ok(PutOutcome::PreconditionFailed)
            }
            Err(e) => Err(attempt_error("PutObject", bucket, key, e)),
        }
    }

    pub(super) async fn delete_impl(&self, bucket: &str, key: &str) -> Result<()> {
        self.client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| attempt_error("DeleteObject", bucket, key, e))
    }

    /// CopyObject. With `replace`, the target gets those headers and metadata (used when the
    /// source ETag is a multipart one, to record it); otherwise S3 copies them.
    pub(super) async fn copy_object_impl(&self, c: &CopyObject<'_>) -> Result<Option<String>> {
        let mut req = self
            .client
            .copy_object()
            .copy_source(copy_source(c.src_bucket, c.src_key))
            .bucket(c.dst_bucket)
            .key(c.dst_key)
            .set_copy_source_if_match(c.if_match.map(|e| format!("\"{e}\"")))
            .set_acl(c.write.acl.as_deref().map(ObjectCannedAcl::from));
        if let Some(kms) = &c.write.sse_kms_key_id {
            req = req
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(kms);
        }
        if let Some(h) = c.replace {
            req = req
                .metadata_directive(MetadataDirective::Replace)
                .set_content_type(h.content_type.clone())
                .set_content_encoding(h.content_encoding.clone())
                .set_content_disposition(h.content_disposition.clone())
                .set_content_language(h.content_language.clone())
                .set_cache_control(h.cache_control.clone())
                .set_metadata(Some(h.metadata.clone()));
        }
        let out = req
            .send()
            .await
            .map_err(|e| attempt_error("CopyObject", c.src_bucket, c.src_key, e))?;
        Ok(out
            .copy_object_result()
            .and_then(|r| r.e_tag())
            .map(normalize_etag))
    }

    pub(super) async fn create_multipart_impl(
        &self,
        bucket: &str,
        key: &str,
        write: &WriteOptions,
        head: &ObjectHead,
    ) -> Result<String> {
        let mut req = self
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .set_acl(write.acl.as_deref().map(ObjectCannedAcl::from))
            .set_content_type(head.content_type.clone())
            .set_content_encoding(head.content_encoding.clone())
            .set_content_disposition(head.content_disposition.clone())
            .set_content_language(head.content_language.clone())
            .set_cache_control(head.cache_control.clone())
            .set_metadata(Some(head.metadata.clone()));
        if let Some(kms) = &write.sse_kms_key_id {
            req = req
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(kms);
        }
        let out = req
            .send()
            .await
            .map_err(|e| attempt_error("CreateMultipartUpload", bucket, key, e))?;
        out.upload_id()
            .map(str::to_string)
            .ok_or_else(|| malformed("CreateMultipartUpload", bucket, key, "UploadId"))
    }

    pub(super) async fn upload_part_copy_impl(&self, p: &CopyPart<'_>) -> Result<String> {
        let out = self
            .client
            .upload_part_copy()
            .copy_source(copy_source(p.src_bucket, p.src_key))
            .copy_source_range(format!("bytes={}-{}", p.range.start, p.range.end - 1))
            .set_copy_source_if_match(p.if_match.map(|e| format!("\"{e}\"")))
            .bucket(p.dst_bucket)
            .key(p.dst_key)
            .upload_id(p.upload_id)
            .part_number(p.part_number)
            .send()
            .await
            .map_err(|e| attempt_error("UploadPartCopy", p.src_bucket, p.src_key, e))?;
        out.copy_part_result()
            .and_then(|r| r.e_tag())
            .map(str::to_string)
            .ok_or_else(|| {
                malformed(
                    "UploadPartCopy",
                    p.src_bucket,
                    p.src_key,
                    &format!("ETag for part {}", p.part_number),
                )
            })
    }

    pub(super) async fn complete_multipart_impl(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(i32, String)],
    ) -> Result<Option<String>> {
        let upload = CompletedMultipartUpload::builder()
            .set_parts(Some(
                parts
                    .iter()
                    .map(|(n, etag)| {
                        CompletedPart::builder()
                            .part_number(*n)
                            .e_tag(etag.clone())
                            .build()
                    })
                    .collect(),
            ))
            .build();
        let out = self
            .client
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(upload)
            .send()
            .await
            .map_err(|e| attempt_error("CompleteMultipartUpload", bucket, key, e))?;
        Ok(out.e_tag().map(normalize_etag))
    }

    pub(super) async fn abort_multipart_impl(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> Result<()> {
        match self
            .client
            .abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Already aborted or completed (a retry after a lost reply): nothing left open.
            Err(e) if status(&e) == Some(404) => Ok(()),
            Err(e) => Err(attempt_error("AbortMultipartUpload", bucket, key, e)),
        }
    }
}
