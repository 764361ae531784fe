//! Handing the remainder of an export on to a fresh invocation.
//!
//! A Lambda invocation lasts at most 15 minutes; a large export may need longer. The
//! copier stops before its deadline and invokes itself asynchronously with the same event:
//! the engine skips everything already landed, so the next invocation picks up where this
//! one stopped.

use std::sync::OnceLock;

use async_trait::async_trait;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use liberator_lambda_common::ClientFactory;
use serde_json::Value;

/// Starts another invocation of a function with a payload.
#[async_trait]
pub trait Reinvoke: Send + Sync + std::fmt::Debug {
    /// Invokes `function` (name or ARN) asynchronously with `payload`; the error text is
    /// logged and fails the invocation.
    async fn reinvoke(&self, function: &str, payload: &Value) -> Result<(), String>;
}

/// The production re-invoker: Lambda `Invoke` with `InvocationType=Event`.
#[derive(Debug, Clone)]
pub struct LambdaReinvoke(pub aws_sdk_lambda::Client);

#[async_trait]
impl Reinvoke for LambdaReinvoke {
    async fn reinvoke(&self, function: &str, payload: &Value) -> Result<(), String> {
        let body = serde_json::to_vec(payload).map_err(|e| e.to_string())?;
        self.0
            .invoke()
            .function_name(function)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(body))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_sdk_lambda::error::DisplayErrorContext(&e).to_string())
    }
}

/// [`LambdaReinvoke`] whose Lambda client is built at the first hand-off, from the same
/// factory (timeouts, endpoint) as the other clients. Almost every invocation lands its
/// export without handing on, so building the client at start-up would only delay the
/// first event (each client build parses the SDK's endpoint partitions).
#[derive(Debug)]
pub struct LazyLambdaReinvoke {
    factory: ClientFactory,
    client: OnceLock<LambdaReinvoke>,
}

impl LazyLambdaReinvoke {
    pub fn new(factory: ClientFactory) -> Self {
        LazyLambdaReinvoke {
            factory,
            client: OnceLock::new(),
        }
    }

    /// Whether the Lambda client has been built (tests).
    pub fn is_built(&self) -> bool {
        self.client.get().is_some()
    }
}

#[async_trait]
impl Reinvoke for LazyLambdaReinvoke {
    async fn reinvoke(&self, function: &str, payload: &Value) -> Result<(), String> {
        let client = self
            .client
            .get_or_init(|| LambdaReinvoke(self.factory.lambda()));
        client.reinvoke(function, payload).await
    }
}

/// Records re-invocations instead of making them (tests, and local runs without Lambda).
#[derive(Debug, Default)]
pub struct RecordReinvoke {
    pub calls: std::sync::Mutex<Vec<(String, Value)>>,
}

#[async_trait]
impl Reinvoke for RecordReinvoke {
    async fn reinvoke(&self, function: &str, payload: &Value) -> Result<(), String> {
        self.calls
            .lock()
            .expect("poisoned")
            .push((function.to_string(), payload.clone()));
        Ok(())
    }
}
