//! Lambda entry point of export-trigger: configuration from the environment, then the
//! library's handler per event.

use anyhow::Context;
use export_trigger::{Config, Trigger};
use lambda_runtime::{LambdaEvent, service_fn};
use liberator_lambda_common::{Clients, Endpoints, logging};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    logging::init();
    let config = Config::from_env().context("reading export-trigger configuration")?;
    let clients = Clients::from_env(&Endpoints::default()).await;
    let trigger = Trigger::new(clients.rds, config);
    let trigger = &trigger;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let outcome = trigger.handle(&event.payload).await?;
        Ok::<_, lambda_runtime::Error>(serde_json::to_value(outcome)?)
    }))
    .await
}
