//! Exactly one workflow run per export when replies are lost, invocations die between the
//! claim and `StartWorkflowRun`, deliveries race, and faults hit both sides of S3 and Glue.
//! All on a multi-thread runtime; the runs are counted in moto.

use std::time::Duration;

use export_copier::marker::RUN_PROPERTY_EXPORT_ID;
use liberator_engine::ExportId;
use liberator_engine::store::{Op, Side, When};
use tokio::sync::Barrier;

use super::glue_faults::{GlueFaults, GlueRule};
use super::*;

/// Deliveries released together.
const DELIVERIES: usize = 8;

/// The one run of the fixture's workflow (fails unless there is exactly one).
async fn the_one_run(f: &Fixture) -> String {
    let runs = f.runs(&f.config.workflow_name).await;
    assert_eq!(runs.len(), 1, "exactly one workflow run: {runs:?}");
    let props = runs[0].workflow_run_properties().expect("run properties");
    assert_eq!(props.get(RUN_PROPERTY_EXPORT_ID), Some(&f.export_id));
    runs[0].workflow_run_id().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_reply_on_the_claim_is_recognised_and_starts_one_run() {
    let f = Fixture::new(&unique_export_id()).await;
    // The claim (first conditional PUT) lands in S3; its reply is lost; the store's retry
    // gets 412 and reads back the marker with our own token.
    let rule = FaultRule::new(&[Op::ConditionalPut], Side::After, When::Nth(1));
    let (copier, counts) = f.faulty_copier(f.clients(), vec![rule], 1);
    let out = copier.handle_export(&f.event(), &budget()).await.unwrap();
    assert_eq!(counts.after(), 1, "the claim's reply was lost");
    let Answer::GlueStarted { run_id, .. } = out else {
        panic!("expected GlueStarted, got {out:?}")
    };
    assert_eq!(the_one_run(&f).await, run_id);
    let marker = f.marker().await.unwrap();
    assert_eq!(marker["state"], "started", "{marker}");
    assert_eq!(marker["run_id"], json!(run_id));
    assert!(
        marker["token"].is_string() && marker["lease_until"].is_string(),
        "{marker}"
    );
    let again = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap();
    assert!(matches!(again, Answer::AlreadyStarted { .. }), "{again:?}");
    the_one_run(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lost_replies_on_the_start_and_on_recording_it_still_start_one_run() {
    let f = Fixture::new(&unique_export_id()).await;
    // moto starts the run, the answer is lost: the run is found by its run property
    // instead of being started again. Then the `started` rewrite (second conditional
    // PUT) lands with its reply lost: read back as our own step.
    let glue = GlueFaults::new(
        vec![GlueRule::new(
            &["StartWorkflowRun"],
            Side::After,
            When::Nth(1),
        )],
        2,
    );
    let mut clients = f.clients();
    clients.glue = glue.wrap(&clients.glue);
    let rule = FaultRule::new(&[Op::ConditionalPut], Side::After, When::Nth(2));
    let (copier, counts) = f.faulty_copier(clients, vec![rule], 2);
    let out = copier.handle_export(&f.event(), &budget()).await.unwrap();
    assert_eq!(
        glue.lost_starts.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    assert_eq!(counts.after(), 1);
    let Answer::GlueStarted { run_id, .. } = out else {
        panic!("expected GlueStarted, got {out:?}")
    };
    assert_eq!(the_one_run(&f).await, run_id);
    let marker = f.marker().await.unwrap();
    assert_eq!(
        (&marker["state"], &marker["run_id"]),
        (&json!("started"), &json!(run_id))
    );
}

/// A TCP port that accepts connections and never answers: a Glue that hangs.
async fn black_hole() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            held.push(conn);
        }
    });
    (endpoint, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_invocation_killed_between_claim_and_start_is_taken_over_after_its_lease() {
    let mut f = Fixture::new(&unique_export_id()).await;
    f.config.claim_lease = Duration::from_secs(4);
    f.config.claim_wait = Duration::ZERO;
    // The first invocation claims, then hangs in StartWorkflowRun; it is killed there.
    let (hole, hole_task) = black_hole().await;
    let mut clients = f.clients();
    clients.glue = aws::glue_client(&hole);
    let doomed = Copier::new(clients, f.config.clone());
    let event = f.event();
    let task = tokio::spawn(async move { doomed.handle_export(&event, &budget()).await });
    let claimed = loop {
        if let Some(m) = f.marker().await {
            break m;
        }
        assert!(!task.is_finished(), "{:?}", task.await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    hole_task.abort();
    assert_eq!(claimed["state"], "claimed", "{claimed}");
    assert!(f.runs(&f.config.workflow_name).await.is_empty());

    // Re-delivered within the lease: in progress, retryable, named for a retry policy.
    let err = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::StartInProgress { .. }), "{err}");
    assert_eq!(
        lambda_runtime::Diagnostic::from(err).error_type,
        "StartInProgress"
    );
    assert!(f.runs(&f.config.workflow_name).await.is_empty());

    // After the lease: no run carries the export id, so the claim is taken over.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let out = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap();
    let Answer::GlueStarted { run_id, .. } = out else {
        panic!("expected GlueStarted, got {out:?}")
    };
    assert_eq!(the_one_run(&f).await, run_id);
    let marker = f.marker().await.unwrap();
    assert_eq!(marker["state"], "started");
    assert_ne!(
        marker["token"], claimed["token"],
        "taken over with a new token"
    );
    let again = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap();
    assert!(matches!(again, Answer::AlreadyStarted { .. }), "{again:?}");
    the_one_run(&f).await;
}

/// A marker as versions before tokens and leases wrote it, claimed an hour ago.
async fn write_old_claim(f: &Fixture) {
    let body = json!({
        "export_id": f.export_id, "workflow": f.config.workflow_name, "import_date": null,
        "state": "claimed",
        "claimed_at": (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339(),
        "run_id": null, "report": null,
    });
    f.s3.put_object()
        .bucket(&f.config.target_bucket)
        .key(format!("_liberator/glue-runs/{}.json", f.export_id))
        .body(serde_json::to_vec(&body).unwrap().into())
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dead_claim_whose_run_exists_is_recorded_without_a_second_run() {
    let f = Fixture::new(&unique_export_id()).await;
    write_old_claim(&f).await;
    // The dead invocation did start the run; it never recorded it.
    let started = f
        .glue
        .start_workflow_run()
        .name(&f.config.workflow_name)
        .run_properties(RUN_PROPERTY_EXPORT_ID, &f.export_id)
        .send()
        .await
        .unwrap();
    let run_id = started.run_id().unwrap().to_string();
    let out = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap();
    assert_eq!(
        out,
        Answer::AlreadyStarted {
            export_id: f.export_id.clone(),
            workflow: f.config.workflow_name.clone(),
            run_id: run_id.clone(),
        }
    );
    assert_eq!(the_one_run(&f).await, run_id);
    assert!(f.landed().await.is_empty(), "answered before copying");
    let marker = f.marker().await.unwrap();
    assert_eq!(
        (&marker["state"], &marker["run_id"]),
        (&json!("started"), &json!(run_id))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_old_claim_without_a_run_is_taken_over() {
    let f = Fixture::new(&unique_export_id()).await;
    write_old_claim(&f).await;
    let out = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap();
    let Answer::GlueStarted { run_id, copied, .. } = out else {
        panic!("expected GlueStarted, got {out:?}")
    };
    assert_eq!(copied as usize, f.parquet_files);
    assert_eq!(the_one_run(&f).await, run_id);
}

/// Runs `DELIVERIES` deliveries of the fixture's event, released together by a barrier,
/// each on its own task with its own copier from `make`. A delivery that fails is
/// delivered again (as Lambda retries), up to `tries` times; its final answer and the
/// error kinds it met on the way.
async fn race(
    f: &Fixture,
    tries: usize,
    mut make: impl FnMut(usize) -> Copier,
) -> Vec<(Result<Answer, String>, Vec<&'static str>)> {
    let barrier = Arc::new(Barrier::new(DELIVERIES));
    let mut tasks = Vec::new();
    for i in 0..DELIVERIES {
        let (copier, barrier, event) = (make(i), barrier.clone(), f.event());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut kinds = Vec::new();
            for _ in 0..tries {
                match copier.handle_export(&event, &budget()).await {
                    Ok(answer) => return (Ok(answer), kinds),
                    Err(e) => {
                        kinds.push(e.kind());
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
            (
                Err(format!("still failing after {tries} deliveries")),
                kinds,
            )
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Exactly one delivery started the run, every other one answers "already started" with
/// it.
fn one_started_rest_already(out: &[(Result<Answer, String>, Vec<&'static str>)], run: &str) {
    let started = out
        .iter()
        .filter(|(r, _)| matches!(r, Ok(Answer::GlueStarted { run_id, .. }) if run_id == run))
        .count();
    let already = out
        .iter()
        .filter(|(r, _)| matches!(r, Ok(Answer::AlreadyStarted { run_id, .. }) if run_id == run))
        .count();
    assert_eq!((started, already), (1, DELIVERIES - 1), "{out:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_deliveries_released_together_start_one_run_the_rest_answer_already_started() {
    let f = Fixture::new(&unique_export_id()).await;
    // Landed beforehand, so every delivery skips the copy and they meet at the claim.
    let engine = liberator_tests::engine(&f.endpoint, EngineConfig::default());
    let id = ExportId::parse(&f.export_id).unwrap();
    export_copier::land::land(&engine, &f.config, &id, None, &budget())
        .await
        .unwrap();
    let out = race(&f, 1, |_| f.copier()).await;
    one_started_rest_already(&out, &the_one_run(&f).await);
    assert!(out.iter().all(|(_, kinds)| kinds.is_empty()), "{out:#?}");
}

/// `DELIVERIES` racing deliveries, each with its own copier under the fault mix: every
/// S3 operation faulted before and after at 10 % each, the marker's conditional PUTs and
/// GETs also after at 30 %; every Glue operation before and after at 20 % each, and the
/// first StartWorkflowRun reply of each copier lost. Seeded (`LIBERATOR_FAULT_SEED`
/// replays another draw). Asserts exactly one run, named by one "started" and seven
/// "already started" answers, and that faults of each kind were injected.
async fn race_under_faults(f: &Fixture) {
    let seed: u64 = std::env::var("LIBERATOR_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut glue_faults = Vec::new();
    let mut s3_faults = Vec::new();
    let out = race(f, 5, |i| {
        let s3 = vec![
            FaultRule::new(&[], Side::Before, When::Rate(0.1)),
            FaultRule::new(&[], Side::After, When::Rate(0.1)),
            FaultRule::new(&[Op::ConditionalPut, Op::Get], Side::After, When::Rate(0.3)),
        ];
        let glue = GlueFaults::new(
            vec![
                GlueRule::new(&[], Side::Before, When::Rate(0.2)),
                GlueRule::new(&[], Side::After, When::Rate(0.2)),
                GlueRule::new(&["StartWorkflowRun"], Side::After, When::Nth(1)),
            ],
            seed + 100 + i as u64,
        );
        let mut clients = f.clients();
        clients.glue = glue.wrap(&clients.glue);
        let (copier, counts) = f.faulty_copier(clients, s3, seed + 200 + i as u64);
        glue_faults.push(glue);
        s3_faults.push(counts);
        copier
    })
    .await;
    let run = the_one_run(f).await;
    let before: u64 = s3_faults.iter().map(|c| c.before()).sum();
    let after: u64 = s3_faults.iter().map(|c| c.after()).sum();
    let glue: u64 = glue_faults.iter().map(|g| g.total()).sum();
    let lost_starts: u64 = glue_faults
        .iter()
        .map(|g| g.lost_starts.load(std::sync::atomic::Ordering::Relaxed))
        .sum();
    eprintln!(
        "seed {seed}: S3 faults before {before}, after {after}; Glue faults {glue} (lost StartWorkflowRun replies {lost_starts}); errors met {:?}",
        out.iter().map(|(_, k)| k).collect::<Vec<_>>()
    );
    one_started_rest_already(&out, &run);
    assert!(before > 0 && after > 0 && glue > 0, "faults were injected");
    assert!(lost_starts >= 1, "the starting delivery's reply was lost");
    let landed = f.landed().await;
    assert_eq!(landed.len(), f.parquet_files, "{landed:?}");
}

/// A fixture whose claims are leased briefly, so a claim left in doubt by the faults is
/// taken over within the test.
async fn short_lease_fixture() -> Fixture {
    let mut f = Fixture::new(&unique_export_id()).await;
    f.config.claim_lease = Duration::from_secs(8);
    f.config.claim_wait = Duration::from_secs(10);
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_deliveries_under_faults_before_and_after_on_s3_and_glue_start_one_run() {
    let f = short_lease_fixture().await;
    race_under_faults(&f).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_deliveries_taking_over_a_dead_claim_under_faults_start_one_run() {
    // Every delivery searches the runs (faulted) and they race to take the claim over.
    let f = short_lease_fixture().await;
    write_old_claim(&f).await;
    race_under_faults(&f).await;
}
