//! The export-id grammar, in one place for the three stages that meet it.
//!
//! The restore task names its RDS snapshot (and so the export and its folder) either
//! `sql-to-parquet-YY-MM-DD-HHMMSS` (a normal daily run, UTC) or
//! `sql-to-parquet-YYYY-MM-DD-backdated` (a re-import for a past date); the export trigger
//! only exports snapshots whose name starts with [`PREFIX`]; the engine derives the landing
//! partition's date from the id. An id that does not parse must stop a run instead of landing
//! data under a wrong date, so formatting and parsing live side by side and are tested to
//! round-trip.
//!
//! ```
//! use chrono::NaiveDate;
//! use liberator_export_id::ExportId;
//!
//! let at = NaiveDate::from_ymd_opt(2024, 6, 4).unwrap().and_hms_opt(10, 15, 0).unwrap();
//! let id = ExportId::daily(at)?;
//! assert_eq!(id.as_str(), "sql-to-parquet-24-06-04-101500");
//! assert_eq!(ExportId::parse(id.as_str())?.date(), at.date());
//! assert!(ExportId::parse("sql-to-parquet-2023-02-29-backdated").is_err());
//! # Ok::<(), liberator_export_id::ExportIdError>(())
//! ```

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime};

#[cfg(test)]
mod tests;

/// What every export id, and so every snapshot the pipeline exports, starts with (the
/// trigger's default `SNAPSHOT_PREFIX`).
pub const PREFIX: &str = "sql-to-parquet";

/// [`PREFIX`] with its separator: the part of an id before the date.
pub const EXPORT_ID_PREFIX: &str = "sql-to-parquet-";

const EXPECTED: &str =
    "expected sql-to-parquet-YY-MM-DD-HHMMSS or sql-to-parquet-YYYY-MM-DD-backdated";

/// Why an id or date was refused; the message names the text refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportIdError {
    /// The id does not follow `sql-to-parquet-YY-MM-DD-HHMMSS` or
    /// `sql-to-parquet-YYYY-MM-DD-backdated`, or names an impossible date.
    #[error("export id {id:?}: {reason}")]
    Malformed { id: String, reason: String },

    /// A date flag or setting is not `YYYY-MM-DD`.
    #[error("date {input:?}: not a YYYY-MM-DD date: {reason}")]
    Date { input: String, reason: String },

    /// The date cannot be written in the grammar: a daily id has a two-digit year (2000 to
    /// 2099), a backdated one a four-digit year.
    #[error("{date} cannot be written as an export id: {reason}")]
    OutOfRange { date: NaiveDate, reason: String },
}

/// A parsed export id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExportId {
    id: String,
    date: NaiveDate,
    backdated: bool,
}

impl ExportId {
    /// Parses an export id; the error names the id and says what is wrong with it.
    pub fn parse(id: &str) -> Result<Self, ExportIdError> {
        let err = |reason: &str| ExportIdError::Malformed {
            id: id.to_string(),
            reason: reason.to_string(),
        };
        let rest = id
            .strip_prefix(EXPORT_ID_PREFIX)
            .ok_or_else(|| err(EXPECTED))?;
        let parts: Vec<&str> = rest.split('-').collect();
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        // The digit checks above make every `parse` below infallible.
        let num = |s: &str| s.parse::<u32>().unwrap_or_default();
        let (year, month, day, backdated) = match parts.as_slice() {
            [y, m, d, "backdated"] if digits(y, 4) && digits(m, 2) && digits(d, 2) => {
                (num(y) as i32, num(m), num(d), true)
            }
            [y, m, d, t] if digits(y, 2) && digits(m, 2) && digits(d, 2) && digits(t, 6) => {
                if NaiveTime::parse_from_str(t, "%H%M%S").is_err() {
                    return Err(err(&format!("{t:?} is not a valid HHMMSS time")));
                }
                (2000 + num(y) as i32, num(m), num(d), false)
            }
            _ => return Err(err(EXPECTED)),
        };
        let date = NaiveDate::from_ymd_opt(year, month, day).ok_or_else(|| {
            err(&format!(
                "{year:04}-{month:02}-{day:02} is not a valid calendar date"
            ))
        })?;
        Ok(ExportId {
            id: id.to_string(),
            date,
            backdated,
        })
    }

    /// The id of a normal daily run at `at` (UTC): `sql-to-parquet-YY-MM-DD-HHMMSS`.
    /// Refused outside 2000–2099, which the two-digit year cannot tell apart.
    pub fn daily(at: NaiveDateTime) -> Result<Self, ExportIdError> {
        if !(2000..=2099).contains(&at.year()) {
            return Err(ExportIdError::OutOfRange {
                date: at.date(),
                reason: "a daily id's two-digit year covers 2000 to 2099".into(),
            });
        }
        Ok(ExportId {
            id: daily_id(at),
            date: at.date(),
            backdated: false,
        })
    }

    /// The id of a re-import for a past `date`: `sql-to-parquet-YYYY-MM-DD-backdated`.
    /// Refused for years that do not have four digits.
    pub fn backdated(date: NaiveDate) -> Result<Self, ExportIdError> {
        if !(0..=9999).contains(&date.year()) {
            return Err(ExportIdError::OutOfRange {
                date,
                reason: "a backdated id's year has four digits".into(),
            });
        }
        Ok(ExportId {
            id: backdated_id(date),
            date,
            backdated: true,
        })
    }

    /// The id as given.
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// The import date the id encodes.
    pub fn date(&self) -> NaiveDate {
        self.date
    }

    /// Whether this is a `-backdated` re-import.
    pub fn is_backdated(&self) -> bool {
        self.backdated
    }
}

/// `sql-to-parquet-YY-MM-DD-HHMMSS` for `at`, unchecked: the restore task's snapshot name
/// for a daily run. [`ExportId::daily`] is the checked form.
pub fn daily_id(at: NaiveDateTime) -> String {
    format!("{EXPORT_ID_PREFIX}{}", at.format("%y-%m-%d-%H%M%S"))
}

/// `sql-to-parquet-YYYY-MM-DD-backdated` for `date`, unchecked: the restore task's snapshot
/// name when the import date was overridden. [`ExportId::backdated`] is the checked form.
pub fn backdated_id(date: NaiveDate) -> String {
    format!("{EXPORT_ID_PREFIX}{}-backdated", date.format("%Y-%m-%d"))
}

/// Parses a `YYYY-MM-DD` date (import-date overrides, `--since`/`--until` flags).
pub fn parse_date(s: &str) -> Result<NaiveDate, ExportIdError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| ExportIdError::Date {
        input: s.to_string(),
        reason: e.to_string(),
    })
}

impl FromStr for ExportId {
    type Err = ExportIdError;
    fn from_str(s: &str) -> Result<Self, ExportIdError> {
        ExportId::parse(s)
    }
}

impl fmt::Display for ExportId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}
