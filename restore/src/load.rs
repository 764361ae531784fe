//! Executing a dump's statements: DDL in order on one connection, table data spread
//! over several.
//!
//! The server, not the client, is the bottleneck of a dump load; one `mariadb < dump.sql`
//! stream keeps about one server core busy. The [`Loader`] runs every statement that is
//! not plain table data (DDL, triggers, routines, views, `SET`, `USE`) on a *main*
//! connection in dump order, and hands each extended `INSERT INTO t … VALUES …` to the
//! least-busy of several *worker* connections. Ordering is kept by barriers:
//!
//! * a statement about table `t` (`CREATE/DROP/ALTER TABLE t`, `CREATE TRIGGER … ON t`)
//!   first waits for the inserts into `t` already handed out;
//! * anything the loader cannot prove harmless (`UPDATE`, `INSERT … SELECT`, `CALL`,
//!   `USE`, `CREATE DATABASE`, …) waits for all of them;
//! * inserts into a table that has a trigger run on the main connection after a full
//!   barrier (the trigger may write other tables), and `INSERT IGNORE`/`REPLACE` run on
//!   the main connection after the table's barrier (their result depends on row order).
//!
//! Two levers cut the server's own work: a table's secondary indexes are built after its
//! rows are in ([`crate::ddl`], started at mysqldump's `ENABLE KEYS` mark, on a connection of
//! their own), and workers send plain-literal inserts as `LOAD DATA LOCAL INFILE` rows
//! ([`crate::infile`]). The first insert into each table runs alone: InnoDB's bulk path for
//! an empty table locks it, and racing inserts would deadlock.
//!
//! Workers replay the dump's session `SET`s (names, `sql_mode`, time zone, user variables)
//! before each insert, so their inserts mean what they would have meant on one connection,
//! and run with `foreign_key_checks=0, unique_checks=0` (inserts of different tables land
//! in any order). `LOCK TABLES` and `ALTER TABLE … DISABLE/ENABLE KEYS` are dropped: they
//! serialise a parallel load and only speed up MyISAM. `SET autocommit` is dropped: a
//! main connection holding an open transaction while waiting for workers could deadlock.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts};
use tokio::sync::{mpsc, watch};

use crate::ddl;
use crate::error::{RestoreError, Result};
use crate::sql::{Statement, Token, head_tokens};

/// How the loader spreads work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadConfig {
    /// Worker connections for table data, besides the main one. Default 3: measured on
    /// 2 cores, more connections than the server has cores buys little, and the server
    /// is usually bigger than this machine. `0` runs everything on the main connection,
    /// exactly as the mysql client would.
    pub workers: usize,
    /// Inserts queued per worker before the reader waits. Default 4: enough to keep a
    /// worker busy while the reader inflates the next statement, little memory.
    pub queue_depth: usize,
    /// Statements per worker transaction; `0` (default) autocommits each insert, which
    /// measured fastest (a long transaction doubled server CPU with no gain).
    pub statements_per_commit: usize,
    /// Session settings each worker applies once it connects. Default turns off foreign
    /// key and unique checks: the dump's data is consistent and arrives in any order.
    pub worker_session: Vec<String>,
    /// Create tables with their primary key only and add the other indexes once the
    /// table's rows are in (see [`crate::ddl`]). Default `true`; only with workers.
    pub defer_indexes: bool,
    /// Send plain-literal inserts as `LOAD DATA LOCAL INFILE` rows (see [`crate::infile`]).
    /// Default `true`; falls back to INSERT by itself if the server refuses local infile.
    pub load_data: bool,
}

impl Default for LoadConfig {
    fn default() -> Self {
        LoadConfig {
            workers: 3,
            queue_depth: 4,
            statements_per_commit: 0,
            worker_session: vec!["SET SESSION foreign_key_checks=0, unique_checks=0".into()],
            defer_indexes: true,
            load_data: true,
        }
    }
}

/// What a load did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadReport {
    /// Rows inserted per `db.table` by the dump's INSERT statements (trigger side effects not included).
    pub rows: BTreeMap<String, u64>,
    /// Statements executed.
    pub statements: u64,
    /// SQL bytes sent to the server.
    pub bytes: u64,
    /// Wall time from the first statement to the last commit.
    pub elapsed: Duration,
}

impl LoadReport {
    /// Megabytes (10^6) of SQL per second.
    pub fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn merge(&mut self, rows: HashMap<String, u64>, statements: u64, bytes: u64) {
        for (t, n) in rows {
            *self.rows.entry(t).or_default() += n;
        }
        self.statements += statements;
        self.bytes += bytes;
    }
}

/// A statement's role, decided from its first tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `INSERT INTO t … VALUES` (`plain` = not IGNORE/REPLACE/ON DUPLICATE).
    Insert {
        db: Option<String>,
        table: String,
        plain: bool,
    },
    /// A session `SET` to replay on workers (`replay` = false for checks/autocommit).
    Set { replay: bool },
    /// `SET autocommit=…`, `LOCK/UNLOCK TABLES`, `ALTER TABLE … DISABLE KEYS`.
    Dropped,
    /// `ALTER TABLE t ENABLE KEYS`: mysqldump's mark that `t`'s rows are all out.
    EnableKeys { db: Option<String>, table: String },
    /// `USE db`.
    Use(String),
    /// DDL about one table; waits for that table's inserts.
    Table {
        db: Option<String>,
        table: String,
        trigger: bool,
        create: bool,
    },
    /// Needs no barrier: defines views or routines, or ends a transaction.
    NoData,
    /// Anything else: waits for every insert handed out.
    Other,
}

fn table_name(t: &[Token], i: usize) -> Option<(Option<String>, String, usize)> {
    let first = t.get(i)?.ident()?.to_string();
    if t.get(i + 1) == Some(&Token::Punct(b'.')) {
        let second = t.get(i + 2)?.ident()?.to_string();
        return Some((Some(first), second, i + 3));
    }
    Some((None, first, i + 1))
}

pub(crate) fn classify(sql: &[u8], parallel: bool) -> Kind {
    let t = head_tokens(sql, 40);
    let Some(first) = t.first() else {
        return Kind::Other;
    };
    let is = |i: usize, kw: &str| t.get(i).is_some_and(|x| x.is(kw));
    if first.is("INSERT") || first.is("REPLACE") {
        let mut i = 1;
        let mut plain = first.is("INSERT");
        while t.get(i).is_some_and(|x| {
            ["LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE"]
                .iter()
                .any(|k| x.is(k))
        }) {
            plain &= !is(i, "IGNORE");
            i += 1;
        }
        if is(i, "INTO") {
            i += 1;
        }
        let Some((db, table, mut i)) = table_name(&t, i) else {
            return Kind::Other;
        };
        // Optional column list, then VALUES.
        if t.get(i) == Some(&Token::Punct(b'(')) {
            while i < t.len() && t[i] != Token::Punct(b')') {
                i += 1;
            }
            i += 1;
        }
        if i < t.len() && !(is(i, "VALUES") || is(i, "VALUE")) {
            return Kind::Other;
        }
        // `ON DUPLICATE KEY UPDATE` sits at the end; look there.
        let tail = &sql[sql.len().saturating_sub(4096)..];
        if memchr::memmem::find(&tail.to_ascii_uppercase(), b"ON DUPLICATE KEY UPDATE").is_some() {
            plain = false;
        }
        return Kind::Insert { db, table, plain };
    }
    if first.is("SET") {
        if t.iter().any(|x| x.is("SELECT")) || is(1, "GLOBAL") || is(1, "TRANSACTION") {
            return Kind::Other;
        }
        let mentions = |kw: &str| {
            t.iter().any(|x| {
                x.is(kw) || matches!(x, Token::Word(w) if w.to_ascii_lowercase().ends_with(kw))
            })
        };
        if parallel && is(1, "AUTOCOMMIT") && !t.contains(&Token::Punct(b',')) {
            return Kind::Dropped;
        }
        let replay = !(mentions("foreign_key_checks")
            || mentions("unique_checks")
            || mentions("autocommit"));
        return Kind::Set { replay };
    }
    if first.is("USE") {
        return match t.get(1).and_then(Token::ident) {
            Some(db) => Kind::Use(db.to_string()),
            None => Kind::Other,
        };
    }
    if parallel && (first.is("LOCK") || first.is("UNLOCK")) && (is(1, "TABLES") || is(1, "TABLE")) {
        return Kind::Dropped;
    }
    if parallel && (first.is("BEGIN") || (first.is("START") && is(1, "TRANSACTION"))) {
        return Kind::Dropped;
    }
    if first.is("COMMIT") || first.is("ROLLBACK") || first.is("BEGIN") || first.is("START") {
        return Kind::NoData;
    }
    if first.is("ALTER") && is(1, "TABLE") {
        if let Some((db, table, i)) = table_name(&t, 2) {
            if parallel && is(i, "DISABLE") && is(i + 1, "KEYS") && t.len() == i + 2 {
                return Kind::Dropped;
            }
            if parallel && is(i, "ENABLE") && is(i + 1, "KEYS") && t.len() == i + 2 {
                return Kind::EnableKeys { db, table };
            }
            return Kind::Table {
                db,
                table,
                trigger: false,
                create: false,
            };
        }
        return Kind::Other;
    }
    if first.is("DROP") {
        let mut i = 1;
        if is(i, "TEMPORARY") {
            i += 1;
        }
        if is(i, "VIEW")
            || is(i, "PROCEDURE")
            || is(i, "FUNCTION")
            || is(i, "TRIGGER")
            || is(i, "EVENT")
        {
            return Kind::NoData;
        }
        if is(i, "TABLE") {
            i += 1;
            if is(i, "IF") && is(i + 1, "EXISTS") {
                i += 2;
            }
            if let Some((db, table, j)) = table_name(&t, i)
                && j >= t.len()
            {
                return Kind::Table {
                    db,
                    table,
                    trigger: false,
                    create: false,
                };
            }
        }
        return Kind::Other;
    }
    if first.is("CREATE") {
        // Skip the modifiers: OR REPLACE, ALGORITHM=…, DEFINER=…, SQL SECURITY …, TEMPORARY, …
        let what = t.iter().position(|x| {
            [
                "TABLE",
                "TRIGGER",
                "VIEW",
                "PROCEDURE",
                "FUNCTION",
                "EVENT",
                "DATABASE",
                "SCHEMA",
                "INDEX",
            ]
            .iter()
            .any(|k| x.is(k))
        });
        let Some(w) = what else { return Kind::Other };
        let kw = &t[w];
        if kw.is("VIEW") || kw.is("PROCEDURE") || kw.is("FUNCTION") || kw.is("EVENT") {
            return Kind::NoData;
        }
        if kw.is("TABLE") {
            let mut i = w + 1;
            if is(i, "IF") && is(i + 1, "NOT") && is(i + 2, "EXISTS") {
                i += 3;
            }
            let all = head_tokens(sql, usize::MAX);
            if all.iter().any(|x| x.is("SELECT")) {
                return Kind::Other;
            }
            if let Some((db, table, _)) = table_name(&t, i) {
                return Kind::Table {
                    db,
                    table,
                    trigger: false,
                    create: true,
                };
            }
        }
        if kw.is("TRIGGER")
            && let Some(on) = t.iter().skip(w).position(|x| x.is("ON"))
            && let Some((db, table, _)) = table_name(&t, w + on + 1)
        {
            return Kind::Table {
                db,
                table,
                trigger: true,
                create: false,
            };
        }
        return Kind::Other;
    }
    Kind::Other
}

/// Rows per table, statements and bytes a worker executed.
type WorkerTotals = (HashMap<String, u64>, u64, u64);

/// A worker's progress, published after each committed job.
#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    done: u64,
    failed: bool,
}

struct Job {
    seq: u64,
    entry: Arc<str>,
    number: u64,
    db: Option<Arc<str>>,
    table: Arc<str>,
    key: Arc<str>,
    session_upto: usize,
    sql: Vec<u8>,
}

struct Worker {
    tx: mpsc::Sender<Job>,
    progress: watch::Receiver<Progress>,
    in_flight: Arc<AtomicU64>,
    dispatched: u64,
    handle: tokio::task::JoinHandle<Result<WorkerTotals>>,
}

/// Secondary indexes of a table, to add once its rows are in.
struct PendingIndexes {
    db: Option<Arc<str>>,
    table: String,
    adds: Vec<String>,
    entry: Arc<str>,
    number: u64,
}

/// Runs a dump's statements; see the module docs for how order is kept.
pub struct Loader {
    main: Conn,
    opts: Opts,
    defer_indexes: bool,
    deferred: HashMap<String, PendingIndexes>,
    alters: HashMap<String, tokio::task::JoinHandle<Result<()>>>,
    alter_slots: Arc<tokio::sync::Semaphore>,
    workers: Vec<Worker>,
    session_log: Arc<Mutex<Vec<Arc<[u8]>>>>,
    /// Per table key: (worker index, job seq) of the last insert handed to each worker.
    pending: HashMap<Arc<str>, Vec<(usize, u64)>>,
    triggered: HashSet<String>,
    /// Tables that have had an insert handed to a worker.
    started_tables: HashSet<String>,
    current_db: Option<Arc<str>>,
    rows: HashMap<String, u64>,
    statements: u64,
    bytes: u64,
    started: Instant,
}

/// Connects with `opts`, mapping failures to [`RestoreError::Connect`] without the password.
pub async fn connect(opts: &Opts) -> Result<Conn> {
    Conn::new(opts.clone())
        .await
        .map_err(|source| RestoreError::Connect {
            host: opts.ip_or_hostname().to_string(),
            port: opts.tcp_port(),
            user: opts.user().unwrap_or("").to_string(),
            source,
        })
}

fn key_of(db: Option<&str>, table: &str) -> String {
    match db {
        Some(db) => format!("{db}.{table}"),
        None => table.to_string(),
    }
}

impl Loader {
    /// Opens the main connection and `config.workers` worker connections.
    ///
    /// `opts` should name the target database so dumps without `USE` land there.
    #[tracing::instrument(skip_all, fields(workers = config.workers))]
    pub async fn connect(opts: &Opts, config: &LoadConfig) -> Result<Self> {
        let main = connect(opts).await?;
        let session_log: Arc<Mutex<Vec<Arc<[u8]>>>> = Arc::default();
        let mut workers = Vec::new();
        for i in 0..config.workers {
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
                id: i,
                conn,
                rx,
                progress: ptx,
                in_flight: in_flight.clone(),
                session_log: session_log.clone(),
                applied: 0,
                db: opts.db_name().map(Arc::from),
                per_commit: config.statements_per_commit,
                load_data: config.load_data,
                charset: None,
            };
            workers.push(Worker {
                tx,
                progress: prx,
                in_flight,
                dispatched: 0,
                handle: tokio::spawn(ctx.run()),
            });
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
            }
            Kind::Table {
                db,
                table,
                trigger,
                create,
            } => {
                let db: Option<Arc<str>> = db.map(Arc::from).or_else(|| self.current_db.clone());
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

    async fn wait_worker(&mut self, w: usize, seq: u64) -> Result<()> {
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

    async fn worker_error(&mut self, w: usize) -> RestoreError {
        let worker = &mut self.workers[w];
        let (tx, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut worker.tx, tx));
        match (&mut worker.handle).await {
            Ok(Err(e)) => e,
            Ok(Ok(_)) => RestoreError::Config(format!("worker {w} stopped unexpectedly")),
            Err(e) => RestoreError::Config(format!("worker {w} panicked: {e}")),
        }
    }

    async fn barrier_table(&mut self, key: &str) -> Result<()> {
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

    async fn barrier_all(&mut self) -> Result<()> {
        for w in 0..self.workers.len() {
            let seq = self.workers[w].dispatched;
            self.wait_worker(w, seq).await?;
        }
        self.pending.clear();
        let keys: Vec<String> = self.deferred.keys().cloned().collect();
        for key in keys {
            self.start_deferred(&key);
        }
        for (_, handle) in self.alters.drain() {
            join_alter(handle).await?;
        }
        Ok(())
    }

    /// Adds `key`'s deferred indexes on a connection of their own, once the inserts
    /// into the table handed out so far are done.
    fn start_deferred(&mut self, key: &str) {
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
        let handle = tokio::spawn(async move {
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
        for worker in self.workers.drain(..) {
            drop(worker.tx);
            match worker.handle.await {
                Ok(Ok((rows, statements, bytes))) => report.merge(rows, statements, bytes),
                Ok(Err(e)) => return Err(e),
                Err(e) => return Err(RestoreError::Config(format!("worker panicked: {e}"))),
            }
        }
        report.elapsed = self.started.elapsed();
        let _ = self.main.disconnect().await;
        Ok(report)
    }
}

async fn join_alter(handle: tokio::task::JoinHandle<Result<()>>) -> Result<()> {
    match handle.await {
        Ok(r) => r,
        Err(e) => Err(RestoreError::Config(format!(
            "index build task failed: {e}"
        ))),
    }
}

/// `name` as a backtick-quoted identifier.
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

struct WorkerCtx {
    id: usize,
    conn: Conn,
    rx: mpsc::Receiver<Job>,
    progress: watch::Sender<Progress>,
    in_flight: Arc<AtomicU64>,
    session_log: Arc<Mutex<Vec<Arc<[u8]>>>>,
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
        let converted = if self.load_data && self.per_commit == 0 {
            crate::infile::convert(&job.sql)
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
        c: &crate::infile::Converted,
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
        let rows = bytes::Bytes::from(c.rows.clone());
        let expected = c.rows.iter().filter(|&&b| b == b'\n').count() as u64;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn k(sql: &str) -> Kind {
        classify(sql.as_bytes(), true)
    }

    #[test]
    fn classifies_dump_statements() {
        assert_eq!(
            k("INSERT INTO `actor` VALUES (1,'a')"),
            Kind::Insert {
                db: None,
                table: "actor".into(),
                plain: true
            }
        );
        assert_eq!(
            k("INSERT INTO s.t (a,b) VALUES (1,2)"),
            Kind::Insert {
                db: Some("s".into()),
                table: "t".into(),
                plain: true
            }
        );
        assert_eq!(
            k("INSERT IGNORE INTO t VALUES (1)"),
            Kind::Insert {
                db: None,
                table: "t".into(),
                plain: false
            }
        );
        assert_eq!(
            k("REPLACE INTO t VALUES (1)"),
            Kind::Insert {
                db: None,
                table: "t".into(),
                plain: false
            }
        );
        assert_eq!(
            k("INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a=1"),
            Kind::Insert {
                db: None,
                table: "t".into(),
                plain: false
            }
        );
        assert_eq!(k("INSERT INTO t SELECT * FROM u"), Kind::Other);
        assert_eq!(
            k("/*!40101 SET NAMES utf8mb4 */"),
            Kind::Set { replay: true }
        );
        assert_eq!(
            k("/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */"),
            Kind::Set { replay: false }
        );
        assert_eq!(k("SET AUTOCOMMIT=0"), Kind::Dropped);
        assert_eq!(k("LOCK TABLES `t` WRITE"), Kind::Dropped);
        assert_eq!(k("/*!40000 ALTER TABLE `t` DISABLE KEYS */"), Kind::Dropped);
        assert_eq!(
            k("/*!40000 ALTER TABLE `t` ENABLE KEYS */"),
            Kind::EnableKeys {
                db: None,
                table: "t".into()
            }
        );
        assert_eq!(
            k("ALTER TABLE t ADD KEY (a)"),
            Kind::Table {
                db: None,
                table: "t".into(),
                trigger: false,
                create: false
            }
        );
        assert_eq!(k("USE `sakila`"), Kind::Use("sakila".into()));
        assert_eq!(
            k("DROP TABLE IF EXISTS `t`"),
            Kind::Table {
                db: None,
                table: "t".into(),
                trigger: false,
                create: false
            }
        );
        assert_eq!(
            k("CREATE TABLE t (a int, b varchar(3) COMMENT 'select')"),
            Kind::Table {
                db: None,
                table: "t".into(),
                trigger: false,
                create: true
            }
        );
        assert_eq!(k("CREATE TABLE t AS SELECT 1"), Kind::Other);
        assert_eq!(
            k(
                "/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER `ins` AFTER INSERT ON `film` FOR EACH ROW BEGIN END */"
            ),
            Kind::Table {
                db: None,
                table: "film".into(),
                trigger: true,
                create: false
            }
        );
        assert_eq!(
            k(
                "CREATE TRIGGER customer_create_date BEFORE INSERT ON customer FOR EACH ROW SET NEW.create_date = NOW()"
            ),
            Kind::Table {
                db: None,
                table: "customer".into(),
                trigger: true,
                create: false
            }
        );
        assert_eq!(
            k(
                "/*!50001 CREATE ALGORITHM=UNDEFINED */ /*!50013 DEFINER=`root`@`localhost` SQL SECURITY DEFINER */ /*!50001 VIEW `v` AS select 1 */"
            ),
            Kind::NoData
        );
        assert_eq!(
            k("CREATE DEFINER=CURRENT_USER SQL SECURITY INVOKER VIEW actor_info AS SELECT 1"),
            Kind::NoData
        );
        assert_eq!(k("CREATE PROCEDURE p() BEGIN SELECT 1; END"), Kind::NoData);
        assert_eq!(k("CREATE SCHEMA sakila"), Kind::Other);
        assert_eq!(k("UPDATE t SET a = 1"), Kind::Other);
        assert_eq!(k("COMMIT"), Kind::NoData);
        // Without workers, nothing is dropped: the mysql client's exact behaviour.
        assert_eq!(
            classify(b"SET AUTOCOMMIT=0", false),
            Kind::Set { replay: false }
        );
        assert_eq!(classify(b"LOCK TABLES t WRITE", false), Kind::Other);
    }
}
