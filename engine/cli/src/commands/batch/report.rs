//! Reading a job's completion report
//! (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-reports.html>):
//! `<prefix>/job-<id>/manifest.json` (`Format` `Report_CSV_20180820`, `Results`: the
//! bucket and key of each result file) and the CSV result files, one line per task:
//! `Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage`. Keys are
//! read back URL-encoded as the manifest gave them. For a Lambda task the `ResultMessage`
//! is the function's `resultString` (or the invocation's error).
//!
//! The page's own Lambda example puts the HTTP status before the error code
//! (`…,failed,200,PermanentFailure,"Lambda returned function error: …"`), against its
//! `ReportSchema`; so the two middle columns are reported as they come, not by position.

use std::collections::HashMap;

use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_s3::error::DisplayErrorContext;
use liberator_engine::batch::decode_key;
use serde::Deserialize;

/// One task of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRow {
    pub bucket: String,
    /// Decoded.
    pub key: String,
    pub succeeded: bool,
    /// The error code and HTTP status columns, as written (may be empty).
    pub codes: String,
    /// The `resultString` or error.
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ReportManifest {
    format: Option<String>,
    #[serde(default)]
    results: Vec<ResultFile>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResultFile {
    bucket: String,
    key: String,
}

/// Splits CSV text (RFC 4180: `"` quotes fields, `""` is a quote, quoted fields may hold
/// commas and newlines) into records.
pub fn parse_csv(text: &str) -> Result<Vec<Vec<String>>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        bail!("unterminated quoted field");
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    Ok(records)
}

/// The tasks of one CSV result file.
pub fn parse_tasks(source: &str, text: &str) -> Result<Vec<TaskRow>> {
    let mut rows = Vec::new();
    for (n, rec) in parse_csv(text)
        .with_context(|| format!("completion report {source}"))?
        .into_iter()
        .enumerate()
    {
        if rec.len() < 4 {
            bail!(
                "completion report {source}, line {}: {} column(s), expected Bucket, Key, VersionId, TaskStatus, …",
                n + 1,
                rec.len()
            );
        }
        let key = decode_key(&rec[1]).ok_or_else(|| {
            anyhow!(
                "completion report {source}, line {}: key {:?} is not URL-encoded UTF-8",
                n + 1,
                rec[1]
            )
        })?;
        let middle = if rec.len() > 5 {
            &rec[4..rec.len() - 1]
        } else {
            &rec[4..]
        };
        rows.push(TaskRow {
            bucket: rec[0].clone(),
            key,
            succeeded: rec[3].eq_ignore_ascii_case("succeeded"),
            codes: middle
                .iter()
                .filter(|c| !c.is_empty())
                .cloned()
                .collect::<Vec<_>>()
                .join(" "),
            message: if rec.len() > 5 {
                rec[rec.len() - 1].clone()
            } else {
                String::new()
            },
        });
    }
    Ok(rows)
}

async fn get_text(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<String> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| anyhow!("{}", DisplayErrorContext(e)))
        .with_context(|| format!("reading s3://{bucket}/{key}"))?;
    let bytes = out
        .body
        .collect()
        .await
        .with_context(|| format!("reading s3://{bucket}/{key}"))?
        .into_bytes();
    String::from_utf8(bytes.to_vec()).with_context(|| format!("s3://{bucket}/{key} is not UTF-8"))
}

/// The key of a job's report manifest under the report prefix.
pub fn manifest_key(prefix: &str, job_id: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        format!("job-{job_id}/manifest.json")
    } else {
        format!("{prefix}/job-{job_id}/manifest.json")
    }
}

/// Every task of job `job_id`'s completion report, by (bucket, decoded key).
pub async fn read(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
    job_id: &str,
) -> Result<HashMap<(String, String), TaskRow>> {
    let key = manifest_key(prefix, job_id);
    let text = get_text(s3, bucket, &key).await?;
    let manifest: ReportManifest = serde_json::from_str(&text)
        .with_context(|| format!("s3://{bucket}/{key} is not a completion report manifest"))?;
    if let Some(f) = &manifest.format
        && f != "Report_CSV_20180820"
    {
        bail!("s3://{bucket}/{key}: report format {f:?}, expected Report_CSV_20180820");
    }
    let mut tasks = HashMap::new();
    for file in &manifest.results {
        let text = get_text(s3, &file.bucket, &file.key).await?;
        let source = format!("s3://{}/{}", file.bucket, file.key);
        for row in parse_tasks(&source, &text)? {
            tasks.insert((row.bucket.clone(), row.key.clone()), row);
        }
    }
    Ok(tasks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_lambda_rows_read() {
        // The examples of batch-ops-examples-reports.html (a timed-out function, then a
        // success whose ResultMessage is the function's resultString).
        let text = "awsexamplebucket1,image_14975,,failed,200,PermanentFailure,\"Lambda returned function error: {\"\"errorMessage\"\":\"\"2019-04-05T17:35:21.155Z 2845ca0d-38d9-4c4b-abcf-379dc749c452 Task timed out after 3.00 seconds\"\"}\"\n\
                    awsexamplebucket1,image_1,,succeeded,200,,\"rows=3 copied to s3://l/k\"\n";
        let rows = parse_tasks("r.csv", text).unwrap();
        assert_eq!(rows.len(), 2);
        assert!(!rows[0].succeeded);
        assert_eq!(rows[0].key, "image_14975");
        assert_eq!(rows[0].codes, "200 PermanentFailure");
        assert!(rows[0].message.contains("\"errorMessage\":"), "{rows:?}");
        assert!(rows[1].succeeded);
        assert_eq!(rows[1].message, "rows=3 copied to s3://l/k");
    }

    #[test]
    fn keys_are_decoded_and_quotes_and_newlines_survive() {
        let text = "b,e/t/a%20b%2Bc.parquet,,succeeded,,200,\"two\nlines, \"\"quoted\"\"\"\r\n";
        let rows = parse_tasks("r.csv", text).unwrap();
        assert_eq!(rows[0].key, "e/t/a b+c.parquet");
        assert_eq!(rows[0].message, "two\nlines, \"quoted\"");
        assert!(parse_tasks("r.csv", "b,k\n").is_err());
        assert!(parse_csv("\"open").is_err());
        assert_eq!(
            manifest_key("/reports/x/", "j1"),
            "reports/x/job-j1/manifest.json"
        );
    }
}
