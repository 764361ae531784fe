//! Reading configuration from the environment. Empty values count as unset, because
//! Terraform renders an unset optional variable as `""`.

use std::str::FromStr;

use crate::{Error, Result};

/// A variable's value, `None` when unset or empty.
pub fn optional(name: &'static str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A variable that must be set.
pub fn required(name: &'static str) -> Result<String> {
    optional(name).ok_or(Error::Env {
        name,
        reason: "is required but not set".into(),
    })
}

/// A variable parsed as `T`, or `default` when unset.
pub fn parsed<T: FromStr>(name: &'static str, default: T) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    match optional(name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|e: T::Err| Error::Env {
            name,
            reason: format!("{v:?} does not parse: {e}"),
        }),
    }
}
