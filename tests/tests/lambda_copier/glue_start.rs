//! One workflow run per export: first delivery, re-delivery, concurrent deliveries,
//! backdated exports, and a Glue failure that releases the claim. (Lost replies, killed
//! invocations, eight racing deliveries and faults: `glue_exactly_once`.)

use super::*;

#[tokio::test]
async fn export_event_lands_everything_and_starts_one_run() {
    let f = Fixture::new(&unique_export_id()).await;
    let out = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap();
    let Answer::GlueStarted {
        run_id,
        copied,
        workflow,
        ..
    } = out
    else {
        panic!("expected GlueStarted, got {out:?}");
    };
    assert_eq!(workflow, f.config.workflow_name);
    assert_eq!(copied as usize, f.parquet_files);
    let landed = f.landed().await;
    assert_eq!(landed.len(), f.parquet_files, "{landed:?}");
    assert!(
        landed
            .iter()
            .all(|(k, _)| k.contains("/import_date=") && k.ends_with(".parquet")),
        "{landed:?}"
    );

    let runs = f.runs(&f.config.workflow_name).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].workflow_run_id(), Some(run_id.as_str()));
    let props = runs[0].workflow_run_properties().expect("run properties");
    assert_eq!(props.get("liberator_export_id"), Some(&f.export_id));
    assert!(
        f.runs(f.config.backdated_workflow_name.as_ref().unwrap())
            .await
            .is_empty()
    );

    // The marker records the run and the report, outside the landing prefix.
    let marker = f.marker().await.expect("marker written");
    assert_eq!(marker["run_id"], json!(run_id));
    assert_eq!(marker["state"], "started");
    assert_eq!(marker["report"]["copied"], json!(f.parquet_files));
    let all = liberator_tests::list_all(&f.s3, &f.config.target_bucket, "").await;
    let outside: Vec<&str> = all
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !k.starts_with("parking/"))
        .collect();
    let date = liberator_engine::ExportId::parse(&f.export_id)
        .unwrap()
        .date()
        .format("%Y-%m-%d");
    assert_eq!(
        outside,
        [
            format!("_liberator/glue-runs/{}.json", f.export_id),
            format!("_liberator/reports/parking/{date}.json"),
        ],
        "only the marker and the report kept for schema comparison lie outside the landing prefix"
    );
}

#[tokio::test]
async fn the_same_event_twice_starts_one_run() {
    let f = Fixture::new(&unique_export_id()).await;
    let copier = f.copier();
    let first = copier.handle_export(&f.event(), &budget()).await.unwrap();
    let second = copier.handle_export(&f.event(), &budget()).await.unwrap();
    let Answer::GlueStarted { run_id, .. } = first else {
        panic!("{first:?}")
    };
    assert_eq!(
        second,
        Answer::AlreadyStarted {
            export_id: f.export_id.clone(),
            workflow: f.config.workflow_name.clone(),
            run_id,
        }
    );
    assert_eq!(f.runs(&f.config.workflow_name).await.len(), 1);
    // A fresh copier (a new Lambda container) knows nothing but the marker.
    let third = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap();
    assert!(matches!(third, Answer::AlreadyStarted { .. }), "{third:?}");
    assert_eq!(f.runs(&f.config.workflow_name).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deliveries_start_one_run() {
    let f = Fixture::new(&unique_export_id()).await;
    let (a, b) = (f.copier(), f.copier());
    let (ev, inv) = (f.event(), budget());
    let (ra, rb) = tokio::join!(a.handle_export(&ev, &inv), b.handle_export(&ev, &inv));
    let started = [&ra, &rb]
        .iter()
        .filter(|r| matches!(r, Ok(Answer::GlueStarted { .. })))
        .count();
    assert_eq!(
        started, 1,
        "exactly one delivery starts the run: {ra:?} / {rb:?}"
    );
    for r in [&ra, &rb] {
        // The other one waits for the claim's run and answers with it.
        assert!(
            matches!(
                r,
                Ok(Answer::GlueStarted { .. } | Answer::AlreadyStarted { .. })
            ),
            "{r:?}"
        );
    }
    assert_eq!(f.runs(&f.config.workflow_name).await.len(), 1);
}

#[tokio::test]
async fn backdated_export_sets_import_date_and_starts_the_backdated_workflow() {
    let (id, date) = unique_backdated_id();
    let f = Fixture::new(&id).await;
    let out = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap();
    let backdated = f.config.backdated_workflow_name.clone().unwrap();
    assert!(
        matches!(&out, Answer::GlueStarted { workflow, .. } if *workflow == backdated),
        "{out:?}"
    );
    let runs = f.runs(&backdated).await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(
        runs[0]
            .workflow_run_properties()
            .unwrap()
            .get("import_date"),
        Some(&date)
    );
    let wf = f.glue.get_workflow().name(&backdated).send().await.unwrap();
    let defaults = wf
        .workflow()
        .and_then(|w| w.default_run_properties())
        .expect("default run properties");
    assert_eq!(defaults.get("import_date"), Some(&date));
    assert!(
        f.runs(&f.config.workflow_name).await.is_empty(),
        "the normal workflow must not start"
    );
    let landed = f.landed().await;
    assert!(
        !landed.is_empty()
            && landed
                .iter()
                .all(|(k, _)| k.contains(&format!("/import_date={date}/"))),
        "{landed:?}"
    );
}

#[tokio::test]
async fn glue_failure_releases_the_claim_for_the_retry() {
    let mut f = Fixture::new(&unique_export_id()).await;
    let workflow = f.config.workflow_name.clone();
    f.config.workflow_name = "no-such-workflow-liberator".into();
    let err = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Glue {
                op: "StartWorkflowRun",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains(&f.export_id), "{err}");
    let marker = f.marker().await.expect("marker kept, released");
    assert_eq!(marker["state"], "released", "{marker}");
    assert_eq!(marker["run_id"], Value::Null);

    // The retry (workflow fixed) takes the released claim over and starts exactly one run.
    f.config.workflow_name = workflow;
    let out = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap();
    let Answer::GlueStarted {
        run_id, copied: 0, ..
    } = out
    else {
        panic!("{out:?}")
    };
    assert_eq!(f.runs(&f.config.workflow_name).await.len(), 1);
    let marker = f.marker().await.unwrap();
    assert_eq!(marker["state"], "started");
    assert_eq!(marker["run_id"], json!(run_id));
    let again = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap();
    assert!(matches!(again, Answer::AlreadyStarted { .. }), "{again:?}");
    assert_eq!(f.runs(&f.config.workflow_name).await.len(), 1);
}
