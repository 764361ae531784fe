//! Stopping runs from outside, in two steps. The library knows nothing of signals or
//! timers: the caller decides when (the CLI on SIGTERM/SIGINT and after its grace period,
//! the copier Lambda at its deadline margin) and hands the same [`Shutdown`] to every run it
//! starts, as mini-redis hands its shutdown signal to each connection.
//!
//! 1. [`Shutdown::drain`]: no new object (and, in a backfill, no new export) starts; copies
//!    in flight go on, retries included, and finish.
//! 2. [`Shutdown::cancel`]: copies in flight stop now. Before the run returns, every
//!    multipart upload it opened and did not complete is aborted (known upload ids first,
//!    then a listing of each such key, for a `CreateMultipartUpload` whose reply never came).
//!
//! Either way the report says `complete: false`, how many listed objects did not land
//! ([`crate::Report::not_landed`]) and why ([`crate::Report::stopped`]). A process killed
//! outright (SIGKILL) can do none of this; the next run of the same export aborts the
//! uploads it left open before landing those keys (see `dispatch`).

use std::sync::{Arc, OnceLock};

use tokio_util::sync::CancellationToken;

/// A stop request shared by every run it is given to; clones see the same request.
/// Default: nothing requested.
#[derive(Debug, Clone)]
pub struct Shutdown {
    /// Cancelled by [`Shutdown::cancel`]; its child `drain` is cancelled with it.
    cancel: CancellationToken,
    drain: CancellationToken,
    reason: Arc<OnceLock<String>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        let cancel = CancellationToken::new();
        Shutdown {
            drain: cancel.child_token(),
            cancel,
            reason: Arc::default(),
        }
    }
}

impl Shutdown {
    /// A shutdown nobody has requested yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Step 1: start nothing new; what is in flight finishes. `reason` (e.g. `"SIGTERM"`)
    /// goes into the report as "stopped by {reason}"; the first reason given is kept.
    pub fn drain(&self, reason: &str) {
        let _ = self.reason.set(reason.to_string());
        self.drain.cancel();
    }

    /// Step 2 (implies step 1): stop the copies in flight too; their multipart uploads are
    /// aborted before the run returns.
    pub fn cancel(&self, reason: &str) {
        let _ = self.reason.set(reason.to_string());
        self.cancel.cancel();
    }

    /// Whether step 1 (or 2) was requested.
    pub fn is_draining(&self) -> bool {
        self.drain.is_cancelled()
    }

    /// Whether step 2 was requested.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// The first reason given, once a stop was requested.
    pub fn reason(&self) -> Option<&str> {
        self.reason.get().map(String::as_str)
    }

    /// Resolves once step 1 (or 2) is requested.
    pub async fn drained(&self) {
        self.drain.cancelled().await
    }

    /// Resolves once step 2 is requested.
    pub async fn cancelled(&self) {
        self.cancel.cancelled().await
    }

    /// The token that fires on step 2 (ends the store's backoff sleeps).
    pub(crate) fn cancel_token(&self) -> &CancellationToken {
        &self.cancel
    }

    /// The report's note for a run stopped with `not_landed` of `listed` objects left.
    pub(crate) fn note(&self, not_landed: u64, listed: u64, listing_done: bool) -> String {
        let by = self.reason().unwrap_or("a stop request");
        let how = if self.is_cancelled() {
            "copies in flight were cancelled and their multipart uploads aborted"
        } else {
            "copies in flight finished"
        };
        let listing = if listing_done {
            ""
        } else {
            "; the listing did not finish, so more objects may remain"
        };
        format!(
            "stopped by {by}: {not_landed} of {listed} listed object(s) not landed ({how}){listing}; run it again to land the rest"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn cancel_implies_drain_and_the_first_reason_is_kept() {
        let s = Shutdown::new();
        assert!(!s.is_draining() && s.reason().is_none());
        let clone = s.clone();
        clone.drain("SIGTERM");
        s.drained().await;
        assert!(s.is_draining() && !s.is_cancelled());
        s.cancel("SIGINT");
        s.cancelled().await;
        assert!(clone.is_cancelled());
        assert_eq!(s.reason(), Some("SIGTERM"));
        assert!(
            s.note(3, 10, false)
                .starts_with("stopped by SIGTERM: 3 of 10")
        );

        let direct = Shutdown::new();
        direct.cancel("deadline");
        assert!(direct.is_draining(), "cancelling also drains");
    }
}
