//! The binary checks its configuration before any AWS call: with a variable missing it
//! exits non-zero at once, with one log line naming the variable, before the AWS SDK could
//! look for a region or credentials (and print its warnings about them).

use std::process::Command;
use std::time::{Duration, Instant};

/// Runs the binary with only `vars` set (and the instance metadata service off, so that
/// even a regression makes no request off this machine); `(exit success, output lines)`.
fn run(vars: &[(&str, &str)]) -> (bool, Vec<String>) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_export-trigger"))
        .env_clear()
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(vars.iter().copied())
        .output()
        .expect("running export-trigger");
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
fn a_missing_bucket_name_fails_in_one_line_naming_it() {
    let (ok, lines) = run(&[
        ("IAM_ROLE_ARN", "arn:aws:iam::123456789012:role/export"),
        ("KMS_KEY_ID", "k"),
    ]);
    assert!(!ok, "{lines:?}");
    assert_eq!(lines.len(), 1, "one line: {lines:#?}");
    assert!(lines[0].contains("BUCKET_NAME"), "{}", lines[0]);
    assert!(lines[0].contains("ERROR"), "{}", lines[0]);
    let lower = lines[0].to_ascii_lowercase();
    assert!(
        !lower.contains("region") && !lower.contains("imds"),
        "{}",
        lines[0]
    );
}

#[test]
fn every_required_variable_is_named() {
    for (missing, vars) in [
        ("IAM_ROLE_ARN", [("BUCKET_NAME", "b"), ("KMS_KEY_ID", "k")]),
        ("KMS_KEY_ID", [("BUCKET_NAME", "b"), ("IAM_ROLE_ARN", "r")]),
    ] {
        let (ok, lines) = run(&vars);
        assert!(
            !ok && lines.len() == 1 && lines[0].contains(missing),
            "{missing}: {lines:#?}"
        );
    }
}
