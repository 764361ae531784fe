//! The markdown summary of a side-by-side run: each tool's median run per level with its
//! ratio to the engine (and, with a charts folder, a bar chart of the same medians), then
//! every run.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::chart::{Bar, Chart, Panel, file_stem, write_svg};
use crate::tools::Tool;
use crate::{Config, Level, MIB, Outcome, Row, Scenario};

/// A level with at least this many objects is charted in objects/s, a smaller one (large
/// objects) in MiB/s: there the bytes are the work.
pub const OBJECTS_PER_SEC_FROM: usize = 100;

/// Client CPU per object landed, milliseconds.
fn client_ms_per_object(r: &Row) -> f64 {
    r.measured.cpu().as_secs_f64() * 1000.0 / r.objects.max(1) as f64
}

/// The server's CPU per object landed, milliseconds, when its pid was given.
fn server_ms_per_object(r: &Row) -> Option<f64> {
    r.server_cpu
        .map(|c| c.as_secs_f64() * 1000.0 / r.objects.max(1) as f64)
}

fn ms(v: Option<f64>) -> String {
    v.map_or("–".to_string(), |v| format!("{v:.3}"))
}

/// The run with the median wall time among a tool's successful runs (all runs if none
/// succeeded).
fn median<'a>(rows: &[&'a Row]) -> Option<&'a Row> {
    let ok: Vec<&Row> = rows.iter().copied().filter(|r| r.ok).collect();
    let mut pick = if ok.is_empty() { rows.to_vec() } else { ok };
    pick.sort_by_key(|r| r.measured.wall);
    pick.get(pick.len() / 2).copied()
}

/// Each level's runs by tool, in the tools' order.
fn by_tool<'a>(outcome: &'a Outcome, level: &Level) -> BTreeMap<Tool, Vec<&'a Row>> {
    let mut by_tool: BTreeMap<Tool, Vec<&Row>> = BTreeMap::new();
    for r in outcome.rows.iter().filter(|r| r.level == level.label) {
        by_tool.entry(r.tool).or_default().push(r);
    }
    by_tool
}

/// One chart per level from each tool's median run: throughput (objects/s for many
/// objects, MiB/s for a few large ones), client CPU per object, the server's CPU per object
/// (when measured), peak RSS. The engine's bars are highlighted.
pub fn level_charts<'a>(
    scenario: &'a Scenario,
    config: &Config,
    outcome: &Outcome,
) -> Vec<(&'a Level, Chart)> {
    let mut charts = Vec::new();
    for level in &scenario.levels {
        let medians: Vec<(Tool, bool, &Row)> = by_tool(outcome, level)
            .into_iter()
            .filter_map(|(tool, rows)| {
                let ok = rows.iter().any(|r| r.ok);
                median(&rows).map(|m| (tool, ok, m))
            })
            .collect();
        if medians.is_empty() {
            continue;
        }
        let panel = |label: &str, value: &dyn Fn(&Row) -> f64| {
            Panel::new(
                label,
                medians
                    .iter()
                    .map(|(tool, ok, m)| Bar {
                        name: if *ok {
                            tool.name().to_string()
                        } else {
                            format!("{} (FAILED)", tool.name())
                        },
                        value: value(m),
                        highlight: tool.is_engine(),
                    })
                    .collect(),
            )
        };
        let mut panels = vec![if level.shape.parquet_files() >= OBJECTS_PER_SEC_FROM {
            panel("objects/s", &|r| r.objects_per_sec())
        } else {
            panel("MiB/s", &|r| r.mib_per_sec())
        }];
        panels.push(panel("client CPU ms / object", &client_ms_per_object));
        if medians.iter().any(|(_, _, m)| m.server_cpu.is_some()) {
            panels.push(panel("server CPU ms / object", &|r| {
                server_ms_per_object(r).unwrap_or(f64::NAN)
            }));
        }
        panels.push(panel("peak RSS MiB", &|r| {
            r.measured.max_rss as f64 / MIB as f64
        }));
        charts.push((
            level,
            Chart {
                title: format!("{} — {}", scenario.name, level.label),
                subtitle: format!(
                    "median of {} run(s) per tool, {} ms added each way; engine highlighted",
                    config.rounds,
                    config.delay.as_millis()
                ),
                panels,
            },
        ));
    }
    charts
}

/// Where `side_by_side run --charts DIR` writes its SVGs, and how the markdown links them.
#[derive(Debug, Clone)]
pub struct ChartsDir {
    pub dir: PathBuf,
    /// Prefix of each link in the markdown (the folder as seen from the markdown file).
    pub link_prefix: String,
}

impl ChartsDir {
    /// Charts in `dir`, linked from a markdown file at `markdown` (when there is one: links
    /// are then relative to its folder where `dir` lies inside it), else as `dir` is given.
    pub fn new(dir: &Path, markdown: Option<&Path>) -> Self {
        let base = markdown
            .and_then(Path::parent)
            .filter(|p| !p.as_os_str().is_empty());
        let shown = match base.and_then(|b| dir.strip_prefix(b).ok()) {
            Some(rel) => rel.to_path_buf(),
            None => dir.to_path_buf(),
        };
        let mut link_prefix = shown.to_string_lossy().into_owned();
        if !link_prefix.is_empty() && !link_prefix.ends_with('/') {
            link_prefix.push('/');
        }
        ChartsDir {
            dir: dir.to_path_buf(),
            link_prefix,
        }
    }
}

/// [`render`], and one SVG per level in `charts` (`<scenario>-<level>-<delay>ms.svg`: the
/// same scenario at two delays gets two charts), each linked under its level's table.
pub fn render_with_charts(
    scenario: &Scenario,
    config: &Config,
    outcome: &Outcome,
    charts: Option<&ChartsDir>,
) -> Result<String> {
    let mut links = BTreeMap::new();
    if let Some(charts) = charts {
        std::fs::create_dir_all(&charts.dir)
            .with_context(|| format!("creating {}", charts.dir.display()))?;
        for (level, chart) in level_charts(scenario, config, outcome) {
            let file = format!(
                "{}.svg",
                file_stem(&format!(
                    "{}-{}-{}ms",
                    scenario.name,
                    level.label,
                    config.delay.as_millis()
                ))
            );
            write_svg(&chart, &charts.dir.join(&file))?;
            links.insert(
                level.label.clone(),
                format!("![{}]({}{file})", chart.title, charts.link_prefix),
            );
        }
    }
    Ok(render_linked(scenario, config, outcome, &links))
}

/// The markdown summary: per level, each tool's median run and its ratio to the engine,
/// then every run.
pub fn render(scenario: &Scenario, config: &Config, outcome: &Outcome) -> String {
    render_linked(scenario, config, outcome, &BTreeMap::new())
}

fn render_linked(
    scenario: &Scenario,
    config: &Config,
    outcome: &Outcome,
    links: &BTreeMap<String, String>,
) -> String {
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
        let by_tool = by_tool(outcome, level);
        let engine_wall = by_tool
            .get(&Tool::Engine)
            .and_then(|rows| median(rows))
            .map(|r| r.measured.wall.as_secs_f64());
        let _ = writeln!(out, "**{}** (median run of each tool)\n", level.label);
        let _ = writeln!(
            out,
            "| tool | ok runs | wall s | objects/s | MiB/s | client CPU s | client CPU ms / object | server CPU s | server CPU ms / object | peak RSS MiB | speed ÷ engine's |"
        );
        let _ = writeln!(
            out,
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for (tool, rows) in &by_tool {
            let Some(m) = median(rows) else { continue };
            // Speed relative to the engine on the same export: > 1 is faster than the engine.
            // (Wall times, not objects/s: peers also copy the 3 metadata objects.)
            let ratio = engine_wall
                .map(|e| format!("{:.2}", e / m.measured.wall.as_secs_f64()))
                .unwrap_or_else(|| "–".into());
            let _ = writeln!(
                out,
                "| {} | {}/{} | {:.2} | {:.1} | {:.1} | {:.2} | {:.3} | {} | {} | {:.1} | {} |",
                tool.name(),
                rows.iter().filter(|r| r.ok).count(),
                rows.len(),
                m.measured.wall.as_secs_f64(),
                m.objects_per_sec(),
                m.mib_per_sec(),
                m.measured.cpu().as_secs_f64(),
                client_ms_per_object(m),
                m.server_cpu
                    .map_or("–".to_string(), |c| format!("{:.2}", c.as_secs_f64())),
                ms(server_ms_per_object(m)),
                m.measured.max_rss as f64 / MIB as f64,
                ratio
            );
        }
        for tool in &outcome.absent {
            let _ = writeln!(
                out,
                "| {} | absent (not installed) | | | | | | | | | |",
                tool.name()
            );
        }
        let _ = writeln!(out);
        if let Some(link) = links.get(&level.label) {
            let _ = writeln!(out, "{link}\n");
        }
    }
    let _ = writeln!(out, "<details><summary>every run</summary>\n");
    let _ = writeln!(
        out,
        "| level | round | tool | wall s | objects | MiB | objects/s | client CPU s | client CPU ms / object | server CPU s | server CPU ms / object | peak RSS MiB | ok | note |"
    );
    let _ = writeln!(
        out,
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"
    );
    for r in &outcome.rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.2} | {} | {:.1} | {:.1} | {:.2} | {:.3} | {} | {} | {:.1} | {} | {} |",
            r.level,
            r.round + 1,
            r.tool.name(),
            r.measured.wall.as_secs_f64(),
            r.objects,
            r.bytes as f64 / MIB as f64,
            r.objects_per_sec(),
            r.measured.cpu().as_secs_f64(),
            client_ms_per_object(r),
            r.server_cpu
                .map_or("–".to_string(), |c| format!("{:.2}", c.as_secs_f64())),
            ms(server_ms_per_object(r)),
            r.measured.max_rss as f64 / MIB as f64,
            if r.ok { "yes" } else { "NO" },
            r.note.replace('|', "\\|")
        );
    }
    let _ = writeln!(out, "\n</details>\n");
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::data::Shape;
    use crate::measure::Measured;

    fn level(label: &str, files: usize, size: usize) -> Level {
        Level {
            label: label.into(),
            shape: Shape {
                tables: 1,
                batches: 0,
                files_per_batch: files,
                object_size: size,
            },
            multipart: None,
        }
    }

    fn row(level: &str, tool: Tool, round: usize, wall_ms: u64, objects: u64) -> Row {
        Row {
            level: level.into(),
            tool,
            round,
            objects,
            bytes: objects * 32 * 1024,
            measured: Measured {
                wall: Duration::from_millis(wall_ms),
                user: Duration::from_millis(objects / 2),
                sys: Duration::from_millis(objects / 4),
                max_rss: 40 * MIB,
                exit_code: Some(0),
            },
            server_cpu: (tool != Tool::Rclone).then(|| Duration::from_millis(objects)),
            ok: true,
            note: String::new(),
        }
    }

    fn config() -> Config {
        Config {
            endpoint: "http://127.0.0.1:1".into(),
            delay: Duration::from_millis(15),
            tools: vec![Tool::Engine, Tool::S5cmd, Tool::Rclone],
            rounds: 3,
            engine_bin: None,
            harness_bin: PathBuf::from("side_by_side"),
            engine_concurrency: 256,
            connections: None,
            footer_read_size: None,
            work_dir: PathBuf::from("/tmp"),
            keep: false,
            server_pid: Some(1),
        }
    }

    fn scenario_and_outcome() -> (Scenario, Outcome) {
        let scenario = Scenario {
            name: "a: many small objects".into(),
            levels: vec![
                level("1,000 × 32 KiB", 1000, 32 * 1024),
                level("4 × 256 MiB", 4, 256 * MIB as usize),
            ],
        };
        let mut rows = Vec::new();
        for round in 0..3 {
            for (tool, wall) in [
                (Tool::Engine, 2000),
                (Tool::S5cmd, 2500),
                (Tool::Rclone, 4000),
            ] {
                rows.push(row(
                    "1,000 × 32 KiB",
                    tool,
                    round,
                    wall + round as u64 * 100,
                    1000,
                ));
            }
            rows.push(row("4 × 256 MiB", Tool::Engine, round, 3000, 4));
        }
        let outcome = Outcome {
            rows,
            absent: vec![Tool::Aws],
            proxy_connections: 0,
        };
        (scenario, outcome)
    }

    #[test]
    fn the_table_has_cpu_per_object_for_client_and_server() {
        let (scenario, outcome) = scenario_and_outcome();
        let md = render(&scenario, &config(), &outcome);
        assert!(md.contains("| client CPU ms / object | server CPU s | server CPU ms / object |"));
        // engine median: 2.1 s, 1,000 objects, 0.75 s CPU, 1 s server CPU.
        assert!(
            md.contains(
                "| engine | 3/3 | 2.10 | 476.2 | 14.9 | 0.75 | 0.750 | 1.00 | 1.000 | 40.0 | 1.00 |"
            ),
            "{md}"
        );
        assert!(
            md.contains(
                "| rclone | 3/3 | 4.10 | 243.9 | 7.6 | 0.75 | 0.750 | – | – | 40.0 | 0.51 |"
            ),
            "{md}"
        );
        assert!(md.contains("| aws | absent (not installed) |"));
        assert!(!md.contains("!["), "no charts asked for");
    }

    #[test]
    fn charts_pick_the_throughput_unit_by_object_count() {
        let (scenario, outcome) = scenario_and_outcome();
        let charts = level_charts(&scenario, &config(), &outcome);
        assert_eq!(charts.len(), 2);
        let labels = |c: &Chart| c.panels.iter().map(|p| p.label.clone()).collect::<Vec<_>>();
        assert_eq!(
            labels(&charts[0].1),
            [
                "objects/s",
                "client CPU ms / object",
                "server CPU ms / object",
                "peak RSS MiB"
            ]
        );
        assert_eq!(labels(&charts[1].1)[0], "MiB/s");
        let first = &charts[0].1.panels[0];
        let names: Vec<_> = first
            .bars
            .iter()
            .map(|b| (b.name.as_str(), b.highlight))
            .collect();
        assert_eq!(
            names,
            [("engine", true), ("s5cmd", false), ("rclone", false)]
        );
        assert!(
            charts[0].1.panels[2].bars[2].value.is_nan(),
            "rclone's server CPU unmeasured"
        );
    }

    #[test]
    fn charts_are_written_and_linked_relative_to_the_markdown() {
        let (scenario, outcome) = scenario_and_outcome();
        let dir = tempfile::tempdir().unwrap();
        let charts = ChartsDir::new(&dir.path().join("charts"), Some(&dir.path().join("r.md")));
        assert_eq!(charts.link_prefix, "charts/");
        let md = render_with_charts(&scenario, &config(), &outcome, Some(&charts)).unwrap();
        for file in [
            "a-many-small-objects-1000-x-32-kib-15ms.svg",
            "a-many-small-objects-4-x-256-mib-15ms.svg",
        ] {
            let svg = std::fs::read_to_string(dir.path().join("charts").join(file)).unwrap();
            assert!(svg.contains("\nengine\n"), "{file}");
            assert!(md.contains(&format!("](charts/{file})")), "{md}");
        }
        // Without a markdown file the folder is linked as given.
        assert_eq!(
            ChartsDir::new(Path::new("out/c"), None).link_prefix,
            "out/c/"
        );
        assert_eq!(
            ChartsDir::new(Path::new("/x/c"), Some(Path::new("/y/r.md"))).link_prefix,
            "/x/c/"
        );
    }
}
