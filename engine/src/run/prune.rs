//! Sync semantics for an import date: after an export landed completely and was checked,
//! files in its date's partitions that do not belong to it (an earlier export of the same
//! date, whose files have other names) are removed, so re-landing a date never duplicates
//! rows. Like `rclone sync`, deletions happen only after every new file is in place; a dry
//! run lists them; [`EngineConfig::keep_other_files`](super::EngineConfig) keeps them.
//!
//! Memory stays per table: each table's own target keys are derived again from a listing of
//! its source folder, then compared with a listing of its target partition. The two
//! listings of a table run together, and [`TABLES_AT_ONCE`] tables at a time: done one
//! after the other they were two round trips per table at the end of every run (46 round
//! trips, 9 s, for 23 tables 100 ms away).

use std::collections::{BTreeSet, HashSet};

use futures::{StreamExt, TryStreamExt};

use crate::error::{Error, Result};
use crate::layout::{Layout, Mapped};
use crate::store::{ObjectStore, Store};

/// Tables whose listings run at once (memory: this many tables' key sets).
const TABLES_AT_ONCE: usize = 4;

/// Files of other exports found in this export's date partitions.
#[derive(Debug, Default)]
pub(super) struct Stale {
    pub keys: Vec<String>,
}

/// The tables (`<db>/<db.table>`) the target holds for `dbs`, whatever their date.
async fn target_tables(
    store: &Store,
    dst_bucket: &str,
    layout: &Layout,
    dbs: &BTreeSet<String>,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for db in dbs {
        let page = store
            .list_delimited(dst_bucket, &format!("{}{db}/", layout.target_prefix()))
            .await?;
        for p in page.prefixes {
            if let Some(table) = p.trim_end_matches('/').rsplit('/').next() {
                out.push(format!("{db}/{table}"));
            }
        }
    }
    Ok(out)
}

/// One table's files in the date's partition that this export did not land.
async fn stale_of(
    store: &Store,
    src_bucket: &str,
    dst_bucket: &str,
    layout: &Layout,
    table: String,
) -> Result<Vec<String>> {
    // This export's target keys of the table (none when the export lacks the table).
    let source = format!("{}{table}/", layout.export_root());
    let ours = async {
        let mut ours = HashSet::new();
        let mut pages = store.list(src_bucket, &source);
        while let Some(page) = pages.try_next().await? {
            for obj in page {
                if let Ok(Mapped::Parquet(pk)) = layout.map(&obj.key) {
                    ours.insert(pk.target_key);
                }
            }
        }
        Ok::<_, Error>(ours)
    };
    let partition = layout.table_target_prefix(&table);
    let landed = async {
        let mut keys = Vec::new();
        let mut pages = store.list(dst_bucket, &partition);
        while let Some(page) = pages.try_next().await? {
            keys.extend(page.into_iter().map(|o| o.key));
        }
        Ok::<_, Error>(keys)
    };
    let (ours, landed) = futures::try_join!(ours, landed)?;
    Ok(landed.into_iter().filter(|k| !ours.contains(k)).collect())
}

/// Finds (and unless `dry_run`, deletes) the stale files of this export's date.
pub(super) async fn prune(
    store: &Store,
    src_bucket: &str,
    dst_bucket: &str,
    layout: &Layout,
    landed_tables: &BTreeSet<String>,
    dry_run: bool,
) -> Result<Stale> {
    let dbs: BTreeSet<String> = landed_tables
        .iter()
        .filter_map(|t| t.split('/').next().map(str::to_string))
        .collect();
    let mut tables: BTreeSet<String> = landed_tables.clone();
    tables.extend(target_tables(store, dst_bucket, layout, &dbs).await?);
    let mut stale = Stale::default();
    let mut per_table = futures::stream::iter(tables)
        .map(|table| stale_of(store, src_bucket, dst_bucket, layout, table))
        .buffered(TABLES_AT_ONCE);
    while let Some(keys) = per_table.try_next().await? {
        stale.keys.extend(keys);
    }
    if !dry_run {
        for key in &stale.keys {
            tracing::info!(key, "removing a file of another export of this import date");
            store.delete(dst_bucket, key).await?;
        }
    }
    Ok(stale)
}
