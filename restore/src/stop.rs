//! Stopping a restore on request: ECS stops a task with SIGTERM (then SIGKILL after the
//! container's `stopTimeout`, 30 s by default), an operator presses Ctrl-C (SIGINT).
//!
//! A stop abandons the load where it is: the spawned tasks are aborted, no manifest is
//! written, no snapshot is taken and no previous snapshot is deleted; the task fails with
//! [`RestoreError::Stopped`]. The few API calls that replace the snapshots are never cut
//! in half: once they have started, they finish (well inside the 30 s) and the stop is
//! honoured afterwards. ECS's stop sequence:
//! <https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_StopTask.html>

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

use crate::error::{RestoreError, Result};

/// A shared stop request; clones see the same request. Default: never requested until
/// [`Stop::request`] is called (or a signal arrives, with [`Stop::on_signals`]).
#[derive(Debug, Clone)]
pub struct Stop {
    tx: Arc<watch::Sender<Option<&'static str>>>,
}

impl Default for Stop {
    fn default() -> Self {
        Stop {
            tx: Arc::new(watch::channel(None).0),
        }
    }
}

impl Stop {
    /// A stop nobody has requested yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests a stop, naming why (`"SIGTERM"`); the first reason is kept.
    pub fn request(&self, reason: &'static str) {
        self.tx.send_if_modified(|r| {
            if r.is_none() {
                *r = Some(reason);
                true
            } else {
                false
            }
        });
    }

    /// The reason, once a stop was requested.
    pub fn requested(&self) -> Option<&'static str> {
        *self.tx.borrow()
    }

    /// Resolves once a stop is requested, with its reason.
    pub async fn wait(&self) -> &'static str {
        let mut rx = self.tx.subscribe();
        let reason = match rx.wait_for(Option::is_some).await {
            Ok(r) => *r,
            // The sender lives in `self`, so the channel cannot close while we wait.
            Err(_) => None,
        };
        reason.unwrap_or("stop")
    }

    /// Runs `fut` unless a stop is requested first; then `fut` is dropped (which aborts the
    /// tasks it spawned) and the result is [`RestoreError::Stopped`] for `phase`.
    pub async fn guard<T>(
        &self,
        phase: &'static str,
        fut: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        if let Some(signal) = self.requested() {
            return Err(RestoreError::Stopped { signal, phase });
        }
        tokio::select! {
            biased;
            signal = self.wait() => Err(RestoreError::Stopped { signal, phase }),
            r = fut => r,
        }
    }

    /// A stop requested by SIGTERM or SIGINT. The handlers are installed now, so signals
    /// that arrive from here on are caught; a second signal ends the process at once with
    /// 128 + its number, for an operator who does not want to wait.
    #[cfg(unix)]
    pub fn on_signals() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        let stop = Stop::new();
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let s = stop.clone();
        tokio::spawn(async move {
            loop {
                let name = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                };
                if let Some(first) = s.requested() {
                    tracing::error!(signal = name, first, "second signal: exiting now");
                    std::process::exit(exit_code(name).into());
                }
                tracing::warn!(
                    signal = name,
                    "stop requested: abandoning the load; no snapshot will be taken and no snapshot deleted"
                );
                s.request(name);
            }
        });
        Ok(stop)
    }
}

/// The conventional exit status after a signal: 128 + its number (SIGINT 130, SIGTERM 143).
pub fn exit_code(signal: &str) -> u8 {
    match signal {
        "SIGINT" => 130,
        "SIGTERM" => 143,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stop_ends_the_guarded_future() {
        let stop = Stop::new();
        assert_eq!(stop.guard("loading", async { Ok(1) }).await.unwrap(), 1);
        let s = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            s.request("SIGTERM");
            s.request("SIGINT");
        });
        let err = stop
            .guard("loading the dump", std::future::pending::<Result<()>>())
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "stopped by SIGTERM while loading the dump");
        assert_eq!(stop.requested(), Some("SIGTERM"));
        // Once requested, nothing else starts.
        assert!(stop.guard("x", async { Ok(()) }).await.is_err());
        assert_eq!((exit_code("SIGTERM"), exit_code("SIGINT")), (143, 130));
    }
}
