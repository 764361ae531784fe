//! AWS clients for the Lambdas.
//!
//! Production uses the standard chain (the Lambda role's credentials, the region, and any
//! `AWS_ENDPOINT_URL[_SERVICE]` variables the SDK honours). Tests pass explicit endpoints
//! so that S3 and RDS/Glue can live on different local servers.

use aws_config::BehaviorVersion;
use aws_config::SdkConfig;

/// Per-service endpoint overrides. Default: none (the SDK's own resolution).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    pub s3: Option<String>,
    pub rds: Option<String>,
    pub glue: Option<String>,
    pub lambda: Option<String>,
}

/// The service clients a handler may need.
#[derive(Debug, Clone)]
pub struct Clients {
    /// S3 with the SDK's retries off (the copy engine retries itself) and path-style
    /// addressing whenever an endpoint is overridden.
    pub s3: aws_sdk_s3::Client,
    pub rds: aws_sdk_rds::Client,
    pub glue: aws_sdk_glue::Client,
    pub lambda: aws_sdk_lambda::Client,
}

impl Clients {
    /// Loads the standard configuration chain once and builds every client from it.
    pub async fn from_env(endpoints: &Endpoints) -> Self {
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Self::from_sdk_config(&sdk, endpoints)
    }

    /// Builds every client from `sdk`, applying the endpoint overrides.
    pub fn from_sdk_config(sdk: &SdkConfig, endpoints: &Endpoints) -> Self {
        let mut s3 = aws_sdk_s3::config::Builder::from(sdk)
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled());
        if let Some(e) = &endpoints.s3 {
            s3 = s3.endpoint_url(e).force_path_style(true);
        } else if sdk.endpoint_url().is_some() {
            s3 = s3.force_path_style(true);
        }
        let mut rds = aws_sdk_rds::config::Builder::from(sdk);
        if let Some(e) = &endpoints.rds {
            rds = rds.endpoint_url(e);
        }
        let mut glue = aws_sdk_glue::config::Builder::from(sdk);
        if let Some(e) = &endpoints.glue {
            glue = glue.endpoint_url(e);
        }
        let mut lambda = aws_sdk_lambda::config::Builder::from(sdk);
        if let Some(e) = &endpoints.lambda {
            lambda = lambda.endpoint_url(e);
        }
        Clients {
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            rds: aws_sdk_rds::Client::from_conf(rds.build()),
            glue: aws_sdk_glue::Client::from_conf(glue.build()),
            lambda: aws_sdk_lambda::Client::from_conf(lambda.build()),
        }
    }
}
