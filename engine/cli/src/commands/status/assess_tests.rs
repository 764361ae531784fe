//! Every rule of [`assess`] without a server: what each stage's state is, and that a stage
//! not done always says what to look at next.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::*;
use crate::commands::status::model::{DayStatus, ManifestSummary, Verdict};

const ID: &str = "sql-to-parquet-24-06-04-101500";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn rules(now: &str) -> Rules {
    Rules {
        now: at(now),
        stuck_after: Duration::minutes(180),
    }
}

fn dump() -> Dump {
    Dump {
        bucket: "d".into(),
        key: "parking/liberator_dump_240604.zip".into(),
        size: 10,
        uploaded_at: Some(at("2024-06-04T09:00:00Z")),
    }
}

fn snapshot(status: &str) -> Snapshot {
    Snapshot {
        id: ID.into(),
        status: status.into(),
        created_at: Some(at("2024-06-04T10:15:00Z")),
    }
}

fn export(status: &str) -> Export {
    Export {
        export_id: ID.into(),
        status: Some(status.into()),
        percent: Some(40),
        warning_message: None,
        failure_cause: (status == "FAILED").then(|| "S3 access denied".into()),
        started_at: Some(at("2024-06-04T10:30:00Z")),
        ended_at: (status == "COMPLETE").then(|| at("2024-06-04T11:00:00Z")),
        from: "rds",
    }
}

fn marker(state: &str, run: Option<&str>, lease: &str) -> MarkerView {
    serde_json::from_value(serde_json::json!({
        "workflow": "wf", "state": state, "claimed_at": "2024-06-04T11:02:00Z",
        "lease_until": lease, "run_id": run,
        "report": {"copied": 14, "failed": 0, "tables": {"liberator/liberator.pcn": {"rows": 12000}}}
    }))
    .unwrap()
}

fn run(status: &str) -> Glue {
    Glue {
        workflow: "wf".into(),
        run_id: "wr_1".into(),
        status: status.into(),
        started_at: Some(at("2024-06-04T11:03:00Z")),
        completed_at: None,
        errors: Vec::new(),
    }
}

fn raw() -> Raw {
    Raw {
        date: NaiveDate::from_ymd_opt(2024, 6, 4),
        export_id: Some(ID.into()),
        dump_tried: vec!["s3://d/parking/liberator_dump_240604.zip".into()],
        snapshot_id: Some(ID.into()),
        manifest_url: Some(format!("s3://d/liberator-manifests/{ID}.json")),
        marker_url: Some(format!("s3://l/_liberator/glue-runs/{ID}.json")),
        workflow: Some("wf".into()),
        copy_hint: "--source s3://e/ --target s3://l/parking/".into(),
        ..Raw::default()
    }
}

fn day(raw: &Raw, now: &str) -> DayStatus {
    DayStatus::new(
        raw.date.unwrap(),
        raw.export_id.clone(),
        Vec::new(),
        at(now),
        assess(raw, &rules(now)),
    )
}

/// Every stage not done names a next step.
fn every_open_stage_says_what_next(d: &DayStatus) {
    for (name, state, next) in d.stages.each() {
        if state != State::Done {
            assert!(
                next.is_some_and(|n| !n.is_empty()),
                "{name} {state:?}: no next step"
            );
        }
    }
}

#[test]
fn a_complete_day() {
    let mut r = raw();
    r.dump = Some(dump());
    r.snapshot = Some(snapshot("available"));
    r.manifest = Some(Ok(ManifestSummary {
        location: "m".into(),
        tables: 5,
        rows: 12000,
        created_at: at("2024-06-04T10:14:00Z"),
    }));
    r.export = Some(export("complete"));
    r.marker = Some(marker("started", Some("wr_1"), "2024-06-04T11:22:00Z"));
    r.run = Some(Glue {
        status: "COMPLETED".into(),
        ..run("")
    });
    let d = day(&r, "2024-06-05T08:00:00Z");
    assert_eq!(
        (d.verdict, d.exit_code, d.stage),
        (Verdict::Complete, 0, "glue")
    );
    assert!(
        d.stages.restore.notes.is_empty(),
        "{:?}",
        d.stages.restore.notes
    );
}

#[test]
fn nothing_yet_today_waits_for_the_dump() {
    let d = day(&raw(), "2024-06-04T08:00:00Z");
    assert_eq!((d.verdict, d.stage), (Verdict::InProgress, "dump"));
    assert!(
        d.next
            .as_deref()
            .unwrap()
            .contains("liberator_dump_240604.zip")
    );
    assert_eq!(d.stages.glue.state, State::Waiting);
    every_open_stage_says_what_next(&d);
}

#[test]
fn a_restore_is_running_then_overdue() {
    let mut r = raw();
    r.dump = Some(dump());
    let running = day(&r, "2024-06-04T10:00:00Z");
    assert_eq!(
        (running.verdict, running.stage),
        (Verdict::InProgress, "restore")
    );
    let stuck = day(&r, "2024-06-04T13:00:01Z");
    assert_eq!(
        (stuck.verdict, stuck.stage, stuck.exit_code),
        (Verdict::Failed, "restore", 1)
    );
    assert!(stuck.next.unwrap().contains("restore task's logs in ECS"));
    every_open_stage_says_what_next(&running);
}

#[test]
fn a_creating_snapshot_runs_and_a_failed_one_fails() {
    let mut r = raw();
    r.dump = Some(dump());
    r.snapshot = Some(snapshot("creating"));
    assert_eq!(day(&r, "2024-06-04T10:20:00Z").stage, "restore");
    r.snapshot = Some(snapshot("failed"));
    let d = day(&r, "2024-06-04T10:20:00Z");
    assert_eq!((d.verdict, d.stage), (Verdict::Failed, "restore"));
}

#[test]
fn no_export_task_after_the_snapshot_is_the_trigger() {
    let mut r = raw();
    r.dump = Some(dump());
    r.snapshot = Some(snapshot("available"));
    let d = day(&r, "2024-06-04T10:30:00Z");
    assert_eq!((d.verdict, d.stage), (Verdict::InProgress, "export"));
    assert!(
        d.next.as_deref().unwrap().contains("export-trigger"),
        "{:?}",
        d.next
    );
    assert!(
        d.stages
            .restore
            .notes
            .iter()
            .any(|n| n.contains("no restore manifest")),
        "{:?}",
        d.stages.restore.notes
    );
    assert_eq!(day(&r, "2024-06-04T14:00:00Z").verdict, Verdict::Failed);
    every_open_stage_says_what_next(&d);
}

#[test]
fn an_export_in_progress_and_a_failed_export() {
    let mut r = raw();
    r.snapshot = Some(snapshot("available"));
    r.export = Some(export("IN_PROGRESS"));
    // Long exports are AWS's to report: never overdue while RDS says IN_PROGRESS.
    let d = day(&r, "2024-06-05T10:30:00Z");
    assert_eq!((d.verdict, d.stage), (Verdict::InProgress, "export"));
    assert!(d.next.unwrap().contains("40%"));
    assert_eq!(
        d.stages.dump.state,
        State::Done,
        "later stages prove the dump"
    );
    r.export = Some(export("FAILED"));
    let d = day(&r, "2024-06-04T10:30:00Z");
    assert_eq!((d.verdict, d.stage), (Verdict::Failed, "export"));
    assert!(d.next.unwrap().contains("S3 access denied"));
}

#[test]
fn no_marker_after_the_export_is_the_copier() {
    let mut r = raw();
    r.export = Some(export("COMPLETE"));
    let running = day(&r, "2024-06-04T11:10:00Z");
    assert_eq!(
        (running.verdict, running.stage),
        (Verdict::InProgress, "landing")
    );
    let failed = day(&r, "2024-06-04T14:00:01Z");
    assert_eq!((failed.verdict, failed.stage), (Verdict::Failed, "landing"));
    let next = failed.next.unwrap();
    assert!(
        next.contains("export-copier") && next.contains(&format!("engine copy {ID}")),
        "{next}"
    );
    assert!(failed.stages.restore.notes[0].contains("no longer exists"));
    r.survey = Some(crate::commands::status::survey::Survey {
        tables: 2,
        exported_files: 3,
        landed_files: 2,
        short: vec!["liberator.vrm 0 of 1".into()],
    });
    let d = day(&r, "2024-06-04T11:10:00Z");
    assert_eq!(
        d.stages.landing.notes,
        [
            "so far 2 of 3 Parquet files of 2 tables are in the landing partition; short: liberator.vrm 0 of 1"
        ]
    );
}

#[test]
fn glue_claims_runs_and_refusals() {
    let mut r = raw();
    r.export = Some(export("COMPLETE"));
    r.marker = Some(marker("claimed", None, "2024-06-04T11:22:00Z"));
    let d = day(&r, "2024-06-04T11:05:00Z");
    assert_eq!((d.verdict, d.stage), (Verdict::InProgress, "glue"));
    assert_eq!(d.stages.landing.state, State::Done);
    let lapsed = day(&r, "2024-06-04T11:30:00Z");
    assert_eq!((lapsed.verdict, lapsed.stage), (Verdict::Failed, "glue"));
    assert!(lapsed.next.unwrap().contains("re-send"));

    r.marker = Some(marker("released", None, "2024-06-04T11:22:00Z"));
    assert!(
        day(&r, "2024-06-04T11:05:00Z")
            .next
            .unwrap()
            .contains("Glue refused")
    );

    r.marker = Some(marker("started", Some("wr_1"), "2024-06-04T11:22:00Z"));
    assert!(
        day(&r, "2024-06-04T11:05:00Z")
            .next
            .unwrap()
            .contains("no such run")
    );
    r.run = Some(run("RUNNING"));
    assert_eq!(day(&r, "2024-06-05T11:05:00Z").verdict, Verdict::InProgress);
    r.run = Some(Glue {
        status: "COMPLETED".into(),
        errors: vec!["1 of 3 action(s) failed".into()],
        ..run("")
    });
    let d = day(&r, "2024-06-04T12:00:00Z");
    assert_eq!((d.verdict, d.stage), (Verdict::Failed, "glue"));
    assert!(d.next.unwrap().contains("1 of 3 action(s) failed"));
}

#[test]
fn a_marker_whose_report_fails_completeness_fails_the_landing() {
    let mut r = raw();
    r.export = Some(export("COMPLETE"));
    let mut m = marker("started", Some("wr_1"), "2024-06-04T11:22:00Z");
    m.report.as_mut().unwrap().failed = 2;
    r.marker = Some(m);
    r.run = Some(run("RUNNING"));
    let d = day(&r, "2024-06-04T12:00:00Z");
    assert_eq!((d.verdict, d.stage), (Verdict::Failed, "landing"));
    every_open_stage_says_what_next(&d);
}
