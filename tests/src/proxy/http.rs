//! Just enough HTTP/1.1 for the proxy: one request per connection (Content-Length bodies),
//! one response read to the server's close.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads one request (head + Content-Length body). `None` on a clean EOF.
pub(super) async fn read_request(
    client: &mut TcpStream,
) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut buf = Vec::with_capacity(4096);
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut len = 0usize;
    for line in head.lines() {
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            return Err(std::io::Error::other(
                "fault proxy does not support chunked request bodies",
            ));
        }
    }
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let mut chunk = vec![0u8; (len - body.len()).min(1 << 16)];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::other("client closed mid-body"));
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Some((head, body)))
}

/// `head` with its `Connection` header replaced by `Connection: close`.
fn closing(head: &str) -> String {
    let mut out = String::with_capacity(head.len() + 20);
    for line in head.trim_end_matches("\r\n").split("\r\n") {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    out
}

/// The server's answer, split at the end of its head.
pub(super) struct Response {
    pub status: u16,
    /// Status line and headers, rewritten to `Connection: close` so the client does not put
    /// the connection back in its pool.
    pub head: Vec<u8>,
    /// The body bytes as sent (any framing included).
    pub body: Vec<u8>,
}

impl Response {
    pub fn bytes(&self) -> Vec<u8> {
        [self.head.as_slice(), self.body.as_slice()].concat()
    }
}

/// Sends the request upstream on a connection of its own and reads the answer to the
/// server's close.
pub(super) async fn forward(upstream: &str, head: &str, body: &[u8]) -> std::io::Result<Response> {
    let mut up = TcpStream::connect(upstream).await?;
    up.write_all(closing(head).as_bytes()).await?;
    up.write_all(body).await?;
    let mut raw = Vec::new();
    up.read_to_end(&mut raw).await?;
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4) else {
        return Err(std::io::Error::other(
            "the server closed without a response head",
        ));
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(Response {
        status,
        head: closing(&head).into_bytes(),
        body: raw[end..].to_vec(),
    })
}

/// An S3 error answer.
pub(super) fn error_response(status: &str, code: &str, message: &str) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault-proxy</RequestId></Error>"
    );
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Resets the connection (RST, not FIN): the client sees "connection reset".
pub(super) fn reset(client: TcpStream) -> std::io::Result<()> {
    client.set_zero_linger()?;
    drop(client);
    Ok(())
}
