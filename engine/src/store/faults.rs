//! A fault-injecting wrapper around any [`ObjectStore`], for tests of the two-sided fault
//! model (DESIGN.md): a call can fail **before** the store sees it (refused, reset before
//! sending, 503), or **after** the store acted with its reply lost (a reset mid-reply or a
//! timeout: the work is done, the caller sees an error). Rules pick operations and fire at
//! a rate (seeded, so a failing run can be replayed) or on the Nth call.

use std::collections::HashMap;
use std::future::Future;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::api::{
    CopyObject, CopyPart, GetOutput, ListPage, ListRequest, ObjectHead, ObjectStore, PutCondition,
    PutOutcome, Upload, WriteOptions,
};
use crate::error::{Error, Result};
use crate::retry::Class;

/// The operations faults can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    List,
    Head,
    GetRange,
    Get,
    Put,
    /// A `put` with `IfAbsent` or `IfMatch`.
    ConditionalPut,
    Delete,
    CopyObject,
    CreateMultipart,
    UploadPartCopy,
    CompleteMultipart,
    AbortMultipart,
    ListUploads,
}

impl Op {
    /// The S3 operation name used in errors.
    pub fn s3_name(self) -> &'static str {
        match self {
            Op::List => "ListObjectsV2",
            Op::Head => "HeadObject",
            Op::GetRange | Op::Get => "GetObject",
            Op::Put | Op::ConditionalPut => "PutObject",
            Op::Delete => "DeleteObject",
            Op::CopyObject => "CopyObject",
            Op::CreateMultipart => "CreateMultipartUpload",
            Op::UploadPartCopy => "UploadPartCopy",
            Op::CompleteMultipart => "CompleteMultipartUpload",
            Op::AbortMultipart => "AbortMultipartUpload",
            Op::ListUploads => "ListMultipartUploads",
        }
    }
}

/// Which side of the store a fault is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The store never sees the call.
    Before,
    /// The store acts; its reply is lost.
    After,
}

/// When a rule fires.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum When {
    /// Each matching call, with this probability.
    Rate(f64),
    /// Only the Nth matching call (1-based).
    Nth(u64),
    /// The first N matching calls.
    FirstN(u64),
}

/// One fault rule.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    /// Operations it applies to; empty = every operation.
    pub ops: Vec<Op>,
    pub side: Side,
    pub when: When,
    /// How the injected error is classified. Default (see [`FaultRule::new`]): transient,
    /// like a 500 or a reset connection; [`Class::Throttle`] plays a 503 SlowDown.
    pub class: Class,
    /// Wait this long before failing (a stall past a client timeout). Default: none.
    pub stall: Option<Duration>,
}

impl FaultRule {
    /// A transient fault on `ops` (empty = all) on `side`, firing `when`.
    pub fn new(ops: &[Op], side: Side, when: When) -> Self {
        FaultRule {
            ops: ops.to_vec(),
            side,
            when,
            class: Class::Transient,
            stall: None,
        }
    }
}

/// Faults injected so far, by side.
#[derive(Debug, Default)]
pub struct FaultCounts {
    pub before: AtomicU64,
    pub after: AtomicU64,
}

impl FaultCounts {
    pub fn before(&self) -> u64 {
        self.before.load(Ordering::Relaxed)
    }
    pub fn after(&self) -> u64 {
        self.after.load(Ordering::Relaxed)
    }
    pub fn total(&self) -> u64 {
        self.before() + self.after()
    }
}

/// Picks the rule that fires for each call, for every fault injector (this wrapper and the
/// test harness's HTTP proxy): every rule that covers the call counts it (so Nth means the
/// same whatever else fired), the first that fires wins. Rates draw from one seeded
/// generator, so a run's faults replay with its seed (up to the order of concurrent calls).
#[derive(Debug)]
pub struct Firing {
    rng: Mutex<StdRng>,
    /// Matching calls seen per rule.
    seen: Mutex<HashMap<usize, u64>>,
}

impl Firing {
    /// Draws from `seed`.
    pub fn new(seed: u64) -> Self {
        Firing {
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// For one call: each rule as (whether it covers the call, when it fires), in order; the
    /// index of the first that fires.
    pub fn first(&self, rules: impl IntoIterator<Item = (bool, When)>) -> Option<usize> {
        let mut seen = self.seen.lock().unwrap();
        let mut fired = None;
        for (i, (covers, when)) in rules.into_iter().enumerate() {
            if !covers {
                continue;
            }
            let n = seen.entry(i).or_default();
            *n += 1;
            let fire = match when {
                When::Rate(p) => self.rng.lock().unwrap().random_bool(p.clamp(0.0, 1.0)),
                When::Nth(k) => *n == k,
                When::FirstN(k) => *n <= k,
            };
            if fire && fired.is_none() {
                fired = Some(i);
            }
        }
        fired
    }
}

/// The wrapper.
#[derive(Debug)]
pub struct Faulty {
    inner: Arc<dyn ObjectStore>,
    rules: Vec<FaultRule>,
    firing: Firing,
    counts: Arc<FaultCounts>,
}

impl Faulty {
    /// `inner` under `rules`, random draws from `seed`.
    pub fn new(inner: Arc<dyn ObjectStore>, rules: Vec<FaultRule>, seed: u64) -> Self {
        Faulty {
            inner,
            rules,
            firing: Firing::new(seed),
            counts: Arc::new(FaultCounts::default()),
        }
    }

    /// Faults injected so far.
    pub fn counts(&self) -> Arc<FaultCounts> {
        self.counts.clone()
    }

    /// The first rule that fires for this call of `op`.
    fn decide(&self, op: Op) -> Option<FaultRule> {
        let covers = |r: &FaultRule| r.ops.is_empty() || r.ops.contains(&op);
        self.firing
            .first(self.rules.iter().map(|r| (covers(r), r.when)))
            .map(|i| self.rules[i].clone())
    }

    async fn run<T, F>(&self, op: Op, bucket: &str, key: &str, call: F) -> Result<T>
    where
        F: Future<Output = Result<T>>,
    {
        let Some(rule) = self.decide(op) else {
            return call.await;
        };
        let fault = |side: &str| {
            Error::attempt(
                op.s3_name(),
                bucket,
                key,
                rule.class,
                format!("injected fault {side}"),
                format!("injected fault {side}"),
            )
        };
        if rule.side == Side::After {
            let out = call.await;
            if let Some(stall) = rule.stall {
                tokio::time::sleep(stall).await;
            }
            // The store acted (or failed on its own: that error stands).
            out?;
            self.counts.after.fetch_add(1, Ordering::Relaxed);
            return Err(fault("after the store acted (reply lost)"));
        }
        if let Some(stall) = rule.stall {
            tokio::time::sleep(stall).await;
        }
        self.counts.before.fetch_add(1, Ordering::Relaxed);
        Err(fault("before the store (request refused)"))
    }
}

#[async_trait]
impl ObjectStore for Faulty {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn supports_multipart(&self) -> bool {
        self.inner.supports_multipart()
    }

    async fn list_page(&self, req: &ListRequest) -> Result<ListPage> {
        self.run(
            Op::List,
            &req.bucket,
            &req.prefix,
            self.inner.list_page(req),
        )
        .await
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<Option<ObjectHead>> {
        self.run(Op::Head, bucket, key, self.inner.head(bucket, key))
            .await
    }

    async fn get_range(&self, bucket: &str, key: &str, range: Range<u64>) -> Result<Bytes> {
        self.run(
            Op::GetRange,
            bucket,
            key,
            self.inner.get_range(bucket, key, range),
        )
        .await
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<GetOutput>> {
        self.run(Op::Get, bucket, key, self.inner.get(bucket, key))
            .await
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        condition: &PutCondition,
    ) -> Result<PutOutcome> {
        let op = match condition {
            PutCondition::None => Op::Put,
            _ => Op::ConditionalPut,
        };
        self.run(
            op,
            bucket,
            key,
            self.inner.put(bucket, key, body, condition),
        )
        .await
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<()> {
        self.run(Op::Delete, bucket, key, self.inner.delete(bucket, key))
            .await
    }

    async fn copy_object(&self, req: &CopyObject<'_>) -> Result<Option<String>> {
        self.run(
            Op::CopyObject,
            req.src_bucket,
            req.src_key,
            self.inner.copy_object(req),
        )
        .await
    }

    async fn create_multipart(
        &self,
        bucket: &str,
        key: &str,
        write: &WriteOptions,
        head: &ObjectHead,
    ) -> Result<String> {
        self.run(
            Op::CreateMultipart,
            bucket,
            key,
            self.inner.create_multipart(bucket, key, write, head),
        )
        .await
    }

    async fn upload_part_copy(&self, req: &CopyPart<'_>) -> Result<String> {
        self.run(
            Op::UploadPartCopy,
            req.src_bucket,
            req.src_key,
            self.inner.upload_part_copy(req),
        )
        .await
    }

    async fn complete_multipart(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        parts: &[(i32, String)],
    ) -> Result<Option<String>> {
        self.run(
            Op::CompleteMultipart,
            bucket,
            key,
            self.inner.complete_multipart(bucket, key, upload_id, parts),
        )
        .await
    }

    async fn abort_multipart(&self, bucket: &str, key: &str, upload_id: &str) -> Result<()> {
        self.run(
            Op::AbortMultipart,
            bucket,
            key,
            self.inner.abort_multipart(bucket, key, upload_id),
        )
        .await
    }

    async fn list_multipart_uploads(&self, bucket: &str, prefix: &str) -> Result<Vec<Upload>> {
        self.run(
            Op::ListUploads,
            bucket,
            prefix,
            self.inner.list_multipart_uploads(bucket, prefix),
        )
        .await
    }
}
