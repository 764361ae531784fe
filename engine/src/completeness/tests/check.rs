//! The verdicts of [`check`](super::super::check).

use std::collections::BTreeMap;

use super::super::metadata::parse_tables_info;
use super::super::{
    Basis, ExpectedFrom, ExportOutcome, ExportTables, Verdict, check, exported_name,
};
use super::{TABLES_INFO, export_of, landed, manifest};

fn complete() -> ExportOutcome {
    ExportOutcome {
        status: Some("COMPLETE".into()),
        ..ExportOutcome::default()
    }
}

fn verdict_of(c: &super::super::Completeness, table: &str) -> Verdict {
    c.tables
        .iter()
        .find(|t| t.table == table)
        .unwrap_or_else(|| panic!("{table} not in {c}"))
        .verdict
}

#[test]
fn every_table_complete_and_every_row_landed_passes() {
    let m = manifest(&[("liberator", "pcn", 12000), ("liberator", "empty_table", 0)]);
    let export = export_of(&[
        ("liberator.pcn", "COMPLETE"),
        ("liberator.empty_table", "COMPLETE"),
    ]);
    // The empty table: COMPLETE, no files, not in the landed map at all.
    let c = check(
        Some(&m),
        &export,
        &complete(),
        &landed(&[("liberator.pcn", 3, 12000)]),
    );
    assert!(c.passed(), "{c}");
    assert_eq!(c.basis, Basis::Manifest);
    let pcn = &c
        .tables
        .iter()
        .find(|t| t.table == "liberator.pcn")
        .unwrap();
    assert_eq!(pcn.expected_rows, Some(12000));
    assert_eq!(pcn.expected_from, ExpectedFrom::Manifest);
    assert_eq!((pcn.landed_rows, pcn.landed_files), (12000, 3));
    assert_eq!(verdict_of(&c, "liberator.empty_table"), Verdict::Ok);
}

#[test]
fn a_failed_table_fails_naming_it_with_both_counts() {
    let file = parse_tables_info("k", TABLES_INFO.as_bytes()).unwrap();
    let export =
        ExportTables::from_files([("e/export_tables_info_e_from_1_to_4.json".into(), file)])
            .unwrap();
    let m = manifest(&[
        ("liberator", "pcn", 12000),
        ("liberator", "empty_table", 0),
        ("liberator", "permits", 55),
    ]);
    let c = check(
        Some(&m),
        &export,
        &complete(),
        &landed(&[("liberator.pcn", 4, 12000)]),
    );
    assert!(!c.passed());
    assert_eq!(verdict_of(&c, "liberator.permits"), Verdict::NotComplete);
    assert_eq!(verdict_of(&c, "liberator.pcn"), Verdict::Ok);
    let text = c.to_string();
    assert!(
        text.contains("FAILED liberator.permits: not complete in the export; expected 55 rows (manifest), landed 0 rows"),
        "{text}"
    );
    assert!(text.contains("export status FAILED"), "{text}");
    assert!(
        text.contains("note: export warning for database liberator"),
        "{text}"
    );
    assert_eq!(c.failing().count(), 1);
}

#[test]
fn a_skipped_table_fails_even_without_a_manifest() {
    let export = export_of(&[("d.a", "COMPLETE"), ("d.b", "SKIPPED")]);
    let c = check(None, &export, &complete(), &landed(&[("d.a", 1, 10)]));
    assert!(!c.passed(), "{c}");
    assert_eq!(verdict_of(&c, "d.a"), Verdict::StatusOnly);
    assert_eq!(verdict_of(&c, "d.b"), Verdict::NotComplete);
    let text = c.to_string();
    assert!(
        text.contains("FAILED d.b: not complete in the export; no expected row count, landed 0 rows in 0 file(s), export status SKIPPED"),
        "{text}"
    );
}

#[test]
fn a_table_named_skipped_in_the_warning_message_fails() {
    let export = export_of(&[("d.a", "COMPLETE")]);
    let outcome = complete().with_task(
        None,
        Some(r#"{"skippedTables":["d.a/b"],"skippedObjectives":[],"general":[]}"#),
        None,
    );
    let m = manifest(&[("d", "a", 1), ("d", "a/b", 2)]);
    let c = check(Some(&m), &export, &outcome, &landed(&[("d.a", 1, 1)]));
    assert_eq!(verdict_of(&c, "d.a/b"), Verdict::SkippedByExport);
    assert!(!c.passed());
}

#[test]
fn a_table_missing_from_the_export_fails() {
    let m = manifest(&[("d", "a", 5), ("d", "b", 7)]);
    let export = export_of(&[("d.a", "COMPLETE")]);
    let c = check(Some(&m), &export, &complete(), &landed(&[("d.a", 1, 5)]));
    assert_eq!(verdict_of(&c, "d.b"), Verdict::MissingFromExport);
    let text = c.to_string();
    assert!(
        text.contains(
            "FAILED d.b: missing from the export; expected 7 rows (manifest), landed 0 rows"
        ),
        "{text}"
    );
}

#[test]
fn a_row_mismatch_fails_with_both_counts() {
    let m = manifest(&[("sakila", "rental", 16044)]);
    let export = export_of(&[("sakila.rental", "COMPLETE")]);
    // The engine's report keys tables `<db>/<db>.<table>`: accepted as is.
    let c = check(
        Some(&m),
        &export,
        &complete(),
        &landed(&[("sakila/sakila.rental", 1, 16000)]),
    );
    assert_eq!(verdict_of(&c, "sakila.rental"), Verdict::RowMismatch);
    let text = c.to_string();
    assert!(
        text.contains("FAILED sakila.rental: row mismatch; expected 16044 rows (manifest), landed 16000 rows in 1 file(s)"),
        "{text}"
    );
}

#[test]
fn without_a_manifest_only_the_status_is_checked_and_the_report_says_so() {
    let export = export_of(&[("d.a", "COMPLETE"), ("d.b", "COMPLETE")]);
    let c = check(None, &export, &complete(), &landed(&[("d.a", 2, 10)]));
    assert!(c.passed(), "{c}");
    assert_eq!(c.basis, Basis::ExportTablesInfo);
    assert!(c.tables.iter().all(|t| t.verdict == Verdict::StatusOnly));
    assert!(c.tables.iter().all(|t| t.expected_rows.is_none()));
    assert!(
        c.tables
            .iter()
            .all(|t| t.expected_from == ExpectedFrom::ExportTablesInfo)
    );
    let text = c.to_string();
    assert!(text.contains("no restore manifest"), "{text}");
}

#[test]
fn names_compare_through_the_exports_substitution() {
    assert_eq!(exported_name("my table`\\\"x"), "my_table___x");
    assert_eq!(exported_name("my_table"), "my_table", "idempotent");
    let m = manifest(&[("my db", "order items", 3), ("my db", "plain", 1)]);
    // The export may write the target either way; the landed key has the substituted path.
    let export = export_of(&[
        ("my_db.order_items", "COMPLETE"),
        ("my db.plain", "COMPLETE"),
    ]);
    let c = check(
        Some(&m),
        &export,
        &complete(),
        &landed(&[("my_db.order_items", 1, 3), ("my_db.plain", 1, 1)]),
    );
    assert!(c.passed(), "{c}");
    let t = c
        .tables
        .iter()
        .find(|t| t.table == "my db.order items")
        .unwrap();
    assert_eq!(t.exported_as.as_deref(), Some("my_db.order_items"));
    assert_eq!(t.landed_rows, 3);
}

#[test]
fn two_names_that_substitute_alike_fail_as_a_collision() {
    let m = manifest(&[("d", "a b", 1), ("d", "a_b", 2)]);
    let export = export_of(&[("d.a_b", "COMPLETE")]);
    let c = check(Some(&m), &export, &complete(), &landed(&[("d.a_b", 2, 3)]));
    assert_eq!(c.tables.len(), 1);
    assert_eq!(c.tables[0].verdict, Verdict::NameCollision);
    assert!(!c.passed());
}

#[test]
fn unexpected_tables_in_a_manifest_database_fail_others_are_status_only() {
    let m = manifest(&[("liberator", "pcn", 1)]);
    let export = export_of(&[
        ("liberator.pcn", "COMPLETE"),
        ("liberator.extra", "COMPLETE"),
        ("other.t", "COMPLETE"),
    ]);
    let c = check(
        Some(&m),
        &export,
        &complete(),
        &landed(&[("liberator.pcn", 1, 1), ("liberator.stale", 1, 9)]),
    );
    assert_eq!(verdict_of(&c, "liberator.extra"), Verdict::NotInManifest);
    assert_eq!(verdict_of(&c, "liberator.stale"), Verdict::NotInExport);
    assert_eq!(verdict_of(&c, "other.t"), Verdict::StatusOnly);
    let stale = c
        .tables
        .iter()
        .find(|t| t.table == "liberator.stale")
        .unwrap();
    assert_eq!(stale.expected_from, ExpectedFrom::None);
    assert_eq!(c.failing().count(), 2);
}

#[test]
fn the_export_tasks_own_failure_fails_the_check() {
    let m = manifest(&[("d", "a", 1)]);
    let export = export_of(&[("d.a", "COMPLETE")]);
    let l = landed(&[("d.a", 1, 1)]);
    let failed = complete().with_task(Some("FAILED"), None, Some("The S3 bucket isn't valid."));
    let c = check(Some(&m), &export, &failed, &l);
    assert!(!c.passed());
    assert_eq!(c.problems.len(), 2, "{:?}", c.problems);
    assert!(
        c.to_string().contains("PROBLEM the export task failed"),
        "{c}"
    );
    // moto reports `complete` in lower case.
    let moto = ExportOutcome::default().with_task(Some("complete"), None, None);
    assert!(check(Some(&m), &export, &moto, &l).passed());
}

#[test]
fn an_export_listing_no_table_fails() {
    let c = check(
        None,
        &ExportTables::default(),
        &complete(),
        &BTreeMap::new(),
    );
    assert!(!c.passed());
    assert!(
        c.problems[0].contains("lists no tables"),
        "{:?}",
        c.problems
    );
}

#[test]
fn the_report_serialises_for_the_json_report() {
    let m = manifest(&[("d", "a", 2)]);
    let c = check(
        Some(&m),
        &export_of(&[("d.a", "COMPLETE")]),
        &complete(),
        &landed(&[]),
    );
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["basis"], "manifest");
    assert_eq!(json["tables"][0]["verdict"], "row_mismatch");
    assert_eq!(json["tables"][0]["expected_from"], "manifest");
    assert_eq!(json["tables"][0]["expected_rows"], 2);
    assert_eq!(json["tables"][0]["landed_rows"], 0);
    let back: super::super::Completeness = serde_json::from_value(json).unwrap();
    assert_eq!(back, c);
}
