//! What the commands print: JSON reports (to a file or stdout) and location parsing with
//! the flag's text in the error. Everything goes through [`liberator_telemetry::pipe`], so a
//! closed pipe ends the process quietly.

use std::path::Path;

use anyhow::{Context, Result};
use liberator_engine::Location;
use liberator_telemetry::outln;

/// Writes `value` as pretty JSON to `path`, or to stdout without one.
pub fn write_json(path: Option<&Path>, value: &impl serde::Serialize) -> Result<()> {
    let json = serde_json::to_string_pretty(value)?;
    match path {
        Some(p) => std::fs::write(p, json + "\n")
            .with_context(|| format!("writing report {}", p.display())),
        None => {
            outln!("{json}");
            Ok(())
        }
    }
}

/// Parses a `--source`/`--target`/location argument.
pub fn location(s: &str) -> Result<Location> {
    Location::parse(s).with_context(|| format!("parsing location {s:?}"))
}
