//! The binary checks its configuration before any AWS call: with a variable missing or
//! malformed it exits non-zero at once, with one log line naming the variable, before the
//! AWS SDK could look for a region or credentials (and print its warnings about them).

use std::process::Command;
use std::time::{Duration, Instant};

const REQUIRED: [(&str, &str); 3] = [
    ("SOURCE_BUCKET", "exports"),
    ("TARGET_BUCKET", "landing"),
    ("WORKFLOW_NAME", "import"),
];

/// Runs the binary with only `vars` set (and the instance metadata service off, so that
/// even a regression makes no request off this machine); `(exit success, output lines)`.
fn run(vars: &[(&str, &str)]) -> (bool, Vec<String>) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_export-copier"))
        .env_clear()
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(vars.iter().copied())
        .output()
        .expect("running export-copier");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "a configuration error must not wait for anything"
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.success(),
        text.lines().map(str::to_string).collect(),
    )
}

#[test]
fn each_missing_required_variable_fails_in_one_line_naming_it() {
    for missing in REQUIRED.map(|(name, _)| name) {
        let vars: Vec<_> = REQUIRED
            .into_iter()
            .filter(|(n, _)| *n != missing)
            .collect();
        let (ok, lines) = run(&vars);
        assert!(!ok, "{missing}: {lines:?}");
        assert_eq!(lines.len(), 1, "{missing}: one line: {lines:#?}");
        assert!(lines[0].contains(missing), "{}", lines[0]);
        let lower = lines[0].to_ascii_lowercase();
        assert!(
            !lower.contains("region") && !lower.contains("imds"),
            "{}",
            lines[0]
        );
    }
}

#[test]
fn a_malformed_number_is_named_with_its_value() {
    for (name, value) in [("CONCURRENCY", "lots"), ("DEADLINE_MARGIN_SECONDS", "0")] {
        let mut vars = REQUIRED.to_vec();
        vars.push((name, value));
        let (ok, lines) = run(&vars);
        assert!(!ok && lines.len() == 1, "{name}: {lines:#?}");
        assert!(lines[0].contains(name), "{}", lines[0]);
    }
}

#[test]
fn a_malformed_switch_is_named_with_its_value() {
    let mut vars = REQUIRED.to_vec();
    vars.push(("FAIL_ON_SCHEMA_CHANGE", "yes please"));
    let (ok, lines) = run(&vars);
    assert!(!ok && lines.len() == 1, "{lines:#?}");
    assert!(
        lines[0].contains("FAIL_ON_SCHEMA_CHANGE") && lines[0].contains("yes please"),
        "{}",
        lines[0]
    );
}
