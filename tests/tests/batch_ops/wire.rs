//! CreateJob and DescribeJob on the wire, through aws-smithy-mocks (moto has no S3
//! Control jobs): the request S3 Control receives (host with the account, headers, the XML
//! body) is captured after serialization and checked against the API reference
//! (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_CreateJob.html>,
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_DescribeJob.html>), and the
//! answers are the documented XML (list items as `<member>`, as the service model and the
//! SDK read them), parsed by the SDK.

use std::sync::{Arc, Mutex};

use aws_sdk_s3control::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3control::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3control::operation::create_job::CreateJobOutput;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::body::SdkBody;
use liberator_cli::commands::batch::job::{JobService, JobSpec, S3ControlJobs, request_token};
use liberator_cli::commands::batch::manifest::ManifestObject;

/// One request as sent: method, URI, `x-amz-account-id`, body.
type Sent = (String, String, String, String);

/// Every request as sent.
#[derive(Debug, Default, Clone)]
struct Wire(Arc<Mutex<Vec<Sent>>>);

impl Intercept for Wire {
    fn name(&self) -> &'static str {
        "Wire"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_s3control::error::BoxError> {
        let req = context.request();
        self.0.lock().unwrap().push((
            req.method().to_string(),
            req.uri().to_string(),
            req.headers()
                .get("x-amz-account-id")
                .unwrap_or("")
                .to_string(),
            String::from_utf8_lossy(req.body().bytes().unwrap_or(b"")).into_owned(),
        ));
        Ok(())
    }
}

fn spec() -> JobSpec {
    let exports = vec!["sql-to-parquet-24-06-04-101500".to_string()];
    JobSpec {
        manifest: ManifestObject {
            bucket: "ops".into(),
            key: "manifests/backfill-1/m.csv".into(),
            etag: "60e0ee8ef3fa4fb0b6d9e3ba7e8ba1a5".into(),
            objects: 3,
        },
        function_arn: "arn:aws:lambda:eu-west-2:123456789012:function:export-copier".into(),
        role_arn: "arn:aws:iam::123456789012:role/liberator-batch-operations".into(),
        report_bucket: "ops".into(),
        report_prefix: "reports/backfill-1".into(),
        priority: 7,
        token: request_token("s3://exports", "s3://landing/parking", "arn:f", &exports, 0),
        description: "liberator backfill".into(),
    }
}

const DESCRIBE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeJobResult xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/"><Job>
<JobId>job-1</JobId><Status>Complete</Status><Priority>7</Priority>
<ProgressSummary><TotalNumberOfTasks>3</TotalNumberOfTasks><NumberOfTasksSucceeded>2</NumberOfTasksSucceeded>
<NumberOfTasksFailed>1</NumberOfTasksFailed><Timers><ElapsedTimeInActiveSeconds>12</ElapsedTimeInActiveSeconds></Timers></ProgressSummary>
<FailureReasons><member><FailureCode>ManifestNotFound</FailureCode><FailureReason>none really</FailureReason></member></FailureReasons>
<Report><Bucket>arn:aws:s3:::ops</Bucket><Format>Report_CSV_20180820</Format><Enabled>true</Enabled><Prefix>reports/backfill-1</Prefix><ReportScope>AllTasks</ReportScope></Report>
</Job></DescribeJobResult>"#;

#[tokio::test]
async fn create_job_and_describe_job_on_the_wire_with_smithy_mocks_since_moto_has_no_s3_control() {
    let wire = Wire::default();
    let create = mock!(aws_sdk_s3control::Client::create_job)
        .then_output(|| CreateJobOutput::builder().job_id("job-1").build());
    let describe = mock!(aws_sdk_s3control::Client::describe_job)
        .then_http_response(|| HttpResponse::new(200.try_into().unwrap(), SdkBody::from(DESCRIBE)));
    let w = wire.clone();
    let client = mock_client!(
        aws_sdk_s3control,
        RuleMode::MatchAny,
        [&create, &describe],
        |c| c.interceptor(w.clone())
    );
    let jobs = S3ControlJobs::new(client, "123456789012");
    let spec = spec();
    assert_eq!(jobs.create(&spec).await.unwrap(), "job-1");
    let state = jobs.describe("job-1").await.unwrap();
    assert_eq!(
        (
            state.status.as_str(),
            state.total,
            state.succeeded,
            state.failed,
            state.elapsed_secs
        ),
        ("Complete", Some(3), 2, 1, Some(12))
    );
    assert!(state.is_terminal());
    assert_eq!(
        state.report,
        Some(("ops".into(), "reports/backfill-1".into()))
    );
    assert_eq!(state.reasons, ["ManifestNotFound: none really"]);

    let sent = wire.0.lock().unwrap().clone();
    assert_eq!(sent.len(), 2, "{sent:?}");
    let (method, uri, account, body) = &sent[0];
    assert_eq!(method, "POST");
    assert!(
        uri.contains("123456789012.s3-control.") && uri.ends_with("/v20180820/jobs"),
        "{uri}"
    );
    assert_eq!(account, "123456789012");
    for part in [
        "<ConfirmationRequired>false</ConfirmationRequired>",
        "<LambdaInvoke><FunctionArn>arn:aws:lambda:eu-west-2:123456789012:function:export-copier</FunctionArn><InvocationSchemaVersion>2.0</InvocationSchemaVersion></LambdaInvoke>",
        "<Bucket>arn:aws:s3:::ops</Bucket>",
        "<Format>Report_CSV_20180820</Format>",
        "<Enabled>true</Enabled>",
        "<Prefix>reports/backfill-1</Prefix>",
        "<ReportScope>AllTasks</ReportScope>",
        &format!("<ClientRequestToken>{}</ClientRequestToken>", spec.token),
        "<Format>S3BatchOperations_CSV_20180820</Format>",
        "<Fields><member>Bucket</member><member>Key</member></Fields>",
        "<ObjectArn>arn:aws:s3:::ops/manifests/backfill-1/m.csv</ObjectArn>",
        "<ETag>60e0ee8ef3fa4fb0b6d9e3ba7e8ba1a5</ETag>",
        "<Priority>7</Priority>",
        "<RoleArn>arn:aws:iam::123456789012:role/liberator-batch-operations</RoleArn>",
    ] {
        assert!(body.contains(part), "CreateJob body lacks {part}:\n{body}");
    }
    let (method, uri, account, _) = &sent[1];
    assert_eq!(method, "GET");
    assert!(uri.ends_with("/v20180820/jobs/job-1"), "{uri}");
    assert_eq!(account, "123456789012");
}
