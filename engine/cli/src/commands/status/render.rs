//! The table `engine status` prints on a terminal: one line per stage (state and what was
//! found), notes and the next step under it, the verdict last.

use std::fmt::Write;

use chrono::{DateTime, Utc};

use super::model::{DayStatus, State, Verdict};
use crate::output::thousands;

fn when(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "-".into(),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

fn state(s: State) -> &'static str {
    match s {
        State::Done => "done",
        State::Running => "running",
        State::Waiting => "waiting",
        State::Failed => "FAILED",
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Stage name, state, what was found, notes, next step.
type Row<'a> = (&'static str, State, String, &'a [String], Option<&'a str>);

/// The human view of a day.
pub fn table(d: &DayStatus) -> String {
    let s = &d.stages;
    let mut rows: Vec<Row<'_>> = Vec::new();
    let dump = s.dump.found.as_ref().map_or_else(String::new, |x| {
        format!(
            "s3://{}/{}  {}  uploaded {}",
            x.bucket,
            x.key,
            mib(x.size),
            when(x.uploaded_at)
        )
    });
    rows.push((
        "dump",
        s.dump.state,
        dump,
        &s.dump.notes,
        s.dump.next.as_deref(),
    ));
    let restore = s.restore.found.as_ref().map_or_else(String::new, |x| {
        let mut line = format!(
            "{}  {}  created {}",
            x.snapshot_id,
            x.snapshot_status.as_deref().unwrap_or("gone"),
            when(x.snapshot_created_at)
        );
        if let Some(m) = &x.manifest {
            let _ = write!(
                line,
                "  manifest: {} tables, {} rows",
                thousands(m.tables as u64),
                thousands(m.rows)
            );
        }
        line
    });
    rows.push((
        "restore",
        s.restore.state,
        restore,
        &s.restore.notes,
        s.restore.next.as_deref(),
    ));
    let export = s.export.found.as_ref().map_or_else(String::new, |x| {
        let mut line = format!(
            "{}  {}  {}  started {}  ended {}",
            x.export_id,
            x.status.as_deref().unwrap_or("?"),
            x.percent
                .map_or_else(|| "-".to_string(), |p| format!("{p}%")),
            when(x.started_at),
            when(x.ended_at)
        );
        if let Some(c) = &x.failure_cause {
            let _ = write!(line, "  FailureCause: {c}");
        }
        line
    });
    rows.push((
        "export",
        s.export.state,
        export,
        &s.export.notes,
        s.export.next.as_deref(),
    ));
    let landing = s.landing.found.as_ref().map_or_else(String::new, |x| {
        format!(
            "marker {}  copied {}  skipped {}  failed {}  {} rows in {} tables  completeness {}",
            x.marker_state,
            thousands(x.copied),
            thousands(x.skipped),
            thousands(x.failed),
            thousands(x.rows),
            x.tables.len(),
            x.completeness
        )
    });
    rows.push((
        "landing",
        s.landing.state,
        landing,
        &s.landing.notes,
        s.landing.next.as_deref(),
    ));
    let glue = s.glue.found.as_ref().map_or_else(String::new, |x| {
        format!(
            "{} run {}  {}  started {}  completed {}",
            x.workflow,
            x.run_id,
            x.status,
            when(x.started_at),
            when(x.completed_at)
        )
    });
    rows.push((
        "glue",
        s.glue.state,
        glue,
        &s.glue.notes,
        s.glue.next.as_deref(),
    ));

    let mut out = format!(
        "{}  {}\n",
        d.date,
        d.export_id.as_deref().unwrap_or("(no export yet)")
    );
    for (name, st, found, notes, next) in rows {
        let _ = writeln!(out, "  {name:<8} {:<8} {found}", state(st));
        for n in notes {
            let _ = writeln!(out, "  {:<8} {:<8} note: {n}", "", "");
        }
        if st != State::Done
            && let Some(next) = next
        {
            let _ = writeln!(out, "  {:<8} {:<8} next: {next}", "", "");
        }
    }
    if let Some(l) = &s.landing.found {
        for (table, rows) in &l.tables {
            let _ = writeln!(out, "    {table:<40} {:>14} rows", thousands(*rows));
        }
        for i in &l.incomplete {
            let _ = writeln!(out, "    incomplete: {i}");
        }
    }
    if let Some(g) = &s.glue.found {
        for e in &g.errors {
            let _ = writeln!(out, "    glue error: {e}");
        }
    }
    if !d.other_exports.is_empty() {
        let _ = writeln!(
            out,
            "  also for this date: {} (--export ID to see one)",
            d.other_exports.join(", ")
        );
    }
    let verdict = match d.verdict {
        Verdict::Complete => "COMPLETE".to_string(),
        Verdict::InProgress => format!("IN PROGRESS at {}", d.stage),
        Verdict::Failed => format!("FAILED at {}", d.stage),
    };
    let _ = write!(out, "{verdict} (exit {})", d.exit_code);
    out
}
