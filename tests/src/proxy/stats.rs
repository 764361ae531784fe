//! What the proxy saw and did, per operation and per kind of fault, for tests to assert on
//! and print.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::ops::{Op, op_name};
use super::rules::Kind;

/// One operation's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpStats {
    /// Requests of this operation the proxy read.
    pub seen: u64,
    /// Faults injected, by [`Kind::name`].
    pub faults: BTreeMap<&'static str, u64>,
    /// Statuses the server answered the forwarded requests with (whether or not the client
    /// got the answer).
    pub statuses: BTreeMap<u16, u64>,
}

/// Counters. The atomics are the proxy's first, simple counters (kept for the tests that
/// read them); [`ProxyStats::by_op`] has everything per operation.
#[derive(Debug, Default)]
pub struct ProxyStats {
    pub requests: AtomicU64,
    /// Requests the legacy rate fields could apply to (see `FaultConfig::methods`).
    pub eligible: AtomicU64,
    pub slowdowns: AtomicU64,
    pub internal_errors: AtomicU64,
    /// Connections reset before the server saw the request.
    pub resets: AtomicU64,
    /// Requests the server answered (whatever the client then got).
    pub forwarded: AtomicU64,
    pub denied: AtomicU64,
    ops: Mutex<BTreeMap<&'static str, OpStats>>,
}

impl ProxyStats {
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }

    pub(super) fn saw(&self, op: Option<Op>) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.ops
            .lock()
            .unwrap()
            .entry(op_name(op))
            .or_default()
            .seen += 1;
    }

    pub(super) fn injected(&self, op: Option<Op>, kind: Kind) {
        let counter = match kind {
            Kind::SlowDown => Some(&self.slowdowns),
            Kind::InternalError => Some(&self.internal_errors),
            Kind::Reset => Some(&self.resets),
            _ => None,
        };
        if let Some(c) = counter {
            c.fetch_add(1, Ordering::Relaxed);
        }
        *self
            .ops
            .lock()
            .unwrap()
            .entry(op_name(op))
            .or_default()
            .faults
            .entry(kind.name())
            .or_default() += 1;
    }

    pub(super) fn answered(&self, op: Option<Op>, status: u16) {
        self.forwarded.fetch_add(1, Ordering::Relaxed);
        *self
            .ops
            .lock()
            .unwrap()
            .entry(op_name(op))
            .or_default()
            .statuses
            .entry(status)
            .or_default() += 1;
    }

    /// Per operation (named by [`op_name`]), a copy.
    pub fn by_op(&self) -> BTreeMap<&'static str, OpStats> {
        self.ops.lock().unwrap().clone()
    }

    /// Requests of `op` seen.
    pub fn seen(&self, op: Option<Op>) -> u64 {
        self.by_op().get(op_name(op)).map_or(0, |s| s.seen)
    }

    /// Faults of `kind` injected into `op`.
    pub fn faults_on(&self, op: Option<Op>, kind: Kind) -> u64 {
        self.by_op()
            .get(op_name(op))
            .and_then(|s| s.faults.get(kind.name()).copied())
            .unwrap_or(0)
    }

    /// Faults of `kind` injected into any operation.
    pub fn faults_of(&self, kind: Kind) -> u64 {
        self.by_op()
            .values()
            .filter_map(|s| s.faults.get(kind.name()))
            .sum()
    }

    /// Faults injected, all kinds.
    pub fn faulted(&self) -> u64 {
        self.by_op().values().flat_map(|s| s.faults.values()).sum()
    }

    /// How the server answered the forwarded requests of `op`, by status.
    pub fn statuses(&self, op: Option<Op>) -> BTreeMap<u16, u64> {
        self.by_op()
            .get(op_name(op))
            .map(|s| s.statuses.clone())
            .unwrap_or_default()
    }

    /// A markdown table: operation | requests | faults by kind | server statuses.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| operation | requests | faults injected | server answered |\n|---|---:|---|---|\n",
        );
        let list = |m: &mut dyn Iterator<Item = String>| {
            let v: Vec<String> = m.collect();
            if v.is_empty() {
                "–".into()
            } else {
                v.join(", ")
            }
        };
        for (op, s) in self.by_op() {
            let faults = list(&mut s.faults.iter().map(|(k, n)| format!("{k} ×{n}")));
            let statuses = list(&mut s.statuses.iter().map(|(c, n)| format!("{c} ×{n}")));
            let _ = writeln!(out, "| {op} | {} | {faults} | {statuses} |", s.seen);
        }
        out
    }
}
