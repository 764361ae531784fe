//! Lambda entry point of export-trigger: configuration from the environment (checked before
//! any AWS call), the RDS client from the factory with bounded timeouts, the EMF metrics
//! recorder, then the library's handler per event.

use std::process::ExitCode;

use export_trigger::{Config, Trigger};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use liberator_aws::ClientFactory;
use liberator_lambda_common::emf::EmfRecorder;
use liberator_lambda_common::logging;
use serde_json::Value;

/// The `Function` dimension of the trigger's metrics.
const FUNCTION: &str = "export-trigger";

#[tokio::main]
async fn main() -> ExitCode {
    logging::init();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(error = %e, "export-trigger: invalid configuration");
            return ExitCode::FAILURE;
        }
    };
    let emf = EmfRecorder::new(FUNCTION);
    if let Err(e) = emf.install() {
        tracing::error!(error = %e, "export-trigger: no metrics");
        return ExitCode::FAILURE;
    }
    let rds = ClientFactory::load(Config::aws_options()).await.rds();
    let trigger = Trigger::new(rds, config);
    let (trigger, emf) = (&trigger, &emf);
    let run = lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        emf.set_property("request_id", event.context.request_id.clone());
        let answer = match trigger.handle(&event.payload).await {
            Ok(answer) => Ok(serde_json::to_value(answer).expect("answers serialize")),
            Err(e) => {
                tracing::error!(error = %e, kind = e.kind(), "invocation failed");
                Err(Diagnostic::from(e))
            }
        };
        emf.flush_stdout();
        emf.clear_properties();
        answer
    }))
    .await;
    match run {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "export-trigger: Lambda runtime failed");
            ExitCode::FAILURE
        }
    }
}
