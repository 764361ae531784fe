//! What the `engine` binary prints around a run, with no server: the metrics summary, log
//! lines as JSON off a terminal, and a quiet end when stdout is a closed pipe.

use std::path::Path;
use std::process::{Command, Output};

const ID: &str = "sql-to-parquet-24-06-04-101500";

fn engine(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_engine"));
    cmd.args(args).env_remove("RUST_LOG");
    cmd
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `DIR/exports` holds the sample export; returns `(source, target)`.
fn sample(dir: &Path) -> (String, String) {
    let source = dir.join("exports").to_str().unwrap().to_string();
    let target = dir.join("landing/parking").to_str().unwrap().to_string();
    let out = engine(&["sample", &source, "--export-id", ID])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    (source, target)
}

#[test]
fn a_copy_ends_with_the_metrics_summary_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let (source, target) = sample(dir.path());
    let report = dir.path().join("report.json");
    let out = engine(&[
        "copy",
        ID,
        "--source",
        &source,
        "--target",
        &target,
        "--report",
        report.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let summary = err
        .split_once("metrics:\n")
        .unwrap_or_else(|| panic!("no metrics summary: {err}"))
        .1;
    let line = |name: &str| {
        summary
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {summary}"))
            .to_string()
    };
    assert!(
        line("liberator_objects_copied_total").ends_with(" 14"),
        "{summary}"
    );
    assert!(
        line("liberator_objects_non_parquet_total").ends_with(" 3"),
        "{summary}"
    );
    assert!(
        line("liberator_object_seconds").contains("count 14 "),
        "a histogram: {summary}"
    );
}

#[test]
fn other_commands_print_metrics_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let out = engine(&["demo", "--dir", demo.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("metrics:"), "{}", stderr(&out));
    let out = engine(&["--metrics", "demo", "--dir", demo.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("liberator_objects_skipped_total"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn log_lines_are_json_off_a_terminal_and_text_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let (source, target) = sample(dir.path());
    let copy = ["copy", ID, "--source", &source, "--target", &target];
    let out = engine(&copy).env("RUST_LOG", "info").output().unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "no ANSI codes off a terminal: {err}"
    );
    let json: Vec<serde_json::Value> = err
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let landing = json
        .iter()
        .find(|v| v["fields"]["message"] == "landing export")
        .unwrap_or_else(|| panic!("no JSON `landing export` line: {err}"));
    assert_eq!(landing["level"], "INFO");
    assert_eq!(landing["span"]["export_id"], ID, "span fields on the line");

    let out = engine(&copy)
        .args(["--log-format", "text", "--force"])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("INFO") && err.contains("landing export"),
        "{err}"
    );
    assert!(!err.lines().any(|l| l.starts_with('{')), "{err}");
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader); // like `engine … | head` once head has exited
    let out = engine(&["demo", "--dir", dir.path().join("demo").to_str().unwrap()])
        .stdout(writer)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(141), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Runs `engine ARGS` with stdout on a pseudo-terminal (util-linux `script`) and stderr in
/// `err`; what reached the terminal.
fn on_a_terminal(args: &[&str], err: &Path) -> String {
    let line = format!(
        "{} {} 2>{}",
        env!("CARGO_BIN_EXE_engine"),
        args.join(" "),
        err.display()
    );
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env_remove("RUST_LOG")
        .output()
        .expect("script (util-linux) runs a command on a terminal");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{line}: {text}\n{}",
        std::fs::read_to_string(err).unwrap_or_default()
    );
    text
}

#[test]
fn a_terminal_gets_the_summary_and_json_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let (source, target) = sample(dir.path());
    let err = dir.path().join("stderr");
    let copy = ["copy", ID, "--source", &source, "--target", &target];
    let shown = on_a_terminal(&copy, &err);
    assert!(
        !shown.contains("\"export_id\""),
        "no JSON on a terminal: {shown}"
    );
    let summary = std::fs::read_to_string(&err).unwrap();
    assert!(summary.contains("copied 14"), "{summary}");
    let rate = summary
        .split_once(" objects/s")
        .and_then(|(before, _)| before.rsplit_once('('))
        .map(|(_, n)| n.to_string())
        .unwrap_or_else(|| panic!("no objects/s in {summary}"));
    assert!(
        rate.chars().all(|c| c.is_ascii_digit() || c == ','),
        "a rate reads like 6,612 objects/s: {rate:?}"
    );

    let mut json = copy.to_vec();
    json.extend(["--json", "--force"]);
    let shown = on_a_terminal(&json, &err);
    let start = shown
        .find('{')
        .unwrap_or_else(|| panic!("no JSON with --json: {shown}"));
    let report: serde_json::Value = serde_json::from_str(shown[start..].trim()).unwrap();
    assert_eq!(report["copied"], 14);

    // Off a terminal (a pipe), the JSON stays on stdout, as scripts expect.
    let out = engine(&copy).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["skipped"], 14);
}
