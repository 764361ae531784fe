//! Lambda entry point of export-copier: configuration from the environment (checked before
//! any AWS call), clients from the factory bounded by the deadline margin, the EMF metrics
//! recorder, then the library's handler per event.

use std::process::ExitCode;
use std::time::Duration;

use export_copier::{Config, Copier, Invocation};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use liberator_lambda_common::emf::EmfRecorder;
use liberator_lambda_common::{ClientFactory, Clients, logging};
use serde_json::Value;

/// The `Function` dimension of the copier's metrics.
const FUNCTION: &str = "export-copier";
/// How often a long invocation's metrics are written while it runs.
const METRICS_EVERY: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() -> ExitCode {
    logging::init();
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            tracing::error!(error = %e, "export-copier: invalid configuration");
            return ExitCode::FAILURE;
        }
    };
    let emf = EmfRecorder::new(FUNCTION);
    if let Err(e) = emf.install() {
        tracing::error!(error = %e, "export-copier: no metrics");
        return ExitCode::FAILURE;
    }
    emf.spawn_periodic_flush(METRICS_EVERY);
    let factory = ClientFactory::load(config.aws_options()).await;
    let copier = Copier::new(Clients::new(&factory), config);
    let (copier, emf) = (&copier, &emf);
    let run = lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        emf.set_property("request_id", event.context.request_id.clone());
        let inv = Invocation::from_context(&event.context);
        let answer = copier.handle(&event.payload, &inv).await.map_err(|e| {
            tracing::error!(error = %e, kind = e.kind(), "invocation failed");
            Diagnostic::from(e)
        });
        emf.flush_stdout();
        emf.clear_properties();
        answer
    }))
    .await;
    match run {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "export-copier: Lambda runtime failed");
            ExitCode::FAILURE
        }
    }
}
