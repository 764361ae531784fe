//! Which failures are retried, and how long to wait.
//!
//! The SDK's own retries are switched off (see [`crate::store::s3`]) so that every retry is
//! counted in the report and every throttle reaches the [`crate::limiter::Limiter`].

use std::time::Duration;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use rand::Rng;

/// Retry settings.
#[derive(Debug, Clone)]
pub struct RetryConfig {
    /// Attempts per request, the first included. Default 10: with full jitter and a 20 s cap
    /// that rides out about a minute of throttling before giving up.
    pub max_attempts: u32,
    /// Backoff base. Default 100 ms.
    pub base_delay: Duration,
    /// Backoff cap. Default 20 s.
    pub max_delay: Duration,
    /// Total time one request may take, its attempts and backoff sleeps included: no retry
    /// starts after it. Default 300 s, so a request cannot outlive a run's deadline
    /// however its attempts are spread.
    pub budget: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(20),
            budget: Duration::from_secs(300),
        }
    }
}

impl RetryConfig {
    /// Full-jitter exponential backoff before attempt `attempt + 1` (`attempt` ≥ 1):
    /// uniform in `[0, min(max_delay, base_delay · 2^(attempt-1))]`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let nanos = rand::rng().random_range(0..=ceiling.as_nanos() as u64);
        Duration::from_nanos(nanos)
    }

    /// Whether another attempt may start after `attempts` attempts that took `elapsed`,
    /// waiting `delay` first.
    pub fn may_retry(&self, attempts: u32, elapsed: Duration, delay: Duration) -> bool {
        attempts < self.max_attempts && elapsed.saturating_add(delay) < self.budget
    }

    /// The upper bound of [`RetryConfig::backoff`].
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        self.base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay)
    }
}

/// How a failed attempt is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Server asked us to slow down (`SlowDown`, 503, 429): retry and lower concurrency.
    Throttle,
    /// 500/502/504, timeouts, connection errors, truncated responses: retry.
    Transient,
    /// Anything else (403, 404, 412, a malformed request): fail now.
    Permanent,
}

const THROTTLE_CODES: &[&str] = &[
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestLimitExceeded",
    "TooManyRequests",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
];
const TRANSIENT_CODES: &[&str] = &[
    "InternalError",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalFailure",
    "OperationAborted",
];

/// Classifies a service error code and HTTP status.
pub fn classify_status(code: Option<&str>, status: u16) -> Class {
    match code {
        Some(c) if THROTTLE_CODES.contains(&c) => return Class::Throttle,
        Some(c) if TRANSIENT_CODES.contains(&c) => return Class::Transient,
        _ => {}
    }
    match status {
        429 | 503 => Class::Throttle,
        500 | 502 | 504 => Class::Transient,
        _ => Class::Permanent,
    }
}

/// Classifies an SDK error.
pub fn classify<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Class
where
    R: HttpStatus,
{
    match err {
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => Class::Transient,
        SdkError::DispatchFailure(f) => {
            if f.is_io() || f.is_timeout() || f.is_other() {
                Class::Transient
            } else {
                Class::Permanent
            }
        }
        SdkError::ServiceError(e) => classify_status(e.err().code(), e.raw().status_code()),
        _ => Class::Permanent,
    }
}

/// The HTTP status of a raw response (a seam so unit tests need no real response type).
pub trait HttpStatus {
    fn status_code(&self) -> u16;
}

impl HttpStatus for aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_and_is_capped() {
        let c = RetryConfig {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            ..RetryConfig::default()
        };
        assert_eq!(c.ceiling(1), Duration::from_millis(100));
        assert_eq!(c.ceiling(2), Duration::from_millis(200));
        assert_eq!(c.ceiling(4), Duration::from_millis(800));
        assert_eq!(c.ceiling(6), Duration::from_secs(2));
        assert_eq!(c.ceiling(60), Duration::from_secs(2), "no overflow");
        for attempt in 1..12 {
            for _ in 0..100 {
                assert!(c.backoff(attempt) <= c.ceiling(attempt));
            }
        }
    }

    #[test]
    fn the_budget_ends_retries_before_the_attempts_run_out() {
        let c = RetryConfig {
            budget: Duration::from_secs(10),
            ..RetryConfig::default()
        };
        assert!(c.may_retry(1, Duration::from_secs(1), Duration::from_secs(2)));
        assert!(!c.may_retry(1, Duration::from_secs(9), Duration::from_secs(2)));
        assert!(!c.may_retry(c.max_attempts, Duration::ZERO, Duration::ZERO));
    }

    #[test]
    fn backoff_is_jittered() {
        let c = RetryConfig::default();
        let samples: std::collections::HashSet<Duration> = (0..50).map(|_| c.backoff(5)).collect();
        assert!(samples.len() > 40, "full jitter spreads retries out");
    }

    #[test]
    fn classifies_codes_and_statuses() {
        assert_eq!(classify_status(Some("SlowDown"), 503), Class::Throttle);
        assert_eq!(classify_status(None, 503), Class::Throttle);
        assert_eq!(classify_status(None, 429), Class::Throttle);
        assert_eq!(
            classify_status(Some("InternalError"), 500),
            Class::Transient
        );
        // S3 can answer 200 OK with an <Error> body; the SDK surfaces that as a service
        // error with status 200, which must still be retried.
        assert_eq!(
            classify_status(Some("InternalError"), 200),
            Class::Transient
        );
        assert_eq!(classify_status(None, 502), Class::Transient);
        assert_eq!(classify_status(Some("AccessDenied"), 403), Class::Permanent);
        assert_eq!(classify_status(Some("NoSuchKey"), 404), Class::Permanent);
        assert_eq!(
            classify_status(Some("PreconditionFailed"), 412),
            Class::Permanent
        );
    }
}
