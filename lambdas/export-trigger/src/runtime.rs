//! The Lambda runtime around the handler: the RDS client from the factory with every call
//! bounded ([`crate::CALL_BUDGET`]); the EMF metrics recorder, flushed after every
//! invocation; error answers whose `errorType` is the kind of failure.

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use liberator_aws::ClientFactory;
use liberator_lambda_common::emf::EmfRecorder;
use serde_json::Value;

use crate::{Config, Trigger};

/// The `Function` dimension of the trigger's metrics.
pub const FUNCTION: &str = "export-trigger";

/// Serves invocations until the runtime ends. Call with a configuration already read
/// ([`Config::from_env`]), so that a missing variable fails before any AWS call.
pub async fn run(config: Config) -> Result<(), lambda_runtime::Error> {
    let emf = EmfRecorder::new(FUNCTION);
    emf.install()?;
    let rds = ClientFactory::load(Config::aws_options()).await.rds();
    let trigger = Trigger::new(rds, config);
    let (trigger, emf) = (&trigger, &emf);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let handled = trigger.handle(&event.payload);
        match emf.invocation(&event.context.request_id, handled).await {
            Ok(answer) => Ok(serde_json::to_value(answer).expect("answers serialize")),
            Err(e) => {
                tracing::error!(error = %e, kind = e.kind(), "invocation failed");
                Err(Diagnostic::from(e))
            }
        }
    }))
    .await
}
