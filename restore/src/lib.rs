//! Liberator's restore task: turn a dump dropped in S3 into an RDS snapshot.
//!
//! The zip is read with ranged GETs and inflated as it streams ([`zip`]); its `.sql`
//! entries are split with the mysql client's rules ([`sql`]) and executed by a loader
//! that keeps DDL in order on one connection and spreads table data over several
//! ([`load`]); the reading and loading overlap through [`pipeline`], whose end of input is
//! explicit. Only a complete load is counted into the [`manifest`] and snapshotted
//! ([`snapshot`]); a SIGTERM or SIGINT ([`stop`]) abandons it with nothing deleted or
//! created. [`dump`] decides which object to load, [`task`] ties it together and [`cli`] is
//! the `restore` binary.
//!
//! Loading a local zip into a local server (what the tests and the benchmark do):
//!
//! ```no_run
//! use liberator_restore::{config::MysqlConfig, load::LoadConfig, task, zip::{LocalFile, ZipLimits}};
//!
//! # async fn demo() -> liberator_restore::Result<()> {
//! let mysql = MysqlConfig { port: 3306, db_name: "liberator".into(), ..Default::default() };
//! let src = LocalFile { path: "sakila.zip".into() };
//! let report = task::load_zip(&src, &mysql, &LoadConfig::default(), &ZipLimits::default()).await?;
//! println!("{} rows of actor, {:.1} MB/s", report.rows["sakila.actor"], report.mb_per_s());
//! # Ok(()) }
//! ```

// A restore fails at most once per run; rich, unboxed errors are worth their size.
#![allow(clippy::result_large_err)]

pub mod cli;
pub mod config;
pub mod ddl;
pub mod dump;
pub mod error;
pub mod infile;
pub mod load;
pub mod manifest;
pub mod pipeline;
pub mod snapshot;
mod spawn;
pub mod sql;
pub mod stop;
pub mod task;
pub mod zip;

pub use error::{RestoreError, Result};
