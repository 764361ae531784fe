//! The loader's worker connections: each runs the inserts handed to it, in order, replaying
//! the main connection's session `SET`s first, and publishes its progress after each commit
//! so the loader's barriers know what is done.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use tokio::sync::{mpsc, watch};

use super::{LoadConfig, connect, quote_ident};
use crate::error::{RestoreError, Result};
use crate::spawn::Spawned;
use crate::sql::Statement;

/// Session statements the main connection ran, for workers to replay in order.
pub(super) type SessionLog = Arc<Mutex<Vec<Arc<[u8]>>>>;

/// Rows per table, statements and bytes a worker executed.
pub(super) type WorkerTotals = (HashMap<String, u64>, u64, u64);

/// A worker's progress, published after each committed job.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Progress {
    /// Sequence number of the last job committed.
    pub(super) done: u64,
    /// The worker stopped with an error (its task holds it).
    pub(super) failed: bool,
}

/// One insert handed to a worker.
pub(super) struct Job {
    pub(super) seq: u64,
    pub(super) entry: Arc<str>,
    pub(super) number: u64,
    pub(super) db: Option<Arc<str>>,
    pub(super) table: Arc<str>,
    pub(super) key: Arc<str>,
    /// Replay the session log up to here before running the insert.
    pub(super) session_upto: usize,
    pub(super) sql: Vec<u8>,
}

/// An insert converted to `LOAD DATA` rows (see [`crate::infile::Converted`]).
struct Rows {
    columns: String,
    rows: bytes::Bytes,
    /// Rows in `rows`: the server must report exactly this many inserted.
    count: u64,
}

/// The loader's handle on one worker.
pub(super) struct Worker {
    pub(super) tx: mpsc::Sender<Job>,
    pub(super) progress: watch::Receiver<Progress>,
    /// SQL bytes handed out and not yet executed (the loader picks the least busy worker).
    pub(super) in_flight: Arc<AtomicU64>,
    /// Sequence number of the last job handed out.
    pub(super) dispatched: u64,
    pub(super) handle: Spawned<Result<WorkerTotals>>,
}

impl Worker {
    /// Connects worker `id`, applies `config.worker_session`, and spawns its task.
    pub(super) async fn start(
        id: usize,
        opts: &Opts,
        config: &LoadConfig,
        session_log: SessionLog,
    ) -> Result<Worker> {
        let mut conn = connect(opts).await?;
        for s in &config.worker_session {
            conn.query_drop(s.as_str())
                .await
                .map_err(|source| RestoreError::Database {
                    action: format!("worker session setup `{s}`"),
                    source,
                })?;
        }
        let (tx, rx) = mpsc::channel(config.queue_depth.max(1));
        let (ptx, prx) = watch::channel(Progress::default());
        let in_flight = Arc::new(AtomicU64::new(0));
        let ctx = WorkerCtx {
            id,
            conn,
            rx,
            progress: ptx,
            in_flight: in_flight.clone(),
            session_log,
            applied: 0,
            db: opts.db_name().map(Arc::from),
            per_commit: config.statements_per_commit,
            load_data: config.load_data,
            charset: None,
        };
        Ok(Worker {
            tx,
            progress: prx,
            in_flight,
            dispatched: 0,
            handle: Spawned::spawn(format!("worker {id}"), ctx.run()),
        })
    }
}

struct WorkerCtx {
    id: usize,
    conn: Conn,
    rx: mpsc::Receiver<Job>,
    progress: watch::Sender<Progress>,
    in_flight: Arc<AtomicU64>,
    session_log: SessionLog,
    applied: usize,
    db: Option<Arc<str>>,
    per_commit: usize,
    /// Use `LOAD DATA LOCAL INFILE` for convertible inserts (turned off if the server refuses).
    load_data: bool,
    /// The session's `character_set_client`, which `LOAD DATA` must be told.
    charset: Option<String>,
}

impl WorkerCtx {
    async fn run(mut self) -> Result<WorkerTotals> {
        let result = self.work().await;
        if result.is_err() {
            self.progress.send_modify(|p| p.failed = true);
        }
        let _ = self.conn.disconnect().await;
        result
    }

    async fn work(&mut self) -> Result<WorkerTotals> {
        let mut rows: HashMap<String, u64> = HashMap::new();
        let (mut statements, mut bytes) = (0u64, 0u64);
        let mut uncommitted = 0usize;
        let mut last_seq = 0u64;
        if self.per_commit > 0 {
            self.conn
                .query_drop("SET SESSION autocommit=0")
                .await
                .map_err(|source| RestoreError::Database {
                    action: "worker autocommit=0".into(),
                    source,
                })?;
        }
        loop {
            let job = match self.rx.try_recv() {
                Ok(job) => job,
                Err(mpsc::error::TryRecvError::Empty) => {
                    // About to idle: commit so barriers can pass and DDL is not blocked by our locks.
                    if uncommitted > 0 {
                        self.commit().await?;
                        uncommitted = 0;
                        self.progress.send_modify(|p| p.done = last_seq);
                    }
                    match self.rx.recv().await {
                        Some(job) => job,
                        None => break,
                    }
                }
                Err(mpsc::error::TryRecvError::Disconnected) => break,
            };
            let err = |source, job: &Job| RestoreError::Sql {
                entry: job.entry.to_string(),
                statement: job.number,
                table: job.key.to_string(),
                head: Statement {
                    number: job.number,
                    sql: job.sql[..job.sql.len().min(120)].to_vec(),
                }
                .head(120),
                source,
            };
            // Replay session statements the main connection ran before this insert.
            let replay: Vec<Arc<[u8]>> = {
                let log = self.session_log.lock().unwrap();
                log[self.applied.min(job.session_upto)..job.session_upto].to_vec()
            };
            if !replay.is_empty() {
                self.charset = None;
            }
            for s in replay {
                self.conn.query_drop(&*s).await.map_err(|e| err(e, &job))?;
                self.applied += 1;
            }
            if job.db.is_some() && job.db != self.db {
                let db = job.db.clone().unwrap();
                self.conn
                    .query_drop(format!("USE {}", quote_ident(&db)))
                    .await
                    .map_err(|e| err(e, &job))?;
                self.db = Some(db);
            }
            let inserted = self.insert(&job).await.map_err(|e| err(e, &job))?;
            *rows.entry(job.key.to_string()).or_default() += inserted;
            statements += 1;
            bytes += job.sql.len() as u64;
            self.in_flight
                .fetch_sub(job.sql.len() as u64, Ordering::Relaxed);
            last_seq = job.seq;
            if self.per_commit > 0 {
                uncommitted += 1;
                if uncommitted >= self.per_commit {
                    self.commit().await?;
                    uncommitted = 0;
                    self.progress.send_modify(|p| p.done = last_seq);
                }
            } else {
                self.progress.send_modify(|p| p.done = last_seq);
            }
        }
        if uncommitted > 0 {
            self.commit().await?;
            self.progress.send_modify(|p| p.done = last_seq);
        }
        tracing::debug!(worker = self.id, statements, bytes, "worker done");
        Ok((rows, statements, bytes))
    }

    /// Runs an insert, as `LOAD DATA` rows when it converts; in autocommit mode a deadlock
    /// or lock timeout rolled back just this statement, so it is retried a few times.
    /// Returns the rows inserted.
    async fn insert(&mut self, job: &Job) -> std::result::Result<u64, mysql_async::Error> {
        // Only in autocommit mode: the conversion's safety net is a transaction of its own.
        // Rows become `Bytes` once: a retry re-sends them without copying.
        let converted = if self.load_data && self.per_commit == 0 {
            crate::infile::convert(&job.sql).map(|c| Rows {
                columns: c.columns,
                rows: bytes::Bytes::from(c.rows),
                count: c.count,
            })
        } else {
            None
        };
        let mut attempt = 0u32;
        loop {
            let result = match &converted {
                Some(c) => self.load_rows(job, c).await,
                None => self.insert_sql(job).await,
            };
            match result {
                Err(mysql_async::Error::Server(e))
                    if (e.code == 1213 || e.code == 1205)
                        && self.per_commit == 0
                        && attempt < 5 =>
                {
                    attempt += 1;
                    tracing::warn!(worker = self.id, table = %job.key, statement = job.number, code = e.code, attempt, "retrying insert");
                    tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt))).await;
                }
                // Local infile refused (server setting): INSERTs from now on.
                Err(mysql_async::Error::Server(e))
                    if converted.is_some() && matches!(e.code, 1148 | 3948 | 4166) =>
                {
                    tracing::warn!(worker = self.id, code = e.code, message = %e.message, "LOAD DATA LOCAL refused; using INSERT");
                    self.load_data = false;
                    return self.insert_sql(job).await;
                }
                other => return other,
            }
        }
    }

    async fn load_rows(
        &mut self,
        job: &Job,
        c: &Rows,
    ) -> std::result::Result<u64, mysql_async::Error> {
        if self.charset.is_none() {
            let cs: Option<String> = self
                .conn
                .query_first("SELECT @@character_set_client")
                .await?;
            self.charset = Some(cs.unwrap_or_else(|| "utf8mb4".into()));
        }
        let target = match &job.db {
            Some(db) => format!("{}.{}", quote_ident(db), quote_ident(&job.table)),
            None => quote_ident(&job.table),
        };
        let sql = format!(
            "LOAD DATA LOCAL INFILE 'restore' INTO TABLE {target} CHARACTER SET {} FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' {}",
            self.charset.as_deref().unwrap_or("utf8mb4"),
            c.columns
        );
        let rows = c.rows.clone();
        let expected = c.count;
        self.conn.set_infile_handler(async move {
            let data: mysql_async::InfileData =
                futures::stream::once(async move { Ok(rows) }).boxed();
            Ok(data)
        });
        // LOCAL loads turn errors into warnings (duplicate keys skipped, surplus fields
        // dropped), so the load runs in a transaction and is only kept if it inserted every
        // row without a warning; otherwise it is undone and the INSERT runs instead, with
        // the server's own verdict.
        self.conn.query_drop("BEGIN").await?;
        if let Err(e) = self.conn.query_drop(sql).await {
            let _ = self.conn.query_drop("ROLLBACK").await;
            return Err(e);
        }
        if self.conn.affected_rows() == expected && self.conn.get_warnings() == 0 {
            let inserted = self.conn.affected_rows();
            self.conn.query_drop("COMMIT").await?;
            return Ok(inserted);
        }
        tracing::debug!(worker = self.id, table = %job.key, statement = job.number, "LOAD DATA was not exact; running the INSERT");
        self.conn.query_drop("ROLLBACK").await?;
        self.insert_sql(job).await
    }

    async fn insert_sql(&mut self, job: &Job) -> std::result::Result<u64, mysql_async::Error> {
        self.conn.query_drop(job.sql.as_slice()).await?;
        Ok(self.conn.affected_rows())
    }

    async fn commit(&mut self) -> Result<()> {
        self.conn
            .query_drop("COMMIT")
            .await
            .map_err(|source| RestoreError::Database {
                action: format!("worker {} COMMIT", self.id),
                source,
            })
    }
}
