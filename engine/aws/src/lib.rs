//! The one place liberator builds AWS clients: every binary, the tests and the benches call
//! [`ClientFactory`], so endpoints, region, path-style addressing and timeouts mean the same
//! thing everywhere.
//!
//! Endpoint and region come from the standard chain (`AWS_ENDPOINT_URL`,
//! `AWS_ENDPOINT_URL_<SERVICE>`, `AWS_REGION`, profiles, IMDS) unless [`AwsOptions`] names
//! them; S3 uses path-style addressing whenever an endpoint is set (local servers). Every
//! client gets a connect, a read and a per-operation timeout, so that no call can outlive
//! a caller's deadline (the copier's margin before the Lambda's end).
//!
//! ```no_run
//! # #[cfg(feature = "s3")]
//! # async fn example() {
//! use liberator_aws::{AwsOptions, ClientFactory};
//!
//! let factory = ClientFactory::load(AwsOptions::default()).await;
//! let s3 = factory.s3();
//! # let _ = s3;
//! # }
//! ```

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

/// The region used when neither the options nor the standard chain name one (local servers).
pub const FALLBACK_REGION: &str = "us-east-1";

/// Per-service endpoint overrides (tests put S3 and RDS/Glue on different local servers).
/// Default: none, so the SDK's own resolution applies (`AWS_ENDPOINT_URL[_SERVICE]`, then AWS).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    pub s3: Option<String>,
    pub rds: Option<String>,
    pub glue: Option<String>,
    pub lambda: Option<String>,
    pub secretsmanager: Option<String>,
    pub s3control: Option<String>,
}

/// How to reach AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsOptions {
    /// One endpoint for every service (`--endpoint-url`). Default: none (the standard chain,
    /// which reads `AWS_ENDPOINT_URL`).
    pub endpoint_url: Option<String>,
    /// Per-service endpoints, taking precedence over `endpoint_url`. Default: none.
    pub endpoints: Endpoints,
    /// Region. Default: the standard chain, else [`FALLBACK_REGION`].
    pub region: Option<String>,
    /// TCP (and TLS) connect timeout. Default 5 s.
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of a response. Default 300 s: a part copy of up to
    /// 5 GiB runs inside S3 and answers only when done.
    pub read_timeout: Duration,
    /// Longest single attempt. Default 300 s, for the same reason.
    pub attempt_timeout: Duration,
    /// Longest operation, all of the SDK's attempts included. Default 600 s.
    pub operation_timeout: Duration,
    /// Let the SDK retry (standard mode, 3 attempts). Default false for S3, whose calls the
    /// engine retries and counts itself; the other services' clients always use the SDK's
    /// standard retries (they are called a handful of times per run).
    pub s3_sdk_retries: bool,
}

impl Default for AwsOptions {
    fn default() -> Self {
        AwsOptions {
            endpoint_url: None,
            endpoints: Endpoints::default(),
            region: None,
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(300),
            attempt_timeout: Duration::from_secs(300),
            operation_timeout: Duration::from_secs(600),
            s3_sdk_retries: false,
        }
    }
}

impl AwsOptions {
    /// Options whose every timeout fits inside `budget` (a Lambda's deadline margin): the
    /// operation timeout is the budget, attempts and reads half of it, connects at most 5 s.
    pub fn bounded_by(budget: Duration) -> Self {
        let half = budget / 2;
        AwsOptions {
            connect_timeout: Duration::from_secs(5).min(half),
            read_timeout: half,
            attempt_timeout: half,
            operation_timeout: budget,
            ..AwsOptions::default()
        }
    }

    /// The same options with one endpoint for every service.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint_url = Some(endpoint.into());
        self
    }

    fn timeouts(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout)
            .operation_attempt_timeout(self.attempt_timeout)
            .operation_timeout(self.operation_timeout)
            .build()
    }
}

/// Builds every AWS client from one loaded configuration.
#[derive(Debug, Clone)]
pub struct ClientFactory {
    sdk: SdkConfig,
    options: AwsOptions,
}

impl ClientFactory {
    /// Loads the standard chain once (credentials, region, `AWS_ENDPOINT_URL`), applying
    /// `options` on top.
    ///
    /// Credentials in `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (a Lambda's execution role,
    /// CI) are read by the environment provider directly: it is the chain's first provider
    /// (<https://docs.aws.amazon.com/sdkref/latest/guide/standardized-credentials.html>), so
    /// the answer is the same, but the chain is not built: building it builds an STS client
    /// (for web identity), which loads and parses the TLS roots and the endpoint partitions,
    /// on a Lambda's start-up path, for a provider that is never asked.
    pub async fn load(options: AwsOptions) -> Self {
        let mut loader =
            aws_config::defaults(BehaviorVersion::latest()).timeout_config(options.timeouts());
        if credentials_in_env(|name| std::env::var_os(name).filter(|v| !v.is_empty())) {
            loader = loader.credentials_provider(
                aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
            );
        }
        if let Some(endpoint) = &options.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        Self::from_sdk_config(loader.load().await, options)
    }

    /// A factory over an already loaded configuration (tests with static credentials).
    /// The options' timeouts, region and endpoints still apply to every client built.
    pub fn from_sdk_config(sdk: SdkConfig, options: AwsOptions) -> Self {
        ClientFactory { sdk, options }
    }

    /// The loaded configuration.
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.sdk
    }

    /// The options the factory applies.
    pub fn options(&self) -> &AwsOptions {
        &self.options
    }

    /// The region clients use: the options', the chain's, else [`FALLBACK_REGION`].
    pub fn region(&self) -> Region {
        self.options
            .region
            .clone()
            .map(Region::new)
            .or_else(|| self.sdk.region().cloned())
            .unwrap_or_else(|| Region::new(FALLBACK_REGION))
    }

    /// The endpoint for one service: its own override, else the shared one, else the chain's
    /// (`service_env`, e.g. `S3` for `AWS_ENDPOINT_URL_S3`).
    #[cfg_attr(
        not(any(
            feature = "s3",
            feature = "rds",
            feature = "glue",
            feature = "lambda",
            feature = "secretsmanager",
            feature = "s3control"
        )),
        allow(dead_code)
    )]
    fn endpoint(&self, service: &Option<String>, service_env: &str) -> Option<String> {
        self.endpoint_with(service, service_env, |name| std::env::var(name).ok())
    }

    /// [`ClientFactory::endpoint`] with the environment read through `env`.
    ///
    /// The chain's order is the SDKs' own: the service's variable before the global
    /// `AWS_ENDPOINT_URL`, none with `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`
    /// (<https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html>). The
    /// loaded config carries only the global one, and an endpoint set on a client builder
    /// wins over everything, so the service's variable is read here: otherwise a global
    /// endpoint would override it.
    #[cfg_attr(
        not(any(
            feature = "s3",
            feature = "rds",
            feature = "glue",
            feature = "lambda",
            feature = "secretsmanager",
            feature = "s3control"
        )),
        allow(dead_code)
    )]
    fn endpoint_with(
        &self,
        service: &Option<String>,
        service_env: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Option<String> {
        let ignore_configured = env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        service
            .clone()
            .or_else(|| self.options.endpoint_url.clone())
            .or_else(|| {
                (!ignore_configured)
                    .then(|| env(&format!("AWS_ENDPOINT_URL_{service_env}")))
                    .flatten()
                    .filter(|e| !e.is_empty())
            })
            .or_else(|| self.sdk.endpoint_url().map(str::to_string))
    }
}

/// Whether the environment holds static credentials (`env` reads a variable, `None` when
/// unset or empty): then the chain would stop at its first provider, the environment's.
fn credentials_in_env(env: impl Fn(&str) -> Option<std::ffi::OsString>) -> bool {
    env("AWS_ACCESS_KEY_ID").is_some() && env("AWS_SECRET_ACCESS_KEY").is_some()
}

/// The common part of every service's config builder: region, timeouts, endpoint.
macro_rules! client {
    ($(#[$doc:meta])* $feature:literal, $name:ident, $krate:ident, $endpoint:ident, $env:literal) => {
        $(#[$doc])*
        #[cfg(feature = $feature)]
        pub fn $name(&self) -> $krate::Client {
            let mut b = $krate::config::Builder::from(&self.sdk)
                .region(self.region())
                .timeout_config(self.options.timeouts());
            if let Some(e) = self.endpoint(&self.options.endpoints.$endpoint, $env) {
                b = b.endpoint_url(e);
            }
            $krate::Client::from_conf(b.build())
        }
    };
}

impl ClientFactory {
    /// S3: path-style addressing whenever an endpoint is set, and the SDK's retries off
    /// unless [`AwsOptions::s3_sdk_retries`] (the engine retries, counts and throttles).
    #[cfg(feature = "s3")]
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let mut b = aws_sdk_s3::config::Builder::from(&self.sdk)
            .region(self.region())
            .timeout_config(self.options.timeouts());
        if !self.options.s3_sdk_retries {
            b = b.retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled());
        }
        // Response checksums only when an operation requires them: by default the SDK asks
        // for the object's checksum on every GetObject (`x-amz-checksum-mode: ENABLED`), which
        // the footer reads cannot use (a ranged GET has no full-object checksum to check)
        // and which costs a header and its processing on both sides, per object. Request
        // checksums (PutObject's CRC) stay on.
        b = b.response_checksum_validation(
            aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired,
        );
        if let Some(e) = self.endpoint(&self.options.endpoints.s3, "S3") {
            b = b.endpoint_url(e).force_path_style(true);
        }
        aws_sdk_s3::Client::from_conf(b.build())
    }

    client!(
        /// RDS (snapshots, export tasks).
        "rds", rds, aws_sdk_rds, rds, "RDS"
    );
    client!(
        /// Glue (workflow runs).
        "glue", glue, aws_sdk_glue, glue, "GLUE"
    );
    client!(
        /// Lambda (the copier's re-invocation of itself).
        "lambda", lambda, aws_sdk_lambda, lambda, "LAMBDA"
    );
    client!(
        /// Secrets Manager (the restore task's database password).
        "secretsmanager", secretsmanager, aws_sdk_secretsmanager, secretsmanager, "SECRETS_MANAGER"
    );
    client!(
        /// S3 Control (S3 Batch Operations jobs: `engine backfill --via batch-operations`).
        "s3control", s3control, aws_sdk_s3control, s3control, "S3_CONTROL"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_full_key_pair_skips_the_chain() {
        let env = |set: &'static [&'static str]| {
            move |name: &str| set.contains(&name).then(|| std::ffi::OsString::from("x"))
        };
        assert!(credentials_in_env(env(&[
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY"
        ])));
        assert!(!credentials_in_env(env(&["AWS_ACCESS_KEY_ID"])));
        assert!(!credentials_in_env(env(&["AWS_SECRET_ACCESS_KEY"])));
        assert!(!credentials_in_env(env(&[])));
    }

    #[test]
    fn bounded_options_fit_the_budget() {
        let o = AwsOptions::bounded_by(Duration::from_secs(60));
        assert_eq!(o.operation_timeout, Duration::from_secs(60));
        assert!(o.attempt_timeout <= o.operation_timeout);
        assert!(o.read_timeout <= o.operation_timeout);
        assert!(o.connect_timeout <= Duration::from_secs(5));
        let tiny = AwsOptions::bounded_by(Duration::from_secs(4));
        assert_eq!(tiny.connect_timeout, Duration::from_secs(2));
    }

    #[test]
    fn service_endpoints_win_over_the_shared_one() {
        let sdk = SdkConfig::builder().build();
        let mut opts = AwsOptions::default().with_endpoint("http://127.0.0.1:1");
        opts.endpoints.rds = Some("http://127.0.0.1:2".into());
        let f = ClientFactory::from_sdk_config(sdk, opts);
        let no_env = |_: &str| None;
        assert_eq!(
            f.endpoint_with(&f.options.endpoints.rds, "RDS", no_env)
                .as_deref(),
            Some("http://127.0.0.1:2")
        );
        assert_eq!(
            f.endpoint_with(&f.options.endpoints.s3, "S3", no_env)
                .as_deref(),
            Some("http://127.0.0.1:1")
        );
        assert_eq!(f.region(), Region::new(FALLBACK_REGION));
    }

    /// AWS_ENDPOINT_URL_<SERVICE> before the global AWS_ENDPOINT_URL (which the loaded config
    /// carries), as the SDKs resolve them; options before both; none when ignored.
    #[test]
    fn a_service_variable_wins_over_the_global_one() {
        let sdk = SdkConfig::builder()
            .endpoint_url("http://127.0.0.1:1")
            .build();
        let f = ClientFactory::from_sdk_config(sdk.clone(), AwsOptions::default());
        let env = |name: &str| (name == "AWS_ENDPOINT_URL_S3").then(|| "http://127.0.0.1:3".into());
        assert_eq!(
            f.endpoint_with(&None, "S3", env).as_deref(),
            Some("http://127.0.0.1:3")
        );
        assert_eq!(
            f.endpoint_with(&None, "GLUE", env).as_deref(),
            Some("http://127.0.0.1:1")
        );
        let ignored = |name: &str| match name {
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS" => Some("true".into()),
            _ => env(name),
        };
        assert_eq!(
            f.endpoint_with(&None, "S3", ignored).as_deref(),
            Some("http://127.0.0.1:1"),
            "the loaded config already applied the flag to the global one"
        );
        let pinned = ClientFactory::from_sdk_config(
            sdk,
            AwsOptions::default().with_endpoint("http://127.0.0.1:4"),
        );
        assert_eq!(
            pinned.endpoint_with(&None, "S3", env).as_deref(),
            Some("http://127.0.0.1:4")
        );
    }
}
