//! AWS clients for local servers, built by the one client factory (`liberator-aws`), and
//! the fixtures the Lambda tests share (an RDS instance with a snapshot, Glue workflows).
//!
//! Static credentials and explicit endpoints, so the tests do not depend on the
//! environment's AWS configuration.

use liberator_aws::{AwsOptions, ClientFactory, Endpoints};

use crate::{ACCESS_KEY, SECRET_KEY};

/// A factory over static test credentials in `us-east-1`, applying `options` (endpoints,
/// timeouts) to every client it builds.
pub fn factory(options: AwsOptions) -> ClientFactory {
    let credentials =
        aws_sdk_s3::config::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "liberator-tests");
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
            credentials,
        ))
        .build();
    ClientFactory::from_sdk_config(sdk, options)
}

/// A factory with every service on `endpoint` and the default timeouts.
fn local(endpoint: &str) -> ClientFactory {
    factory(AwsOptions::default().with_endpoint(endpoint))
}

/// An RDS client for `endpoint`.
pub fn rds_client(endpoint: &str) -> aws_sdk_rds::Client {
    local(endpoint).rds()
}

/// A Glue client for `endpoint`.
pub fn glue_client(endpoint: &str) -> aws_sdk_glue::Client {
    local(endpoint).glue()
}

/// A Lambda client for `endpoint`.
pub fn lambda_client(endpoint: &str) -> aws_sdk_lambda::Client {
    local(endpoint).lambda()
}

/// Every client the copier uses, as its binary builds them but for local servers: S3 on
/// `s3_endpoint` (SDK retries off, path-style), RDS, Glue and Lambda on `endpoint`, with the
/// timeouts of `options` (e.g. `export_copier::Config::aws_options`, bounded by the
/// deadline margin).
pub fn clients_with(
    s3_endpoint: &str,
    endpoint: &str,
    options: AwsOptions,
) -> liberator_lambda_common::Clients {
    let options = AwsOptions {
        endpoints: Endpoints {
            s3: Some(s3_endpoint.into()),
            rds: Some(endpoint.into()),
            glue: Some(endpoint.into()),
            lambda: Some(endpoint.into()),
            ..options.endpoints
        },
        ..options
    };
    liberator_lambda_common::Clients::new(&factory(options))
}

/// [`clients_with`] the default timeouts.
pub fn clients(s3_endpoint: &str, endpoint: &str) -> liberator_lambda_common::Clients {
    clients_with(s3_endpoint, endpoint, AwsOptions::default())
}

/// A DB instance id unique to this test run (RDS ids: letters, digits, hyphens).
pub fn unique_instance(prefix: &str) -> String {
    format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
}

/// Creates a MySQL instance, failing the test loudly if the server refuses.
pub async fn create_instance(rds: &aws_sdk_rds::Client, id: &str) {
    rds.create_db_instance()
        .db_instance_identifier(id)
        .db_instance_class("db.t3.micro")
        .engine("mysql")
        .allocated_storage(20)
        .master_username("admin")
        .master_user_password("not-a-secret-1")
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "creating DB instance {id}: {}",
                aws_sdk_rds::error::DisplayErrorContext(e)
            )
        });
}

/// Creates a manual snapshot of `instance`; returns its ARN.
pub async fn create_snapshot(rds: &aws_sdk_rds::Client, instance: &str, snapshot: &str) -> String {
    let out = rds
        .create_db_snapshot()
        .db_instance_identifier(instance)
        .db_snapshot_identifier(snapshot)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "creating snapshot {snapshot}: {}",
                aws_sdk_rds::error::DisplayErrorContext(e)
            )
        });
    out.db_snapshot()
        .and_then(|s| s.db_snapshot_arn())
        .unwrap_or_else(|| panic!("snapshot {snapshot} has no ARN"))
        .to_string()
}

/// Starts an export task named after the snapshot (moto completes it at once).
pub async fn start_export(rds: &aws_sdk_rds::Client, snapshot: &str, arn: &str, bucket: &str) {
    rds.start_export_task()
        .export_task_identifier(snapshot)
        .source_arn(arn)
        .s3_bucket_name(bucket)
        .iam_role_arn("arn:aws:iam::123456789012:role/export")
        .kms_key_id("arn:aws:kms:us-east-1:123456789012:key/test")
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "starting export {snapshot}: {}",
                aws_sdk_rds::error::DisplayErrorContext(e)
            )
        });
}

/// Creates a Glue workflow.
pub async fn create_workflow(glue: &aws_sdk_glue::Client, name: &str) {
    glue.create_workflow()
        .name(name)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "creating workflow {name}: {}",
                aws_sdk_glue::error::DisplayErrorContext(e)
            )
        });
}

/// Every run of a workflow.
pub async fn workflow_runs(
    glue: &aws_sdk_glue::Client,
    name: &str,
) -> Vec<aws_sdk_glue::types::WorkflowRun> {
    glue.get_workflow_runs()
        .name(name)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "GetWorkflowRuns {name}: {}",
                aws_sdk_glue::error::DisplayErrorContext(e)
            )
        })
        .runs()
        .to_vec()
}
