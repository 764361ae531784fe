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
//! Re-backdating a date re-creates a snapshot under the same name, and RDS refuses an
//! export identifier that was used before. The trigger then exports the new snapshot as
//! `<snapshot-id>-rN` (N from 2 to [`MAX_EXPORT_NUMBER`]): the N-th export of a snapshot
//! of that name, same import date, same landing partition.
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
//!
//! let again = ExportId::parse("sql-to-parquet-2024-02-29-backdated-r2")?;
//! assert_eq!(again.snapshot_id(), "sql-to-parquet-2024-02-29-backdated");
//! assert_eq!((again.export_number(), again.date().to_string()), (2, "2024-02-29".into()));
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

/// The highest export number, `-r9`. One digit keeps the ids of one snapshot name in
/// export order when sorted as text (backfill lands a date's exports in id order, so the
/// newest lands last); eight re-exports of one date are far more than a re-backdating needs.
pub const MAX_EXPORT_NUMBER: u32 = 9;

/// The longest export identifier this crate lets the trigger send. The StartExportTask API
/// reference documents no pattern or length for `ExportTaskIdentifier`
/// (<https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_StartExportTask.html>),
/// so [`check_export_task_identifier`] holds ids to the rules RDS documents for the
/// snapshot identifiers they are made from (CreateDBSnapshot's `DBSnapshotIdentifier`:
/// letters, digits and hyphens; first a letter; no two hyphens in a row; no hyphen at the
/// end: <https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBSnapshot.html>)
/// and to 60 characters, a conservative bound (the grammar's ids have at most 38).
pub const MAX_EXPORT_TASK_IDENTIFIER_LEN: usize = 60;

const EXPECTED: &str = "expected sql-to-parquet-YY-MM-DD-HHMMSS or sql-to-parquet-YYYY-MM-DD-backdated, \
     optionally followed by -r2 to -r9";

/// Why an id or date was refused; the message names the text refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportIdError {
    /// The id does not follow `sql-to-parquet-YY-MM-DD-HHMMSS` or
    /// `sql-to-parquet-YYYY-MM-DD-backdated` (each optionally with `-r2` … `-r9`), or names
    /// an impossible date.
    #[error("export id {id:?}: {reason}")]
    Malformed { id: String, reason: String },

    /// A date flag or setting is not `YYYY-MM-DD`.
    #[error("date {input:?}: not a YYYY-MM-DD date: {reason}")]
    Date { input: String, reason: String },

    /// The date cannot be written in the grammar: a daily id has a two-digit year (2000 to
    /// 2099), a backdated one a four-digit year.
    #[error("{date} cannot be written as an export id: {reason}")]
    OutOfRange { date: NaiveDate, reason: String },

    /// RDS would refuse this export task identifier, or the export number is outside
    /// 1 to [`MAX_EXPORT_NUMBER`].
    #[error("export task identifier {id:?}: {reason}")]
    Identifier { id: String, reason: String },
}

/// A parsed export id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExportId {
    id: String,
    date: NaiveDate,
    backdated: bool,
    /// 1 for the plain id, N for `-rN`.
    number: u32,
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
        let mut parts: Vec<&str> = rest.split('-').collect();
        let number = match parts.last().and_then(|p| p.strip_prefix('r')) {
            Some(n) if parts.len() == 5 => {
                parts.pop();
                export_number(n).ok_or_else(|| {
                    err(&format!(
                        "\"r{n}\" is not an export number: -r2 to -r{MAX_EXPORT_NUMBER}"
                    ))
                })?
            }
            _ => 1,
        };
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
            number,
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
            number: 1,
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
            number: 1,
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

    /// Whether this is a `-backdated` re-import (with or without `-rN`).
    pub fn is_backdated(&self) -> bool {
        self.backdated
    }

    /// Which export of a snapshot of this name this is: 1 for the plain id, N for `-rN`.
    pub fn export_number(&self) -> u32 {
        self.number
    }

    /// The name of the snapshot exported: the id without `-rN` (the restore manifest and
    /// the export's `sourceArn` carry this name).
    pub fn snapshot_id(&self) -> &str {
        match self.number {
            1 => &self.id,
            n => &self.id[..self.id.len() - format!("-r{n}").len()],
        }
    }

    /// The `number`-th export of the same snapshot name: same date, same landing
    /// partition. `1` gives the plain id; refused above [`MAX_EXPORT_NUMBER`].
    pub fn nth_export(&self, number: u32) -> Result<ExportId, ExportIdError> {
        let id = nth_export_id(self.snapshot_id(), number);
        if !(1..=MAX_EXPORT_NUMBER).contains(&number) {
            return Err(ExportIdError::Identifier {
                id,
                reason: format!("export numbers run from 1 to {MAX_EXPORT_NUMBER}"),
            });
        }
        Ok(ExportId {
            id,
            number,
            ..self.clone()
        })
    }
}

/// `2` to `9` without a leading zero (one spelling per number, so ids round-trip).
fn export_number(digits: &str) -> Option<u32> {
    let n: u32 = digits.parse().ok()?;
    (digits.len() == 1 && (2..=MAX_EXPORT_NUMBER).contains(&n)).then_some(n)
}

/// The export task identifier of the `number`-th export of `snapshot_id`, unchecked: the
/// snapshot id itself for 1, `<snapshot_id>-r<number>` otherwise. For any snapshot id of
/// the grammar it parses to the same import date ([`ExportId::nth_export`] is the checked
/// form); [`check_export_task_identifier`] says whether RDS would take it.
pub fn nth_export_id(snapshot_id: &str, number: u32) -> String {
    match number {
        1 => snapshot_id.to_string(),
        n => format!("{snapshot_id}-r{n}"),
    }
}

/// Whether RDS accepts `id` as an export task identifier: 1 to
/// [`MAX_EXPORT_TASK_IDENTIFIER_LEN`] ASCII letters, digits and hyphens, starting with a
/// letter, with no two hyphens in a row and no hyphen at the end (the rules cited on
/// [`MAX_EXPORT_TASK_IDENTIFIER_LEN`]). The error names the id and the rule broken.
pub fn check_export_task_identifier(id: &str) -> Result<(), ExportIdError> {
    let reason = if id.is_empty() || id.len() > MAX_EXPORT_TASK_IDENTIFIER_LEN {
        Some(format!(
            "{} characters; RDS takes 1 to {MAX_EXPORT_TASK_IDENTIFIER_LEN}",
            id.chars().count()
        ))
    } else if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        Some("only letters, digits and hyphens are allowed".to_string())
    } else if !id.as_bytes()[0].is_ascii_alphabetic() {
        Some("the first character must be a letter".to_string())
    } else if id.contains("--") {
        Some("two hyphens in a row are not allowed".to_string())
    } else if id.ends_with('-') {
        Some("it must not end with a hyphen".to_string())
    } else {
        None
    };
    match reason {
        Some(reason) => Err(ExportIdError::Identifier {
            id: id.to_string(),
            reason,
        }),
        None => Ok(()),
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
