//! The object stores the engine talks to, behind one seam ([`ObjectStore`]): S3 (any
//! S3-compatible endpoint) through the AWS SDK, a local folder through the file system, and
//! memory for fast tests. [`Governed`] wraps any of them with retries, the adaptive limiter
//! and counters; [`Faulty`] injects faults on either side of the store. [`Store`] is the
//! governed handle the engine, the Lambdas and the tools use.
//!
//! Both sides of a copy live in one store: a server-side copy cannot cross from a local
//! folder to S3, so mixing the two is refused up front.

pub mod api;
pub mod faults;
pub mod governed;
pub mod local;
pub mod memory;
pub mod s3;

use std::ops::Deref;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use liberator_aws::{AwsOptions, ClientFactory};
use tokio_util::sync::CancellationToken;

pub use api::{
    CopyObject, CopyPart, GetOutput, ListPage, ListRequest, ObjectHead, ObjectInfo, ObjectStore,
    PutCondition, PutOutcome, Upload, WriteOptions,
};
pub use faults::{FaultCounts, FaultRule, Faulty, Firing, Op, Side, When};
pub use governed::Governed;
pub use local::LocalStore;
pub use memory::MemoryStore;
pub use s3::{S3Store, SOURCE_ETAG_METADATA, copy_source};

use crate::error::{Error, Result};
use crate::limiter::Limiter;
use crate::location::Location;
use crate::retry::RetryConfig;
use crate::stats::JobStats;

/// Objects per page handed to the dispatcher (S3's own page size).
pub const PAGE: u32 = 1000;

/// Strips the quotes S3 puts around ETags (SeaweedFS leaves them off on copy results).
pub fn normalize_etag(etag: &str) -> String {
    etag.trim().trim_matches('"').to_string()
}

/// A single-part S3 ETag is the MD5 of the content; only those compare across copies.
pub fn is_md5_etag(etag: &str) -> bool {
    etag.len() == 32 && etag.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A backend under the engine's retries, limiter and counters. Cheap to clone; derefs to
/// [`Governed`], which is itself an [`ObjectStore`].
#[derive(Debug, Clone)]
pub struct Store {
    governed: Governed,
}

impl Deref for Store {
    type Target = Governed;
    fn deref(&self) -> &Governed {
        &self.governed
    }
}

impl Store {
    /// `inner` governed by `limiter` and `retry`.
    pub fn new(inner: Arc<dyn ObjectStore>, limiter: Arc<Limiter>, retry: RetryConfig) -> Self {
        Store {
            governed: Governed::new(inner, limiter, retry),
        }
    }

    /// The store serving both locations: S3 through the client factory, or a local folder.
    pub async fn for_locations(
        source: &Location,
        target: &Location,
        aws: &AwsOptions,
        limiter: Arc<Limiter>,
        retry: RetryConfig,
    ) -> Result<Store> {
        let inner: Arc<dyn ObjectStore> = match (source, target) {
            (Location::S3 { .. }, Location::S3 { .. }) => {
                Arc::new(S3Store::new(ClientFactory::load(aws.clone()).await.s3()))
            }
            (Location::Local { .. }, Location::Local { .. }) => Arc::new(LocalStore::new()),
            _ => {
                return Err(Error::Location {
                    location: format!("{source} -> {target}"),
                    reason: "source and target must both be s3:// or both local: a server-side copy cannot cross stores".into(),
                });
            }
        };
        Ok(Store::new(inner, limiter, retry))
    }

    /// The same store counting into `stats`, its backoff sleeps ending when `stop` fires.
    pub fn for_run(&self, stats: Arc<JobStats>, stop: CancellationToken) -> Store {
        Store {
            governed: self.governed.for_run(stats, stop),
        }
    }

    /// The governed store as a trait object (for code written against the seam).
    pub fn as_dyn(&self) -> Arc<dyn ObjectStore> {
        Arc::new(self.governed.clone())
    }

    /// Streams every object under `prefix`, a page at a time, in key order.
    pub fn list(&self, bucket: &str, prefix: &str) -> BoxStream<'static, Result<Vec<ObjectInfo>>> {
        struct St {
            store: Governed,
            req: ListRequest,
            done: bool,
        }
        let init = St {
            store: self.governed.clone(),
            req: ListRequest {
                bucket: bucket.to_string(),
                prefix: prefix.to_string(),
                max_keys: Some(PAGE),
                ..Default::default()
            },
            done: false,
        };
        stream::unfold(init, |mut st| async move {
            if st.done {
                return None;
            }
            match st.store.list_page(&st.req).await {
                Ok(page) => {
                    st.done = page.next.is_none();
                    st.req.continuation = page.next;
                    Some((Ok(page.objects), st))
                }
                Err(e) => {
                    st.done = true;
                    Some((Err(e), st))
                }
            }
        })
        .boxed()
    }

    /// One level of a `/`-delimited listing, all pages.
    pub async fn list_delimited(&self, bucket: &str, prefix: &str) -> Result<ListPage> {
        let mut out = ListPage::default();
        let mut req = ListRequest {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            delimiter: Some("/".into()),
            ..Default::default()
        };
        loop {
            let page = self.list_page(&req).await?;
            out.objects.extend(page.objects);
            out.prefixes.extend(page.prefixes);
            match page.next {
                Some(next) => req.continuation = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// Whether anything exists under `prefix`.
    pub async fn any_under(&self, bucket: &str, prefix: &str) -> Result<bool> {
        let page = self
            .list_page(&ListRequest {
                bucket: bucket.to_string(),
                prefix: prefix.to_string(),
                max_keys: Some(1),
                ..Default::default()
            })
            .await?;
        Ok(!page.objects.is_empty())
    }

    /// Writes an object, whatever is there (sample exports, reports).
    pub async fn write(&self, bucket: &str, key: &str, body: Bytes) -> Result<()> {
        self.put(bucket, key, body, &PutCondition::None)
            .await
            .map(|_| ())
    }
}

#[cfg(any(test, feature = "test-util"))]
pub mod conformance;
