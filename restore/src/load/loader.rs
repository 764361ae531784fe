//! The [`Loader`]: statements in dump order on the main connection, plain inserts handed
//! to the least busy worker.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};

use super::barrier::PendingIndexes;
use super::classify::{Kind, classify};
use super::worker::{Job, SessionLog, Worker};
use super::{LoadConfig, connect, key_of, quote_ident};
use crate::ddl;
use crate::error::{RestoreError, Result};
use crate::spawn::Spawned;
use crate::sql::Statement;

/// Runs a dump's statements; see the [module docs](super) for how order is kept.
///
/// Dropping a loader (after an error, or when the restore is stopped) aborts its workers
/// and index builds; [`Loader::finish`] joins them and reports any that failed.
pub struct Loader {
    pub(super) main: Conn,
    pub(super) opts: Opts,
    pub(super) defer_indexes: bool,
    pub(super) deferred: HashMap<String, PendingIndexes>,
    pub(super) alters: HashMap<String, Spawned<Result<()>>>,
    pub(super) alter_slots: Arc<tokio::sync::Semaphore>,
    pub(super) workers: Vec<Worker>,
    pub(super) session_log: SessionLog,
    /// Per table key: (worker index, job seq) of the last insert handed to each worker.
    pub(super) pending: HashMap<Arc<str>, Vec<(usize, u64)>>,
    pub(super) triggered: HashSet<String>,
    /// Tables that have had an insert handed to a worker.
    pub(super) started_tables: HashSet<String>,
    pub(super) current_db: Option<Arc<str>>,
    /// Databases written to (see [`super::LoadReport::databases`]).
    pub(super) databases: BTreeSet<String>,
    pub(super) rows: HashMap<String, u64>,
    pub(super) statements: u64,
    pub(super) bytes: u64,
    pub(super) started: Instant,
}

impl Loader {
    /// Opens the main connection and `config.workers` worker connections.
    ///
    /// `opts` should name the target database so dumps without `USE` land there.
    #[tracing::instrument(skip_all, fields(workers = config.workers))]
    pub async fn connect(opts: &Opts, config: &LoadConfig) -> Result<Self> {
        let main = connect(opts).await?;
        let session_log = SessionLog::default();
        let mut workers = Vec::new();
        for i in 0..config.workers {
            workers.push(Worker::start(i, opts, config, session_log.clone()).await?);
        }
        Ok(Loader {
            main,
            opts: opts.clone(),
            defer_indexes: config.defer_indexes && config.workers > 0,
            deferred: HashMap::new(),
            alters: HashMap::new(),
            // Index builds are single-threaded sorts; two at a time keep a small server busy.
            alter_slots: Arc::new(tokio::sync::Semaphore::new(2)),
            workers,
            session_log,
            pending: HashMap::new(),
            started_tables: HashSet::new(),
            triggered: HashSet::new(),
            current_db: opts.db_name().map(Arc::from),
            databases: opts.db_name().map(str::to_string).into_iter().collect(),
            rows: HashMap::new(),
            statements: 0,
            bytes: 0,
            started: Instant::now(),
        })
    }

    /// `DROP DATABASE IF EXISTS` and `CREATE DATABASE` the target, then `USE` it everywhere.
    #[tracing::instrument(skip_all, fields(db = %db))]
    pub async fn reset_database(&mut self, db: &str) -> Result<()> {
        let q = quote_ident(db);
        for sql in [
            format!("DROP DATABASE IF EXISTS {q}"),
            format!("CREATE DATABASE {q}"),
            format!("USE {q}"),
        ] {
            tracing::info!(statement = %sql, "resetting target database");
            self.main
                .query_drop(sql.as_str())
                .await
                .map_err(|source| RestoreError::Database {
                    action: sql.clone(),
                    source,
                })?;
        }
        self.current_db = Some(Arc::from(db));
        self.databases.insert(db.to_string());
        Ok(())
    }

    /// Executes one statement of `entry` (in dump order).
    pub async fn execute(&mut self, entry: &Arc<str>, stmt: Statement) -> Result<()> {
        let parallel = !self.workers.is_empty();
        // Stop at the first worker failure rather than at the next barrier.
        if let Some(w) = self.workers.iter().position(|w| w.progress.borrow().failed) {
            return Err(self.worker_error(w).await);
        }
        let kind = classify(&stmt.sql, parallel);
        match kind {
            Kind::Insert { db, table, plain } => {
                let db = db.map(Arc::from).or_else(|| self.current_db.clone());
                self.note_database(db.as_deref());
                let key: Arc<str> = Arc::from(key_of(db.as_deref(), &table));
                if parallel && plain && !self.triggered.contains(&*key) {
                    return self
                        .dispatch(entry, stmt, db, Arc::from(table.as_str()), key)
                        .await;
                }
                if self.triggered.contains(&*key) {
                    self.barrier_all().await?;
                } else {
                    self.barrier_table(&key).await?;
                }
                let affected = self.run_main(entry, &stmt, &key).await?;
                *self.rows.entry(key.to_string()).or_default() += affected;
            }
            Kind::Set { replay } => {
                self.run_main(entry, &stmt, "-").await?;
                if replay && parallel {
                    self.session_log.lock().unwrap().push(Arc::from(stmt.sql));
                }
            }
            Kind::Dropped => {
                tracing::debug!(entry = %entry, statement = stmt.number, sql = %stmt.head(80), "not needed for a parallel load; skipped");
            }
            Kind::Use(db) => {
                self.barrier_all().await?;
                self.run_main(entry, &stmt, "-").await?;
                self.current_db = Some(Arc::from(db.as_str()));
                self.databases.insert(db);
            }
            Kind::Table {
                db,
                table,
                trigger,
                create,
            } => {
                let db: Option<Arc<str>> = db.map(Arc::from).or_else(|| self.current_db.clone());
                self.note_database(db.as_deref());
                let key = key_of(db.as_deref(), &table);
                self.barrier_table(&key).await?;
                let deferred = if create && self.defer_indexes {
                    ddl::defer_secondary_indexes(&stmt.sql)
                } else {
                    None
                };
                match deferred {
                    Some(d) => {
                        tracing::debug!(table = %key, indexes = d.adds.len(), "creating table without its secondary indexes");
                        let number = stmt.number;
                        self.run_main(
                            entry,
                            &Statement {
                                number,
                                sql: d.create,
                            },
                            &key,
                        )
                        .await?;
                        let pending = PendingIndexes {
                            db,
                            table,
                            adds: d.adds,
                            entry: entry.clone(),
                            number,
                        };
                        self.deferred.insert(key.clone(), pending);
                    }
                    None => {
                        self.run_main(entry, &stmt, &key).await?;
                    }
                }
                if trigger {
                    self.triggered.insert(key);
                }
            }
            Kind::EnableKeys { db, table } => {
                let db = db.map(Arc::from).or_else(|| self.current_db.clone());
                let key = key_of(db.as_deref(), &table);
                // mysqldump's end of the table's rows: build its indexes while others load.
                if self.deferred.contains_key(&key) {
                    self.start_deferred(&key);
                }
            }
            Kind::NoData => {
                self.run_main(entry, &stmt, "-").await?;
            }
            Kind::Other => {
                self.barrier_all().await?;
                self.run_main(entry, &stmt, "-").await?;
            }
        }
        Ok(())
    }

    /// Remembers a database the load writes to (for the manifest's row counts).
    fn note_database(&mut self, db: Option<&str>) {
        if let Some(db) = db
            && !self.databases.contains(db)
        {
            self.databases.insert(db.to_string());
        }
    }

    async fn run_main(&mut self, entry: &str, stmt: &Statement, table: &str) -> Result<u64> {
        self.main
            .query_drop(stmt.sql.as_slice())
            .await
            .map_err(|source| RestoreError::Sql {
                entry: entry.to_string(),
                statement: stmt.number,
                table: table.to_string(),
                head: stmt.head(120),
                source,
            })?;
        self.statements += 1;
        self.bytes += stmt.sql.len() as u64;
        Ok(self.main.affected_rows())
    }

    async fn dispatch(
        &mut self,
        entry: &Arc<str>,
        stmt: Statement,
        db: Option<Arc<str>>,
        table: Arc<str>,
        key: Arc<str>,
    ) -> Result<()> {
        // Least outstanding bytes first.
        let w = (0..self.workers.len())
            .min_by_key(|&i| self.workers[i].in_flight.load(Ordering::Relaxed))
            .unwrap_or(0);
        let session_upto = self.session_log.lock().unwrap().len();
        let worker = &mut self.workers[w];
        worker.dispatched += 1;
        let seq = worker.dispatched;
        worker
            .in_flight
            .fetch_add(stmt.sql.len() as u64, Ordering::Relaxed);
        let job = Job {
            seq,
            entry: entry.clone(),
            number: stmt.number,
            db,
            table,
            key: key.clone(),
            session_upto,
            sql: stmt.sql,
        };
        if worker.tx.send(job).await.is_err() {
            return Err(self.worker_error(w).await);
        }
        let first = self.started_tables.insert(key.to_string());
        let marks = self.pending.entry(key).or_default();
        match marks.iter_mut().find(|(i, _)| *i == w) {
            Some(m) => m.1 = seq,
            None => marks.push((w, seq)),
        }
        if first {
            // The first insert into an empty table may take InnoDB's bulk-insert path,
            // which locks the table; inserts racing it deadlock. Let it finish alone.
            self.wait_worker(w, seq).await?;
        }
        if self.workers[w].progress.borrow().failed {
            return Err(self.worker_error(w).await);
        }
        Ok(())
    }
}
