//! [`EventQueue`]: Lambda's queue of asynchronous invocations, in front of the emulator.

use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request the [`EventQueue`] received.
#[derive(Debug, Clone)]
pub struct QueuedInvoke {
    /// Request line and headers as received.
    pub head: String,
    pub body: Vec<u8>,
}

impl QueuedInvoke {
    /// The path of the request line.
    pub fn path(&self) -> &str {
        self.head.split(' ').nth(1).unwrap_or_default()
    }

    /// A header's value (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The body as JSON (an Invoke's payload).
    pub fn payload(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "payload is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Lambda's queue of asynchronous invocations, which `cargo lambda watch` lacks (its invoke
/// endpoint runs every invocation synchronously). A function's Lambda client points here
/// (`AWS_ENDPOINT_URL_LAMBDA`): an `Invoke` with `X-Amz-Invocation-Type: Event` is kept and
/// answered `202 Accepted` with an empty body, as Lambda answers it
/// (<https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html>: "202 for asynchronous
/// invocation"); anything else is refused with 400. The test then delivers a kept request
/// to the emulator with [`EventQueue::deliver`], when it chooses.
pub struct EventQueue {
    pub endpoint: String,
    received: Arc<Mutex<Vec<QueuedInvoke>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for EventQueue {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl EventQueue {
    /// Listens on a free loopback port.
    pub async fn start() -> EventQueue {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let kept = received.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let kept = kept.clone();
                tokio::spawn(async move {
                    let Ok(Some(request)) = read_message(&mut conn).await else {
                        return;
                    };
                    let queued = QueuedInvoke {
                        head: request.0,
                        body: request.1,
                    };
                    let answer = if queued.header("x-amz-invocation-type") == Some("Event") {
                        "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_string()
                    } else {
                        let body = r#"{"Type":"User","message":"this queue only takes InvocationType=Event"}"#;
                        format!(
                            "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                    };
                    kept.lock().unwrap().push(queued);
                    let _ = conn.write_all(answer.as_bytes()).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        EventQueue {
            endpoint,
            received,
            task,
        }
    }

    /// Every request received so far, in order.
    pub fn received(&self) -> Vec<QueuedInvoke> {
        self.received.lock().unwrap().clone()
    }

    /// Sends `invoke`, the request exactly as the function's client sent it, to the
    /// emulator's Invoke endpoint `endpoint`, which runs the invocation in an idle function
    /// process; returns the HTTP status and the function's answer.
    pub async fn deliver(&self, invoke: &QueuedInvoke, endpoint: &str) -> (u16, Vec<u8>) {
        let mut head = String::new();
        for line in invoke.head.trim_end_matches("\r\n").split("\r\n") {
            if !line.to_ascii_lowercase().starts_with("connection:") {
                head.push_str(line);
                head.push_str("\r\n");
            }
        }
        head.push_str("Connection: close\r\n\r\n");
        let mut up = TcpStream::connect(endpoint.trim_start_matches("http://"))
            .await
            .unwrap_or_else(|e| panic!("connecting to the emulator at {endpoint}: {e}"));
        up.write_all(head.as_bytes()).await.unwrap();
        up.write_all(&invoke.body).await.unwrap();
        let (head, body) = read_message(&mut up)
            .await
            .unwrap_or_else(|e| panic!("reading the emulator's answer: {e}"))
            .expect("the emulator closed without answering");
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {head:?}"));
        (status, body)
    }
}

/// Reads one HTTP/1.1 message: head, then a body framed by `Content-Length`, by chunked
/// transfer coding, or by the end of the connection (responses). `None` on a clean EOF.
async fn read_message(conn: &mut TcpStream) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut buf = Vec::with_capacity(4096);
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let header = |name: &str| {
        head.split("\r\n").find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_ascii_lowercase())
        })
    };
    let mut body = buf[head_end..].to_vec();
    if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        while body.len() < len {
            let mut chunk = vec![0u8; (len - body.len()).min(1 << 16)];
            let n = conn.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::Error::other("connection closed mid-body"));
            }
            body.extend_from_slice(&chunk[..n]);
        }
        body.truncate(len);
    } else if head.starts_with("HTTP/") {
        conn.read_to_end(&mut body).await?;
        if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            body = dechunk(&body)?;
        }
    }
    Ok(Some((head, body)))
}

/// The payload of a chunked body (no trailers expected).
fn dechunk(mut raw: &[u8]) -> std::io::Result<Vec<u8>> {
    let bad = || std::io::Error::other("malformed chunked body");
    let mut out = Vec::new();
    loop {
        let line_end = raw.windows(2).position(|w| w == b"\r\n").ok_or_else(bad)?;
        let size = std::str::from_utf8(&raw[..line_end]).map_err(|_| bad())?;
        let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| bad())?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        out.extend_from_slice(raw.get(..size).ok_or_else(bad)?);
        raw = raw.get(size + 2..).ok_or_else(bad)?;
    }
}
