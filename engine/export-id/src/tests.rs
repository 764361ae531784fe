use chrono::{Datelike, NaiveDate, NaiveDateTime};

use super::*;

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
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

#[test]
fn formats_what_restore_names_its_snapshots() {
    let now = at("2024-06-04 10:15:00");
    assert_eq!(daily_id(now), "sql-to-parquet-24-06-04-101500");
    assert_eq!(
        ExportId::daily(now).unwrap().as_str(),
        "sql-to-parquet-24-06-04-101500"
    );
    assert_eq!(
        backdated_id(date("2024-02-29")),
        "sql-to-parquet-2024-02-29-backdated"
    );
    let id = ExportId::backdated(date("2024-02-29")).unwrap();
    assert_eq!(
        id,
        ExportId::parse("sql-to-parquet-2024-02-29-backdated").unwrap()
    );
    assert!(PREFIX.len() + 1 == EXPORT_ID_PREFIX.len() && EXPORT_ID_PREFIX.starts_with(PREFIX));
}

#[test]
fn years_the_grammar_cannot_write_are_refused() {
    let err = ExportId::daily(at("2100-01-01 00:00:00")).unwrap_err();
    assert!(err.to_string().contains("2000 to 2099"), "{err}");
    assert!(ExportId::daily(at("1999-12-31 23:59:59")).is_err());
    let far = NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap();
    assert!(ExportId::backdated(far).is_err());
}

#[test]
fn dates_parse_and_errors_name_the_input() {
    assert_eq!(parse_date("2024-02-29").unwrap(), date("2024-02-29"));
    let err = parse_date("2024-02-30").unwrap_err().to_string();
    assert!(
        err.contains("\"2024-02-30\"") && err.contains("YYYY-MM-DD"),
        "{err}"
    );
}

#[test]
fn re_exports_keep_the_date_and_the_snapshot_name() {
    for (id, snapshot, date_s, backdated, n) in [
        (
            "sql-to-parquet-2024-02-29-backdated-r2",
            "sql-to-parquet-2024-02-29-backdated",
            "2024-02-29",
            true,
            2,
        ),
        (
            "sql-to-parquet-24-06-04-101500-r9",
            "sql-to-parquet-24-06-04-101500",
            "2024-06-04",
            false,
            9,
        ),
        (
            "sql-to-parquet-24-06-04-101500",
            "sql-to-parquet-24-06-04-101500",
            "2024-06-04",
            false,
            1,
        ),
    ] {
        let parsed = ExportId::parse(id).unwrap();
        assert_eq!(parsed.date(), date(date_s), "{id}");
        assert_eq!(parsed.is_backdated(), backdated, "{id}");
        assert_eq!(parsed.export_number(), n, "{id}");
        assert_eq!(parsed.snapshot_id(), snapshot, "{id}");
        assert_eq!(parsed.as_str(), id);
    }
}

#[test]
fn malformed_export_numbers_are_refused_naming_the_id() {
    for bad in [
        "sql-to-parquet-2024-02-29-backdated-r1",
        "sql-to-parquet-2024-02-29-backdated-r0",
        "sql-to-parquet-2024-02-29-backdated-r10",
        "sql-to-parquet-2024-02-29-backdated-r02",
        "sql-to-parquet-2024-02-29-backdated-r",
        "sql-to-parquet-2024-02-29-backdated-rx",
        "sql-to-parquet-2024-02-29-backdated-r+2",
        "sql-to-parquet-2024-02-29-backdated-R2",
        "sql-to-parquet-2024-02-29-backdated-2",
        "sql-to-parquet-2024-02-29-backdated-r2-r3",
        "sql-to-parquet-2024-02-29-r2-backdated",
        "sql-to-parquet-2024-02-29-r2",
        "sql-to-parquet-24-06-04-r2",
        "sql-to-parquet-2023-02-29-backdated-r2",
        "sql-to-parquet-24-06-04-101500-r2-",
    ] {
        let err = ExportId::parse(bad).expect_err(bad).to_string();
        assert!(err.contains(&format!("{bad:?}")), "{err} should name {bad}");
    }
    let err = ExportId::parse("sql-to-parquet-2024-02-29-backdated-r10").unwrap_err();
    assert!(err.to_string().contains("-r2 to -r9"), "{err}");
}

#[test]
fn nth_export_is_the_checked_form() {
    let first = ExportId::backdated(date("2024-02-29")).unwrap();
    let third = first.nth_export(3).unwrap();
    assert_eq!(third.as_str(), "sql-to-parquet-2024-02-29-backdated-r3");
    assert_eq!(third, ExportId::parse(third.as_str()).unwrap());
    assert_eq!(third.nth_export(1).unwrap(), first);
    assert_eq!(
        nth_export_id("sql-to-parquet-24-06-04-101500", 1),
        "sql-to-parquet-24-06-04-101500"
    );
    for n in [0, MAX_EXPORT_NUMBER + 1] {
        let err = first.nth_export(n).unwrap_err();
        assert!(matches!(err, ExportIdError::Identifier { .. }), "{err}");
        assert!(err.to_string().contains("1 to 9"), "{err}");
    }
}

#[test]
fn rds_identifier_rules_are_applied_and_named() {
    for good in [
        "sql-to-parquet-2024-02-29-backdated-r9",
        "sql-to-parquet-24-06-04-101500-r2",
        "a",
        &"a".repeat(MAX_EXPORT_TASK_IDENTIFIER_LEN),
    ] {
        check_export_task_identifier(good).unwrap();
    }
    for (bad, rule) in [
        ("", "1 to 60"),
        (&*"a".repeat(MAX_EXPORT_TASK_IDENTIFIER_LEN + 1), "1 to 60"),
        ("sql_to_parquet", "letters, digits and hyphens"),
        ("1-export", "first character"),
        ("sql--to", "two hyphens"),
        ("sql-to-", "end with a hyphen"),
    ] {
        let err = check_export_task_identifier(bad).unwrap_err().to_string();
        assert!(
            err.contains(rule) && err.contains(&format!("{bad:?}")),
            "{err}"
        );
    }
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
    fn formatted_ids_round_trip(days in 0i64..36_524, secs in 0u32..86_400, back_days in -730_000i64..2_900_000) {
        let date = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap() + chrono::Duration::days(days);
        let at = date.and_hms_opt(secs / 3600, secs / 60 % 60, secs % 60).unwrap();
        let daily = ExportId::daily(at).unwrap();
        proptest::prop_assert_eq!(&ExportId::parse(daily.as_str()).unwrap(), &daily);
        let past = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap() + chrono::Duration::days(back_days);
        let backdated = ExportId::backdated(past).unwrap();
        proptest::prop_assert_eq!(&ExportId::parse(backdated.as_str()).unwrap(), &backdated);
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

    #[test]
    fn every_re_export_maps_to_the_same_date_within_rds_rules(days in 0i64..36_524, secs in 0u32..86_400, n in 1u32..=MAX_EXPORT_NUMBER) {
        let date = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap() + chrono::Duration::days(days);
        let at = date.and_hms_opt(secs / 3600, secs / 60 % 60, secs % 60).unwrap();
        for first in [ExportId::daily(at).unwrap(), ExportId::backdated(date).unwrap()] {
            let id = nth_export_id(first.as_str(), n);
            let parsed = ExportId::parse(&id).unwrap();
            proptest::prop_assert_eq!(parsed.date(), date);
            proptest::prop_assert_eq!(parsed.is_backdated(), first.is_backdated());
            proptest::prop_assert_eq!(parsed.export_number(), n);
            proptest::prop_assert_eq!(parsed.snapshot_id(), first.as_str());
            proptest::prop_assert_eq!(&first.nth_export(n).unwrap(), &parsed);
            proptest::prop_assert!(check_export_task_identifier(&id).is_ok(), "{}", id);
        }
    }

    #[test]
    fn a_snapshot_names_exports_sort_as_text_in_export_order(days in 0i64..36_524, secs in 0u32..86_400) {
        let date = NaiveDate::from_ymd_opt(2000, 1, 1).unwrap() + chrono::Duration::days(days);
        let at = date.and_hms_opt(secs / 3600, secs / 60 % 60, secs % 60).unwrap();
        for first in [daily_id(at), backdated_id(date)] {
            let ids: Vec<String> = (1..=MAX_EXPORT_NUMBER).map(|n| nth_export_id(&first, n)).collect();
            let mut sorted = ids.clone();
            sorted.sort();
            proptest::prop_assert_eq!(sorted, ids);
        }
    }
}
