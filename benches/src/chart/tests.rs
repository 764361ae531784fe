use super::*;

fn bar(name: &str, value: f64, highlight: bool) -> Bar {
    Bar {
        name: name.into(),
        value,
        highlight,
    }
}

fn sample() -> Chart {
    let names = [("engine", true), ("s5cmd", false), ("rclone", false)];
    let panel = |label: &str, values: [f64; 3]| {
        Panel::new(
            label,
            names
                .iter()
                .zip(values)
                .map(|((n, h), v)| bar(n, v, *h))
                .collect(),
        )
    };
    Chart {
        title: "a: many small objects — 10,080 × 32 KiB".into(),
        subtitle: "median of 3 runs <& quoted>".into(),
        panels: vec![
            panel("objects/s", [603.0, 564.25, 411.0]),
            panel("client CPU ms / object", [0.99, 0.72, f64::NAN]),
        ],
    }
}

/// The contents of every `<text>` element, trimmed.
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .map(|t| {
            let body = &t[t.find('>').unwrap() + 1..];
            body[..body.find("</text>").unwrap()].trim().to_string()
        })
        .collect()
}

#[test]
fn a_chart_renders_every_name_and_value_as_svg_text() {
    let svg = render_svg(&sample()).unwrap();
    let texts = texts(&svg);
    assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(200)]);
    assert!(svg.trim_end().ends_with("</svg>"));
    for text in [
        "engine",
        "s5cmd",
        "rclone",
        "603",
        "564",
        "411",
        "0.99",
        "0.72",
        "n/a",
        "objects/s",
        "client CPU ms / object",
        "higher is better",
        "lower is better",
    ] {
        assert!(
            texts.iter().any(|t| t == text),
            "{text} missing from {texts:?}"
        );
    }
    // Text is escaped, so the document stays well-formed.
    assert!(
        texts
            .iter()
            .any(|t| t == "median of 3 runs &lt;&amp; quoted&gt;")
    );
    // The name column once, not per panel; the engine's name and values bold.
    assert_eq!(texts.iter().filter(|t| *t == "engine").count(), 1);
    assert_eq!(svg.matches("font-weight=\"bold\"").count(), 1 + 2 + 1 + 2);
    // Two highlighted bars (one per panel), four peer bars, the NaN draws none.
    assert_eq!(svg.matches("#1C7ED6").count(), 2, "{svg}");
    assert_eq!(svg.matches("#ADB5BD").count(), 3, "{svg}");
}

#[test]
fn a_chart_is_written_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.svg");
    write_svg(&sample(), &path).unwrap();
    assert!(std::fs::read_to_string(&path).unwrap().contains("<svg"));
    let empty = Chart {
        panels: vec![],
        ..sample()
    };
    assert!(write_svg(&empty, &path).is_err());
}

#[test]
fn values_print_with_about_three_figures() {
    assert_eq!(format_value(10080.4), "10,080");
    assert_eq!(format_value(1234567.0), "1,234,567");
    assert_eq!(format_value(564.25), "564");
    assert_eq!(format_value(44.44), "44.4");
    assert_eq!(format_value(2.694), "2.69");
    assert_eq!(format_value(0.0), "0.00");
    assert_eq!(format_value(0.0421), "0.042");
    assert_eq!(format_value(f64::NAN), "n/a");
    assert_eq!(format_value(-1234.4), "-1,234");
    // A panel prints every bar with its largest bar's decimals.
    assert_eq!(format_fixed(93.0, decimals_for(603.0)), "93");
    assert_eq!(format_fixed(1.5, decimals_for(12.0)), "1.5");
}

#[test]
fn file_stems_are_safe() {
    assert_eq!(
        file_stem("a: many small objects-10,080 × 32 KiB"),
        "a-many-small-objects-10080-x-32-kib"
    );
    assert_eq!(file_stem("../etc/passwd"), "etc-passwd");
}

#[test]
fn reading_hints_follow_the_unit() {
    assert_eq!(reading_hint("objects/s"), "higher is better");
    assert_eq!(reading_hint("MiB/s"), "higher is better");
    assert_eq!(reading_hint("wall s (median of 3)"), "lower is better");
    assert_eq!(reading_hint("server CPU s"), "lower is better");
    assert_eq!(reading_hint("peak RSS MiB"), "lower is better");
    assert_eq!(reading_hint("tables"), "");
}

#[test]
fn a_csv_becomes_one_panel_per_metric() {
    let csv = "tool,wall s (median of 3),server CPU s,\"client CPU s, total\"\n\
               # a comment\n\
               mariadb < dump.sql,44.4,25.6,n/a\n\
               \n\
               restore 2 workers,16.5,38.3,3.1\n";
    let chart = from_csv(csv, "/tmp/r/restore.csv", "Restore", &["restore".into()]).unwrap();
    assert_eq!(chart.subtitle, "from restore.csv");
    assert_eq!(chart.panels.len(), 3);
    assert_eq!(chart.panels[2].label, "client CPU s, total");
    assert_eq!(
        chart.panels[0].bars[1],
        bar("restore 2 workers", 16.5, true)
    );
    assert!(!chart.panels[0].bars[0].highlight);
    assert!(chart.panels[2].bars[0].value.is_nan());
    let svg = render_svg(&chart).unwrap();
    assert!(texts(&svg).contains(&"mariadb &lt; dump.sql".to_string()));
}

#[test]
fn bad_csv_names_the_file_and_line() {
    let err = |text: &str| {
        format!(
            "{:#}",
            from_csv(text, "bench.csv", "t", &[]).expect_err(text)
        )
    };
    let e = err("tool,obj/s\nengine,603\ns5cmd,fast\n");
    assert!(
        e.contains("bench.csv:3") && e.contains("\"fast\" is not a number"),
        "{e}"
    );
    let e = err("tool,obj/s,cpu\nengine,603\n");
    assert!(
        e.contains("bench.csv:2") && e.contains("2 fields, the header has 3"),
        "{e}"
    );
    let e = err("tool,obj/s\n\"engine,603\n");
    assert!(
        e.contains("bench.csv:2") && e.contains("unterminated"),
        "{e}"
    );
    let e = err("tool\nengine\n");
    assert!(
        e.contains("bench.csv:1") && e.contains("at least one metric"),
        "{e}"
    );
    let e = err("tool,obj/s\n");
    assert!(e.contains("bench.csv") && e.contains("no rows"), "{e}");
    let e = err("");
    assert!(e.contains("bench.csv") && e.contains("no header"), "{e}");
    let e = err("tool,obj/s\n,5\n");
    assert!(e.contains("bench.csv:2") && e.contains("name"), "{e}");
}

#[test]
fn a_missing_csv_file_is_named() {
    let e = from_csv_file(Path::new("/nonexistent/x.csv"), "t", &[]).unwrap_err();
    assert!(format!("{e:#}").contains("/nonexistent/x.csv"));
}
