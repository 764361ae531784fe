//! The one conformance suite every [`ObjectStore`] passes: memory and local in the engine's
//! unit tests, moto and SeaweedFS in `tests/tests/store_conformance.rs`. It pins down the
//! S3 semantics the engine and the Lambdas rely on: keys with spaces, `+`, `%`, `#`, `$` and
//! unicode come back byte for byte; conditional writes; whole, ranged and missing reads;
//! listing order and pagination; multipart copy where supported.

use std::sync::Arc;

use bytes::Bytes;

use super::api::{
    CopyObject, CopyPart, ListRequest, ObjectHead, ObjectStore, PutCondition, PutOutcome,
    WriteOptions,
};
use crate::error::Result;

/// Keys a landing must survive unchanged.
pub const AWKWARD_KEYS: &[&str] = &[
    "exp/liberator/liberator.plain/part-00000.parquet",
    "exp/liberator/liberator.with space/part 1.parquet",
    "exp/liberator/liberator.plus+sign/a+b.parquet",
    "exp/liberator/liberator.pct%x/100%.parquet",
    "exp/liberator/liberator.hash#tag/x#y.parquet",
    "exp/liberator/liberator.dollar$/$1.parquet",
    "exp/liberator/liberator.ünïcode/straße.parquet",
];

fn body(i: usize) -> Bytes {
    Bytes::from(format!(
        "object {i} of the conformance suite: {}",
        "x".repeat(i * 7)
    ))
}

async fn list_all(
    store: &dyn ObjectStore,
    bucket: &str,
    prefix: &str,
    page: u32,
) -> Result<Vec<String>> {
    let mut req = ListRequest {
        bucket: bucket.into(),
        prefix: prefix.into(),
        max_keys: Some(page),
        ..Default::default()
    };
    let mut keys = Vec::new();
    loop {
        let p = store.list_page(&req).await?;
        assert!(
            p.objects.len() <= page as usize,
            "a page holds at most max_keys"
        );
        keys.extend(p.objects.into_iter().map(|o| o.key));
        match p.next {
            Some(n) => req.continuation = Some(n),
            None => return Ok(keys),
        }
    }
}

/// What a backend is held to where servers differ.
#[derive(Debug, Clone, Copy)]
pub struct Expect {
    /// Listings in UTF-8 byte order, as S3 documents
    /// (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html>: "returned
    /// in UTF-8 character encoding in lexicographical order"). SeaweedFS lists a folder's
    /// subfolders depth-first instead (`a/b` before `a-b`); the engine needs only that one
    /// table's keys come together, which every backend is held to.
    pub byte_order: bool,
}

impl Default for Expect {
    fn default() -> Self {
        Expect { byte_order: true }
    }
}

/// Runs every check against `store`, in `bucket` (which must exist and be empty).
pub async fn run(store: Arc<dyn ObjectStore>, bucket: &str) {
    run_with(store, bucket, Expect::default()).await
}

/// [`run`] with what this backend is held to.
pub async fn run_with(store: Arc<dyn ObjectStore>, bucket: &str, expect: Expect) {
    let s = store.as_ref();
    let name = s.name();
    keys_round_trip(s, bucket).await;
    listing_order_and_pages(s, bucket, expect).await;
    conditional_writes(s, bucket).await;
    reads_and_deletes(s, bucket).await;
    copies(s, bucket).await;
    if s.supports_multipart() {
        multipart_copies(s, bucket).await;
    }
    tracing::info!(store = name, "conformance suite passed");
}

async fn keys_round_trip(s: &dyn ObjectStore, bucket: &str) {
    for (i, key) in AWKWARD_KEYS.iter().enumerate() {
        let out = s.put(bucket, key, body(i), &PutCondition::None).await;
        assert!(
            matches!(out, Ok(PutOutcome::Written { .. })),
            "{}: put {key:?}: {out:?}",
            s.name()
        );
    }
    let listed = list_all(s, bucket, "exp/", 1000).await.unwrap();
    let mut want: Vec<String> = AWKWARD_KEYS.iter().map(|k| k.to_string()).collect();
    want.sort();
    assert_eq!(
        listed,
        want,
        "{}: listing returns every key byte for byte, in order",
        s.name()
    );
    for (i, key) in AWKWARD_KEYS.iter().enumerate() {
        let got = s
            .get(bucket, key)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{}: {key:?} reads back", s.name()));
        assert_eq!(got.body, body(i), "{}: {key:?}", s.name());
        let head = s.head(bucket, key).await.unwrap().expect("head");
        assert_eq!(head.size, body(i).len() as u64, "{}: {key:?}", s.name());
        let tail = s.get_range(bucket, key, 3..9).await.unwrap();
        assert_eq!(tail, body(i).slice(3..9), "{}: range of {key:?}", s.name());
    }
}

/// Whether the keys under each folder (`a/`, `a/b/`, …) come together, as they do in byte
/// order: what the engine's per-table dispatch needs.
fn folders_contiguous(keys: &[String]) -> bool {
    let mut folders: Vec<&str> = Vec::new();
    for k in keys {
        for (i, _) in k.match_indices('/') {
            folders.push(&k[..=i]);
        }
    }
    folders.iter().all(|f| {
        let hits: Vec<usize> = (0..keys.len())
            .filter(|&i| keys[i].starts_with(f))
            .collect();
        hits.windows(2).all(|w| w[1] == w[0] + 1)
    })
}

async fn listing_order_and_pages(s: &dyn ObjectStore, bucket: &str, expect: Expect) {
    // '-' (0x2d) sorts before '/' (0x2f): a depth-first walk would list "a/…" first.
    let keys = [
        "ord/a-b",
        "ord/a/b",
        "ord/a/c/d",
        "ord/a0",
        "ord/b",
        "ord/ä",
        "ord/A",
    ];
    for (i, k) in keys.iter().enumerate() {
        s.put(bucket, k, body(i), &PutCondition::None)
            .await
            .unwrap();
    }
    let mut want: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    want.sort();
    for page in [1, 2, 3, 1000] {
        let got = list_all(s, bucket, "ord/", page).await.unwrap();
        assert!(
            folders_contiguous(&got),
            "{}: pages of {page}: {got:?}",
            s.name()
        );
        if expect.byte_order {
            assert_eq!(got, want, "{}: pages of {page}", s.name());
        } else {
            let mut sorted = got.clone();
            sorted.sort();
            assert_eq!(
                sorted,
                want,
                "{}: pages of {page}: every key once",
                s.name()
            );
        }
    }
    assert_eq!(
        list_all(s, bucket, "ord/a/", 1000).await.unwrap(),
        ["ord/a/b", "ord/a/c/d"]
    );
    assert!(
        list_all(s, bucket, "nothing-here/", 10)
            .await
            .unwrap()
            .is_empty()
    );
    let top = s
        .list_page(&ListRequest {
            bucket: bucket.into(),
            prefix: "ord/".into(),
            delimiter: Some("/".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let objects: Vec<_> = top.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(
        objects,
        ["ord/A", "ord/a-b", "ord/a0", "ord/b", "ord/ä"],
        "{}",
        s.name()
    );
    assert_eq!(top.prefixes, ["ord/a/"], "{}", s.name());
}

async fn conditional_writes(s: &dyn ObjectStore, bucket: &str) {
    let key = "_liberator/glue-runs/sql-to-parquet-24-06-04-101500.json";
    let first = s
        .put(
            bucket,
            key,
            Bytes::from_static(b"{\"v\":1}"),
            &PutCondition::IfAbsent,
        )
        .await
        .unwrap();
    let PutOutcome::Written { .. } = first else {
        panic!("{}: first IfAbsent writes: {first:?}", s.name())
    };
    let again = s
        .put(
            bucket,
            key,
            Bytes::from_static(b"{\"v\":2}"),
            &PutCondition::IfAbsent,
        )
        .await
        .unwrap();
    assert_eq!(
        again,
        PutOutcome::PreconditionFailed,
        "{}: IfAbsent on an existing key",
        s.name()
    );
    let read = s.get(bucket, key).await.unwrap().unwrap();
    assert_eq!(&read.body[..], b"{\"v\":1}");
    let etag = read
        .etag
        .clone()
        .unwrap_or_else(|| panic!("{}: a read gives a version", s.name()));
    let stale = "00000000000000000000000000000000".to_string();
    let refused = s
        .put(
            bucket,
            key,
            Bytes::from_static(b"{\"v\":3}"),
            &PutCondition::IfMatch(stale),
        )
        .await
        .unwrap();
    assert_eq!(
        refused,
        PutOutcome::PreconditionFailed,
        "{}: IfMatch on a stale version",
        s.name()
    );
    let ok = s
        .put(
            bucket,
            key,
            Bytes::from_static(b"{\"v\":4}"),
            &PutCondition::IfMatch(etag.clone()),
        )
        .await
        .unwrap();
    assert!(
        matches!(ok, PutOutcome::Written { .. }),
        "{}: IfMatch on the version read: {ok:?}",
        s.name()
    );
    let lost = s
        .put(
            bucket,
            key,
            Bytes::from_static(b"{\"v\":5}"),
            &PutCondition::IfMatch(etag),
        )
        .await
        .unwrap();
    assert_eq!(
        lost,
        PutOutcome::PreconditionFailed,
        "{}: the old version no longer matches",
        s.name()
    );
    assert_eq!(
        &s.get(bucket, key).await.unwrap().unwrap().body[..],
        b"{\"v\":4}"
    );
}

async fn reads_and_deletes(s: &dyn ObjectStore, bucket: &str) {
    assert!(
        s.head(bucket, "missing/key").await.unwrap().is_none(),
        "{}",
        s.name()
    );
    assert!(
        s.get(bucket, "missing/key").await.unwrap().is_none(),
        "{}",
        s.name()
    );
    s.put(bucket, "del/me", body(1), &PutCondition::None)
        .await
        .unwrap();
    s.delete(bucket, "del/me").await.unwrap();
    assert!(
        s.head(bucket, "del/me").await.unwrap().is_none(),
        "{}",
        s.name()
    );
    s.delete(bucket, "del/me")
        .await
        .expect("deleting nothing is fine");
}

async fn copies(s: &dyn ObjectStore, bucket: &str) {
    let write = WriteOptions {
        acl: None,
        sse_kms_key_id: None,
    };
    for (i, key) in AWKWARD_KEYS.iter().enumerate() {
        let dst = format!("landed/{key}");
        s.copy_object(&CopyObject {
            src_bucket: bucket,
            src_key: key,
            if_match: None,
            dst_bucket: bucket,
            dst_key: &dst,
            write: &write,
            replace: None,
        })
        .await
        .unwrap_or_else(|e| panic!("{}: copy {key:?}: {e}", s.name()));
        assert_eq!(
            s.get(bucket, &dst).await.unwrap().unwrap().body,
            body(i),
            "{}: {dst:?}",
            s.name()
        );
    }
}

async fn multipart_copies(s: &dyn ObjectStore, bucket: &str) {
    const MIB: usize = 1024 * 1024;
    let src: Vec<u8> = (0..5 * MIB + 1234).map(|i| (i % 253) as u8).collect();
    let key = "mp/src ü+%.bin";
    s.put(bucket, key, Bytes::from(src.clone()), &PutCondition::None)
        .await
        .unwrap();
    let dst = "mp/dst ü+%.bin";
    let write = WriteOptions {
        acl: None,
        sse_kms_key_id: None,
    };
    let head = ObjectHead {
        content_type: Some("application/octet-stream".into()),
        ..Default::default()
    };
    let id = s
        .create_multipart(bucket, dst, &write, &head)
        .await
        .unwrap();
    let mut parts = Vec::new();
    for (n, range) in [
        (1, 0..5 * MIB as u64),
        (2, 5 * MIB as u64..src.len() as u64),
    ] {
        let etag = s
            .upload_part_copy(&CopyPart {
                src_bucket: bucket,
                src_key: key,
                if_match: None,
                dst_bucket: bucket,
                dst_key: dst,
                upload_id: &id,
                part_number: n,
                range,
            })
            .await
            .unwrap();
        parts.push((n, etag));
    }
    let open = s.list_multipart_uploads(bucket, "mp/").await.unwrap();
    assert!(
        open.iter().any(|u| u.upload_id == id && u.key == dst),
        "{}: the upload is open: {open:?}",
        s.name()
    );
    s.complete_multipart(bucket, dst, &id, &parts)
        .await
        .unwrap();
    assert_eq!(
        &s.get(bucket, dst).await.unwrap().unwrap().body[..],
        &src[..],
        "{}",
        s.name()
    );
    // An aborted upload leaves nothing behind.
    let id2 = s
        .create_multipart(bucket, "mp/aborted", &write, &head)
        .await
        .unwrap();
    s.abort_multipart(bucket, "mp/aborted", &id2).await.unwrap();
    let open = s.list_multipart_uploads(bucket, "mp/").await.unwrap();
    assert!(
        open.is_empty(),
        "{}: no upload left open: {open:?}",
        s.name()
    );
    assert!(s.head(bucket, "mp/aborted").await.unwrap().is_none());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{LocalStore, MemoryStore};

    #[tokio::test]
    async fn memory_store_conforms() {
        run(Arc::new(MemoryStore::new()), "bucket").await;
    }

    #[tokio::test]
    async fn local_store_conforms() {
        let dir = tempfile::tempdir().unwrap();
        let bucket = dir.path().join("bucket");
        std::fs::create_dir_all(&bucket).unwrap();
        run(Arc::new(LocalStore::new()), bucket.to_str().unwrap()).await;
    }
}
