use super::*;
use crate::limiter::{Limiter, LimiterConfig};
use crate::retry::RetryConfig;
use crate::stats::JobStats;
use crate::store::{ObjectStore, Store};
use aws_sdk_s3::operation::copy_object::CopyObjectOutput;
use aws_sdk_s3::types::CopyObjectResult;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use std::sync::Arc;
use std::time::Duration;

const ETAG: &str = "0123456789abcdef0123456789abcdef";

fn store(client: Client, max: usize) -> Store {
    let limiter = Limiter::new(LimiterConfig {
        initial: max,
        max,
        min: 1,
        decrease_interval: Duration::ZERO,
    });
    let retry = RetryConfig {
        max_attempts: 4,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        ..RetryConfig::default()
    };
    Store::new(Arc::new(S3Store::new(client)), limiter, retry)
}

/// The engine retries; the SDK's own retries are off, as `liberator_aws::ClientFactory` builds it.
fn no_sdk_retries(b: aws_sdk_s3::config::Builder) -> aws_sdk_s3::config::Builder {
    b.retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
}

fn ok_output() -> CopyObjectOutput {
    CopyObjectOutput::builder()
        .copy_object_result(
            CopyObjectResult::builder()
                .e_tag(format!("\"{ETAG}\""))
                .build(),
        )
        .build()
}

/// One CopyObject through the governed store, counting into `stats`.
async fn copy(s: &Store, stats: &Arc<JobStats>) -> crate::error::Result<Option<String>> {
    let run = s.for_run(stats.clone(), Default::default());
    run.copy_object(&CopyObject {
        src_bucket: "src",
        src_key: "k 1+2.parquet",
        if_match: Some(ETAG),
        dst_bucket: "dst",
        dst_key: "t/k.parquet",
        write: &WriteOptions::default(),
        replace: None,
    })
    .await
}

#[tokio::test]
async fn a_200_with_an_error_body_is_retried() {
    let rule = mock!(Client::copy_object)
        .sequence()
        .http_status(
            200,
            Some("<?xml version=\"1.0\"?><Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>".into()),
        )
        .output(ok_output)
        .build();
    let client = mock_client!(aws_sdk_s3, RuleMode::Sequential, [&rule], no_sdk_retries);
    let stats = Arc::new(JobStats::default());
    let etag = copy(&store(client, 8), &stats).await.unwrap();
    assert_eq!(etag.as_deref(), Some(ETAG));
    assert_eq!(rule.num_calls(), 2);
    assert_eq!(JobStats::get(&stats.retries), 1);
    assert_eq!(JobStats::get(&stats.throttles), 0);
}

#[tokio::test]
async fn slow_down_is_retried_and_lowers_concurrency() {
    let slow =
        "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
    let rule = mock!(Client::copy_object)
        .sequence()
        .http_status(503, Some(slow.into()))
        .times(3)
        .output(ok_output)
        .build();
    let client = mock_client!(aws_sdk_s3, RuleMode::Sequential, [&rule], no_sdk_retries);
    let stats = Arc::new(JobStats::default());
    let s = store(client, 64);
    copy(&s, &stats).await.unwrap();
    assert_eq!(rule.num_calls(), 4);
    assert_eq!(JobStats::get(&stats.throttles), 3);
    assert_eq!(s.limiter().limit(), 8, "halved three times from 64");
}

#[tokio::test]
async fn gives_up_after_max_attempts_naming_the_key() {
    let rule = mock!(Client::copy_object)
        .sequence()
        .http_status(
            500,
            Some("<Error><Code>InternalError</Code></Error>".into()),
        )
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_s3, RuleMode::Sequential, [&rule], no_sdk_retries);
    let err = copy(&store(client, 8), &Arc::new(JobStats::default()))
        .await
        .unwrap_err();
    assert_eq!(rule.num_calls(), 4);
    let msg = err.to_string();
    assert!(
        msg.contains("\"k 1+2.parquet\"") && msg.contains("after 4 attempt(s)"),
        "{msg}"
    );
}

#[tokio::test]
async fn access_denied_is_not_retried() {
    let rule = mock!(Client::copy_object)
        .sequence()
        .http_status(
            403,
            Some("<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>".into()),
        )
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_s3, RuleMode::Sequential, [&rule], no_sdk_retries);
    let stats = Arc::new(JobStats::default());
    let err = copy(&store(client, 8), &stats).await.unwrap_err();
    assert_eq!(rule.num_calls(), 1);
    assert_eq!(JobStats::get(&stats.retries), 0);
    assert!(err.to_string().contains("AccessDenied"), "{err}");
}

#[tokio::test]
async fn copy_source_is_encoded_on_the_wire() {
    let rule = mock!(Client::copy_object)
        .match_requests(|r| {
            r.copy_source() == Some("src/k%201%2B2.parquet")
                && r.copy_source_if_match() == Some("\"0123456789abcdef0123456789abcdef\"")
        })
        .then_output(ok_output);
    let client = mock_client!(aws_sdk_s3, RuleMode::Sequential, [&rule], no_sdk_retries);
    copy(&store(client, 8), &Arc::new(JobStats::default()))
        .await
        .unwrap();
    assert_eq!(rule.num_calls(), 1);
}

#[test]
fn copy_source_encodes_reserved_characters() {
    assert_eq!(copy_source("b", "a/b c.parquet"), "b/a/b%20c.parquet");
    assert_eq!(copy_source("b", "t+1/x"), "b/t%2B1/x");
    assert_eq!(copy_source("b", "100%/x#y"), "b/100%25/x%23y");
    assert_eq!(copy_source("b", "straße/ü"), "b/stra%C3%9Fe/%C3%BC");
    assert_eq!(copy_source("b", "a-b_c.d~e"), "b/a-b_c.d~e");
    assert_eq!(copy_source("b", "q?x=1&y"), "b/q%3Fx%3D1%26y");
}
