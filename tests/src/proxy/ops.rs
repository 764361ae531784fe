//! Which S3 operation a request is, read from its method, path, query and headers
//! (path-style addressing, as the project's clients use for every local endpoint). The
//! operations are the storage seam's own ([`Op`]), so a rule written for the proxy and one
//! written for the store's fault wrapper name the same thing.
//!
//! Request shapes: <https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html>
//! (e.g. UploadPartCopy is `PUT /key?partNumber=N&uploadId=ID` with `x-amz-copy-source`;
//! CopyObject the same without the query; CompleteMultipartUpload `POST /key?uploadId=ID`).

pub use liberator_engine::store::Op;

/// The parts of a request head the classification reads.
#[derive(Debug, Clone, Default)]
pub struct RequestHead {
    pub method: String,
    /// The path without the query, still percent-encoded.
    pub path: String,
    /// Query parameter names (values are not needed).
    pub query: Vec<String>,
    /// Header names, lower case.
    pub headers: Vec<String>,
}

impl RequestHead {
    /// Parses the request line and header names of an HTTP/1.1 request head.
    pub fn parse(head: &str) -> RequestHead {
        let mut lines = head.split("\r\n");
        let mut words = lines.next().unwrap_or_default().split(' ');
        let method = words.next().unwrap_or_default().to_string();
        let target = words.next().unwrap_or_default();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        RequestHead {
            method,
            path: path.to_string(),
            query: query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| p.split_once('=').map_or(p, |(k, _)| k).to_string())
                .collect(),
            headers: lines
                .filter_map(|l| l.split_once(':'))
                .map(|(name, _)| name.trim().to_ascii_lowercase())
                .collect(),
        }
    }

    fn has_query(&self, name: &str) -> bool {
        self.query.iter().any(|q| q == name)
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers.iter().any(|h| h == name)
    }

    /// Whether the path names an object (`/bucket/key`), not only a bucket.
    fn has_key(&self) -> bool {
        self.path
            .trim_start_matches('/')
            .split_once('/')
            .is_some_and(|(_, key)| !key.is_empty())
    }

    /// The bucket of a path-style request.
    pub fn bucket(&self) -> &str {
        let p = self.path.trim_start_matches('/');
        p.split_once('/').map_or(p, |(b, _)| b)
    }
}

/// The operation of a request; `None` for requests outside the seam's operations (bucket
/// creation, UploadPart with a body, DeleteObjects, …), which are forwarded untouched.
pub fn classify(r: &RequestHead) -> Option<Op> {
    let upload_id = r.has_query("uploadId");
    let copy = r.has_header("x-amz-copy-source");
    match r.method.as_str() {
        "GET" if r.has_query("list-type") => Some(Op::List),
        "GET" if r.has_query("uploads") => Some(Op::ListUploads),
        "GET" if r.has_key() && !upload_id => Some(if r.has_header("range") {
            Op::GetRange
        } else {
            Op::Get
        }),
        "HEAD" if r.has_key() => Some(Op::Head),
        "PUT" if copy && r.has_query("partNumber") && upload_id => Some(Op::UploadPartCopy),
        "PUT" if copy => Some(Op::CopyObject),
        "PUT" if r.has_key() && !upload_id => Some(
            if r.has_header("if-none-match") || r.has_header("if-match") {
                Op::ConditionalPut
            } else {
                Op::Put
            },
        ),
        "POST" if r.has_query("uploads") => Some(Op::CreateMultipart),
        "POST" if upload_id => Some(Op::CompleteMultipart),
        "DELETE" if upload_id => Some(Op::AbortMultipart),
        "DELETE" if r.has_key() => Some(Op::Delete),
        _ => None,
    }
}

/// The name stats and tables print: S3's operation name, with the ranged GET and the
/// conditional PUT told apart.
pub fn op_name(op: Option<Op>) -> &'static str {
    match op {
        Some(Op::GetRange) => "GetObject (range)",
        Some(Op::ConditionalPut) => "PutObject (conditional)",
        Some(op) => op.s3_name(),
        None => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(head: &str) -> Option<Op> {
        classify(&RequestHead::parse(head))
    }

    #[test]
    fn classifies_each_operation_by_its_shape() {
        let cases = [
            ("GET /b?list-type=2&prefix=x HTTP/1.1\r\n", Some(Op::List)),
            (
                "GET /b?uploads&prefix=k HTTP/1.1\r\n",
                Some(Op::ListUploads),
            ),
            ("HEAD /b/k HTTP/1.1\r\n", Some(Op::Head)),
            (
                "GET /b/k?x-id=GetObject HTTP/1.1\r\nRange: bytes=1-2\r\n",
                Some(Op::GetRange),
            ),
            ("GET /b/k?x-id=GetObject HTTP/1.1\r\n", Some(Op::Get)),
            (
                "PUT /b/k?x-id=CopyObject HTTP/1.1\r\nx-amz-copy-source: s/k\r\n",
                Some(Op::CopyObject),
            ),
            (
                "PUT /b/k?partNumber=2&uploadId=u&x-id=UploadPartCopy HTTP/1.1\r\nx-amz-copy-source: s/k\r\n",
                Some(Op::UploadPartCopy),
            ),
            (
                "POST /b/k?uploads&x-id=CreateMultipartUpload HTTP/1.1\r\n",
                Some(Op::CreateMultipart),
            ),
            (
                "POST /b/k?uploadId=u HTTP/1.1\r\n",
                Some(Op::CompleteMultipart),
            ),
            (
                "DELETE /b/k?uploadId=u&x-id=AbortMultipartUpload HTTP/1.1\r\n",
                Some(Op::AbortMultipart),
            ),
            (
                "PUT /b/k?x-id=PutObject HTTP/1.1\r\nIf-None-Match: *\r\n",
                Some(Op::ConditionalPut),
            ),
            (
                "PUT /b/k?x-id=PutObject HTTP/1.1\r\nIf-Match: \"e\"\r\n",
                Some(Op::ConditionalPut),
            ),
            (
                "PUT /b/k?x-id=PutObject HTTP/1.1\r\nContent-Length: 3\r\n",
                Some(Op::Put),
            ),
            (
                "DELETE /b/k?x-id=DeleteObject HTTP/1.1\r\n",
                Some(Op::Delete),
            ),
            ("PUT /b HTTP/1.1\r\n", None),
            ("PUT /b/k?partNumber=1&uploadId=u HTTP/1.1\r\n", None),
            ("POST /b?delete HTTP/1.1\r\n", None),
        ];
        for (head, want) in cases {
            assert_eq!(op(head), want, "{head:?}");
        }
        assert_eq!(
            RequestHead::parse("GET /bkt/a/b HTTP/1.1\r\n").bucket(),
            "bkt"
        );
        assert_eq!(
            RequestHead::parse("GET /bkt?uploads HTTP/1.1\r\n").bucket(),
            "bkt"
        );
    }
}
