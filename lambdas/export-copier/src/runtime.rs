//! The Lambda runtime around the handler: clients from the factory, bounded by the deadline
//! margin; the EMF metrics recorder, flushed after every invocation and every minute while
//! one runs; error answers whose `errorType` is the kind of failure.

use std::time::Duration;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use liberator_lambda_common::emf::EmfRecorder;
use liberator_lambda_common::{ClientFactory, Clients};
use serde_json::Value;

use crate::{Config, Copier, Invocation};

/// The `Function` dimension of the copier's metrics.
pub const FUNCTION: &str = "export-copier";
/// How often a long invocation's metrics are written while it runs.
pub const METRICS_EVERY: Duration = Duration::from_secs(60);

/// Serves invocations until the runtime ends. Call with a configuration already read
/// ([`Config::from_env`]), so that a missing variable fails before any AWS call.
pub async fn run(config: Config) -> Result<(), lambda_runtime::Error> {
    let emf = EmfRecorder::new(FUNCTION);
    emf.install()?;
    emf.spawn_periodic_flush(METRICS_EVERY);
    let factory = ClientFactory::load(config.aws_options()).await;
    let copier = Copier::new(Clients::new(&factory), config);
    let (copier, emf) = (&copier, &emf);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let inv = Invocation::from_context(&event.context);
        let handled = copier.handle(&event.payload, &inv);
        emf.invocation(&event.context.request_id, handled)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, kind = e.kind(), "invocation failed");
                Diagnostic::from(e)
            })
    }))
    .await
}
