//! The time an invocation has, and the name it re-invokes itself by, from the Lambda
//! context.

use std::time::{Duration, Instant, SystemTime};

use crate::MAX_INVOCATION;

/// The time an invocation has.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// When the invocation must have returned.
    pub deadline: Instant,
    /// This function's ARN (or, where the runtime gives no ARN, its name), for
    /// re-invocation.
    pub function_arn: String,
}

impl Invocation {
    /// From the Lambda context (deadline in epoch milliseconds), capped at `max` (the
    /// function's timeout, `MAX_INVOCATION_SECONDS`) and at Lambda's 15 minutes.
    ///
    /// A deadline already past when the invocation starts cannot come from Lambda; local
    /// emulators send one (`cargo lambda watch` sends a fixed 600000). It is taken as no
    /// deadline at all: the invocation gets `max`, and says so in the log.
    ///
    /// The function to re-invoke is the invoked ARN, qualifier included, so the rest of an
    /// export runs on the same version or alias. An emulator's context may carry no ARN
    /// (`cargo lambda watch` sends the literal `function-arn`); then the function's own
    /// name, which Lambda and emulators set in `AWS_LAMBDA_FUNCTION_NAME`.
    pub fn from_context(ctx: &lambda_runtime::Context, max: Duration) -> Self {
        let max = max.min(MAX_INVOCATION);
        let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(ctx.deadline);
        let left = match deadline.duration_since(SystemTime::now()) {
            Ok(left) if !left.is_zero() => left,
            _ => {
                tracing::warn!(
                    deadline_ms = ctx.deadline,
                    assumed_secs = max.as_secs_f64(),
                    "the runtime's deadline has already passed: assuming the function's timeout"
                );
                max
            }
        };
        let function_arn = if ctx.invoked_function_arn.starts_with("arn:") {
            ctx.invoked_function_arn.clone()
        } else {
            tracing::warn!(
                invoked_function_arn = %ctx.invoked_function_arn,
                function = %ctx.env_config.function_name,
                "the runtime gave no function ARN: re-invoking by the function's name"
            );
            ctx.env_config.function_name.clone()
        };
        Invocation {
            deadline: Instant::now() + left.min(max),
            function_arn,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn context(deadline_ms: u64, arn: &str) -> lambda_runtime::Context {
        let config = lambda_runtime::Config {
            function_name: "export-copier".into(),
            ..lambda_runtime::Config::default()
        };
        // `Context` is non-exhaustive: set its public fields one by one.
        let mut ctx = lambda_runtime::Context::default();
        ctx.deadline = deadline_ms;
        ctx.invoked_function_arn = arn.into();
        ctx.env_config = std::sync::Arc::new(config);
        ctx
    }

    fn epoch_ms_in(d: Duration) -> u64 {
        (SystemTime::now() + d)
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    }

    const ARN: &str = "arn:aws:lambda:eu-west-2:1:function:export-copier:live";

    #[test]
    fn lambdas_deadline_and_arn_are_kept_within_the_timeout() {
        let ctx = context(epoch_ms_in(Duration::from_secs(300)), ARN);
        let inv = Invocation::from_context(&ctx, MAX_INVOCATION);
        let left = inv.deadline - Instant::now();
        assert!(left > Duration::from_secs(290) && left <= Duration::from_secs(300));
        assert_eq!(inv.function_arn, ARN);
        let capped = Invocation::from_context(&ctx, Duration::from_secs(60));
        assert!(capped.deadline - Instant::now() <= Duration::from_secs(60));
    }

    #[test]
    fn an_emulators_past_deadline_and_missing_arn_fall_back_to_the_setting_and_name() {
        // What `cargo lambda watch` 1.9.2 sends (crates/cargo-lambda-watch/src/runtime/
        // functions_router.rs): deadline 600000, ARN "function-arn".
        let ctx = context(600_000, "function-arn");
        let inv = Invocation::from_context(&ctx, Duration::from_secs(4));
        let left = inv.deadline - Instant::now();
        assert!(left > Duration::from_secs(3) && left <= Duration::from_secs(4));
        assert_eq!(inv.function_arn, "export-copier");
    }
}
