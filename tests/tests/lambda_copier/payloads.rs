//! The deadline hand-off, SQS records and S3 Batch Operations tasks.

use super::*;

#[tokio::test]
async fn the_deadline_hands_the_rest_on() {
    let f = Fixture::new(&unique_export_id()).await;
    let event = f.event();
    let out = f
        .copier()
        .handle_export(
            &event,
            &Invocation::with_budget(Duration::ZERO, FUNCTION_ARN),
        )
        .await
        .unwrap();
    assert!(matches!(out, Answer::HandedOn { .. }), "{out:?}");
    {
        let calls = f.reinvoke.calls.lock().unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].0, FUNCTION_ARN);
        assert_eq!(calls[0].1, event, "re-invoked with the same event");
    }
    assert!(
        f.runs(&f.config.workflow_name).await.is_empty(),
        "no Glue before everything landed"
    );
    let out = f.copier().handle_export(&event, &budget()).await.unwrap();
    assert!(matches!(out, Answer::GlueStarted { .. }), "{out:?}");
    assert_eq!(f.landed().await.len(), f.parquet_files);
}

#[tokio::test]
async fn an_sqs_record_carries_the_same_event() {
    let f = Fixture::new(&unique_export_id()).await;
    let sqs = json!({"Records": [{
        "messageId": "m-1", "receiptHandle": "r", "body": f.event().to_string(),
        "attributes": {}, "messageAttributes": {}, "md5OfBody": "x",
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"
    }]});
    let out = f.copier().handle(&sqs, &budget()).await.unwrap();
    assert_eq!(out["records"][0]["outcome"], "glue_started", "{out}");
    assert_eq!(f.runs(&f.config.workflow_name).await.len(), 1);

    let bad = json!({"Records": [{"messageId": "m-2", "body": "not json", "attributes": {}, "messageAttributes": {}}]});
    let err = f.copier().handle(&bad, &budget()).await.unwrap_err();
    assert!(err.to_string().contains("m-2"), "{err}");
}

#[tokio::test]
async fn s3_batch_operations_tasks_answer_per_key() {
    let f = Fixture::new(&unique_export_id()).await;
    let keys =
        liberator_tests::list_all(&f.s3, &f.config.source_bucket, &format!("{}/", f.export_id))
            .await;
    let parquet = keys
        .iter()
        .find(|(k, _)| k.ends_with(".parquet"))
        .unwrap()
        .0
        .clone();
    let meta = keys
        .iter()
        .find(|(k, _)| !k.ends_with(".parquet"))
        .expect("export metadata")
        .0
        .clone();
    let task = |id: &str, key: &str, bucket: &str| json!({"taskId": id, "s3Key": key, "s3VersionId": null, "s3BucketArn": format!("arn:aws:s3:::{bucket}")});
    let src = f.config.source_bucket.as_str();
    let event = json!({
        "invocationSchemaVersion": "1.0", "invocationId": "inv-1", "job": {"id": "job-1"},
        "tasks": [
            task("t1", &parquet, src),
            task("t2", &meta, src),
            task("t3", &format!("{}/liberator/liberator.pcn/1/missing.parquet", f.export_id), src),
            task("t4", &parquet, "some-other-bucket"),
            task("t5", "not-an-export/x.parquet", src),
        ]
    });
    let out = f.copier().handle(&event, &budget()).await.unwrap();
    assert_eq!(out["invocationId"], "inv-1");
    let codes: Vec<&str> = out["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["resultCode"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "Succeeded",
            "Succeeded",
            "PermanentFailure",
            "PermanentFailure",
            "PermanentFailure"
        ],
        "{out}"
    );
    let landed = f.landed().await;
    assert_eq!(landed.len(), 1, "{landed:?}");
    assert!(landed[0].0.ends_with(parquet.rsplit('/').next().unwrap()));
    // Again: already landed, still Succeeded.
    let out = f.copier().handle(&event, &budget()).await.unwrap();
    assert!(
        out["results"][0]["resultString"]
            .as_str()
            .unwrap()
            .contains("already landed"),
        "{out}"
    );
    assert!(
        f.runs(&f.config.workflow_name).await.is_empty(),
        "batch tasks never start Glue"
    );
}
