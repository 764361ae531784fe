//! The AWS clients of the copier, built by the one client factory (`liberator-aws`), so that
//! endpoints, region, path-style addressing and timeouts mean what they mean everywhere.
//!
//! Production loads the standard chain (the Lambda role's credentials, the region, and any
//! `AWS_ENDPOINT_URL[_SERVICE]` variables); tests build a factory over static credentials
//! with per-service endpoints, so that S3 and RDS/Glue can live on different local servers.

use liberator_aws::ClientFactory;

/// The service clients a handler may need.
#[derive(Debug, Clone)]
pub struct Clients {
    /// S3 with the SDK's retries off (the copy engine retries itself) and path-style
    /// addressing whenever an endpoint is set.
    pub s3: aws_sdk_s3::Client,
    pub rds: aws_sdk_rds::Client,
    pub glue: aws_sdk_glue::Client,
    pub lambda: aws_sdk_lambda::Client,
}

impl Clients {
    /// Every client from one factory (its timeouts and endpoints apply to each).
    pub fn new(factory: &ClientFactory) -> Self {
        Clients {
            s3: factory.s3(),
            rds: factory.rds(),
            glue: factory.glue(),
            lambda: factory.lambda(),
        }
    }
}
