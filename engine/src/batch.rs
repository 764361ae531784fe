//! What an S3 Batch Operations backfill and the copier's task handler must agree on: how a
//! key is written in the job's CSV manifest, and what a task's `resultString` says (the
//! rows the landed file holds, read from its footer, and where it landed), so the CLI can
//! check a whole export's completeness from the job's completion report alone.
//!
//! Keys in a CSV manifest are URL-encoded ("Object keys must be URL-encoded", Specifying a
//! manifest, <https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-create-job.html#specify-batchjob-manifest>),
//! and a Lambda task receives the key as the manifest wrote it: AWS's example function
//! decodes it with `urllib.parse.unquote_plus` (Invoke AWS Lambda function,
//! <https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-invoke-lambda.html>).
//! [`encode_key`] escapes everything but unreserved characters and `/` (so a `+` is `%2B`
//! and a space `%20`, which both plain and form decoding read back); [`decode_key`] is
//! `unquote_plus`.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Escaped in manifest keys: all but `A-Z a-z 0-9 - _ . ~ /` (RFC 3986 unreserved, and the
/// path separator, which keeps manifests readable).
const MANIFEST_KEY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// A key as a CSV manifest line carries it (URL-encoded; never holds `,`, `"` or a newline).
pub fn encode_key(key: &str) -> String {
    utf8_percent_encode(key, MANIFEST_KEY).to_string()
}

/// A manifest's (or a task's) URL-encoded key decoded as AWS's example does
/// (`unquote_plus`: `+` is a space, `%XX` a byte, UTF-8). `None` when the bytes are not UTF-8.
pub fn decode_key(encoded: &str) -> Option<String> {
    let plus = encoded.replace('+', " ");
    percent_decode_str(&plus)
        .decode_utf8()
        .ok()
        .map(|k| k.into_owned())
}

/// One CSV manifest line (`bucket,key`, no version id: the manifest must give version ids
/// for all objects or for none), with its newline.
pub fn manifest_line(bucket: &str, key: &str) -> String {
    format!("{bucket},{}\n", encode_key(key))
}

/// What a succeeded task landed, as its `resultString` says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskResult {
    /// Rows of the file, from its footer (absent when the copier did not verify it).
    pub rows: Option<u64>,
    /// `true`: copied by this task; `false`: it was already at the target.
    pub copied: bool,
    /// Where it is: `s3://bucket/key`.
    pub target: String,
}

impl TaskResult {
    /// The `resultString`: `rows=<n> copied to s3://…` or `rows=<n> already landed at s3://…`
    /// (`rows=?` when unknown).
    pub fn to_result_string(&self) -> String {
        let rows = self.rows.map_or_else(|| "?".to_string(), |r| r.to_string());
        let verb = if self.copied {
            "copied to"
        } else {
            "already landed at"
        };
        format!("rows={rows} {verb} {}", self.target)
    }

    /// Reads a `resultString` written by [`TaskResult::to_result_string`]; `None` for any
    /// other text (a task that failed, an older copier).
    pub fn parse(s: &str) -> Option<TaskResult> {
        let rest = s.trim().strip_prefix("rows=")?;
        let (rows, rest) = rest.split_once(' ')?;
        let rows = match rows {
            "?" => None,
            n => Some(n.parse().ok()?),
        };
        let (copied, target) = if let Some(t) = rest.strip_prefix("copied to ") {
            (true, t)
        } else {
            (false, rest.strip_prefix("already landed at ")?)
        };
        target.starts_with("s3://").then(|| TaskResult {
            rows,
            copied,
            target: target.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_the_manifest_encoding() {
        for key in [
            "sql-to-parquet-24-06-04-101500/liberator/liberator.pcn/1/part-00000.gz.parquet",
            "e/db/db.tab le/1/a+b%c,d\"e.parquet",
            "e/db/db.ünïcødé/1/x#y?.parquet",
        ] {
            let encoded = encode_key(key);
            assert!(!encoded.contains([',', '"', '\n', ' ', '+']), "{encoded}");
            assert_eq!(decode_key(&encoded).as_deref(), Some(key));
        }
        assert_eq!(encode_key("a b+c"), "a%20b%2Bc");
        assert_eq!(
            decode_key("a+b%2Bc").as_deref(),
            Some("a b+c"),
            "unquote_plus"
        );
        assert_eq!(manifest_line("bkt", "x/y z"), "bkt,x/y%20z\n");
    }

    #[test]
    fn result_strings_carry_rows_and_target() {
        let r = TaskResult {
            rows: Some(1200),
            copied: true,
            target: "s3://landing/parking/db/db.t/import_year=2024/x.parquet".into(),
        };
        let s = r.to_result_string();
        assert_eq!(
            s,
            "rows=1200 copied to s3://landing/parking/db/db.t/import_year=2024/x.parquet"
        );
        assert_eq!(TaskResult::parse(&s), Some(r));
        let skipped = "rows=? already landed at s3://l/k";
        assert_eq!(
            TaskResult::parse(skipped),
            Some(TaskResult {
                rows: None,
                copied: false,
                target: "s3://l/k".into()
            })
        );
        for bad in [
            "Copied(..) to s3://l/k",
            "rows=x copied to s3://l/k",
            "rows=1 moved to s3://l/k",
            "rows=1 copied to /l/k",
        ] {
            assert_eq!(TaskResult::parse(bad), None, "{bad}");
        }
    }
}
