//! Faults on both sides of Glue, for the exactly-once tests: an SDK interceptor on the
//! copier's Glue client (moto behind it) that, per operation and at a seeded rate or on
//! the Nth call,
//! - **before**: sends the request to a closed port instead, so moto never sees it (the SDK
//!   gets a refused connection, as from a network failure);
//! - **after**: lets moto act, then replaces its answer with a 500 `InternalServiceException`
//!   (the reply is lost; for `StartWorkflowRun` the run exists all the same).
//!
//! The operation is read from the request's `X-Amz-Target` (`AWSGlue.StartWorkflowRun`)
//! before it is sent and remembered for its answer (the request is gone by then): one
//! injector per copier, whose Glue calls follow one another.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use aws_sdk_glue::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
};
use aws_sdk_glue::config::{ConfigBag, Intercept, RuntimeComponents};
use liberator_engine::store::{Side, When};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Where a "before" fault sends the request: nothing listens there.
const CLOSED: &str = "http://127.0.0.1:9/";

/// One rule: Glue operations (`StartWorkflowRun`; empty = all), side, when.
#[derive(Debug, Clone)]
pub struct GlueRule {
    pub ops: Vec<&'static str>,
    pub side: Side,
    pub when: When,
}

impl GlueRule {
    pub fn new(ops: &[&'static str], side: Side, when: When) -> Self {
        GlueRule {
            ops: ops.to_vec(),
            side,
            when,
        }
    }
}

/// The injector's state, shared with the test for its counts.
#[derive(Debug)]
pub struct GlueFaults {
    rules: Vec<GlueRule>,
    rng: Mutex<StdRng>,
    seen: Mutex<HashMap<usize, u64>>,
    /// The operation of the request in flight.
    in_flight: Mutex<String>,
    pub before: AtomicU64,
    pub after: AtomicU64,
    /// Replies lost after moto started a run.
    pub lost_starts: AtomicU64,
}

impl GlueFaults {
    pub fn new(rules: Vec<GlueRule>, seed: u64) -> Arc<Self> {
        Arc::new(GlueFaults {
            rules,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            seen: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(String::new()),
            before: AtomicU64::new(0),
            after: AtomicU64::new(0),
            lost_starts: AtomicU64::new(0),
        })
    }

    /// `glue` with this injector on every call.
    pub fn wrap(self: &Arc<Self>, glue: &aws_sdk_glue::Client) -> aws_sdk_glue::Client {
        let config = glue
            .config()
            .to_builder()
            .interceptor(Injector(self.clone()))
            .build();
        aws_sdk_glue::Client::from_conf(config)
    }

    pub fn total(&self) -> u64 {
        self.before.load(Ordering::Relaxed) + self.after.load(Ordering::Relaxed)
    }

    /// Whether a rule on `side` fires for this call of `op`.
    fn fires(&self, op: &str, side: Side) -> bool {
        let mut seen = self.seen.lock().unwrap();
        let mut fired = false;
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.side != side || !(rule.ops.is_empty() || rule.ops.contains(&op)) {
                continue;
            }
            let n = seen.entry(i).or_default();
            *n += 1;
            fired |= match rule.when {
                When::Rate(p) => self.rng.lock().unwrap().random_bool(p),
                When::Nth(k) => *n == k,
                When::FirstN(k) => *n <= k,
            };
        }
        fired
    }
}

#[derive(Debug)]
struct Injector(Arc<GlueFaults>);

fn operation(headers: &aws_sdk_glue::config::http::HttpRequest) -> String {
    headers
        .headers()
        .get("x-amz-target")
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or("")
        .to_string()
}

impl Intercept for Injector {
    fn name(&self) -> &'static str {
        "GlueFaults"
    }

    fn modify_before_transmit(
        &self,
        ctx: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = operation(ctx.request());
        *self.0.in_flight.lock().unwrap() = op.clone();
        if self.0.fires(&op, Side::Before) {
            self.0.before.fetch_add(1, Ordering::Relaxed);
            ctx.request_mut().set_uri(CLOSED)?;
        }
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        ctx: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = self.0.in_flight.lock().unwrap().clone();
        if !ctx.response().status().is_success() || !self.0.fires(&op, Side::After) {
            return Ok(());
        }
        self.0.after.fetch_add(1, Ordering::Relaxed);
        if op == "StartWorkflowRun" {
            self.0.lost_starts.fetch_add(1, Ordering::Relaxed);
        }
        let response = ctx.response_mut();
        *response.status_mut() = 500u16.try_into()?;
        *response.body_mut() =
            r#"{"__type":"InternalServiceException","message":"injected: reply lost"}"#.into();
        Ok(())
    }
}
