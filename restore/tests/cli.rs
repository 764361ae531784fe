//! The `restore` binary keeps the password out of argv, logs and errors, and exits
//! non-zero on failure.

use std::path::Path;
use std::process::Command;

use liberator_tests::restore_day::restore_command;

const PASSWORD: &str = "Sup3r-s3cret-PW";

/// The binary with no ambient configuration.
fn restore() -> Command {
    restore_command(Path::new(env!("CARGO_BIN_EXE_restore")))
}

#[test]
fn there_is_no_password_flag() {
    let out = restore().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        help.contains("--mysql-host") && help.contains("MYSQL_PASS_SECRET_ID"),
        "{help}"
    );
    assert!(
        !help.contains("--mysql-pass "),
        "a password flag would put it in argv: {help}"
    );
    let out = restore().args(["--mysql-pass", PASSWORD]).output().unwrap();
    assert!(!out.status.success());
}

#[test]
fn failed_connection_exits_non_zero_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("d.sql");
    std::fs::write(&dump, "SELECT 1;").unwrap();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = restore()
        .arg("--from-file")
        .arg(&dump)
        .env("MYSQL_HOST", format!("127.0.0.1:{port}"))
        .env("MYSQL_USER", "loader")
        .env("MYSQL_PASS", PASSWORD)
        .env("MYSQL_TLS", "false")
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        all.contains(&format!(
            "connecting to MySQL at 127.0.0.1:{port} as loader"
        )),
        "{all}"
    );
    assert!(!all.contains(PASSWORD), "password leaked: {all}");
}

#[test]
fn missing_task_settings_are_named() {
    let out = restore()
        .env("MYSQL_PASS", PASSWORD)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("BUCKET_NAME is required"), "{err}");
    assert!(!err.contains(PASSWORD));
}
