//! Exports that did not complete, objects that did not land, malformed events: what the
//! invocation answers, and that nothing starts.

use super::*;

#[tokio::test]
async fn canceled_export_copies_nothing() {
    let f = Fixture::new(&unique_export_id()).await;
    f.rds
        .cancel_export_task()
        .export_task_identifier(&f.export_id)
        .send()
        .await
        .unwrap();
    let out = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap();
    assert!(
        matches!(&out, Answer::ExportNotCompleted { status, .. } if status.eq_ignore_ascii_case("canceled")),
        "{out:?}"
    );
    assert!(f.landed().await.is_empty());
    assert!(f.runs(&f.config.workflow_name).await.is_empty());
    assert!(f.marker().await.is_none());
}

#[tokio::test]
async fn a_copy_failure_starts_no_workflow_and_fails_the_invocation() {
    let f = Fixture::new(&unique_export_id()).await;
    let bad = format!(
        "{}/liberator/liberator.pcn/1/part-99999-corrupt.gz.parquet",
        f.export_id
    );
    f.s3.put_object()
        .bucket(&f.config.source_bucket)
        .key(&bad)
        .body(aws_sdk_s3::primitives::ByteStream::from_static(
            b"this is not parquet at all, no footer here",
        ))
        .send()
        .await
        .unwrap();
    let err = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CopyFailed { failed: 1, .. }), "{err}");
    let msg = err.to_string();
    let answer = lambda_runtime::Diagnostic::from(err);
    assert_eq!(answer.error_type, "CopyFailed", "{answer:?}");
    assert!(
        msg.contains(&f.export_id) && msg.contains("part-99999-corrupt"),
        "{msg}"
    );
    assert!(f.runs(&f.config.workflow_name).await.is_empty());
    assert!(f.marker().await.is_none());
    // Everything else landed; fixing the file and re-delivering finishes the job.
    assert_eq!(f.landed().await.len(), f.parquet_files);
    f.s3.delete_object()
        .bucket(&f.config.source_bucket)
        .key(&bad)
        .send()
        .await
        .unwrap();
    let out = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap();
    assert!(
        matches!(out, Answer::GlueStarted { copied: 0, .. }),
        "{out:?}"
    );
    assert_eq!(f.runs(&f.config.workflow_name).await.len(), 1);
}

#[tokio::test]
async fn malformed_events_get_clear_errors() {
    let f = Fixture::new(&unique_export_id()).await;
    let copier = f.copier();

    let mut no_detail = f.event();
    no_detail.as_object_mut().unwrap().remove("detail");
    let err = copier.handle(&no_detail, &budget()).await.unwrap_err();
    assert!(err.to_string().contains("no `detail`"), "{err}");

    let mut wrong = f.event();
    wrong["detail"]["EventID"] = json!("RDS-EVENT-0042");
    let err = copier.handle(&wrong, &budget()).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("RDS-EVENT-0042") && msg.contains("RDS-EVENT-0161"),
        "{msg}"
    );

    let bad_id = event_0161("sql-to-parquet-24-13-45-999999", &f.arn);
    let err = copier.handle(&bad_id, &budget()).await.unwrap_err();
    assert!(matches!(err, Error::BadIdentifier { .. }), "{err}");
    assert!(
        err.to_string().contains("sql-to-parquet-24-13-45-999999"),
        "{err}"
    );

    let unknown = event_0161(&unique_export_id(), &f.arn);
    let err = copier.handle(&unknown, &budget()).await.unwrap_err();
    assert!(matches!(err, Error::ExportNotFound { .. }), "{err}");

    assert!(f.landed().await.is_empty());
    assert!(f.runs(&f.config.workflow_name).await.is_empty());
}

/// What Lambda shows as `errorType` (destinations, the DLQ, alarms on logs): the kind of
/// failure, not the name of a boxed trait object.
#[tokio::test]
async fn error_answers_name_the_kind_of_failure() {
    let f = Fixture::new(&unique_export_id()).await;
    let copier = f.copier();
    let kind = |err: Error| {
        let message = err.to_string();
        let d = lambda_runtime::Diagnostic::from(err);
        assert_eq!(d.error_message, message);
        assert!(!d.error_type.contains("Box"), "{d:?}");
        d.error_type
    };

    let unknown = event_0161(&unique_export_id(), &f.arn);
    let err = copier.handle(&unknown, &budget()).await.unwrap_err();
    assert_eq!(kind(err), "ExportNotFound");

    let mut wrong = f.event();
    wrong["detail"]["EventID"] = json!("RDS-EVENT-0042");
    let err = copier.handle(&wrong, &budget()).await.unwrap_err();
    assert_eq!(kind(err), "WrongEventId");

    let bad_id = event_0161("sql-to-parquet-24-13-45-999999", &f.arn);
    let err = copier.handle(&bad_id, &budget()).await.unwrap_err();
    assert_eq!(kind(err), "BadIdentifier");

    let mut f = f;
    f.config.workflow_name = "no-such-workflow-liberator".into();
    let err = f.copier().handle(&f.event(), &budget()).await.unwrap_err();
    assert_eq!(kind(err), "Glue");
}
