//! The copier's configuration: the environment in production, read and checked before the
//! first AWS call, so a missing variable fails with one line naming it.

use std::time::Duration;

use liberator_lambda_common::{AwsOptions, Endpoints, env};

use crate::Error;
use crate::marker;

/// Default number of copies in flight (the engine's limiter maximum).
pub const DEFAULT_CONCURRENCY: usize = 64;
/// Default time kept free before the Lambda deadline.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_secs(90);
/// Lambda's own limit on one invocation, and the default of [`Config::max_invocation`].
pub const MAX_INVOCATION: Duration = Duration::from_secs(15 * 60);
/// Default lease of a Glue start claim (longer than [`MAX_INVOCATION`]) and wait on another
/// invocation's claim: the shared protocol's.
pub use liberator_glue::{DEFAULT_CLAIM_LEASE, DEFAULT_CLAIM_WAIT};

/// Configuration, from the environment in production.
#[derive(Debug, Clone)]
pub struct Config {
    /// `SOURCE_BUCKET`: the export bucket. Required.
    pub source_bucket: String,
    /// `SOURCE_PREFIX`: where export folders sit in it (the trigger's `EXPORT_S3_PREFIX`).
    /// Default: the bucket root.
    pub source_prefix: String,
    /// `TARGET_BUCKET`: the landing bucket. Required.
    pub target_bucket: String,
    /// `TARGET_PREFIX`: landing prefix the table folders go under. Default `parking`: tables
    /// land at `parking/<db>/<db.table>/import_year=…/`, where the platform's Glue crawler
    /// reads (`s3://<landing>/parking/liberator` for the `liberator` database).
    pub target_prefix: String,
    /// `WORKFLOW_NAME`: Glue workflow started after a normal export. Required.
    pub workflow_name: String,
    /// `BACKDATED_WORKFLOW_NAME`: Glue workflow for `-backdated` exports. Default: none
    /// (a backdated export then fails, naming the variable).
    pub backdated_workflow_name: Option<String>,
    /// `CONCURRENCY`: copies in flight. Default 64.
    pub concurrency: usize,
    /// `TARGET_KMS_KEY_ID`: SSE-KMS key for landed objects. Default: the bucket's default
    /// encryption.
    pub target_kms_key_id: Option<String>,
    /// `DEADLINE_MARGIN_SECONDS`: stop starting copies when less than this remains before
    /// the invocation's deadline (capped at a quarter of the invocation's time, so a short
    /// timeout still makes progress). Default 90 s: in-flight copies must finish and the
    /// re-invocation be sent within it, so it also bounds every AWS call
    /// ([`Config::aws_options`]).
    pub deadline_margin: Duration,
    /// `MAX_INVOCATION_SECONDS`: the function's timeout (Terraform passes
    /// `copier_timeout_seconds`). Default 900 s, Lambda's limit; 1 to 900. Known at start-up,
    /// it caps the margin the AWS calls are bounded by ([`Config::effective_margin`]) before
    /// any invocation tells the deadline, and caps each invocation's deadline. A runtime
    /// whose deadline has already passed when an invocation starts (local emulators:
    /// `cargo lambda watch` always sends 600000 ms after the epoch) gets exactly this long,
    /// which is how the hand-off test gives its first invocation a few seconds.
    pub max_invocation: Duration,
    /// `MARKER_PREFIX`: folder of the exactly-once markers in the landing bucket. Default
    /// `_liberator/glue-runs/`.
    pub marker_prefix: String,
    /// `MANIFEST_LOCATION`: where the restore task writes its manifests
    /// (`s3://bucket/prefix/`, the manifest of snapshot S at `<prefix>S.json`); landed rows
    /// are checked against them. Default none: only the export's own table list and
    /// statuses are checked, which every report then says.
    pub manifests: Option<liberator_engine::Location>,
    /// `CLAIM_LEASE_SECONDS`: how long a Glue start claim is held; after it, a claim with
    /// no run carrying the export id (its invocation died between the claim and
    /// `StartWorkflowRun`) is taken over. Default 20 minutes; from the environment it must
    /// exceed Lambda's 15-minute limit ([`MAX_INVOCATION`]), so an expired claim's holder
    /// cannot still be running. (Tests set it short.)
    pub claim_lease: Duration,
    /// `CLAIM_WAIT_SECONDS`: how long a delivery that finds another invocation's live claim
    /// waits (re-reading the marker) for the run to be recorded before it fails with the
    /// retryable `StartInProgress`. Default 20 s: claim, start and record take about a
    /// second. 0 answers at once. Used up to half the deadline margin
    /// ([`Config::claim_wait_bounded`]), so the wait after a copy that ran up to the margin
    /// still ends before the deadline.
    pub claim_wait: Duration,
    /// `FAIL_ON_SCHEMA_CHANGE` (`true`/`false`): start no Glue workflow when a column was
    /// removed or retyped since the previous import date landed on the target
    /// ([`crate::drift`]); the invocation fails with `SchemaChanged`, naming each table and
    /// column. Default false: every change is logged and kept in the report, and Glue
    /// starts.
    pub fail_on_schema_change: bool,
    /// Endpoint overrides (tests). Default none: the SDK's resolution, which honours
    /// `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`.
    pub endpoints: Endpoints,
}

/// The landing root the platform's crawler reads.
pub const DEFAULT_TARGET_PREFIX: &str = "parking";

impl Default for Config {
    fn default() -> Self {
        Config {
            source_bucket: String::new(),
            source_prefix: String::new(),
            target_bucket: String::new(),
            target_prefix: DEFAULT_TARGET_PREFIX.into(),
            workflow_name: String::new(),
            backdated_workflow_name: None,
            concurrency: DEFAULT_CONCURRENCY,
            target_kms_key_id: None,
            deadline_margin: DEFAULT_DEADLINE_MARGIN,
            max_invocation: MAX_INVOCATION,
            marker_prefix: marker::DEFAULT_MARKER_PREFIX.into(),
            manifests: None,
            claim_lease: DEFAULT_CLAIM_LEASE,
            claim_wait: DEFAULT_CLAIM_WAIT,
            fail_on_schema_change: false,
            endpoints: Endpoints::default(),
        }
    }
}

impl Config {
    /// Reads the variables named on each field; the error names the first variable that
    /// is missing or does not parse.
    pub fn from_env() -> Result<Self, Error> {
        let d = Config::default();
        let concurrency: usize = env::parsed("CONCURRENCY", d.concurrency)?;
        if concurrency == 0 {
            return Err(liberator_lambda_common::Error::Env {
                name: "CONCURRENCY",
                reason: "must be at least 1".into(),
            }
            .into());
        }
        let margin: u64 = env::parsed("DEADLINE_MARGIN_SECONDS", d.deadline_margin.as_secs())?;
        if margin == 0 {
            return Err(liberator_lambda_common::Error::Env {
                name: "DEADLINE_MARGIN_SECONDS",
                reason: "must be at least 1 (it also bounds every AWS call)".into(),
            }
            .into());
        }
        let max_invocation: u64 =
            env::parsed("MAX_INVOCATION_SECONDS", d.max_invocation.as_secs())?;
        if !(1..=MAX_INVOCATION.as_secs()).contains(&max_invocation) {
            return Err(liberator_lambda_common::Error::Env {
                name: "MAX_INVOCATION_SECONDS",
                reason: format!(
                    "must be 1 to {} (the function's timeout; Lambda allows no more)",
                    MAX_INVOCATION.as_secs()
                ),
            }
            .into());
        }
        let lease: u64 = env::parsed("CLAIM_LEASE_SECONDS", d.claim_lease.as_secs())?;
        if lease <= MAX_INVOCATION.as_secs() {
            return Err(liberator_lambda_common::Error::Env {
                name: "CLAIM_LEASE_SECONDS",
                reason: format!(
                    "must exceed Lambda's {} s limit, so that an expired claim's invocation has ended",
                    MAX_INVOCATION.as_secs()
                ),
            }
            .into());
        }
        let wait: u64 = env::parsed("CLAIM_WAIT_SECONDS", d.claim_wait.as_secs())?;
        Ok(Config {
            source_bucket: env::required("SOURCE_BUCKET")?,
            source_prefix: env::optional("SOURCE_PREFIX").unwrap_or_default(),
            target_bucket: env::required("TARGET_BUCKET")?,
            target_prefix: env::optional("TARGET_PREFIX").unwrap_or(d.target_prefix.clone()),
            workflow_name: env::required("WORKFLOW_NAME")?,
            backdated_workflow_name: env::optional("BACKDATED_WORKFLOW_NAME"),
            concurrency,
            target_kms_key_id: env::optional("TARGET_KMS_KEY_ID"),
            deadline_margin: Duration::from_secs(margin),
            max_invocation: Duration::from_secs(max_invocation),
            marker_prefix: env::optional("MARKER_PREFIX").unwrap_or(d.marker_prefix),
            manifests: match env::optional("MANIFEST_LOCATION") {
                None => None,
                Some(m) => match liberator_engine::Location::parse(&m) {
                    Ok(loc) if loc.is_s3() => Some(loc),
                    _ => {
                        return Err(liberator_lambda_common::Error::Env {
                            name: "MANIFEST_LOCATION",
                            reason: format!("{m:?} is not an s3://bucket/prefix/ location"),
                        }
                        .into());
                    }
                },
            },
            claim_lease: Duration::from_secs(lease),
            claim_wait: Duration::from_secs(wait),
            fail_on_schema_change: env::parsed("FAIL_ON_SCHEMA_CHANGE", d.fail_on_schema_change)?,
            endpoints: d.endpoints,
        })
    }

    /// The margin a whole invocation keeps: [`Config::deadline_margin`], at most a quarter
    /// of [`Config::max_invocation`], as the landing caps it for each invocation (so a
    /// 60 s function keeps 15 s, and its calls are bounded by 7.5 s, not by 45 s).
    pub fn effective_margin(&self) -> Duration {
        self.deadline_margin.min(self.max_invocation / 4)
    }

    /// How the copier's clients reach AWS: every timeout (connect, read, attempt,
    /// operation) within half the effective margin, so a call in flight when the margin is
    /// reached ends in its first half and the second half is left for the report, the
    /// marker and the re-invocation; the configured endpoints.
    pub fn aws_options(&self) -> AwsOptions {
        AwsOptions {
            endpoints: self.endpoints.clone(),
            ..AwsOptions::bounded_by(self.effective_margin() / 2)
        }
    }

    /// The wait on another invocation's claim actually used: [`Config::claim_wait`], at
    /// most half the effective margin.
    pub fn claim_wait_bounded(&self) -> Duration {
        self.claim_wait.min(self.effective_margin() / 2)
    }

    /// `s3://bucket/prefix` without doubled or trailing slashes.
    pub(crate) fn location(bucket: &str, prefix: &str) -> String {
        let prefix = prefix.trim_matches('/');
        if prefix.is_empty() {
            format!("s3://{bucket}")
        } else {
            format!("s3://{bucket}/{prefix}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_join_cleanly() {
        assert_eq!(Config::location("b", ""), "s3://b");
        assert_eq!(Config::location("b", "/p/q/"), "s3://b/p/q");
    }

    #[test]
    fn a_claim_outlives_any_invocation_and_the_wait_fits_the_margin() {
        let d = Config::default();
        assert!(d.claim_lease > MAX_INVOCATION);
        assert_eq!(d.claim_wait_bounded(), DEFAULT_CLAIM_WAIT);
        let tight = Config {
            deadline_margin: Duration::from_secs(10),
            ..Config::default()
        };
        assert_eq!(tight.claim_wait_bounded(), Duration::from_secs(5));
    }

    #[test]
    fn every_call_is_bounded_by_the_margin() {
        let config = Config {
            deadline_margin: Duration::from_secs(30),
            ..Config::default()
        };
        let o = config.aws_options();
        assert_eq!(o.operation_timeout, Duration::from_secs(15));
        assert!(o.attempt_timeout < config.deadline_margin);
        assert!(o.read_timeout < config.deadline_margin);
        assert!(o.connect_timeout < config.deadline_margin);
    }

    #[test]
    fn a_short_function_timeout_tightens_the_margin_and_every_call() {
        let config = Config {
            max_invocation: Duration::from_secs(60),
            ..Config::default()
        };
        assert_eq!(config.effective_margin(), Duration::from_secs(15));
        let o = config.aws_options();
        assert_eq!(o.operation_timeout, Duration::from_millis(7500));
        assert!(config.claim_wait_bounded() <= Duration::from_millis(7500));
    }
}
