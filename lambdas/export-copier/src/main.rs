//! Lambda entry point of export-copier: configuration from the environment, then the
//! library's handler per event, with the invocation's deadline.

use anyhow::Context;
use export_copier::{Config, Copier, Invocation};
use lambda_runtime::{LambdaEvent, service_fn};
use liberator_lambda_common::{Clients, logging};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    logging::init();
    let config = Config::from_env().context("reading export-copier configuration")?;
    let clients = Clients::from_env(&config.endpoints).await;
    let copier = Copier::new(clients, config);
    let copier = &copier;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let inv = Invocation::from_context(&event.context);
        copier.handle(&event.payload, &inv).await.map_err(|e| {
            tracing::error!(error = %e, "invocation failed");
            lambda_runtime::Error::from(e)
        })
    }))
    .await
}
