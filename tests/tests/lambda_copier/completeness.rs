//! No Glue on a partial day: the copier lands what it can, runs the completeness check and
//! starts nothing when a table did not land whole, failing the invocation with an error
//! kind (`ExportIncomplete`) that names the table and both counts.

use super::*;

/// Rewrites the sample export's `export_tables_info` so `table` is `FAILED`, and deletes
/// that table's files, as RDS does for a table it could not export.
async fn fail_table(f: &Fixture, table: &str) {
    let bucket = &f.config.source_bucket;
    let prefix = format!("{}/export_tables_info_", f.export_id);
    let keys = liberator_tests::list_all(&f.s3, bucket, &prefix).await;
    let (key, _) = keys
        .first()
        .expect("the sample export has export_tables_info");
    let body = liberator_tests::get_bytes(&f.s3, bucket, key).await;
    let mut info: Value = serde_json::from_slice(&body).unwrap();
    for entry in info["perTableStatus"].as_array_mut().unwrap() {
        if entry["target"] == json!(table) {
            entry["status"] = json!("FAILED");
        }
    }
    f.s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(serde_json::to_vec(&info).unwrap().into())
        .send()
        .await
        .unwrap();
    let folder = format!("{}/liberator/{table}/", f.export_id);
    for (k, _) in liberator_tests::list_all(&f.s3, bucket, &folder).await {
        f.s3.delete_object()
            .bucket(bucket)
            .key(k)
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_the_export_failed_starts_no_glue_and_names_the_table() {
    let f = Fixture::new(&unique_export_id()).await;
    fail_table(&f, "liberator.permits").await;
    let err = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "ExportIncomplete", "{err}");
    let text = err.to_string();
    assert!(
        text.contains("liberator.permits") && text.contains("FAILED"),
        "{text}"
    );
    assert!(
        f.runs(&f.config.workflow_name).await.is_empty(),
        "no Glue run on a partial day"
    );
    assert!(f.marker().await.is_none(), "no claim either");
}

#[tokio::test(flavor = "multi_thread")]
async fn landed_rows_short_of_the_manifest_start_no_glue() {
    let mut f = Fixture::new(&unique_export_id()).await;
    // The manifest of the export's snapshot says one row more than the export holds.
    let manifests = liberator_tests::unique_bucket("dumps");
    liberator_tests::create_bucket(&f.s3, &manifests).await;
    let tables: Vec<Value> = [("pcn", 12000), ("permits", 3000), ("vrm", 801)]
        .iter()
        .map(|(t, rows)| json!({"database": "liberator", "table": t, "rows": rows}))
        .collect();
    let manifest = json!({"version": 1, "snapshot_id": f.export_id, "import_date": "2024-06-04",
        "created_at": "2024-06-04T10:15:00Z",
        "dump": {"bucket": manifests, "key": "parking/liberator_dump_240604.zip", "size": 1, "entries": ["d.sql"]},
        "tables": tables});
    f.s3.put_object()
        .bucket(&manifests)
        .key(format!("liberator-manifests/{}.json", f.export_id))
        .body(serde_json::to_vec(&manifest).unwrap().into())
        .send()
        .await
        .unwrap();
    f.config.manifests =
        Some(Location::parse(&format!("s3://{manifests}/liberator-manifests/")).unwrap());
    let err = f
        .copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "ExportIncomplete", "{err}");
    let text = err.to_string();
    assert!(
        text.contains("liberator.vrm")
            && text.contains("expected 801 rows")
            && text.contains("landed 800 rows"),
        "{text}"
    );
    assert!(f.runs(&f.config.workflow_name).await.is_empty());

    // The database and the export agree once the manifest does: the day lands and Glue starts.
    let fixed: Vec<Value> = [("pcn", 12000), ("permits", 3000), ("vrm", 800)]
        .iter()
        .map(|(t, rows)| json!({"database": "liberator", "table": t, "rows": rows}))
        .collect();
    let mut manifest = manifest;
    manifest["tables"] = json!(fixed);
    f.s3.put_object()
        .bucket(&manifests)
        .key(format!("liberator-manifests/{}.json", f.export_id))
        .body(serde_json::to_vec(&manifest).unwrap().into())
        .send()
        .await
        .unwrap();
    f.copier()
        .handle_export(&f.event(), &budget())
        .await
        .unwrap();
    assert_eq!(f.runs(&f.config.workflow_name).await.len(), 1);
}
