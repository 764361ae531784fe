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
//!
//! Modules: `classify` decides a statement's role from its first tokens, [`Loader`]
//! (`loader`) executes statements and keeps order with its barriers (`barrier`), and the
//! workers (`worker`) run the inserts handed to them. Every task the loader spawns is
//! joined, its panic reported as [`RestoreError::Task`], or aborted when the loader is dropped.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use mysql_async::{Conn, Opts};

use crate::error::{RestoreError, Result};

mod barrier;
pub(crate) mod classify;
mod loader;
mod worker;

pub use loader::Loader;

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
    /// Databases the load wrote to: the target, every `USE`d one and every one named in a
    /// table's qualified name. The restore manifest counts the tables of these.
    pub databases: BTreeSet<String>,
    /// The dump entries loaded, in load order (one name for a plain `.sql` file).
    pub entries: Vec<String>,
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

/// Connects with `opts`, mapping failures to [`RestoreError::Connect`] without the password.
pub async fn connect(opts: &Opts) -> Result<Conn> {
    Conn::new(opts.clone())
        .await
        .map_err(|source| RestoreError::Connect {
            host: opts.ip_or_hostname().to_string(),
            port: opts.tcp_port(),
            user: opts.user().unwrap_or("").to_string(),
            tls: opts.ssl_opts().is_some(),
            source,
        })
}

/// `name` as a backtick-quoted identifier.
pub fn quote_ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `db.table`, or `table` when the database is unknown.
fn key_of(db: Option<&str>, table: &str) -> String {
    match db {
        Some(db) => format!("{db}.{table}"),
        None => table.to_string(),
    }
}
