use super::*;
use crate::limiter::{Limiter, LimiterConfig};
use crate::retry::RetryConfig;
use crate::store::S3Store;
use aws_sdk_s3::Client;
use aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput;
use aws_sdk_s3::operation::create_multipart_upload::CreateMultipartUploadOutput;
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::operation::upload_part_copy::UploadPartCopyOutput;
use aws_sdk_s3::types::CopyPartResult;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use std::sync::Arc;
use std::sync::Mutex;

const SIZE: u64 = 6 * plan::GIB + 12_345;

/// A 6 GiB object never goes through CopyObject, whatever the threshold: the engine plans
/// UploadPartCopy ranges that tile the object. Checked on the requests sent, since local
/// servers accept oversized CopyObject calls.
#[tokio::test]
async fn objects_over_5_gib_are_copied_in_parts_whatever_the_threshold() {
    let ranges = Arc::new(Mutex::new(Vec::new()));
    let seen = ranges.clone();
    let copy =
        mock!(Client::copy_object).then_error(|| panic!("CopyObject must not be sent for 6 GiB"));
    let head = mock!(Client::head_object).then_output(|| {
        HeadObjectOutput::builder()
            .content_length(SIZE as i64)
            .e_tag("\"abc-3\"")
            .build()
    });
    let create = mock!(Client::create_multipart_upload).then_output(|| {
        CreateMultipartUploadOutput::builder()
            .upload_id("up-1")
            .build()
    });
    let part = mock!(Client::upload_part_copy)
        .match_requests(move |r| {
            seen.lock().unwrap().push((
                r.part_number().unwrap(),
                r.copy_source_range().unwrap().to_string(),
            ));
            r.upload_id() == Some("up-1") && r.copy_source() == Some("src/big%20file.parquet")
        })
        .then_output(|| {
            UploadPartCopyOutput::builder()
                .copy_part_result(CopyPartResult::builder().e_tag("\"p\"").build())
                .build()
        });
    let complete = mock!(Client::complete_multipart_upload)
        .match_requests(|r| r.multipart_upload().map(|u| u.parts().len()) == Some(97))
        .then_output(|| {
            CompleteMultipartUploadOutput::builder()
                .e_tag("\"x-97\"")
                .build()
        });
    // After the copy, stray uploads of the same key are looked for (none here).
    let uploads = mock!(Client::list_multipart_uploads).then_output(|| {
        aws_sdk_s3::operation::list_multipart_uploads::ListMultipartUploadsOutput::builder().build()
    });
    let client = mock_client!(
        aws_sdk_s3,
        RuleMode::MatchAny,
        [&copy, &head, &create, &part, &complete, &uploads],
        |b| b.retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
    );
    let limiter = Limiter::new(LimiterConfig::default());
    let store = Store::new(
        Arc::new(S3Store::new(client)),
        limiter.clone(),
        RetryConfig::default(),
    );
    let task = ObjectTask {
        src_bucket: "src".into(),
        src: ObjectInfo {
            key: "big file.parquet".into(),
            size: SIZE,
            etag: Some("abc-3".into()),
        },
        dst_bucket: "dst".into(),
        dst_key: "t/big file.parquet".into(),
    };
    let write = WriteOptions::default();
    let settings = CopySettings {
        threshold: u64::MAX,
        part_size: 64 * plan::MIB,
        write: &write,
        uploads: &OpenUploads::new(),
    };
    let stats = JobStats::default();
    let result = copy_object(&store, &settings, &task, &stats).await.unwrap();
    assert_eq!(
        result,
        CopyPlan::Multipart {
            part_size: 64 * plan::MIB,
            parts: 97
        }
    );
    assert_eq!(copy.num_calls(), 0);
    assert_eq!(create.num_calls(), 1);
    assert_eq!(complete.num_calls(), 1);
    let mut ranges = ranges.lock().unwrap().clone();
    ranges.sort();
    ranges.dedup();
    assert_eq!(ranges.len(), 97);
    assert_eq!(ranges[0], (1, format!("bytes=0-{}", 64 * plan::MIB - 1)));
    assert_eq!(
        ranges[96],
        (97, format!("bytes={}-{}", 96 * 64 * plan::MIB, SIZE - 1))
    );
}

mod on_memory {
    use super::*;
    use crate::store::{FaultRule, Faulty, MemoryStore, Op, PutCondition, Side, When};
    use bytes::Bytes;
    use std::time::Duration;

    const MIB: usize = plan::MIB as usize;
    /// The registry of copies made outside a run.
    static NO_RUN: OpenUploads = OpenUploads::new();

    pub(super) async fn setup(rules: Vec<FaultRule>) -> (Store, Arc<MemoryStore>, ObjectTask) {
        let mem = Arc::new(MemoryStore::new());
        let body: Vec<u8> = (0..12 * MIB + 7).map(|i| (i % 251) as u8).collect();
        mem.put(
            "src",
            "t/big.parquet",
            Bytes::from(body),
            &PutCondition::None,
        )
        .await
        .unwrap();
        let head = mem.head("src", "t/big.parquet").await.unwrap().unwrap();
        let faulty: Arc<dyn ObjectStore> = Arc::new(Faulty::new(mem.clone(), rules, 7));
        let retry = RetryConfig {
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
            ..RetryConfig::default()
        };
        let store = Store::new(faulty, Limiter::new(LimiterConfig::default()), retry);
        let task = ObjectTask {
            src_bucket: "src".into(),
            src: ObjectInfo {
                key: "t/big.parquet".into(),
                size: head.size,
                etag: head.etag,
            },
            dst_bucket: "dst".into(),
            dst_key: "landed/big.parquet".into(),
        };
        (store, mem, task)
    }

    pub(super) fn settings(write: &WriteOptions) -> CopySettings<'_> {
        CopySettings {
            threshold: 5 * plan::MIB,
            part_size: 5 * plan::MIB,
            write,
            uploads: &NO_RUN,
        }
    }

    async fn assert_landed(mem: &MemoryStore, task: &ObjectTask) {
        let src = mem.get("src", &task.src.key).await.unwrap().unwrap();
        let dst = mem.get("dst", &task.dst_key).await.unwrap().unwrap();
        assert_eq!(src.body, dst.body, "target bytes equal the source's");
        assert!(
            mem.list_multipart_uploads("dst", "")
                .await
                .unwrap()
                .is_empty(),
            "no upload left open"
        );
    }

    #[tokio::test]
    async fn a_lost_complete_reply_is_resolved_by_checking_the_target() {
        // The Complete lands, its reply is lost; the retry hears NoSuchUpload.
        let rule = FaultRule::new(&[Op::CompleteMultipart], Side::After, When::Nth(1));
        let (store, mem, task) = setup(vec![rule]).await;
        let write = WriteOptions::default();
        let p = copy_object(&store, &settings(&write), &task, &JobStats::default())
            .await
            .unwrap();
        assert!(matches!(p, CopyPlan::Multipart { parts: 3, .. }), "{p:?}");
        assert_landed(&mem, &task).await;
    }

    #[tokio::test]
    async fn part_copies_survive_faults_on_both_sides() {
        let rules = vec![
            FaultRule::new(&[Op::UploadPartCopy], Side::Before, When::Nth(1)),
            FaultRule::new(&[Op::UploadPartCopy], Side::After, When::Nth(2)),
            FaultRule::new(&[Op::CreateMultipart], Side::Before, When::Nth(1)),
            // A lost Create reply leaves an upload nobody knows the id of.
            FaultRule::new(&[Op::CreateMultipart], Side::After, When::Nth(2)),
        ];
        let (store, mem, task) = setup(rules).await;
        let write = WriteOptions::default();
        copy_object(&store, &settings(&write), &task, &JobStats::default())
            .await
            .unwrap();
        assert_landed(&mem, &task).await;
    }

    #[tokio::test]
    async fn a_part_that_keeps_failing_aborts_the_upload() {
        let rule = FaultRule::new(&[Op::UploadPartCopy], Side::Before, When::Rate(1.0));
        let (store, mem, task) = setup(vec![rule]).await;
        let write = WriteOptions::default();
        let err = copy_object(&store, &settings(&write), &task, &JobStats::default())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("UploadPartCopy"), "{err}");
        assert!(mem.head("dst", &task.dst_key).await.unwrap().is_none());
        assert!(
            mem.list_multipart_uploads("dst", "")
                .await
                .unwrap()
                .is_empty(),
            "the failed upload was aborted"
        );
    }
}

/// A copy cancelled at any await point (its future dropped: the run's copies were
/// cancelled) leaves its upload registered, and the run's `abort_all` aborts it, also when
/// the `CreateMultipartUpload` reply never arrived and the upload id is unknown.
#[tokio::test]
async fn a_dropped_multipart_copy_leaves_nothing_open_after_abort_all() {
    use crate::store::{FaultRule, Op, Side, When};
    use std::time::Duration;
    for op in [Op::UploadPartCopy, Op::CreateMultipart] {
        // The server acts, then the reply stalls: the copy is pending with an upload open.
        let mut stall = FaultRule::new(&[op], Side::After, When::Rate(1.0));
        stall.stall = Some(Duration::from_secs(600));
        let (store, mem, task) = on_memory::setup(vec![stall]).await;
        let write = WriteOptions::default();
        let uploads = OpenUploads::new();
        let settings = CopySettings {
            uploads: &uploads,
            ..on_memory::settings(&write)
        };
        let stats = JobStats::default();
        let copy = copy_object(&store, &settings, &task, &stats);
        let pending = tokio::time::timeout(Duration::from_millis(300), copy).await;
        assert!(pending.is_err(), "{op:?}: the copy is still waiting");
        let open = mem.list_multipart_uploads("dst", "").await.unwrap();
        assert_eq!(
            open.len(),
            1,
            "{op:?}: the dropped copy left its upload open"
        );
        assert_eq!(uploads.len(), 1, "{op:?}: and registered");
        assert!(uploads.abort_all(&store).await.is_empty());
        assert!(
            mem.list_multipart_uploads("dst", "")
                .await
                .unwrap()
                .is_empty(),
            "{op:?}: abort_all left an upload open"
        );
        assert!(uploads.is_empty());
    }
}
