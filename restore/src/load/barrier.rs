//! The loader's barriers: waiting for a table's inserts (or all of them) before a statement
//! that depends on them, the deferred index builds, and the final join of every task.

use std::sync::Arc;
use std::time::Instant;

use mysql_async::prelude::Queryable;
use tokio::sync::{mpsc, watch};

use super::worker::Progress;
use super::{LoadReport, Loader, connect, quote_ident};
use crate::error::{RestoreError, Result};
use crate::spawn::Spawned;
use crate::sql::Statement;

/// Secondary indexes of a table, to add once its rows are in.
pub(super) struct PendingIndexes {
    pub(super) db: Option<Arc<str>>,
    pub(super) table: String,
    pub(super) adds: Vec<String>,
    pub(super) entry: Arc<str>,
    pub(super) number: u64,
}

impl Loader {
    pub(super) async fn wait_worker(&mut self, w: usize, seq: u64) -> Result<()> {
        let res = self.workers[w]
            .progress
            .wait_for(|p| p.done >= seq || p.failed)
            .await
            .map(|p| p.failed);
        match res {
            Ok(false) => Ok(()),
            _ => Err(self.worker_error(w).await),
        }
    }

    pub(super) async fn worker_error(&mut self, w: usize) -> RestoreError {
        let worker = &mut self.workers[w];
        let (tx, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut worker.tx, tx));
        match worker.handle.join().await {
            Ok(Err(e)) | Err(e) => e,
            Ok(Ok(_)) => RestoreError::Task {
                task: format!("worker {w}"),
                reason: "stopped before its queue was done".into(),
            },
        }
    }

    /// Waits for the inserts into `key` handed out so far and for its index build.
    pub(super) async fn barrier_table(&mut self, key: &str) -> Result<()> {
        if let Some(marks) = self.pending.remove(key) {
            for (w, seq) in marks {
                self.wait_worker(w, seq).await?;
            }
        }
        if self.deferred.contains_key(key) {
            self.start_deferred(key);
        }
        if let Some(handle) = self.alters.remove(key) {
            join_alter(handle).await?;
        }
        Ok(())
    }

    /// Waits for every insert handed out and every index build.
    pub(super) async fn barrier_all(&mut self) -> Result<()> {
        for w in 0..self.workers.len() {
            let seq = self.workers[w].dispatched;
            self.wait_worker(w, seq).await?;
        }
        self.pending.clear();
        let keys: Vec<String> = self.deferred.keys().cloned().collect();
        for key in keys {
            self.start_deferred(&key);
        }
        let alters: Vec<_> = self.alters.drain().map(|(_, h)| h).collect();
        for handle in alters {
            join_alter(handle).await?;
        }
        Ok(())
    }

    /// Adds `key`'s deferred indexes on a connection of their own, once the inserts
    /// into the table handed out so far are done.
    pub(super) fn start_deferred(&mut self, key: &str) {
        let Some(p) = self.deferred.remove(key) else {
            return;
        };
        let marks = self.pending.remove(key).unwrap_or_default();
        let waits: Vec<(watch::Receiver<Progress>, u64)> = marks
            .iter()
            .map(|&(w, seq)| (self.workers[w].progress.clone(), seq))
            .collect();
        let (opts, slots, task_key) =
            (self.opts.clone(), self.alter_slots.clone(), key.to_string());
        let handle = Spawned::spawn(format!("index build of {key}"), async move {
            for (mut rx, seq) in waits {
                let failed = rx
                    .wait_for(|p| p.done >= seq || p.failed)
                    .await
                    .map(|p| p.failed)
                    .unwrap_or(true);
                if failed {
                    // The worker's own error is what the loader reports.
                    return Ok(());
                }
            }
            let _slot = slots.acquire_owned().await;
            let target = match &p.db {
                Some(db) => format!("{}.{}", quote_ident(db), quote_ident(&p.table)),
                None => quote_ident(&p.table),
            };
            let sql = format!("ALTER TABLE {target} {}", p.adds.join(", "));
            let started = Instant::now();
            let mut conn = connect(&opts).await?;
            conn.query_drop(sql.as_str())
                .await
                .map_err(|source| RestoreError::Sql {
                    entry: p.entry.to_string(),
                    statement: p.number,
                    table: task_key.clone(),
                    head: Statement {
                        number: p.number,
                        sql: sql.clone().into_bytes(),
                    }
                    .head(120),
                    source,
                })?;
            let _ = conn.disconnect().await;
            tracing::info!(table = %task_key, indexes = p.adds.len(), seconds = format!("{:.1}", started.elapsed().as_secs_f64()), "secondary indexes built");
            Ok(())
        });
        self.alters.insert(key.to_string(), handle);
    }

    /// Waits for every worker, commits, and reports.
    #[tracing::instrument(skip_all)]
    pub async fn finish(mut self) -> Result<LoadReport> {
        self.barrier_all().await?;
        self.main
            .query_drop("COMMIT")
            .await
            .map_err(|source| RestoreError::Database {
                action: "COMMIT".into(),
                source,
            })?;
        let mut report = LoadReport::default();
        report.merge(std::mem::take(&mut self.rows), self.statements, self.bytes);
        report.databases = std::mem::take(&mut self.databases);
        for worker in std::mem::take(&mut self.workers) {
            let super::worker::Worker { tx, mut handle, .. } = worker;
            drop(tx);
            let (rows, statements, bytes) = handle.join().await??;
            report.merge(rows, statements, bytes);
        }
        report.elapsed = self.started.elapsed();
        let _ = self.main.disconnect().await;
        Ok(report)
    }
}

/// Waits for an index build; a panic is an error naming the table.
async fn join_alter(mut handle: Spawned<Result<()>>) -> Result<()> {
    handle.join().await?
}
