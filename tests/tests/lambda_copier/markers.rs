//! The conditional writes the exactly-once marker relies on, on moto.

use super::*;

#[tokio::test]
async fn moto_honours_conditional_writes_for_the_marker() {
    let endpoint = liberator_tests::moto().endpoint.clone();
    let s3 = liberator_tests::s3_client(&endpoint);
    let bucket = liberator_tests::unique_bucket("marker");
    liberator_tests::create_bucket(&s3, &bucket).await;
    let engine = liberator_tests::engine(&endpoint, EngineConfig::default());
    let store = engine.store();
    use liberator_engine::store::{ObjectStore, PutCondition, PutOutcome};
    assert!(matches!(
        store
            .put(
                &bucket,
                "_liberator/m.json",
                "a".into(),
                &PutCondition::IfAbsent
            )
            .await
            .unwrap(),
        PutOutcome::Written { .. }
    ));
    assert_eq!(
        store
            .put(
                &bucket,
                "_liberator/m.json",
                "b".into(),
                &PutCondition::IfAbsent
            )
            .await
            .unwrap(),
        PutOutcome::PreconditionFailed
    );
    assert_eq!(
        &liberator_tests::get_bytes(&s3, &bucket, "_liberator/m.json").await[..],
        b"a"
    );
    // Taking over a released marker is a compare-and-swap on its ETag.
    let head = s3
        .head_object()
        .bucket(&bucket)
        .key("_liberator/m.json")
        .send()
        .await
        .unwrap();
    let etag = head.e_tag().unwrap().to_string();
    let stale = s3
        .put_object()
        .bucket(&bucket)
        .key("_liberator/m.json")
        .if_match("\"0123456789abcdef0123456789abcdef\"")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"c"))
        .send()
        .await;
    assert_eq!(
        stale
            .unwrap_err()
            .raw_response()
            .map(|r| r.status().as_u16()),
        Some(412)
    );
    s3.put_object()
        .bucket(&bucket)
        .key("_liberator/m.json")
        .if_match(&etag)
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"d"))
        .send()
        .await
        .expect("If-Match on the current ETag succeeds");
    assert_eq!(
        &liberator_tests::get_bytes(&s3, &bucket, "_liberator/m.json").await[..],
        b"d"
    );
}

#[tokio::test]
async fn the_marker_store_claims_once_and_replaces_only_the_version_read() {
    use export_copier::marker::{Marker, MarkerState};
    use export_copier::marker_store::{MarkerStore, PutOutcome};

    let endpoint = liberator_tests::moto().endpoint.clone();
    let s3 = liberator_tests::s3_client(&endpoint);
    let bucket = liberator_tests::unique_bucket("marker");
    liberator_tests::create_bucket(&s3, &bucket).await;
    let engine = liberator_tests::engine(&endpoint, EngineConfig::default());
    let markers = MarkerStore::new(engine.store().clone(), &bucket, "_liberator/glue-runs/");
    let id = unique_export_id();
    assert_eq!(markers.read(&id).await.unwrap(), None, "no marker yet");

    let mut marker = Marker {
        export_id: id.clone(),
        token: Some("token-1".into()),
        workflow: "wf".into(),
        import_date: None,
        state: MarkerState::Claimed,
        claimed_at: "2024-06-04T11:02:10+00:00".into(),
        lease_until: Some("2024-06-04T11:22:10+00:00".into()),
        run_id: None,
        report: None,
    };
    assert!(matches!(
        markers.claim(&marker).await.unwrap(),
        PutOutcome::Written { .. }
    ));
    assert_eq!(
        markers.claim(&marker).await.unwrap(),
        PutOutcome::PreconditionFailed,
        "a second claim is refused"
    );
    let stored = markers.read(&id).await.unwrap().expect("claimed marker");
    assert_eq!(stored.marker, marker);
    assert!(!stored.etag.is_empty());
    assert_eq!(
        markers.key(&id),
        format!("_liberator/glue-runs/{id}.json"),
        "the key the tests read"
    );

    marker.state = MarkerState::Released;
    assert_eq!(
        markers
            .replace_if_match(&marker, "\"0123456789abcdef0123456789abcdef\"")
            .await
            .unwrap(),
        PutOutcome::PreconditionFailed,
        "a stale version is refused"
    );
    assert!(matches!(
        markers
            .replace_if_match(&marker, &stored.etag)
            .await
            .unwrap(),
        PutOutcome::Written { .. }
    ));
    marker.state = MarkerState::Started;
    marker.run_id = Some("wr_1".into());
    markers.write(&marker).await.unwrap();
    let now = markers.read(&id).await.unwrap().unwrap();
    assert_eq!(now.marker, marker);
    assert_ne!(now.etag, stored.etag);
}
