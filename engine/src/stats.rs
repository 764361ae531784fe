//! Live counters of one run, shared by the workers, the store (retries, throttles) and
//! progress displays. The final [`crate::report::Report`] is built from them.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::metrics as names;

/// Counters of one run.
#[derive(Debug, Default)]
pub struct JobStats {
    pub listed: AtomicU64,
    pub listed_bytes: AtomicU64,
    pub copied: AtomicU64,
    pub skipped: AtomicU64,
    pub failed: AtomicU64,
    pub non_parquet: AtomicU64,
    pub bytes_copied: AtomicU64,
    pub bytes_skipped: AtomicU64,
    pub retries: AtomicU64,
    pub throttles: AtomicU64,
    pub multipart: AtomicU64,
}

impl JobStats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub(crate) fn retry(&self, op: &'static str, throttled: bool) {
        Self::add(&self.retries, 1);
        metrics::counter!(names::REQUEST_RETRIES, "op" => op).increment(1);
        if throttled {
            Self::add(&self.throttles, 1);
            metrics::counter!(names::THROTTLES).increment(1);
        }
    }
}
