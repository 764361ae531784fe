//! The reads `engine status` makes: small S3 calls (HEAD, GET, delimited lists), with "not
//! found" as `None` and every other failure an error naming the bucket and key.

use anyhow::{Context, Result, bail};
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::primitives::DateTime as AwsDateTime;
use chrono::{DateTime, Utc};

/// The clients `engine status` reads with (S3, RDS, Glue), from the one client factory.
#[derive(Debug, Clone)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub rds: aws_sdk_rds::Client,
    pub glue: aws_sdk_glue::Client,
}

impl Clients {
    pub fn new(factory: &liberator_aws::ClientFactory) -> Self {
        Clients {
            s3: factory.s3(),
            rds: factory.rds(),
            glue: factory.glue(),
        }
    }
}

/// An AWS timestamp as chrono's.
pub fn time(t: Option<&AwsDateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.secs(), t.subsec_nanos()))
}

/// Fails with a clear message when `bucket` does not exist or cannot be read; `flag` names
/// where the operator set it.
pub async fn require_bucket(s3: &aws_sdk_s3::Client, bucket: &str, flag: &str) -> Result<()> {
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {
            bail!("bucket {bucket} ({flag}) does not exist")
        }
        Err(e) => Err(anyhow::anyhow!("{}", DisplayErrorContext(&e)))
            .with_context(|| format!("reading bucket {bucket} ({flag})")),
    }
}

/// Size and last-modified time of an object; `None` when it does not exist.
pub async fn head(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<(u64, Option<DateTime<Utc>>)>> {
    match s3.head_object().bucket(bucket).key(key).send().await {
        Ok(o) => Ok(Some((
            o.content_length().unwrap_or(0).max(0) as u64,
            time(o.last_modified()),
        ))),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(anyhow::anyhow!("{}", DisplayErrorContext(&e)))
            .with_context(|| format!("HEAD s3://{bucket}/{key}")),
    }
}

/// A whole (small) object; `None` when it does not exist.
pub async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Option<Vec<u8>>> {
    match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(o) => {
            let body = o
                .body
                .collect()
                .await
                .with_context(|| format!("reading s3://{bucket}/{key}"))?;
            Ok(Some(body.to_vec()))
        }
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(anyhow::anyhow!("{}", DisplayErrorContext(&e)))
            .with_context(|| format!("GET s3://{bucket}/{key}")),
    }
}

/// Keys and folder prefixes directly under `prefix` (delimiter `/`), every page.
pub async fn list(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> Result<(Vec<String>, Vec<String>)> {
    let (mut keys, mut folders) = (Vec::new(), Vec::new());
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .delimiter("/")
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page
            .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(&e)))
            .with_context(|| format!("listing s3://{bucket}/{prefix}"))?;
        keys.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key())
                .map(String::from),
        );
        folders.extend(
            page.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix())
                .map(String::from),
        );
    }
    Ok((keys, folders))
}

/// How many `.parquet` keys are under `prefix` (every page, no delimiter).
pub async fn count_parquet(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<u64> {
    let mut n = 0;
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page
            .map_err(|e| anyhow::anyhow!("{}", DisplayErrorContext(&e)))
            .with_context(|| format!("listing s3://{bucket}/{prefix}"))?;
        n += page
            .contents()
            .iter()
            .filter(|o| o.key().is_some_and(|k| k.ends_with(".parquet")))
            .count() as u64;
    }
    Ok(n)
}

/// A 404 (HEAD has no body, so no error code) or `NoSuchKey`.
fn is_not_found<E: aws_sdk_s3::error::ProvideErrorMetadata>(
    e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> bool {
    e.raw_response().is_some_and(|r| r.status().as_u16() == 404)
        || e.as_service_error().and_then(|s| s.code()) == Some("NoSuchKey")
}

/// `prefix` as a key prefix: empty, or ending in one `/`.
pub fn folder(prefix: &str) -> String {
    let p = prefix.trim_matches('/');
    if p.is_empty() {
        String::new()
    } else {
        format!("{p}/")
    }
}
