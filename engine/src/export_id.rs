//! Export ids and the import date they carry.
//!
//! The restore task names its snapshot (and so the RDS export) either
//! `sql-to-parquet-YY-MM-DD-HHMMSS` (a normal daily run, UTC) or
//! `sql-to-parquet-YYYY-MM-DD-backdated` (a re-import for a past date). The landing-zone
//! partition is derived from that date, so an id that does not parse must stop the run
//! instead of landing data under a wrong date.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate, NaiveTime};

use crate::error::{Error, Result};

/// Prefix shared by every export id the pipeline produces.
pub const EXPORT_ID_PREFIX: &str = "sql-to-parquet-";

/// A parsed export id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExportId {
    id: String,
    date: NaiveDate,
    backdated: bool,
}

impl ExportId {
    /// Parses an export id; the error names the id and says what is wrong with it.
    pub fn parse(id: &str) -> Result<Self> {
        let err = |reason: &str| Error::ExportId {
            id: id.to_string(),
            reason: reason.to_string(),
        };
        let rest = id.strip_prefix(EXPORT_ID_PREFIX).ok_or_else(|| {
            err("expected sql-to-parquet-YY-MM-DD-HHMMSS or sql-to-parquet-YYYY-MM-DD-backdated")
        })?;
        let parts: Vec<&str> = rest.split('-').collect();
        let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        let (year, month, day, backdated) = match parts.as_slice() {
            [y, m, d, "backdated"] if digits(y, 4) && digits(m, 2) && digits(d, 2) => {
                (y.parse::<i32>().unwrap(), *m, *d, true)
            }
            [y, m, d, t] if digits(y, 2) && digits(m, 2) && digits(d, 2) && digits(t, 6) => {
                let time = NaiveTime::parse_from_str(t, "%H%M%S");
                if time.is_err() {
                    return Err(err(&format!("{t:?} is not a valid HHMMSS time")));
                }
                (2000 + y.parse::<i32>().unwrap(), *m, *d, false)
            }
            _ => {
                return Err(err(
                    "expected sql-to-parquet-YY-MM-DD-HHMMSS or sql-to-parquet-YYYY-MM-DD-backdated",
                ));
            }
        };
        let (month, day) = (month.parse::<u32>().unwrap(), day.parse::<u32>().unwrap());
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

impl FromStr for ExportId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ExportId::parse(s)
    }
}

impl fmt::Display for ExportId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

/// Parses a `YYYY-MM-DD` date (the `--import-date`, `--since` and `--until` flags).
pub fn parse_date(s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| Error::ExportId {
        id: s.to_string(),
        reason: format!("not a YYYY-MM-DD date: {e}"),
    })
}

/// The Hive-style partition path of an import date:
/// `import_year=YYYY/import_month=MM/import_day=DD/import_date=YYYYMMDD`.
pub fn partition_path(date: NaiveDate) -> String {
    let (y, m, d) = (date.year(), date.month(), date.day());
    format!(
        "import_year={y:04}/import_month={m:02}/import_day={d:02}/import_date={y:04}{m:02}{d:02}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn accepts_daily_and_backdated_ids() {
        let id = ExportId::parse("sql-to-parquet-23-12-25-143000").unwrap();
        assert_eq!(id.date(), date("2023-12-25"));
        assert!(!id.is_backdated());
        let id = ExportId::parse("sql-to-parquet-2024-02-29-backdated").unwrap();
        assert_eq!(id.date(), date("2024-02-29"));
        assert!(id.is_backdated());
        let id = ExportId::parse("sql-to-parquet-24-06-04-101500").unwrap();
        assert_eq!(id.date(), date("2024-06-04"));
    }

    #[test]
    fn rejects_malformed_ids_naming_them() {
        for bad in [
            "sql-to-parquet-2023-12-25",
            "sql-to-parquet-23-12-25",
            "sql-to-parquet-23-12-25-14300",
            "sql-to-parquet-23-12-25-1430000",
            "sql-to-parquet-123-12-25-143000",
            "sql-to-parquet-23-12-25-143000-backdated",
            "invalid-format-23-12-25-143000",
            "sql-to-parquet-2023-02-29-backdated",
            "sql-to-parquet-23-13-01-143000",
            "sql-to-parquet-23-12-25-253000",
            "sql-to-parquet-2x-12-25-143000",
            "",
        ] {
            let err = ExportId::parse(bad).expect_err(bad).to_string();
            assert!(err.contains(&format!("{bad:?}")), "{err} should name {bad}");
        }
    }

    #[test]
    fn impossible_date_says_so() {
        let err = ExportId::parse("sql-to-parquet-2023-02-29-backdated").unwrap_err();
        assert!(
            err.to_string()
                .contains("2023-02-29 is not a valid calendar date"),
            "{err}"
        );
    }

    proptest::proptest! {
        #[test]
        fn every_real_daily_id_parses_to_its_date(days in 0i64..36_524, h in 0u32..24, m in 0u32..60, s in 0u32..60) {
            let date = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap() + chrono::Duration::days(days);
            let id = format!("sql-to-parquet-{}-{h:02}{m:02}{s:02}", date.format("%y-%m-%d"));
            let parsed = ExportId::parse(&id).unwrap();
            proptest::prop_assert_eq!(parsed.date(), date);
            proptest::prop_assert!(!parsed.is_backdated());
            let backdated = format!("sql-to-parquet-{}-backdated", date.format("%Y-%m-%d"));
            proptest::prop_assert_eq!(ExportId::parse(&backdated).unwrap().date(), date);
        }

        #[test]
        fn arbitrary_strings_never_panic_and_errors_name_the_id(id in ".{0,60}") {
            match ExportId::parse(&id) {
                Ok(parsed) => {
                    proptest::prop_assert!(id.starts_with(EXPORT_ID_PREFIX));
                    let y = parsed.date().year();
                    let yy = format!("{:02}", y % 100);
                    proptest::prop_assert!(id.contains(&yy), "{} lacks {}", id, yy);
                }
                Err(e) => {
                    let quoted = format!("{id:?}");
                    proptest::prop_assert!(e.to_string().contains(&quoted), "{} lacks {}", e, quoted);
                }
            }
        }

        #[test]
        fn near_misses_are_rejected(prefix in "(sql-to-parquet-|sql_to_parquet-|sql-to-parquet)", digits in "[0-9]{1,3}-[0-9]{1,3}-[0-9]{1,3}-[0-9]{5,7}") {
            let id = format!("{prefix}{digits}");
            let shape_ok = prefix == "sql-to-parquet-"
                && digits.split('-').map(str::len).collect::<Vec<_>>() == [2, 2, 2, 6];
            if !shape_ok {
                proptest::prop_assert!(ExportId::parse(&id).is_err(), "{} accepted", id);
            }
        }
    }

    #[test]
    fn partition_is_zero_padded() {
        assert_eq!(
            partition_path(date("2024-06-04")),
            "import_year=2024/import_month=06/import_day=04/import_date=20240604"
        );
    }
}
