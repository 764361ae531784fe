//! One logging set-up for every liberator binary, plus two things a command-line tool needs:
//! a quiet end when its output pipe closes, and a summary of the engine's metrics.
//!
//! - [`init`]: `tracing` to stderr, filtered by `RUST_LOG` (else the binary's default): JSON
//!   lines when stderr is not a terminal (ECS and Lambda logs reach CloudWatch as JSON, with no
//!   ANSI colour codes), human lines on a terminal.
//! - [`pipe`]: `engine … | head` ends quietly (exit status 141, as a shell reports a process
//!   ended by SIGPIPE) instead of panicking with 101.
//! - [`summary`]: a `metrics` recorder that keeps counters, gauges and histograms in memory and
//!   renders them as a short text block (the CLI prints it on stderr at the end of a run).
//!
//! ```no_run
//! use liberator_telemetry::{LogConfig, LogFormat, pipe, summary::Summary};
//!
//! pipe::install();
//! liberator_telemetry::init(&LogConfig { default_filter: "warn".into(), ..LogConfig::default() })
//!     .expect("the only subscriber");
//! let metrics = Summary::install().expect("the only recorder");
//! metrics::counter!("liberator_objects_copied_total").increment(1);
//! pipe::eprint(format_args!("{}", metrics.render()));
//! ```

pub mod pipe;
pub mod summary;

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// What can go wrong installing the process-wide subscriber or recorder.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A `tracing` subscriber was installed before (tests may call [`init`] twice: ignore it).
    #[error("a tracing subscriber is already installed: {0}")]
    SubscriberInstalled(String),

    /// A `metrics` recorder was installed before.
    #[error("a metrics recorder is already installed: {0}")]
    RecorderInstalled(String),
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// JSON when stderr is not a terminal, text when it is. The default.
    #[default]
    Auto,
    /// One JSON object per line.
    Json,
    /// Human-readable lines (coloured on a terminal only).
    Text,
}

impl LogFormat {
    /// Whether this format writes JSON, given where stderr goes.
    pub fn is_json(self) -> bool {
        match self {
            LogFormat::Auto => !std::io::stderr().is_terminal(),
            LogFormat::Json => true,
            LogFormat::Text => false,
        }
    }
}

/// Logging settings; [`LogConfig::default`] suits a service (ECS task, Lambda).
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// `tracing` directives used when `RUST_LOG` is unset, e.g. `"warn,liberator_engine=info"`.
    /// Default `"info"`. Invalid directives (here or in `RUST_LOG`) are skipped with a warning.
    pub default_filter: String,
    /// Default [`LogFormat::Auto`].
    pub format: LogFormat,
    /// JSON lines carry the current span and every enclosing span's fields, so a field such
    /// as `export_id`, recorded once on a handler's span, is on every line logged under it,
    /// the engine's included (CloudWatch Logs Insights can filter on it). Default `true`.
    pub span_fields: bool,
    /// Lines name the module that logged them. Default `false` (the span names suffice).
    pub target: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            default_filter: "info".into(),
            format: LogFormat::Auto,
            span_fields: true,
            target: false,
        }
    }
}

impl LogConfig {
    /// The filter: `RUST_LOG` when set, else [`LogConfig::default_filter`].
    pub fn filter(&self) -> EnvFilter {
        let directives = std::env::var(EnvFilter::DEFAULT_ENV)
            .ok()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| self.default_filter.clone());
        EnvFilter::builder().parse_lossy(directives)
    }
}

/// Installs the process-wide `tracing` subscriber, writing to stderr. Call it once, first
/// thing in `main`; a second call returns [`Error::SubscriberInstalled`] and changes nothing.
///
/// Whatever the filter, HTTP response bodies the AWS SDK would print with
/// `LOG_SENSITIVE_BODIES=true` are dropped (see [`sensitive_bodies_dropped`]): one of them
/// holds the restore's database password (GetSecretValue), another a task role's keys.
pub fn init(config: &LogConfig) -> Result<(), Error> {
    use tracing_subscriber::filter::{FilterExt, filter_fn};
    use tracing_subscriber::prelude::*;

    let drop_bodies = sensitive_bodies_dropped();
    let bodies = filter_fn(move |meta| !(drop_bodies && is_sdk_response(meta)));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(config.target);
    let layer = if config.format.is_json() {
        layer
            .json()
            .with_current_span(config.span_fields)
            .with_span_list(config.span_fields)
            .with_ansi(false)
            .boxed()
    } else {
        layer.with_ansi(std::io::stderr().is_terminal()).boxed()
    };
    tracing_subscriber::registry()
        .with(layer.with_filter(config.filter().and(bodies)))
        .try_init()
        .map_err(|e| Error::SubscriberInstalled(e.to_string()))?;
    if drop_bodies {
        tracing::warn!(
            "LOG_SENSITIVE_BODIES is set: the AWS SDK's HTTP responses are not logged, since they can hold secrets"
        );
    }
    Ok(())
}

/// Whether `LOG_SENSITIVE_BODIES=true` asks the AWS SDK to print, at trace level, response
/// bodies it otherwise redacts, such as GetSecretValue's and the container credentials'.
pub fn sensitive_bodies_dropped() -> bool {
    std::env::var("LOG_SENSITIVE_BODIES").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

/// An event of the SDK's orchestrator that prints an HTTP response (`response = ?..`).
fn is_sdk_response(meta: &tracing::Metadata<'_>) -> bool {
    meta.is_event()
        && meta.target().starts_with("aws_smithy_runtime")
        && meta.fields().field("response").is_some()
}
