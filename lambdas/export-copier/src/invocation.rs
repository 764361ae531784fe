//! The time an invocation has, from the Lambda context.

use std::time::{Duration, Instant, SystemTime};

use crate::MAX_INVOCATION;

/// The time an invocation has.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// When the invocation must have returned.
    pub deadline: Instant,
    /// This function's ARN, for re-invocation.
    pub function_arn: String,
}

impl Invocation {
    /// From the Lambda context (deadline in epoch milliseconds), capped at 15 minutes.
    ///
    /// A deadline already past when the invocation starts cannot come from Lambda; local
    /// emulators send one (`cargo lambda watch` sends a fixed 600000). It is taken as no
    /// deadline at all: the copier assumes Lambda's 15 minutes and logs that it did.
    pub fn from_context(ctx: &lambda_runtime::Context) -> Self {
        let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(ctx.deadline);
        let left = match deadline.duration_since(SystemTime::now()) {
            Ok(left) if !left.is_zero() => left,
            _ => {
                tracing::warn!(
                    deadline_ms = ctx.deadline,
                    "the runtime's deadline has already passed: assuming 15 minutes"
                );
                MAX_INVOCATION
            }
        };
        Invocation {
            deadline: Instant::now() + left.min(MAX_INVOCATION),
            function_arn: ctx.invoked_function_arn.clone(),
        }
    }

    /// `budget` from now (tests, local runs).
    pub fn with_budget(budget: Duration, function_arn: &str) -> Self {
        Invocation {
            deadline: Instant::now() + budget.min(MAX_INVOCATION),
            function_arn: function_arn.to_string(),
        }
    }
}
