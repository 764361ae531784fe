//! Issue 12's first case as a new user would meet it, over HTTP: the copier library talks to
//! moto through the fault proxy, which loses the reply of the first conditional PUT (the Glue
//! claim) after S3 stored it. `glue_exactly_once` plays the same fault in the store wrapper;
//! this one puts it on the wire, so the SDK's own handling of a reset connection (and the
//! 412 S3 answers the retry) is part of what is tested.

use liberator_tests::FaultProxy;
use liberator_tests::proxy::{FaultConfig, Kind, Op, Rule, When};

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn over_http_a_lost_claim_reply_starts_one_run_and_the_next_delivery_answers_already_started()
{
    let f = Fixture::new(&unique_export_id()).await;
    let proxy = FaultProxy::start(
        &f.endpoint,
        FaultConfig::with_rules(
            vec![Rule::new(
                &[Op::ConditionalPut],
                Kind::LostReply,
                When::Nth(1),
            )],
            1,
        ),
    )
    .await;
    // S3 through the proxy; RDS and Glue straight to moto.
    let clients = aws::clients_with(&proxy.endpoint, &f.endpoint, f.config.aws_options());
    let copier = Copier::new(clients, f.config.clone()).with_reinvoker(f.reinvoke.clone());
    let first = copier.handle_export(&f.event(), &budget()).await.unwrap();
    let put = Some(Op::ConditionalPut);
    let statuses = proxy.stats.statuses(put);
    eprintln!("{}", proxy.stats.table());
    assert_eq!(proxy.stats.faults_on(put, Kind::LostReply), 1);
    assert_eq!(
        statuses.get(&412),
        Some(&1),
        "the claim's retry met the claim it had stored: {statuses:?}"
    );
    let Answer::GlueStarted { run_id, copied, .. } = first else {
        panic!("expected GlueStarted, got {first:?}")
    };
    assert_eq!(copied as usize, f.parquet_files);
    let runs = f.runs(&f.config.workflow_name).await;
    assert_eq!(runs.len(), 1, "exactly one workflow run: {runs:?}");
    assert_eq!(runs[0].workflow_run_id(), Some(run_id.as_str()));
    let marker = f.marker().await.unwrap();
    assert_eq!(
        (&marker["state"], &marker["run_id"]),
        (&json!("started"), &json!(run_id))
    );

    // The same event delivered again, through the same proxy.
    let second = copier.handle_export(&f.event(), &budget()).await.unwrap();
    assert_eq!(
        second,
        Answer::AlreadyStarted {
            export_id: f.export_id.clone(),
            workflow: f.config.workflow_name.clone(),
            run_id,
        }
    );
    assert_eq!(f.runs(&f.config.workflow_name).await.len(), 1);
}
