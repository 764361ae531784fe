//! Which dump to load: the key from the triggering S3 event, or today's (or the override
//! date's) `parking/liberator_dump_<date>.zip`.
//!
//! The uploader was told `YYMMDD`; the replaced script looked for `YYYYMMDD`. Both are
//! tried, in that order, and a miss names every key tried.

use chrono::NaiveDate;

use crate::error::{RestoreError, Result};

/// Prefix of dropped dumps in the bucket.
pub const PREFIX: &str = "parking/liberator_dump_";

/// Candidate keys for `date`: `YYMMDD` first (as documented to the uploader), then `YYYYMMDD`.
pub fn candidate_keys(date: NaiveDate) -> Vec<String> {
    vec![
        format!("{PREFIX}{}.zip", date.format("%y%m%d")),
        format!("{PREFIX}{}.zip", date.format("%Y%m%d")),
    ]
}

/// The object key of an S3 event, in any of the shapes that reach the task:
/// CloudTrail via EventBridge (`detail.requestParameters.key`), EventBridge's own S3
/// events (`detail.object.key`), or an S3 notification (`Records[0].s3.object.key`,
/// URL-encoded with `+` for spaces).
pub fn key_from_event(event: &serde_json::Value) -> Option<String> {
    let detail = &event["detail"];
    if let Some(k) = detail["requestParameters"]["key"]
        .as_str()
        .or(detail["object"]["key"].as_str())
    {
        return Some(k.to_string());
    }
    let k = event["Records"][0]["s3"]["object"]["key"].as_str()?;
    Some(url_decode(&k.replace('+', " ")))
}

/// The bucket named by an S3 event, when present.
pub fn bucket_from_event(event: &serde_json::Value) -> Option<String> {
    let detail = &event["detail"];
    detail["requestParameters"]["bucketName"]
        .as_str()
        .or(detail["bucket"]["name"].as_str())
        .or(event["Records"][0]["s3"]["bucket"]["name"].as_str())
        .map(str::to_string)
}

fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Finds the dump: `event_key` if given (it must exist), else the first candidate for `date` that exists.
#[tracing::instrument(skip_all, fields(bucket = %bucket, date = %date))]
pub async fn locate(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    event_key: Option<&str>,
    date: NaiveDate,
) -> Result<String> {
    let tried = match event_key {
        Some(k) => vec![k.to_string()],
        None => candidate_keys(date),
    };
    for key in &tried {
        match s3.head_object().bucket(bucket).key(key).send().await {
            Ok(_) => {
                tracing::info!(key = %key, "found dump");
                return Ok(key.clone());
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => {
                tracing::info!(key = %key, "no such key");
            }
            Err(e) => {
                return Err(RestoreError::S3 {
                    operation: "HeadObject",
                    bucket: bucket.into(),
                    key: key.clone(),
                    source: e.into(),
                });
            }
        }
    }
    Err(RestoreError::DumpNotFound {
        bucket: bucket.to_string(),
        tried,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_date_formats() {
        let d = NaiveDate::from_ymd_opt(2024, 6, 4).unwrap();
        assert_eq!(
            candidate_keys(d),
            [
                "parking/liberator_dump_240604.zip",
                "parking/liberator_dump_20240604.zip"
            ]
        );
    }

    #[test]
    fn keys_from_event_shapes() {
        // The shape of ../shared/events/s3-put-parking-dump.json.
        let ev = serde_json::json!({
            "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.s3",
            "detail": {
                "eventSource": "s3.amazonaws.com",
                "eventName": "PutObject",
                "requestParameters": {"bucketName": "dataplatform-stg-liberator-data-storage", "key": "parking/liberator_dump_240604.zip"}
            }
        });
        assert_eq!(
            key_from_event(&ev).as_deref(),
            Some("parking/liberator_dump_240604.zip")
        );
        assert_eq!(
            bucket_from_event(&ev).as_deref(),
            Some("dataplatform-stg-liberator-data-storage")
        );
        let ev = serde_json::json!({"detail": {"bucket": {"name": "b"}, "object": {"key": "parking/x.zip"}}});
        assert_eq!(key_from_event(&ev).as_deref(), Some("parking/x.zip"));
        let ev = serde_json::json!({"Records": [{"s3": {"bucket": {"name": "b"}, "object": {"key": "parking/a+b%2Cc.zip"}}}]});
        assert_eq!(key_from_event(&ev).as_deref(), Some("parking/a b,c.zip"));
        assert_eq!(key_from_event(&serde_json::json!({})), None);
    }
}
