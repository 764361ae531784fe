//! Reading and loading overlap: a producer task reads the dump (inflating zip entries as
//! they stream), splits it into statements and sends them over a bounded channel to the
//! [`Loader`], which executes them.
//!
//! The end of the dump is explicit. The producer sends `Item::End` after the last
//! statement of the last entry, and the consumer only finishes the load once it has seen
//! that item *and* joined the producer's task cleanly. A producer that panics, is
//! cancelled or stops early closes the channel without `End`: that is an error naming the
//! task (with the panic's message), never a short dump taken for a whole one.

use std::sync::Arc;

use futures::StreamExt;
use tokio::sync::mpsc;

use crate::config::MysqlConfig;
use crate::error::{RestoreError, Result};
use crate::load::{LoadConfig, LoadReport, Loader};
use crate::spawn::Spawned;
use crate::sql::{Splitter, Statement};
use crate::zip::{ByteChunks, EntryReader, RangeSource, ZipLimits, read_entries, sql_entries};

/// Statements buffered between the reader and the loader.
const CHANNEL_DEPTH: usize = 256;

/// What the producer sends.
enum Item {
    /// The next statement, with the entry it came from.
    Statement(Arc<str>, Statement),
    /// Reading failed; nothing follows.
    Failed(RestoreError),
    /// Every entry was read to its end; nothing follows.
    End,
}

/// The producer's task, for errors.
const PRODUCER: &str = "dump reader";

enum Chunks {
    Zip(Box<EntryReader>),
    Plain(ByteChunks),
}

impl Chunks {
    async fn next(&mut self, name: &str) -> Result<Option<Vec<u8>>> {
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

/// Splits `chunks` into statements and sends them on. `Ok(false)`: the consumer is gone.
async fn produce(entry: Arc<str>, mut chunks: Chunks, tx: &mpsc::Sender<Item>) -> Result<bool> {
    let mut splitter = Splitter::new();
    loop {
        let chunk = chunks.next(&entry).await?;
        match &chunk {
            Some(c) => splitter.push(c),
            None => splitter.finish(),
        }
        while let Some(stmt) = splitter.next_statement() {
            if tx.send(Item::Statement(entry.clone(), stmt)).await.is_err() {
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
    let names: Vec<String> = sql.iter().map(|e| e.name.clone()).collect();
    let (tx, rx) = mpsc::channel::<Item>(CHANNEL_DEPTH);
    let (src2, limits2) = (src.clone(), *limits);
    let producer = Spawned::spawn(PRODUCER, async move {
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
                    let _ = tx.send(Item::Failed(e)).await;
                    return;
                }
            }
        }
        let _ = tx.send(Item::End).await;
    });
    let mut report = consume(rx, producer, mysql, load).await?;
    report.entries = names;
    Ok(report)
}

/// Loads a plain `.sql` source (used by `--from-file` and the benchmark).
pub async fn load_plain<S: RangeSource + Clone + 'static>(
    src: &S,
    mysql: &MysqlConfig,
    load: &LoadConfig,
) -> Result<LoadReport> {
    let (tx, rx) = mpsc::channel::<Item>(CHANNEL_DEPTH);
    let src2 = src.clone();
    let name = src
        .name()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let entry: Arc<str> = Arc::from(name.as_str());
    let producer = Spawned::spawn(PRODUCER, async move {
        let step = async {
            let len = src2.size().await?;
            produce(entry, Chunks::Plain(src2.range(0, len).await?), &tx).await
        };
        match step.await {
            Ok(true) => {
                let _ = tx.send(Item::End).await;
            }
            Ok(false) => {}
            Err(e) => {
                let _ = tx.send(Item::Failed(e)).await;
            }
        }
    });
    let mut report = consume(rx, producer, mysql, load).await?;
    report.entries = vec![name];
    Ok(report)
}

/// Executes what the producer sends until [`Item::End`], then joins the producer and
/// finishes the load. On any error the producer is aborted and joined before returning.
async fn consume(
    mut rx: mpsc::Receiver<Item>,
    mut producer: Spawned<()>,
    mysql: &MysqlConfig,
    load: &LoadConfig,
) -> Result<LoadReport> {
    let result = drive(&mut rx, &mut producer, mysql, load).await;
    if result.is_err() {
        // Stop reading; the loader (and with it its workers) is already dropped.
        producer.abort();
        drop(rx);
        let _ = producer.join().await;
    }
    result
}

async fn drive(
    rx: &mut mpsc::Receiver<Item>,
    producer: &mut Spawned<()>,
    mysql: &MysqlConfig,
    load: &LoadConfig,
) -> Result<LoadReport> {
    let mut loader = Loader::connect(&mysql.opts(), load).await?;
    loader.reset_database(&mysql.db_name).await?;
    loop {
        match rx.recv().await {
            Some(Item::Statement(entry, stmt)) => loader.execute(&entry, stmt).await?,
            Some(Item::Failed(e)) => return Err(e),
            Some(Item::End) => break,
            // Closed without `End`: the producer panicked, was cancelled or gave up.
            None => {
                return Err(match producer.join().await {
                    Err(e) => e,
                    Ok(()) => RestoreError::Task {
                        task: PRODUCER.into(),
                        reason: "stopped before the end of the dump".into(),
                    },
                });
            }
        }
    }
    // The producer's last act was sending `End`; its task must also have ended cleanly.
    producer.join().await?;
    loader.finish().await
}
