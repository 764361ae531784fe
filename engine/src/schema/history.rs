//! Where landed reports are kept, so the next import date finds the schema it is compared
//! with: `<reports-prefix><target-prefix><YYYY-MM-DD>.json` in the landing bucket, by
//! default `_liberator/reports/parking/2024-06-04.json` for the target `s3://landing/parking`.
//!
//! Written by the engine after a clean landing (nothing failed, verification on, not a dry
//! run), so `engine copy`, `engine backfill` and the copier Lambda all write and read the
//! same objects; one per import date, replaced when the date is landed again (the landing
//! itself replaces the date's files). `_liberator/` sits outside every table folder, beside
//! the copier's Glue markers, so no crawler reads it. The previous landing of a date D is
//! the kept report with the greatest date before D, found with one delimited listing of
//! the target's folder: a backfill of an old date compares with the date before it, not
//! with the latest.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::NaiveDate;
use serde::Deserialize;

use super::Column;
use crate::error::{Error, Result};
use crate::layout::normalize_prefix;
use crate::report::Report;
use crate::store::{ObjectStore, Store};

/// Default folder of the kept reports in the landing bucket.
pub const DEFAULT_REPORTS_PREFIX: &str = "_liberator/reports/";

/// The folder of one target's kept reports: `<reports-prefix><target-prefix>`.
pub fn folder(reports_prefix: &str, target_prefix: &str) -> String {
    format!(
        "{}{}",
        normalize_prefix(reports_prefix),
        normalize_prefix(target_prefix)
    )
}

/// The key of the report kept for `date` in `folder`.
pub fn key(folder: &str, date: NaiveDate) -> String {
    format!("{folder}{}.json", date.format("%Y-%m-%d"))
}

/// The date of a kept report's key directly in `folder`; `None` for anything else (another
/// target's subfolder, a stray object).
fn date_of(folder: &str, key: &str) -> Option<NaiveDate> {
    let name = key.strip_prefix(folder)?.strip_suffix(".json")?;
    if name.contains('/') {
        return None;
    }
    NaiveDate::parse_from_str(name, "%Y-%m-%d").ok()
}

/// The key of the latest report kept in `folder` for a date before `date`.
pub async fn previous_key(
    store: &Store,
    bucket: &str,
    folder: &str,
    date: NaiveDate,
) -> Result<Option<(NaiveDate, String)>> {
    let listed = store.list_delimited(bucket, folder).await?;
    Ok(listed
        .objects
        .into_iter()
        .filter_map(|o| date_of(folder, &o.key).map(|d| (d, o.key)))
        .filter(|(d, _)| *d < date)
        .max())
}

/// What drift needs of a kept report: unknown fields are ignored, so any later report
/// format still reads.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Kept {
    #[serde(default)]
    pub export_id: String,
    #[serde(default)]
    pub import_date: String,
    #[serde(default)]
    pub tables: BTreeMap<String, KeptTable>,
}

/// One table of a kept report.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct KeptTable {
    #[serde(default)]
    pub columns: Vec<Column>,
}

impl Kept {
    /// Each table's columns (tables kept without a schema are left out).
    pub fn schemas(&self) -> BTreeMap<String, Vec<Column>> {
        self.tables
            .iter()
            .filter(|(_, t)| !t.columns.is_empty())
            .map(|(name, t)| (name.clone(), t.columns.clone()))
            .collect()
    }
}

/// Reads the report kept at `key`; an error names the key when it is missing or is not a
/// report.
pub async fn read(store: &Store, bucket: &str, key: &str) -> Result<Kept> {
    let bad = |reason: String| Error::KeptReport {
        bucket: bucket.to_string(),
        key: key.to_string(),
        reason,
    };
    let out = store
        .get(bucket, key)
        .await?
        .ok_or_else(|| bad("listed but gone when read".into()))?;
    serde_json::from_slice(&out.body).map_err(|e| bad(format!("not a report: {e}")))
}

/// Keeps `report` at `key` (replacing the date's earlier one).
pub async fn write(store: &Store, bucket: &str, key: &str, report: &Report) -> Result<()> {
    let body = serde_json::to_vec_pretty(report).map_err(|e| Error::KeptReport {
        bucket: bucket.to_string(),
        key: key.to_string(),
        reason: format!("cannot serialise the report: {e}"),
    })?;
    store.write(bucket, key, Bytes::from(body)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_per_target_and_date() {
        let d = NaiveDate::from_ymd_opt(2024, 6, 4).unwrap();
        let f = folder(DEFAULT_REPORTS_PREFIX, "parking/");
        assert_eq!(f, "_liberator/reports/parking/");
        assert_eq!(key(&f, d), "_liberator/reports/parking/2024-06-04.json");
        assert_eq!(folder("/_x/", ""), "_x/");
        assert_eq!(
            date_of(&f, "_liberator/reports/parking/2024-06-04.json"),
            Some(d)
        );
        // Another target's folder under an empty target prefix is not ours.
        assert_eq!(
            date_of(
                "_liberator/reports/",
                "_liberator/reports/parking/2024-06-04.json"
            ),
            None
        );
        assert_eq!(date_of(&f, "_liberator/reports/parking/notes.json"), None);
    }
}
