//! The Lambda runtime around the handler: clients from the factory, bounded by the deadline
//! margin; the EMF metrics recorder, flushed after every invocation and every minute while
//! one runs; error answers whose `errorType` is the kind of failure.

use std::time::Duration;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use liberator_lambda_common::ClientFactory;
use liberator_lambda_common::emf::EmfRecorder;
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
    // Every client (S3, RDS, Glue, and Lambda at the first hand-off) from one factory over
    // `aws_options`: each call bounded by half the effective margin (tests below).
    let factory = ClientFactory::load(config.aws_options()).await;
    let max_invocation = config.max_invocation;
    let copier = Copier::from_factory(&factory, config);
    let (copier, emf) = (&copier, &emf);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let inv = Invocation::from_context(&event.context, max_invocation);
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

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use aws_sdk_s3::config::{Credentials, Region, SharedCredentialsProvider};
    use liberator_lambda_common::{ClientFactory, Clients, Endpoints};
    use serde_json::json;
    use tokio::net::TcpListener;

    use crate::reinvoke::{LambdaReinvoke, LazyLambdaReinvoke, Reinvoke};
    use crate::{Config, land};

    /// A server that accepts connections and never answers, holding them open: only a
    /// client's own timeout ends a call to it.
    async fn silent_server() -> (String, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((conn, _)) = listener.accept().await {
                held.push(conn);
            }
        });
        (endpoint, task)
    }

    /// The calls each client makes in an invocation, against a server that never answers:
    /// each must fail with a timeout within half the margin (the SDK's default timeouts
    /// have no read or operation limit, so a client built without the copier's options
    /// hangs here until the outer 60 s guard fails the test).
    #[tokio::test(flavor = "multi_thread")]
    async fn every_client_gives_up_within_half_the_margin_on_a_silent_server() {
        let (endpoint, server) = silent_server().await;
        let config = Config {
            deadline_margin: Duration::from_secs(4),
            endpoints: Endpoints {
                s3: Some(endpoint.clone()),
                rds: Some(endpoint.clone()),
                glue: Some(endpoint.clone()),
                lambda: Some(endpoint.clone()),
                ..Endpoints::default()
            },
            ..Config::default()
        };
        // As `run` builds them, over static credentials instead of the standard chain.
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "test", "test", None, None, "test",
            )))
            .build();
        let factory = ClientFactory::from_sdk_config(sdk, config.aws_options());
        let clients = Clients::new(&factory);
        let bound = config.effective_margin() / 2;

        async fn timed<F: Future<Output = String>>(name: &str, call: F) -> (String, Duration) {
            let started = Instant::now();
            let error = tokio::time::timeout(Duration::from_secs(60), call)
                .await
                .unwrap_or_else(|_| panic!("{name}: nothing ended the call to a silent server"));
            (error, started.elapsed())
        }
        let s3 = timed("S3 HeadObject", async {
            let e = clients.s3.head_object().bucket("b").key("k").send().await;
            format!("{:?}", e.expect_err("no answer"))
        });
        let rds = timed("RDS DescribeExportTasks", async {
            let e = land::confirm_export(&clients.rds, "x", "arn:aws:rds:us-east-1:1:snapshot:x");
            e.await.expect_err("no answer").to_string()
        });
        let glue = timed("Glue GetWorkflowRuns", async {
            let e = clients.glue.get_workflow_runs().name("wf").send().await;
            format!("{:?}", e.expect_err("no answer"))
        });
        let reinvoker = LambdaReinvoke(clients.lambda.clone());
        let lambda = timed("Lambda Invoke (the re-invocation)", async {
            let e = reinvoker.reinvoke("export-copier", &json!({})).await;
            e.expect_err("no answer")
        });
        // `run`'s re-invoker builds its client at the first hand-off, from the same factory.
        let lazy = LazyLambdaReinvoke::new(factory.clone());
        assert!(!lazy.is_built(), "no Lambda client before a hand-off");
        let lazy_lambda = timed("Lambda Invoke (built at the hand-off)", async {
            let e = lazy.reinvoke("export-copier", &json!({})).await;
            e.expect_err("no answer")
        });
        let (s3, rds, glue, lambda, lazy_lambda) = tokio::join!(s3, rds, glue, lambda, lazy_lambda);
        assert!(lazy.is_built());
        for (name, (error, took)) in [
            ("s3", s3),
            ("rds", rds),
            ("glue", glue),
            ("lambda", lambda),
            ("lazy lambda", lazy_lambda),
        ] {
            assert!(
                error.to_ascii_lowercase().contains("timeout"),
                "{name}: {error}"
            );
            // A timer may fire late on a busy machine; the margin's other half is the slack.
            assert!(
                took < config.effective_margin(),
                "{name} took {took:?}, bound {bound:?}: {error}"
            );
        }
        server.abort();
    }

    #[test]
    fn what_runs_on_after_the_margin_begins_is_bounded() {
        let config = Config {
            deadline_margin: Duration::from_secs(30),
            concurrency: 4,
            ..Config::default()
        };
        let engine = crate::Copier::engine_config(&config);
        assert_eq!(engine.retry.budget, Duration::from_secs(15));
        assert_eq!(engine.objects_in_flight, 8);
    }
}
