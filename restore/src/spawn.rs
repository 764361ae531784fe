//! Tasks the restore spawns (the dump reader, the loader's workers, index builds): each is
//! either joined, with its panic or cancellation surfaced as an error naming the task, or
//! aborted when its owner goes away. None is ever left running unobserved, so a task that
//! dies can never look like one that finished.

use std::future::Future;

use tokio::task::{JoinError, JoinHandle};

use crate::error::{RestoreError, Result};

/// A spawned task, aborted if dropped before it was joined.
#[derive(Debug)]
pub(crate) struct Spawned<T> {
    name: String,
    handle: Option<JoinHandle<T>>,
}

impl<T: Send + 'static> Spawned<T> {
    /// Spawns `fut` on the current runtime; `name` appears in errors (`dump reader`, `worker 2`).
    pub(crate) fn spawn<F>(name: impl Into<String>, fut: F) -> Self
    where
        F: Future<Output = T> + Send + 'static,
    {
        Spawned {
            name: name.into(),
            handle: Some(tokio::spawn(fut)),
        }
    }

    /// Waits for the task. A panic, a cancellation or a second join is a
    /// [`RestoreError::Task`] naming it.
    pub(crate) async fn join(&mut self) -> Result<T> {
        let Some(handle) = self.handle.as_mut() else {
            return Err(self.failed("already joined".into()));
        };
        let result = handle.await;
        self.handle = None;
        result.map_err(|e| self.failed(describe(e)))
    }

    /// Asks the task to stop at its next await point; [`Spawned::join`] then reports it cancelled.
    pub(crate) fn abort(&self) {
        if let Some(h) = &self.handle {
            h.abort();
        }
    }

    fn failed(&self, reason: String) -> RestoreError {
        RestoreError::Task {
            task: self.name.clone(),
            reason,
        }
    }
}

impl<T> Drop for Spawned<T> {
    fn drop(&mut self) {
        if let Some(h) = &self.handle {
            h.abort();
        }
    }
}

/// "panicked: <message>" or "cancelled".
fn describe(e: JoinError) -> String {
    if !e.is_panic() {
        return "cancelled".into();
    }
    let payload = e.into_panic();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string payload".into());
    format!("panicked: {message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn panics_are_errors_naming_the_task() {
        let mut t = Spawned::spawn("dump reader", async {
            if true {
                panic!("boom at byte 42");
            }
        });
        let err = t.join().await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "dump reader task failed: panicked: boom at byte 42"
        );
        assert!(
            t.join()
                .await
                .unwrap_err()
                .to_string()
                .contains("already joined")
        );
        let mut ok = Spawned::spawn("worker 0", async { 7 });
        assert_eq!(ok.join().await.unwrap(), 7);
    }

    #[tokio::test]
    async fn dropping_aborts() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let t = Spawned::spawn("index build", async move {
            let _tx = tx;
            std::future::pending::<()>().await;
        });
        drop(t);
        // The task's end drops its sender.
        assert!(rx.await.is_err());
        let mut aborted = Spawned::spawn("x", std::future::pending::<()>());
        aborted.abort();
        assert!(
            aborted
                .join()
                .await
                .unwrap_err()
                .to_string()
                .contains("cancelled")
        );
    }
}
