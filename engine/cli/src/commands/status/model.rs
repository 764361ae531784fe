//! What `engine status` found, stage by stage, and the day's verdict: the JSON it prints
//! (field names are the output format) and the exit code.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

/// Exit code of a day still in progress (0 complete, 1 failed, 2 bad input).
pub const EXIT_IN_PROGRESS: u8 = 3;

/// Where one stage stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Finished well (or, for a dump or snapshot no longer there, later stages prove it did).
    Done,
    /// AWS reports it running, or it is due and not yet overdue (`--stuck-after-minutes`).
    Running,
    /// An earlier stage has not finished.
    Waiting,
    /// Failed, or overdue: the stage before it finished longer ago than `--stuck-after-minutes`.
    Failed,
}

/// One stage: its state, what was found, and what to look at next when it is not done.
#[derive(Debug, Clone, Serialize)]
pub struct Stage<T> {
    pub state: State,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub found: Option<T>,
    /// Worth knowing, fails nothing (a snapshot deleted since, no restore manifest).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// What to look at next (set whenever the stage is not done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

impl<T> Stage<T> {
    pub fn new(state: State, found: Option<T>) -> Self {
        Stage {
            state,
            found,
            notes: Vec::new(),
            next: None,
        }
    }

    pub fn next(mut self, next: impl Into<String>) -> Self {
        self.next = Some(next.into());
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}

/// The dump object.
#[derive(Debug, Clone, Serialize)]
pub struct Dump {
    pub bucket: String,
    pub key: String,
    pub size: u64,
    pub uploaded_at: Option<DateTime<Utc>>,
}

/// The restore: the snapshot and the manifest the task wrote before taking it.
#[derive(Debug, Clone, Serialize)]
pub struct Restore {
    pub snapshot_id: String,
    /// RDS's status (`available`, `creating`, …); `None` when the snapshot is gone.
    pub snapshot_status: Option<String>,
    pub snapshot_created_at: Option<DateTime<Utc>>,
    pub manifest: Option<ManifestSummary>,
}

/// The restore manifest, summed.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestSummary {
    pub location: String,
    pub tables: usize,
    pub rows: u64,
    pub created_at: DateTime<Utc>,
}

/// The RDS export task (or, when RDS has no record, the export's own `export_info`).
#[derive(Debug, Clone, Serialize)]
pub struct Export {
    pub export_id: String,
    pub status: Option<String>,
    pub percent: Option<i32>,
    pub warning_message: Option<String>,
    pub failure_cause: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// `rds` (DescribeExportTasks) or `export_info` (the file in the export folder).
    pub from: &'static str,
}

/// The landing, as the copier's marker records it.
#[derive(Debug, Clone, Serialize)]
pub struct Landing {
    pub marker: String,
    /// The marker's state: `claimed`, `started` or `released`.
    pub marker_state: String,
    pub claimed_at: Option<String>,
    pub copied: u64,
    pub skipped: u64,
    pub failed: u64,
    pub rows: u64,
    /// Rows per table (`<db>/<db.table>`).
    pub tables: BTreeMap<String, u64>,
    /// `passed`, `failed`, or `not_checked` (the report has no completeness section).
    pub completeness: &'static str,
    /// Failing tables (`<db.table>: verdict, expected … landed …`) and export problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub incomplete: Vec<String>,
}

/// The Glue workflow run.
#[derive(Debug, Clone, Serialize)]
pub struct Glue {
    pub workflow: String,
    pub run_id: String,
    pub status: String,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// The run's `ErrorMessage` and its failed, errored, timed-out or stopped actions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// The five stages of a day.
#[derive(Debug, Clone, Serialize)]
pub struct Stages {
    pub dump: Stage<Dump>,
    pub restore: Stage<Restore>,
    pub export: Stage<Export>,
    pub landing: Stage<Landing>,
    pub glue: Stage<Glue>,
}

impl Stages {
    /// `(name, state, next)` in pipeline order.
    pub fn each(&self) -> [(&'static str, State, Option<&str>); 5] {
        [
            ("dump", self.dump.state, self.dump.next.as_deref()),
            ("restore", self.restore.state, self.restore.next.as_deref()),
            ("export", self.export.state, self.export.next.as_deref()),
            ("landing", self.landing.state, self.landing.next.as_deref()),
            ("glue", self.glue.state, self.glue.next.as_deref()),
        ]
    }
}

/// The day's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Complete,
    InProgress,
    Failed,
}

impl Verdict {
    /// 0 complete, 1 failed, [`EXIT_IN_PROGRESS`] in progress.
    pub fn exit_code(self) -> u8 {
        match self {
            Verdict::Complete => 0,
            Verdict::Failed => 1,
            Verdict::InProgress => EXIT_IN_PROGRESS,
        }
    }
}

/// `engine status`'s output.
#[derive(Debug, Clone, Serialize)]
pub struct DayStatus {
    pub date: NaiveDate,
    /// The export looked at: the date's latest, or `--export`; `None` before any stage
    /// named one (no snapshot yet).
    pub export_id: Option<String>,
    /// Other exports seen for the date (`--export ID` shows one of them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other_exports: Vec<String>,
    pub verdict: Verdict,
    pub exit_code: u8,
    /// The first stage not done (`glue` when the day is complete).
    pub stage: &'static str,
    /// What to look at next, from that stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    pub checked_at: DateTime<Utc>,
    pub stages: Stages,
}

impl DayStatus {
    /// The verdict over the stages: failed when any failed, complete when the Glue run
    /// completed cleanly, in progress otherwise.
    pub fn new(
        date: NaiveDate,
        export_id: Option<String>,
        other_exports: Vec<String>,
        checked_at: DateTime<Utc>,
        stages: Stages,
    ) -> Self {
        let each = stages.each();
        let failed = each.iter().find(|(_, s, _)| *s == State::Failed);
        let first_open = each.iter().find(|(_, s, _)| *s != State::Done);
        let (verdict, at) = match (failed, first_open) {
            (Some(f), _) => (Verdict::Failed, f),
            (None, Some(open)) => (Verdict::InProgress, open),
            (None, None) => (Verdict::Complete, &each[4]),
        };
        DayStatus {
            date,
            export_id,
            other_exports,
            verdict,
            exit_code: verdict.exit_code(),
            stage: at.0,
            next: at.2.map(str::to_string),
            checked_at,
            stages,
        }
    }
}
