//! The whole pipeline on this machine, for the end-to-end test and for operators
//! (`make e2e DUMP=…`): a zipped dump in moto S3 → restore into MariaDB + moto RDS snapshot →
//! export-trigger on RDS-EVENT-0042 → the local Parquet exporter (moto's StartExportTask
//! writes no files) → export-copier on RDS-EVENT-0161 → landing zone + Glue run on moto.
//!
//! The landing zone is laid out as the platform reads it: the copier's `TARGET_PREFIX` is
//! [`LANDING_PREFIX`] (`parking`), so tables land at
//! `parking/<db>/<db.table>/import_year=YYYY/import_month=MM/import_day=DD/import_date=YYYYMMDD/<file>`
//! and the Glue crawler reads `s3://<landing>/parking/liberator` for the company's dumps,
//! whose database is `liberator` ([`liberator_dump`]).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use export_copier::{Copier, Invocation};
use liberator_engine::{EngineConfig, Location};
use liberator_fixtures::export_local::{LocalExportConfig, export_database};
use liberator_restore::config::{MysqlConfig, Password};
use liberator_restore::task::{Run, TaskConfig};
use serde_json::{Value, json};

use crate::checksum::{TableSum, add_parquet, mariadb_sums};
use crate::mariadb::MariaDb;
use crate::{aws, create_bucket, engine, get_bytes, list_all, s3_client, unique_bucket};

/// The copier's `TARGET_PREFIX`: the folder the platform's Glue crawler reads
/// (`s3://<landing>/parking/<db>`), as the copier this project replaces wrote it.
pub const LANDING_PREFIX: &str = "parking";

/// The database of the company's dumps, and the restore's target database: a dump without
/// `USE` (mysqldump of one database) loads into it.
pub const LIBERATOR_DB: &str = "liberator";

/// A dump shaped like the company's: one `liberator.sql` as mysqldump writes a single
/// database (no `CREATE DATABASE`, no `USE`), so it loads into [`LIBERATOR_DB`]; one table,
/// `pcn` (penalty charge notices), with `rows` rows of integers, text, a decimal, a date, a
/// datetime and NULLs.
pub fn liberator_dump(rows: u32) -> Vec<u8> {
    let mut sql = String::from(
        "-- MySQL dump of one database (no CREATE DATABASE / USE)\n\
         SET NAMES utf8mb4;\n\
         DROP TABLE IF EXISTS `pcn`;\n\
         CREATE TABLE `pcn` (\n\
         `id` int unsigned NOT NULL AUTO_INCREMENT,\n\
         `ticket` varchar(20) NOT NULL,\n\
         `street` varchar(100) DEFAULT NULL,\n\
         `amount` decimal(8,2) NOT NULL,\n\
         `issued_on` date NOT NULL,\n\
         `paid_at` datetime DEFAULT NULL,\n\
         PRIMARY KEY (`id`)\n\
         ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n",
    );
    for chunk in (1..=rows).collect::<Vec<_>>().chunks(500) {
        let values: Vec<String> = chunk
            .iter()
            .map(|i| {
                let street = match i % 7 {
                    0 => "NULL".to_string(),
                    n => format!("'Street {n}, Hackney'"),
                };
                let paid = match i % 3 {
                    0 => "NULL".to_string(),
                    n => format!("'2024-05-{:02} 1{n}:{:02}:00'", 1 + i % 28, i % 60),
                };
                format!(
                    "({i},'HK{i:08}',{street},{}.{:02},'2024-04-{:02}',{paid})",
                    30 + i % 100,
                    i % 100,
                    1 + i % 30
                )
            })
            .collect();
        sql.push_str(&format!("INSERT INTO `pcn` VALUES {};\n", values.join(",")));
    }
    crate::mariadb::zip_bytes(&[("liberator.sql", sql.as_bytes())])
}

/// The shared folder beside the repository (sample events, sakila.zip).
pub fn shared(path: &str) -> PathBuf {
    crate::manifest_dir().join("../../shared").join(path)
}

/// A shared sample event, re-pointed at `snapshot`.
pub fn event(file: &str, snapshot: &str, arn: &str) -> Result<Value> {
    let path = shared(&format!("events/{file}"));
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut v: Value =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    v["id"] = json!(uuid::Uuid::new_v4().to_string());
    v["resources"] = json!([arn]);
    v["detail"]["SourceArn"] = json!(arn);
    v["detail"]["SourceIdentifier"] = json!(snapshot);
    Ok(v)
}

/// What a run did, for assertions and the operator's report.
#[derive(Debug)]
pub struct PipelineRun {
    pub dump_key: String,
    pub snapshot: String,
    /// The import date the run landed under (the day it started, UTC).
    pub import_date: chrono::NaiveDate,
    pub export_bucket: String,
    /// Every object of the export (key, size), as the export stand-in wrote it.
    pub exported: Vec<(String, u64)>,
    pub landing_bucket: String,
    pub workflow: String,
    /// Every object in the landing bucket (key, size) after the copier ran.
    pub landed: Vec<(String, u64)>,
    /// `<db>.<table>` → rows and checksum in MariaDB.
    pub database: BTreeMap<String, TableSum>,
    /// `<db>.<table>` → rows and checksum of the landed Parquet.
    pub landing: BTreeMap<String, TableSum>,
    /// Landed keys that do not follow the partition layout.
    pub layout_errors: Vec<String>,
    pub workflow_runs: usize,
    pub trigger: export_trigger::Answer,
    /// The copier's answer; `None` when it failed (see `copier_error`).
    pub copier: Option<export_copier::Answer>,
    /// The copier's error kind and message, when it refused or failed.
    pub copier_error: Option<(&'static str, String)>,
    /// The copier report's completeness section (from the exactly-once marker).
    pub completeness: Option<String>,
    /// Re-delivery of both events: outcomes and whether anything changed.
    pub redelivered: Option<(export_trigger::Answer, export_copier::Answer, bool)>,
}

/// Runs the pipeline on the zipped dump at `dump` against moto at `endpoint` and MariaDB
/// `db`.
pub async fn run(
    endpoint: &str,
    db: &MariaDb,
    dump: &Path,
    redeliver: bool,
) -> Result<PipelineRun> {
    let zip = std::fs::read(dump).with_context(|| format!("reading dump {}", dump.display()))?;
    run_zip(endpoint, db, zip, redeliver).await
}

/// What a scenario changes in the pipeline. Default: the plain daily run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Re-deliver both events after the run and check that nothing changed.
    pub redeliver: bool,
    /// How the export stand-in writes the export (batch folders, gaps, tables it fails).
    pub export: LocalExportConfig,
    /// Delete one Parquet file of this table (`<db>.<table>`) from the export before the
    /// copier runs: rows the database held that never land.
    pub delete_one_file_of: Option<String>,
}

/// [`run`] on a zipped dump in memory.
pub async fn run_zip(
    endpoint: &str,
    db: &MariaDb,
    zip: Vec<u8>,
    redeliver: bool,
) -> Result<PipelineRun> {
    run_with(
        endpoint,
        db,
        zip,
        &Options {
            redeliver,
            ..Options::default()
        },
    )
    .await
}

/// The pipeline on a zipped dump in memory, as `opts` says. The copier checks landed rows
/// against the restore task's manifest; when it refuses (a partial day), its error is in
/// [`PipelineRun::copier_error`] and nothing is re-delivered.
pub async fn run_with(
    endpoint: &str,
    db: &MariaDb,
    zip: Vec<u8>,
    opts: &Options,
) -> Result<PipelineRun> {
    let redeliver = opts.redeliver;
    let s3 = s3_client(endpoint);
    let rds = aws::rds_client(endpoint);
    let glue = aws::glue_client(endpoint);
    let (parking, exports, landing) = (
        unique_bucket("parking"),
        unique_bucket("exports"),
        unique_bucket("landing"),
    );
    for b in [&parking, &exports, &landing] {
        create_bucket(&s3, b).await;
    }

    let today = chrono::Utc::now().date_naive();
    let dump_key = format!("parking/liberator_dump_{}.zip", today.format("%y%m%d"));
    s3.put_object()
        .bucket(&parking)
        .key(&dump_key)
        .body(zip.into())
        .send()
        .await
        .context("uploading the dump")?;

    let instance = aws::unique_instance("liberator");
    aws::create_instance(&rds, &instance).await;
    let cfg = TaskConfig {
        mysql: MysqlConfig {
            host: "127.0.0.1".into(),
            port: db.port,
            user: db.user.clone(),
            password: Password::new(MariaDb::PASSWORD),
            db_name: LIBERATOR_DB.into(),
            ..MysqlConfig::default()
        },
        bucket: parking.clone(),
        rds_instance_id: instance.clone(),
        ..TaskConfig::default()
    };
    let restored = Run::new(&cfg)
        .started_at(crate::restore_day::fresh_start_second().await)
        .execute(&s3, &rds)
        .await
        .context("restore task")?;
    let snapshot = restored.snapshot_id.clone();
    let arn = format!("arn:aws:rds:us-east-1:123456789012:snapshot:{snapshot}");
    let mut databases: BTreeSet<String> = restored
        .report
        .rows
        .keys()
        .filter_map(|t| t.split('.').next())
        .map(str::to_string)
        .collect();
    if databases.is_empty() {
        databases.insert(cfg.mysql.db_name.clone());
    }

    let trigger = export_trigger::Trigger::new(
        rds.clone(),
        export_trigger::Config {
            bucket_name: exports.clone(),
            iam_role_arn: "arn:aws:iam::123456789012:role/rds-export".into(),
            kms_key_id: "arn:aws:kms:us-east-1:123456789012:key/local".into(),
            rds_instance_id: Some(instance.clone()),
            snapshot_prefix: "sql-to-parquet".into(),
            export_s3_prefix: None,
        },
    );
    let e0042 = event("rds-event-0042-snapshot-created.json", &snapshot, &arn)?;
    let trigger_out = trigger.handle(&e0042).await.context("export-trigger")?;

    let writer = engine(endpoint, EngineConfig::default());
    let export_loc = Location::parse(&format!("s3://{exports}"))?;
    for database in &databases {
        export_database(
            db.opts(),
            database,
            writer.store(),
            &export_loc,
            &snapshot,
            &opts.export,
        )
        .await
        .with_context(|| format!("exporting {database}"))?;
    }

    if let Some(table) = &opts.delete_one_file_of {
        let (database, _) = table.split_once('.').context("<db>.<table>")?;
        let folder = format!("{snapshot}/{database}/{table}/");
        let files = list_all(&s3, &exports, &folder).await;
        let (key, _) = files
            .iter()
            .find(|(k, _)| k.ends_with(".parquet"))
            .with_context(|| format!("no Parquet file of {table} to delete"))?;
        s3.delete_object().bucket(&exports).key(key).send().await?;
    }

    let workflow = format!(
        "liberator-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    aws::create_workflow(&glue, &workflow).await;
    aws::create_workflow(&glue, &format!("{workflow}-backdated")).await;
    let copier = Copier::new(
        aws::clients(endpoint, endpoint),
        export_copier::Config {
            source_bucket: exports.clone(),
            target_bucket: landing.clone(),
            target_prefix: LANDING_PREFIX.into(),
            workflow_name: workflow.clone(),
            backdated_workflow_name: Some(format!("{workflow}-backdated")),
            // Where the restore task wrote its manifest (its default location).
            manifests: Some(Location::parse(&format!(
                "s3://{parking}/liberator-manifests/"
            ))?),
            ..export_copier::Config::default()
        },
    );
    let invocation = || {
        Invocation::with_budget(
            Duration::from_secs(900),
            "arn:aws:lambda:us-east-1:123456789012:function:export-copier",
        )
    };
    let e0161 = event("rds-event-0161-export-completed.json", &snapshot, &arn)?;
    let (copier_out, copier_error) = match copier.handle_export(&e0161, &invocation()).await {
        Ok(answer) => (Some(answer), None),
        Err(e) => (None, Some((e.kind(), e.to_string()))),
    };

    let exported = list_all(&s3, &exports, "").await;
    let landed = list_all(&s3, &landing, "").await;
    let partition = today
        .format("import_year=%Y/import_month=%m/import_day=%d/import_date=%Y%m%d")
        .to_string();
    let mut landing_sums = BTreeMap::new();
    let mut layout_errors = Vec::new();
    for (key, _) in &landed {
        if key.starts_with("_liberator/") {
            continue; // the exactly-once marker, outside the table folders
        }
        // parking/<db>/<db.table>/import_year=…/import_month=…/import_day=…/import_date=…/<file>
        let parts: Vec<&str> = key.split('/').collect();
        let ok = parts.len() == 8
            && parts[0] == LANDING_PREFIX
            && databases.contains(parts[1])
            && parts[2]
                .strip_prefix(parts[1])
                .is_some_and(|t| t.starts_with('.'))
            && parts[3..7].join("/") == partition
            && parts[7].starts_with("part-")
            && parts[7].ends_with(".gz.parquet");
        if !ok {
            layout_errors.push(key.clone());
            continue;
        }
        add_parquet(
            &mut landing_sums,
            parts[2],
            get_bytes(&s3, &landing, key).await,
        );
    }
    let mut conn = db.conn().await;
    let mut database_sums = BTreeMap::new();
    for database in &databases {
        database_sums.extend(mariadb_sums(&mut conn, database).await);
    }
    // Empty tables export no files; count them as landed with zero rows.
    for (table, sum) in &database_sums {
        if sum.rows == 0 {
            landing_sums.entry(table.clone()).or_default();
        }
    }
    let workflow_runs = aws::workflow_runs(&glue, &workflow).await.len();

    // The landing's completeness section, as the copier's report (kept in the marker) says.
    let marker_key = format!("_liberator/glue-runs/{snapshot}.json");
    let completeness = match landed.iter().any(|(k, _)| *k == marker_key) {
        true => {
            let marker: serde_json::Value =
                serde_json::from_slice(&get_bytes(&s3, &landing, &marker_key).await)?;
            serde_json::from_value::<liberator_engine::Report>(marker["report"].clone())
                .ok()
                .and_then(|r| r.completeness)
                .map(|c| c.to_string())
        }
        false => None,
    };
    let redelivered = if redeliver && copier_error.is_none() {
        let t = trigger.handle(&e0042).await.context("re-delivered 0042")?;
        let c = copier
            .handle_export(&e0161, &invocation())
            .await
            .context("re-delivered 0161")?;
        let tasks = rds
            .describe_export_tasks()
            .export_task_identifier(&snapshot)
            .send()
            .await?;
        let root = format!("{LANDING_PREFIX}/");
        let unchanged = list_all(&s3, &landing, &root).await
            == landed
                .iter()
                .filter(|(k, _)| k.starts_with(&root))
                .cloned()
                .collect::<Vec<_>>()
            && aws::workflow_runs(&glue, &workflow).await.len() == workflow_runs
            && tasks.export_tasks().len() == 1;
        Some((t, c, unchanged))
    } else {
        None
    };
    Ok(PipelineRun {
        dump_key,
        snapshot,
        import_date: today,
        export_bucket: exports,
        exported,
        landing_bucket: landing,
        workflow,
        landed,
        database: database_sums,
        landing: landing_sums,
        layout_errors,
        workflow_runs,
        trigger: trigger_out,
        copier: copier_out,
        copier_error,
        completeness,
        redelivered,
    })
}

impl PipelineRun {
    /// The file names the export holds for `db_table` (`<db>.<table>`), batch folders
    /// dropped, sorted: what must land, under the same names.
    pub fn exported_files(&self, db_table: &str) -> Vec<String> {
        let db = db_table.split('.').next().unwrap_or_default();
        let folder = format!("{}/{db}/{db_table}/", self.snapshot);
        let mut files: Vec<String> = self
            .exported
            .iter()
            .filter_map(|(k, _)| k.strip_prefix(&folder))
            .filter(|rest| rest.ends_with(".parquet"))
            .filter_map(|rest| rest.rsplit('/').next())
            .map(str::to_string)
            .collect();
        files.sort();
        files
    }

    /// The landed keys of `db_table`, sorted.
    pub fn landed_keys(&self, db_table: &str) -> Vec<String> {
        let db = db_table.split('.').next().unwrap_or_default();
        let folder = format!("{LANDING_PREFIX}/{db}/{db_table}/");
        let mut keys: Vec<String> = self
            .landed
            .iter()
            .map(|(k, _)| k)
            .filter(|k| k.starts_with(&folder))
            .cloned()
            .collect();
        keys.sort();
        keys
    }

    /// Per-table report: rows in MariaDB, rows landed, whether the checksums match.
    pub fn table_report(&self) -> String {
        let mut out = String::new();
        let width = self
            .database
            .keys()
            .map(String::len)
            .max()
            .unwrap_or(5)
            .max(5);
        out.push_str(&format!(
            "{:<width$}  {:>10}  {:>10}  checksum\n",
            "table", "MariaDB", "landed"
        ));
        for (table, want) in &self.database {
            let got = self.landing.get(table).copied().unwrap_or_default();
            let ok = if got == *want { "match" } else { "MISMATCH" };
            out.push_str(&format!(
                "{table:<width$}  {:>10}  {:>10}  {ok}\n",
                want.rows, got.rows
            ));
        }
        for table in self
            .landing
            .keys()
            .filter(|t| !self.database.contains_key(*t))
        {
            out.push_str(&format!(
                "{table:<width$}  {:>10}  {:>10}  NOT IN DATABASE\n",
                "-", self.landing[table].rows
            ));
        }
        out
    }

    /// Every check of the run; the error lists what failed.
    pub fn check(&self) -> Result<()> {
        let mut problems = Vec::new();
        if self.database != self.landing {
            problems.push("the landing zone's rows or checksums differ from MariaDB".to_string());
        }
        if !self.layout_errors.is_empty() {
            problems.push(format!(
                "keys outside the partition layout: {:?}",
                self.layout_errors
            ));
        }
        if self.workflow_runs != 1 {
            problems.push(format!(
                "{} workflow runs, expected exactly 1",
                self.workflow_runs
            ));
        }
        if let Some((_, _, unchanged)) = &self.redelivered
            && !unchanged
        {
            problems.push("re-delivering the events changed something".into());
        }
        if self.database.is_empty() {
            bail!("the dump loaded no tables");
        }
        ensure!(problems.is_empty(), "{}", problems.join("; "));
        Ok(())
    }
}
