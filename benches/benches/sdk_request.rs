//! The client CPU of one S3 request without a network: the engine's S3 backend
//! (`liberator_engine::store::S3Store`, the client built by `ClientFactory` as in
//! production: SDK retries off, the engine's timeouts, path-style endpoint) calling an
//! in-memory HTTP client that answers canned S3 responses. Each iteration is the whole SDK
//! orchestration: endpoint resolution, request serialisation, SigV4 signing, the (in-memory)
//! send, response deserialisation and the store's own mapping of the output.
//!
//! These are the requests of one verified object (HEAD of the target, the footer's ranged
//! GET, CopyObject) plus a 1,000-key ListObjectsV2 page, whose cost per key is the listing's
//! share of each object.

use std::hint::black_box;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::test_util::infallible_client_fn;
use aws_smithy_types::body::SdkBody;
use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use liberator_engine::store::{CopyObject, ListRequest, ObjectStore, S3Store};
use liberator_engine::{AwsOptions, ClientFactory, WriteOptions};

const ETAG: &str = "\"0123456789abcdef0123456789abcdef\"";
const SIZE: u64 = 32 * 1024;
const KEY: &str = "sql-to-parquet-24-06-04-101500/liberator/liberator.table_007/2/part-00042-6f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b.gz.parquet";
const DST_KEY: &str = "parking/liberator/table_007/import_date=2024-06-04/part-00042-6f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b.gz.parquet";

/// A response with the headers S3 sends on every reply.
fn s3_response(status: u16) -> http::response::Builder {
    http::Response::builder()
        .status(status)
        .header("x-amz-request-id", "4442587FB7D0A2F9")
        .header(
            "x-amz-id-2",
            "vlR7PnpV2Ce81l0PRw6jlUpck7Jo5ZsQjryTjKlc5aLWGVHPZLj5NeC6qMa0emYBDXOo6QBU0Wo=",
        )
        .header("date", "Tue, 04 Jun 2024 10:15:00 GMT")
        .header("server", "AmazonS3")
}

fn list_body(keys: usize) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>src</Name><Prefix>sql-to-parquet-24-06-04-101500/</Prefix>",
    );
    xml.push_str(&format!(
        "<KeyCount>{keys}</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>"
    ));
    for i in 0..keys {
        xml.push_str(&format!(
            "<Contents><Key>sql-to-parquet-24-06-04-101500/liberator/liberator.table_{:03}/{}/part-{i:05}-6f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b.gz.parquet</Key><LastModified>2024-06-04T10:15:00.000Z</LastModified><ETag>&quot;0123456789abcdef0123456789abcdef&quot;</ETag><Size>{SIZE}</Size><StorageClass>STANDARD</StorageClass></Contents>",
            i % 40,
            i % 3 + 1
        ));
    }
    xml.push_str("</ListBucketResult>");
    xml
}

/// Canned S3: HEAD (404 for keys containing `missing`), ranged GET of a 32 KiB object,
/// CopyObject, ListObjectsV2.
fn canned_s3() -> aws_sdk_s3::config::SharedHttpClient {
    let object = Bytes::from(vec![7u8; SIZE as usize]);
    let list = Bytes::from(list_body(1000));
    let copy = Bytes::from(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CopyObjectResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LastModified>2024-06-04T10:15:01.000Z</LastModified><ETag>{}</ETag></CopyObjectResult>",
        ETAG.replace('"', "&quot;")
    ));
    infallible_client_fn(move |req: http::Request<SdkBody>| {
        let path = req.uri().path();
        let query = req.uri().query().unwrap_or("");
        match *req.method() {
            http::Method::HEAD if path.contains("missing") => {
                s3_response(404).body(SdkBody::empty()).expect("response")
            }
            http::Method::HEAD => s3_response(200)
                .header("content-length", SIZE.to_string())
                .header("etag", ETAG)
                .header("content-type", "application/octet-stream")
                .header("last-modified", "Tue, 04 Jun 2024 10:15:00 GMT")
                .header("accept-ranges", "bytes")
                .body(SdkBody::empty())
                .expect("response"),
            http::Method::GET if query.contains("list-type=2") => s3_response(200)
                .header("content-type", "application/xml")
                .body(SdkBody::from(list.clone()))
                .expect("response"),
            http::Method::GET => {
                let range = req
                    .headers()
                    .get("range")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("bytes="))
                    .and_then(|v| v.split_once('-'))
                    .and_then(|(a, b)| Some((a.parse::<u64>().ok()?, b.parse::<u64>().ok()?)))
                    .expect("a ranged GET");
                let body = object.slice(range.0 as usize..=range.1 as usize);
                s3_response(206)
                    .header("content-length", body.len().to_string())
                    .header(
                        "content-range",
                        format!("bytes {}-{}/{SIZE}", range.0, range.1),
                    )
                    .header("etag", ETAG)
                    .header("content-type", "application/octet-stream")
                    .header("last-modified", "Tue, 04 Jun 2024 10:15:00 GMT")
                    .header("accept-ranges", "bytes")
                    .body(SdkBody::from(body))
                    .expect("response")
            }
            http::Method::PUT if req.headers().contains_key("x-amz-copy-source") => {
                s3_response(200)
                    .header("content-type", "application/xml")
                    .body(SdkBody::from(copy.clone()))
                    .expect("response")
            }
            _ => panic!("no canned response for {} {}", req.method(), req.uri()),
        }
    })
}

/// The engine's S3 store over the canned client, built like production's.
async fn store() -> S3Store {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "bench",
        ))
        .http_client(canned_s3())
        .load()
        .await;
    let options = AwsOptions::default().with_endpoint("http://127.0.0.1:9000");
    S3Store::new(ClientFactory::from_sdk_config(sdk, options).s3())
}

fn sdk_request(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = rt.block_on(store());
    let write = WriteOptions::default();
    let copy = CopyObject {
        src_bucket: "src",
        src_key: KEY,
        if_match: Some("0123456789abcdef0123456789abcdef"),
        dst_bucket: "dst",
        dst_key: DST_KEY,
        write: &write,
        replace: None,
    };
    // Sanity: each canned answer parses into what the engine expects.
    rt.block_on(async {
        assert_eq!(store.head("src", KEY).await.unwrap().unwrap().size, SIZE);
        assert_eq!(store.head("dst", "missing").await.unwrap(), None);
        assert_eq!(
            store.get_range("src", KEY, 0..8192).await.unwrap().len(),
            8192
        );
        assert!(store.copy_object(&copy).await.unwrap().is_some());
        let page = store
            .list_page(&ListRequest {
                bucket: "src".into(),
                prefix: "sql-to-parquet-24-06-04-101500/".into(),
                ..ListRequest::default()
            })
            .await
            .unwrap();
        assert_eq!(page.objects.len(), 1000);
    });

    let mut g = c.benchmark_group("sdk_request");
    g.bench_function("head_object_found", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(store.head("src", KEY).await.unwrap()) })
    });
    g.bench_function("head_object_not_found", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(store.head("dst", "missing/x.parquet").await.unwrap()) })
    });
    for (name, n) in [
        ("get_footer_tail_8KiB", 8 * 1024),
        ("get_footer_tail_32KiB", SIZE),
    ] {
        g.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                black_box(store.get_range("src", KEY, SIZE - n..SIZE).await.unwrap())
            })
        });
    }
    g.bench_function("copy_object", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(store.copy_object(&copy).await.unwrap()) })
    });
    // One verified object's requests in turn: target HEAD (absent), footer GET, copy.
    g.bench_function("verified_object_head_get_copy", |b| {
        b.to_async(&rt).iter(|| async {
            assert!(
                store
                    .head("dst", "missing/x.parquet")
                    .await
                    .unwrap()
                    .is_none()
            );
            black_box(
                store
                    .get_range("src", KEY, SIZE - 8192..SIZE)
                    .await
                    .unwrap(),
            );
            black_box(store.copy_object(&copy).await.unwrap())
        })
    });
    g.finish();

    let mut g = c.benchmark_group("sdk_request");
    g.throughput(Throughput::Elements(1000));
    let list = ListRequest {
        bucket: "src".into(),
        prefix: "sql-to-parquet-24-06-04-101500/".into(),
        ..ListRequest::default()
    };
    g.bench_function("list_objects_v2_1000_keys", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(store.list_page(&list).await.unwrap()) })
    });
    g.finish();
}

criterion_group!(benches, sdk_request);
criterion_main!(benches);
