//! Bar charts as SVG, so that a reader of `RESULTS.md` sees the standings at a glance.
//!
//! A [`Chart`] is a row of panels (one per metric) that share their rows (one per tool):
//! the tool names stand once on the left, each panel draws one horizontal bar per tool with
//! its value printed beside it, and highlighted bars (the engine's) stand out in colour
//! while the peers are grey. Drawn with `plotters`' SVG backend only: text is plain SVG
//! `<text>` that the viewer lays out, so nothing here needs a font file or a system font
//! library to build or run.
//!
//! [`from_csv`] reads the small CSVs other benchmarks write (`name,metric 1,metric 2,...`),
//! one panel per metric column (`side_by_side chart`).

use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// A titled row of panels.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub title: String,
    /// One line under the title: what was measured, how many runs, the regime.
    pub subtitle: String,
    pub panels: Vec<Panel>,
}

/// One metric: one bar per name. Every panel of a chart should list the same names in the
/// same order (rows are shared; a panel's bars are matched to rows by position).
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// The metric with its unit, e.g. `objects/s` or `client CPU ms / object`.
    pub label: String,
    /// A short reading hint under the label, e.g. `higher is better` (may be empty).
    pub note: String,
    pub bars: Vec<Bar>,
}

/// One value. A non-finite value (not measured) draws no bar and prints `n/a`.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub name: String,
    pub value: f64,
    pub highlight: bool,
}

impl Panel {
    /// A panel whose note is guessed from the label ([`reading_hint`]).
    pub fn new(label: impl Into<String>, bars: Vec<Bar>) -> Self {
        let label = label.into();
        Panel {
            note: reading_hint(&label).to_string(),
            label,
            bars,
        }
    }
}

/// `higher is better` for rates and speed-ups, `lower is better` for times, CPU, memory and
/// sizes, else nothing.
pub fn reading_hint(label: &str) -> &'static str {
    let l = label.to_ascii_lowercase();
    if l.contains("/s") || l.contains("speed") || l.contains('×') || l.contains("throughput") {
        "higher is better"
    } else if [
        "cpu", "wall", "rss", "time", "ms", "size", "latency", "mib", "bytes",
    ]
    .iter()
    .any(|w| l.contains(w))
        || l.ends_with(" s")
        || l.contains(" s ")
    {
        "lower is better"
    } else {
        ""
    }
}

/// How many decimals a panel prints, from its largest value: about three significant
/// figures for the largest bar, the same decimals for every bar so they line up.
pub fn decimals_for(max: f64) -> usize {
    let a = max.abs();
    if !a.is_finite() || a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 0.1 || a == 0.0 {
        2
    } else {
        3
    }
}

/// A value with `decimals` decimals, thousands separated; `n/a` when not finite.
pub fn format_fixed(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = s.split_at(s.find('.').unwrap_or(s.len()));
    let mut out = String::new();
    if v < 0.0 && s.chars().any(|c| c.is_ascii_digit() && c != '0') {
        out.push('-');
    }
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out.push_str(frac);
    out
}

/// A value alone, with [`decimals_for`] itself.
pub fn format_value(v: f64) -> String {
    format_fixed(v, decimals_for(v))
}

// Layout, in pixels.
const MARGIN: i32 = 16;
const HEADER: i32 = 62;
const CAPTION: i32 = 42;
const ROW: i32 = 30;
const BAR: i32 = 20;
const PANEL: i32 = 250;
const GAP: i32 = 26;
/// Room right of the longest bar for its printed value.
const VALUE_ROOM: i32 = 64;
/// plotters' SVG backend writes `font-size` as the given size ÷ 1.24.
const PX: f64 = 1.24;

const INK: RGBColor = RGBColor(0x21, 0x25, 0x29);
const MUTED: RGBColor = RGBColor(0x6c, 0x75, 0x7d);
const RULE: RGBColor = RGBColor(0xce, 0xd4, 0xda);
const PEER: RGBColor = RGBColor(0xad, 0xb5, 0xbd);
const HIGHLIGHT: RGBColor = RGBColor(0x1c, 0x7e, 0xd6);
const STRIPE: RGBColor = RGBColor(0xf1, 0xf3, 0xf5);

fn font(px: f64, colour: RGBColor, bold: bool, pos: Pos) -> TextStyle<'static> {
    let f = ("sans-serif", px * PX).into_font();
    let f = if bold { f.style(FontStyle::Bold) } else { f };
    f.color(&colour).pos(pos)
}

/// The rows: the names of the first panel with the most bars.
fn rows(chart: &Chart) -> Vec<(String, bool)> {
    chart
        .panels
        .iter()
        .max_by_key(|p| p.bars.len())
        .map(|p| {
            p.bars
                .iter()
                .map(|b| (b.name.clone(), b.highlight))
                .collect()
        })
        .unwrap_or_default()
}

/// The chart as an SVG document.
pub fn render_svg(chart: &Chart) -> Result<String> {
    if chart.panels.is_empty() {
        bail!("chart {:?} has no panels", chart.title);
    }
    let rows = rows(chart);
    let longest = rows
        .iter()
        .map(|(n, _)| n.chars().count())
        .max()
        .unwrap_or(0);
    let names_w = (longest as i32 * 17 / 2 + 14).clamp(70, 280);
    let n_panels = chart.panels.len() as i32;
    // Wide enough for the title and subtitle too (about 0.65 em per character).
    let text_w = |text: &str, px: i32| text.chars().count() as i32 * px * 65 / 100;
    let width = (MARGIN * 2 + names_w + n_panels * PANEL + (n_panels - 1) * GAP)
        .max(MARGIN * 2 + text_w(&chart.title, 18))
        .max(MARGIN * 2 + text_w(&chart.subtitle, 13));
    let top = MARGIN + HEADER + CAPTION;
    let height = top + rows.len() as i32 * ROW + MARGIN;
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (width as u32, height as u32)).into_drawing_area();
        let draw_err = |e| anyhow!("drawing chart {:?}: {e:?}", chart.title);
        root.fill(&WHITE).map_err(draw_err)?;
        let left = Pos::new(HPos::Left, VPos::Top);
        root.draw(&Text::new(
            chart.title.clone(),
            (MARGIN, MARGIN),
            font(18.0, INK, true, left),
        ))
        .map_err(draw_err)?;
        root.draw(&Text::new(
            chart.subtitle.clone(),
            (MARGIN, MARGIN + 28),
            font(12.5, MUTED, false, left),
        ))
        .map_err(draw_err)?;
        // Zebra stripes across the whole width, then the names.
        for (i, (name, highlight)) in rows.iter().enumerate() {
            let y = top + i as i32 * ROW;
            if i % 2 == 1 {
                root.draw(&Rectangle::new(
                    [(MARGIN, y), (width - MARGIN, y + ROW)],
                    STRIPE.filled(),
                ))
                .map_err(draw_err)?;
            }
            root.draw(&Text::new(
                name.clone(),
                (MARGIN + names_w - 10, y + ROW / 2),
                font(14.0, INK, *highlight, Pos::new(HPos::Right, VPos::Center)),
            ))
            .map_err(draw_err)?;
        }
        for (p, panel) in chart.panels.iter().enumerate() {
            let x0 = MARGIN + names_w + p as i32 * (PANEL + GAP);
            root.draw(&Text::new(
                panel.label.clone(),
                (x0, MARGIN + HEADER),
                font(14.0, INK, true, left),
            ))
            .map_err(draw_err)?;
            root.draw(&Text::new(
                panel.note.clone(),
                (x0, MARGIN + HEADER + 19),
                font(11.5, MUTED, false, left),
            ))
            .map_err(draw_err)?;
            let max = panel
                .bars
                .iter()
                .map(|b| b.value)
                .filter(|v| v.is_finite())
                .fold(0.0_f64, f64::max);
            let span = (PANEL - VALUE_ROOM) as f64;
            let decimals = decimals_for(max);
            for (i, bar) in panel.bars.iter().enumerate() {
                let y = top + i as i32 * ROW;
                let len = if bar.value.is_finite() && max > 0.0 {
                    ((bar.value.max(0.0) / max) * span).round() as i32
                } else {
                    0
                };
                if len > 0 {
                    let colour = if bar.highlight { HIGHLIGHT } else { PEER };
                    root.draw(&Rectangle::new(
                        [(x0, y + (ROW - BAR) / 2), (x0 + len, y + (ROW + BAR) / 2)],
                        colour.filled(),
                    ))
                    .map_err(draw_err)?;
                }
                root.draw(&Text::new(
                    format_fixed(bar.value, decimals),
                    (x0 + len + 6, y + ROW / 2),
                    font(
                        12.5,
                        if bar.value.is_finite() { INK } else { MUTED },
                        bar.highlight,
                        Pos::new(HPos::Left, VPos::Center),
                    ),
                ))
                .map_err(draw_err)?;
            }
            // The zero line.
            root.draw(&PathElement::new(
                vec![(x0, top - 4), (x0, top + rows.len() as i32 * ROW + 4)],
                RULE.stroke_width(1),
            ))
            .map_err(draw_err)?;
        }
        root.present().map_err(draw_err)?;
    }
    Ok(svg)
}

/// Writes the chart to `path` as SVG.
pub fn write_svg(chart: &Chart, path: &Path) -> Result<()> {
    let svg = render_svg(chart)?;
    std::fs::write(path, svg).with_context(|| format!("writing chart {}", path.display()))
}

/// A file name from free text: lower-case ASCII letters and digits, everything else one
/// `-` (thousands separators dropped: `10,080 × 32 KiB` → `10080-x-32-kib`).
pub fn file_stem(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            ',' => {}
            '×' => out.push('x'),
            c if c.is_ascii_alphanumeric() => out.push(c.to_ascii_lowercase()),
            _ => {
                if !out.is_empty() && !out.ends_with('-') {
                    out.push('-');
                }
            }
        }
    }
    out.trim_end_matches('-').to_string()
}

/// One CSV line split into fields: commas separate, double quotes enclose a field that
/// holds commas (`""` inside quotes is a quote).
fn split_csv(line: &str) -> std::result::Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', true) => quoted = false,
            ('"', false) if field.trim().is_empty() => {
                field.clear();
                quoted = true;
            }
            (',', false) => fields.push(std::mem::take(&mut field).trim().to_string()),
            (c, _) => field.push(c),
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    fields.push(field.trim().to_string());
    Ok(fields)
}

/// A chart from CSV text: the header is `<name column>,<metric>,...`, each row
/// `<name>,<number>,...`; one panel per metric column. An empty cell, `-`, `–` or `n/a` is
/// "not measured". Names starting with one of `highlight` are highlighted. `source` names
/// the file in errors and the subtitle.
pub fn from_csv(text: &str, source: &str, title: &str, highlight: &[String]) -> Result<Chart> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let (header_line, header) = lines
        .next()
        .ok_or_else(|| anyhow!("{source}: no header line (expected `name,metric,...`)"))?;
    let header = split_csv(header).map_err(|e| anyhow!("{source}:{header_line}: {e}"))?;
    if header.len() < 2 {
        bail!(
            "{source}:{header_line}: the header needs a name column and at least one metric \
             column, found {:?}",
            header
        );
    }
    let mut panels: Vec<Panel> = header[1..]
        .iter()
        .map(|label| Panel::new(label.clone(), Vec::new()))
        .collect();
    for (n, line) in lines {
        let fields = split_csv(line).map_err(|e| anyhow!("{source}:{n}: {e}"))?;
        if fields.len() != header.len() {
            bail!(
                "{source}:{n}: {} fields, the header has {} ({line:?})",
                fields.len(),
                header.len()
            );
        }
        let name = fields[0].clone();
        if name.is_empty() {
            bail!("{source}:{n}: the name (first field) is empty");
        }
        let lit = highlight
            .iter()
            .any(|h| !h.is_empty() && name.starts_with(h));
        for (panel, cell) in panels.iter_mut().zip(&fields[1..]) {
            let value = match cell.as_str() {
                "" | "-" | "–" | "n/a" => f64::NAN,
                s => s.replace('_', "").parse::<f64>().map_err(|_| {
                    anyhow!(
                        "{source}:{n}: column {:?} of {name:?}: {s:?} is not a number",
                        panel.label
                    )
                })?,
            };
            panel.bars.push(Bar {
                name: name.clone(),
                value,
                highlight: lit,
            });
        }
    }
    if panels[0].bars.is_empty() {
        bail!("{source}: a header but no rows");
    }
    Ok(Chart {
        title: title.to_string(),
        subtitle: format!(
            "from {}",
            Path::new(source)
                .file_name()
                .map_or(source.into(), |n| n.to_string_lossy())
        ),
        panels,
    })
}

/// [`from_csv`] on a file.
pub fn from_csv_file(path: &Path, title: &str, highlight: &[String]) -> Result<Chart> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    from_csv(&text, &path.display().to_string(), title, highlight)
}

#[cfg(test)]
mod tests;
