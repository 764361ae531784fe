//! From what was read to each stage's state and the next thing to look at: pure rules, no
//! AWS calls, so every branch is tested without a server.
//!
//! A stage AWS reports running (an export `IN_PROGRESS`, a Glue run `RUNNING`) is in
//! progress however long it takes. A stage that has not begun is in progress while the
//! stage before finished less than `stuck_after` ago, and failed after that: nothing in AWS
//! records that a restore task or a Lambda gave up, so time is the only witness.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::export::{ended, status};
use super::landing::{MarkerView, landing};
use super::model::{Dump, Export, Glue, Restore, Stage, Stages, State};
use super::restore::Snapshot;

/// Everything read for one day.
#[derive(Debug, Clone, Default)]
pub struct Raw {
    pub date: Option<NaiveDate>,
    pub export_id: Option<String>,
    /// Where the dump was looked for (`s3://bucket/key`), for messages.
    pub dump_tried: Vec<String>,
    pub dump: Option<Dump>,
    pub snapshot_id: Option<String>,
    pub snapshot: Option<Snapshot>,
    /// The manifest's location, and what it held (or why it did not parse).
    pub manifest_url: Option<String>,
    pub manifest: Option<Result<super::model::ManifestSummary, String>>,
    pub export: Option<Export>,
    pub marker_url: Option<String>,
    pub marker: Option<MarkerView>,
    pub workflow: Option<String>,
    pub run: Option<Glue>,
    /// Without a marker: how far the landing got.
    pub survey: Option<super::survey::Survey>,
    /// `--source … --target … --manifests …` of an `engine copy` that lands the export.
    pub copy_hint: String,
}

impl Raw {
    /// Whether anything at all was found for the day.
    pub fn anything(&self) -> bool {
        self.dump.is_some()
            || self.snapshot.is_some()
            || self.manifest.is_some()
            || self.export.is_some()
            || self.marker.is_some()
            || self.run.is_some()
    }
}

/// The rules, with the time they are applied at.
pub struct Rules {
    pub now: DateTime<Utc>,
    pub stuck_after: Duration,
}

impl Rules {
    /// Running while `since` is recent (or unknown), failed once overdue.
    fn due(&self, since: Option<DateTime<Utc>>) -> State {
        match since {
            Some(t) if self.now - t > self.stuck_after => State::Failed,
            _ => State::Running,
        }
    }
}

fn done<T>(s: &Stage<T>) -> bool {
    s.state == State::Done
}

/// Each stage's state and next step.
pub fn assess(raw: &Raw, rules: &Rules) -> Stages {
    let id = raw.export_id.as_deref().unwrap_or("(none)");
    let date = raw.date.map(|d| d.to_string()).unwrap_or_default();

    // Restore first: whether the dump's absence matters depends on it.
    let manifest = raw.manifest.as_ref().and_then(|m| m.as_ref().ok()).cloned();
    let restored_once = raw.manifest.is_some() || raw.export.is_some() || raw.marker.is_some();
    let restore_found = raw.snapshot_id.as_ref().map(|sid| Restore {
        snapshot_id: sid.clone(),
        snapshot_status: raw.snapshot.as_ref().map(|s| s.status.clone()),
        snapshot_created_at: raw.snapshot.as_ref().and_then(|s| s.created_at),
        manifest: manifest.clone(),
    });
    let no_snapshot = format!(
        "no snapshot for {date}: check the restore task's logs in ECS (it starts when the dump is uploaded)"
    );
    let mut restore = match (&raw.snapshot, restored_once) {
        (Some(s), _) => match s.status.as_str() {
            "available" => Stage::new(State::Done, restore_found),
            "creating" | "backing-up" => Stage::new(State::Running, restore_found).next(format!(
                "RDS is creating snapshot {}: the export starts when it is available (RDS-EVENT-0042)",
                s.id
            )),
            other => Stage::new(State::Failed, restore_found).next(format!(
                "snapshot {} is {other}: see its events in the RDS console and the restore task's logs in ECS",
                s.id
            )),
        },
        (None, true) => Stage::new(State::Done, restore_found).note(
            "the snapshot no longer exists (each restore deletes the previous manual snapshots)",
        ),
        (None, false) => match &raw.dump {
            Some(d) => Stage::new(rules.due(d.uploaded_at), None).next(no_snapshot),
            None => Stage::new(State::Waiting, None).next("waiting for the dump"),
        },
    };
    match (&raw.manifest, &raw.manifest_url) {
        (Some(Err(e)), _) => {
            restore = restore.note(format!("the restore manifest is unreadable: {e}"))
        }
        (None, Some(url)) if restore.found.is_some() => {
            restore = restore.note(format!(
                "no restore manifest at {url}: landed rows cannot be checked against the database"
            ))
        }
        _ => {}
    }

    let dump = match &raw.dump {
        Some(d) => Stage::new(State::Done, Some(d.clone())),
        None if raw.snapshot.is_some() || restored_once => Stage::new(State::Done, None).note(
            format!("the dump is no longer at {}", raw.dump_tried.join(" or ")),
        ),
        None => Stage::new(State::Running, None).next(format!(
            "no dump at {} yet: the day starts when it is uploaded; check with whoever sends it",
            raw.dump_tried.join(" or ")
        )),
    };

    let export = match &raw.export {
        Some(e) => {
            let s = status(e);
            let stage = Stage::new(State::Done, Some(e.clone()));
            match s.as_str() {
                "COMPLETE" => match &e.warning_message {
                    Some(w) => stage.note(format!("export warning: {w}")),
                    None => stage,
                },
                "FAILED" | "CANCELED" | "CANCELLED" => Stage { state: State::Failed, ..stage }.next(format!(
                    "export task {id} is {s}{}: fix the cause, then export the snapshot again (invoke the export-trigger Lambda; the retry is exported as {id}-r2)",
                    e.failure_cause.as_deref().map(|c| format!(" ({c})")).unwrap_or_default()
                )),
                _ => Stage { state: State::Running, ..stage }.next(format!(
                    "RDS is exporting {id} ({s}, {}%): RDS-EVENT-0161 starts the landing when it completes",
                    e.percent.unwrap_or(0)
                )),
            }
        }
        None if done(&restore) => {
            let since = raw
                .snapshot
                .as_ref()
                .and_then(|s| s.created_at)
                .or(manifest.as_ref().map(|m| m.created_at));
            Stage::new(rules.due(since), None).next(format!(
                "no export task {id}: the export-trigger Lambda starts it on RDS-EVENT-0042: check its logs for {id}"
            ))
        }
        None => Stage::new(State::Waiting, None).next("waiting for the restore"),
    };

    let marker_url = raw.marker_url.clone().unwrap_or_default();
    let landing_stage = match &raw.marker {
        Some(m) => {
            let l = landing(marker_url.clone(), m);
            if l.failed > 0 || l.completeness == "failed" {
                let why = l
                    .incomplete
                    .first()
                    .cloned()
                    .unwrap_or_else(|| format!("{} object(s) failed", l.failed));
                Stage::new(State::Failed, Some(l)).next(format!(
                    "the landing of {id} is not whole ({why}): see the copier's logs for {id}"
                ))
            } else {
                Stage::new(State::Done, Some(l))
            }
        }
        None if raw.run.is_some() => Stage::new(State::Done, None).note(format!(
            "no marker at {marker_url}, but a Glue run carries {id}"
        )),
        None if done(&export) => {
            let stage = Stage::new(rules.due(raw.export.as_ref().and_then(ended)), None).next(format!(
                "no marker at {marker_url}: the export-copier Lambda has not finished, or failed: check its logs for this export_id (errorType CopyFailed or ExportIncomplete); after a fix re-send the RDS-EVENT-0161 event, or run `engine copy {id} {}`",
                raw.copy_hint
            ));
            match &raw.survey {
                Some(s) => stage.note(s.to_string()),
                None => stage,
            }
        }
        None => Stage::new(State::Waiting, None).next("waiting for the export"),
    };

    let workflow = raw.workflow.clone().unwrap_or_default();
    let glue = match (&raw.run, &raw.marker) {
        (Some(r), _) => {
            let stage = Stage::new(State::Done, Some(r.clone()));
            match r.status.as_str() {
                "COMPLETED" if r.errors.is_empty() => stage,
                "RUNNING" | "STOPPING" => Stage { state: State::Running, ..stage }.next(format!(
                    "Glue run {} of {workflow} is {}",
                    r.run_id, r.status
                )),
                _ => Stage { state: State::Failed, ..stage }.next(format!(
                    "Glue run {} of {workflow} ended {}{}: see the run's graph in the Glue console",
                    r.run_id,
                    r.status,
                    r.errors.first().map(|e| format!(" ({e})")).unwrap_or_default()
                )),
            }
        }
        _ if !done(&landing_stage) => Stage::new(State::Waiting, None).next("waiting for the landing"),
        (None, Some(m)) => match (m.state.as_str(), &m.run_id) {
            (_, Some(run)) => Stage::new(State::Failed, None).next(format!(
                "the marker records run {run}, but Glue has no such run of {workflow}"
            )),
            ("claimed", None) => {
                let lease = m
                    .lease_until
                    .as_deref()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.to_utc());
                match lease {
                    Some(end) if rules.now < end => Stage::new(State::Running, None).next(format!(
                        "the copier holds the start claim until {end}: the run of {workflow} should appear"
                    )),
                    _ => Stage::new(State::Failed, None).next(format!(
                        "the start claim lapsed and no run of {workflow} carries liberator_export_id={id}: re-send the RDS-EVENT-0161 event (the next delivery takes the claim over)"
                    )),
                }
            }
            _ => Stage::new(State::Failed, None).next(format!(
                "Glue refused to start {workflow} (the copier's logs: errorType Glue); fix the workflow, then re-send the RDS-EVENT-0161 event"
            )),
        },
        (None, None) => Stage::new(State::Running, None).next(format!(
            "no run of {workflow} carries liberator_export_id={id} yet"
        )),
    };

    Stages {
        dump,
        restore,
        export,
        landing: landing_stage,
        glue,
    }
}

#[cfg(test)]
#[path = "assess_tests.rs"]
mod tests;
