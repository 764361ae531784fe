//! The markdown summary of a side-by-side run: each tool's median run per level with its
//! ratio to the engine, then every run.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::tools::Tool;
use crate::{Config, MIB, Outcome, Row, Scenario};

/// The run with the median wall time among a tool's successful runs (all runs if none
/// succeeded).
fn median<'a>(rows: &[&'a Row]) -> Option<&'a Row> {
    let ok: Vec<&Row> = rows.iter().copied().filter(|r| r.ok).collect();
    let mut pick = if ok.is_empty() { rows.to_vec() } else { ok };
    pick.sort_by_key(|r| r.measured.wall);
    pick.get(pick.len() / 2).copied()
}

/// The markdown summary: per level, each tool's median run and its ratio to the engine,
/// then every run.
pub fn render(scenario: &Scenario, config: &Config, outcome: &Outcome) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### {} ({} ms each way, {} round(s), engine {}{})\n",
        scenario.name,
        config.delay.as_millis(),
        config.rounds,
        match &config.engine_bin {
            Some(p) => p.display().to_string(),
            None => "library in side_by_side".into(),
        },
        config
            .footer_read_size
            .map_or(String::new(), |n| format!(", footer read size {n}"))
    );
    for level in &scenario.levels {
        let mut by_tool: BTreeMap<Tool, Vec<&Row>> = BTreeMap::new();
        for r in outcome.rows.iter().filter(|r| r.level == level.label) {
            by_tool.entry(r.tool).or_default().push(r);
        }
        let engine_wall = by_tool
            .get(&Tool::Engine)
            .and_then(|rows| median(rows))
            .map(|r| r.measured.wall.as_secs_f64());
        let _ = writeln!(out, "**{}** (median run of each tool)\n", level.label);
        let _ = writeln!(
            out,
            "| tool | ok runs | wall s | objects/s | MiB/s | client CPU s | CPU s / 1k obj | peak RSS MiB | server CPU s | speed ÷ engine's |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (tool, rows) in &by_tool {
            let Some(m) = median(rows) else { continue };
            // Speed relative to the engine on the same export: > 1 is faster than the engine.
            // (Wall times, not objects/s: peers also copy the 3 metadata objects.)
            let ratio = engine_wall
                .map(|e| format!("{:.2}", e / m.measured.wall.as_secs_f64()))
                .unwrap_or_else(|| "–".into());
            let _ = writeln!(
                out,
                "| {} | {}/{} | {:.2} | {:.1} | {:.1} | {:.2} | {:.3} | {:.1} | {} | {} |",
                tool.name(),
                rows.iter().filter(|r| r.ok).count(),
                rows.len(),
                m.measured.wall.as_secs_f64(),
                m.objects_per_sec(),
                m.mib_per_sec(),
                m.measured.cpu().as_secs_f64(),
                m.cpu_per_1k(),
                m.measured.max_rss as f64 / MIB as f64,
                m.server_cpu
                    .map_or("–".to_string(), |c| format!("{:.2}", c.as_secs_f64())),
                ratio
            );
        }
        for tool in &outcome.absent {
            let _ = writeln!(
                out,
                "| {} | absent (not installed) | | | | | | | | |",
                tool.name()
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "<details><summary>every run</summary>\n");
    let _ = writeln!(
        out,
        "| level | round | tool | wall s | objects | MiB | objects/s | CPU s | peak RSS MiB | server CPU s | ok | note |"
    );
    let _ = writeln!(
        out,
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|"
    );
    for r in &outcome.rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.2} | {} | {:.1} | {:.1} | {:.2} | {:.1} | {} | {} | {} |",
            r.level,
            r.round + 1,
            r.tool.name(),
            r.measured.wall.as_secs_f64(),
            r.objects,
            r.bytes as f64 / MIB as f64,
            r.objects_per_sec(),
            r.measured.cpu().as_secs_f64(),
            r.measured.max_rss as f64 / MIB as f64,
            r.server_cpu
                .map_or("–".to_string(), |c| format!("{:.2}", c.as_secs_f64())),
            if r.ok { "yes" } else { "NO" },
            r.note.replace('|', "\\|")
        );
    }
    let _ = writeln!(out, "\n</details>\n");
    out
}
