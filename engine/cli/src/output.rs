//! What the commands print: JSON reports (to a file or stdout) and location parsing with
//! the flag's text in the error. Everything goes through [`liberator_telemetry::pipe`], so a
//! closed pipe ends the process quietly.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, Result};
use liberator_engine::{AwsOptions, ClientFactory, Location};
use liberator_telemetry::outln;

/// Writes `value` as pretty JSON to `path` (`--report FILE`), and to stdout when asked
/// (`--json`) or when there is no file and stdout is not a terminal (scripts and pipes keep
/// their JSON; a person at a terminal gets the human summary, not hundreds of lines).
pub fn write_json(path: Option<&Path>, json: bool, value: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    if let Some(p) = path {
        std::fs::write(p, text.clone() + "\n")
            .with_context(|| format!("writing report {}", p.display()))?;
    }
    if json_to_stdout(path.is_some(), json, std::io::stdout().is_terminal()) {
        outln!("{text}");
    }
    Ok(())
}

/// Whether the JSON goes to stdout: `--json`, or no `--report` file and not a terminal.
pub fn json_to_stdout(to_file: bool, json: bool, stdout_is_terminal: bool) -> bool {
    json || (!to_file && !stdout_is_terminal)
}

/// Fails at once, naming what to set, when the standard chain finds no AWS credentials:
/// otherwise every request would retry the same missing-credentials error for a while.
pub async fn require_credentials(options: &AwsOptions) -> Result<()> {
    use aws_sdk_s3::config::ProvideCredentials;

    let factory = ClientFactory::load(options.clone()).await;
    let hint = "set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where an IAM role is attached";
    let Some(provider) = factory.sdk_config().credentials_provider() else {
        anyhow::bail!("no AWS credentials: no credentials provider is configured; {hint}");
    };
    if let Err(e) = provider.provide_credentials().await {
        let mut chain = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            chain = format!("{chain}: {s}");
            source = s.source();
        }
        anyhow::bail!("no AWS credentials ({chain}); {hint}");
    }
    Ok(())
}

/// Parses a `--source`/`--target`/location argument.
pub fn location(s: &str) -> Result<Location> {
    Location::parse(s).with_context(|| format!("parsing location {s:?}"))
}

pub use liberator_engine::report::thousands;

/// A rate rounded to a whole number with thousands separators: `6,612 objects/s`.
pub fn rate(per_sec: f64, unit: &str) -> String {
    let n = if per_sec.is_finite() && per_sec > 0.0 {
        per_sec.round() as u64
    } else {
        0
    };
    format!("{} {unit}/s", thousands(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_counts_read_like_numbers() {
        assert_eq!(rate(6611.5642, "objects"), "6,612 objects/s");
        assert_eq!(rate(0.4, "objects"), "0 objects/s");
        assert_eq!(rate(f64::NAN, "objects"), "0 objects/s");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
    }

    #[test]
    fn json_reaches_stdout_when_asked_or_off_a_terminal() {
        // (to_file, --json, stdout is a terminal) -> stdout
        assert!(
            !json_to_stdout(false, false, true),
            "terminal: summary only"
        );
        assert!(json_to_stdout(false, true, true), "--json on a terminal");
        assert!(json_to_stdout(false, false, false), "pipes keep their JSON");
        assert!(
            !json_to_stdout(true, false, false),
            "--report FILE takes it"
        );
        assert!(json_to_stdout(true, true, true), "both when both are asked");
    }
}
