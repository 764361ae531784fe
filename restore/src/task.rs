//! The whole task: find the dump, load it, replace the snapshots.

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use tokio::sync::mpsc;

use crate::config::MysqlConfig;
use crate::error::{RestoreError, Result};
use crate::load::{LoadConfig, LoadReport, Loader};
use crate::sql::{Splitter, Statement};
use crate::zip::{
    ByteChunks, EntryReader, RangeSource, S3Object, ZipLimits, read_entries, sql_entries,
};
use crate::{dump, snapshot};

/// Everything the task needs besides AWS clients.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskConfig {
    /// Database settings.
    pub mysql: MysqlConfig,
    /// Bucket the dumps are dropped in. Default empty (must be set).
    pub bucket: String,
    /// RDS instance to snapshot. Default empty (must be set).
    pub rds_instance_id: String,
    /// Load the dump of this date and backdate the snapshot. Default `None`: today (UTC).
    pub import_date_override: Option<NaiveDate>,
    /// Key from the triggering S3 event, if any. Default `None`: look for the date's dump.
    pub event_key: Option<String>,
    /// Parallel loader settings.
    pub load: LoadConfig,
    /// Decompression-bomb limits.
    pub limits: ZipLimits,
    /// Wait for the snapshot to become available, polling every 30 s, up to this long.
    /// Default `None`: return once the snapshot is requested.
    pub wait_for_snapshot: Option<Duration>,
}

/// What the task did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub key: String,
    pub report: LoadReport,
    pub deleted_snapshots: Vec<String>,
    pub snapshot_id: String,
}

/// Runs the task. The snapshot is only requested after every statement succeeded.
#[tracing::instrument(skip_all, fields(bucket = %cfg.bucket, instance = %cfg.rds_instance_id))]
pub async fn run(
    cfg: &TaskConfig,
    s3: &aws_sdk_s3::Client,
    rds: &aws_sdk_rds::Client,
) -> Result<Outcome> {
    if cfg.bucket.is_empty() || cfg.rds_instance_id.is_empty() {
        return Err(RestoreError::Config(
            "bucket and RDS instance id are required".into(),
        ));
    }
    let date = cfg
        .import_date_override
        .unwrap_or_else(|| Utc::now().date_naive());
    let key = dump::locate(s3, &cfg.bucket, cfg.event_key.as_deref(), date).await?;
    let src = S3Object {
        client: s3.clone(),
        bucket: cfg.bucket.clone(),
        key: key.clone(),
    };
    let report = load_zip(&src, &cfg.mysql, &cfg.load, &cfg.limits).await?;
    log_report(&report);

    // Only now, with a complete load, are the previous snapshots replaced.
    let deleted = snapshot::delete_old(rds, &cfg.rds_instance_id).await?;
    let id = snapshot::snapshot_id(Utc::now(), cfg.import_date_override);
    snapshot::create(rds, &cfg.rds_instance_id, &id).await?;
    if let Some(timeout) = cfg.wait_for_snapshot {
        snapshot::wait_available(rds, &id, Duration::from_secs(30), timeout).await?;
    }
    Ok(Outcome {
        key,
        report,
        deleted_snapshots: deleted,
        snapshot_id: id,
    })
}

/// Logs rows per table, bytes and throughput.
pub fn log_report(report: &LoadReport) {
    for (table, rows) in &report.rows {
        tracing::info!(table = %table, rows, "loaded");
    }
    tracing::info!(
        statements = report.statements,
        bytes = report.bytes,
        seconds = format!("{:.1}", report.elapsed.as_secs_f64()),
        mb_per_s = format!("{:.1}", report.mb_per_s()),
        "load complete"
    );
}

enum Chunks {
    Zip(Box<EntryReader>),
    Plain(ByteChunks),
}

impl Chunks {
    async fn next(&mut self, name: &str) -> Result<Option<Vec<u8>>> {
        use futures::StreamExt;
        match self {
            Chunks::Zip(r) => r.next_chunk().await,
            Chunks::Plain(s) => match s.next().await {
                None => Ok(None),
                Some(Ok(b)) => Ok(Some(b.to_vec())),
                Some(Err(e)) => Err(RestoreError::Io {
                    path: name.to_string(),
                    source: std::io::Error::other(e),
                }),
            },
        }
    }
}

type Item = Result<(Arc<str>, Statement)>;

/// Splits `chunks` into statements and sends them on, so reading, inflating and splitting
/// overlap with the database's work.
async fn produce(entry: Arc<str>, mut chunks: Chunks, tx: &mpsc::Sender<Item>) -> Result<bool> {
    let mut splitter = Splitter::new();
    loop {
        let chunk = chunks.next(&entry).await?;
        match &chunk {
            Some(c) => splitter.push(c),
            None => splitter.finish(),
        }
        while let Some(stmt) = splitter.next_statement() {
            if tx.send(Ok((entry.clone(), stmt))).await.is_err() {
                return Ok(false);
            }
        }
        if chunk.is_none() {
            return Ok(true);
        }
    }
}

/// Loads every `.sql` entry of the zip at `src`, in name order, into a freshly created
/// `mysql.db_name`.
#[tracing::instrument(skip_all, fields(object = %src.name()))]
pub async fn load_zip<S: RangeSource + Clone + 'static>(
    src: &S,
    mysql: &MysqlConfig,
    load: &LoadConfig,
    limits: &ZipLimits,
) -> Result<LoadReport> {
    let entries = read_entries(src).await?;
    let sql = sql_entries(&entries);
    if sql.is_empty() {
        return Err(RestoreError::Zip {
            object: src.name(),
            reason: "no .sql entries".into(),
        });
    }
    let (tx, rx) = mpsc::channel::<Item>(256);
    let (src2, limits2) = (src.clone(), *limits);
    let producer = tokio::spawn(async move {
        let mut budget = limits2.max_total_bytes;
        for entry in sql {
            tracing::info!(entry = %entry.name, compressed = entry.compressed_size, size = entry.uncompressed_size, "loading entry");
            let step = async {
                let reader = EntryReader::open(&src2, &entry, &limits2, budget).await?;
                produce(
                    Arc::from(entry.name.as_str()),
                    Chunks::Zip(Box::new(reader)),
                    &tx,
                )
                .await
            };
            match step.await {
                Ok(true) => budget = budget.saturating_sub(entry.uncompressed_size),
                Ok(false) => return,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            }
        }
    });
    let result = consume(rx, mysql, load).await;
    producer.abort();
    result
}

/// Loads a plain `.sql` source (used by `--from-file` and the benchmark).
pub async fn load_plain<S: RangeSource + Clone + 'static>(
    src: &S,
    mysql: &MysqlConfig,
    load: &LoadConfig,
) -> Result<LoadReport> {
    let (tx, rx) = mpsc::channel::<Item>(256);
    let src2 = src.clone();
    let producer = tokio::spawn(async move {
        let name: Arc<str> = Arc::from(src2.name().rsplit('/').next().unwrap_or_default());
        let step = async {
            let len = src2.size().await?;
            produce(name, Chunks::Plain(src2.range(0, len).await?), &tx).await
        };
        if let Err(e) = step.await {
            let _ = tx.send(Err(e)).await;
        }
    });
    let result = consume(rx, mysql, load).await;
    producer.abort();
    result
}

async fn consume(
    mut rx: mpsc::Receiver<Item>,
    mysql: &MysqlConfig,
    load: &LoadConfig,
) -> Result<LoadReport> {
    let mut loader = Loader::connect(&mysql.opts(), load).await?;
    loader.reset_database(&mysql.db_name).await?;
    while let Some(item) = rx.recv().await {
        let (entry, stmt) = item?;
        loader.execute(&entry, stmt).await?;
    }
    loader.finish().await
}
