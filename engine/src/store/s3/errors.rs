//! Turning one SDK failure into the engine's [`Error::Request`], classified for retries.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::error::Error;
use crate::retry::{Class, classify};

/// `a: b: c` from an error and its sources, without the Debug dump `DisplayErrorContext` adds.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        let msg = s.to_string();
        if !out.ends_with(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        next = s.source();
    }
    out
}

/// One failed attempt of `op` on `bucket`/`key`.
pub(crate) fn attempt_error<E>(
    op: &'static str,
    bucket: &str,
    key: &str,
    e: SdkError<E, HttpResponse>,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    // Service errors read best as "Code: message (HTTP status, request id)"; the full
    // chain (raw response included) stays available through `source`.
    let detail = match &e {
        SdkError::ServiceError(se) => {
            let meta = se.err().meta();
            let mut d = format!(
                "{}: {} (HTTP {}",
                meta.code().unwrap_or("unknown error"),
                meta.message().unwrap_or("no message"),
                se.raw().status().as_u16()
            );
            if let Some(id) = meta.extra("aws_request_id") {
                d.push_str(&format!(", request id {id}"));
            }
            d.push(')');
            d
        }
        _ => error_chain(&e),
    };
    Error::attempt(op, bucket, key, classify(&e), detail, e)
}

/// The HTTP status of a failed call, when the server answered.
pub(crate) fn status<E>(e: &SdkError<E, HttpResponse>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

/// An answer that lacks a field S3 always sends: permanent, naming what is missing.
pub(crate) fn malformed(op: &'static str, bucket: &str, key: &str, what: &str) -> Error {
    Error::attempt(
        op,
        bucket,
        key,
        Class::Permanent,
        format!("response carried no {what}"),
        format!("no {what}"),
    )
}
