//! A minimal Lambda Runtime API on loopback: what a custom runtime (`provided.al2023`) talks
//! to, as documented in <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>.
//!
//! - `GET /2018-06-01/runtime/invocation/next` answers the one event of this emulator with
//!   the headers `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms` (epoch ms),
//!   `Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id`; a second `/next`
//!   is held open, as Lambda holds it while no event waits (the process is frozen there).
//! - `POST /2018-06-01/runtime/invocation/{id}/response` and `.../{id}/error` answer
//!   `202 Accepted`; `POST /2018-06-01/runtime/init/error` too.
//!
//! Each request is reported with the instant it arrived (headers and body read), so the
//! harness can time process start → first `/next` (init) and → response (event handled).
//! Bodies may come with `Content-Length` or `Transfer-Encoding: chunked`.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// The API version prefix of every path.
const PREFIX: &str = "/2018-06-01/runtime";

/// The event the emulator hands out, with the context Lambda sends beside it.
#[derive(Debug, Clone)]
pub struct Event {
    pub request_id: String,
    pub payload: Vec<u8>,
    /// Time the function is given (Lambda's timeout); the deadline header is now + this.
    pub timeout: Duration,
    pub function_arn: String,
    pub trace_id: String,
}

/// What the function did, in arrival order.
#[derive(Debug, Clone)]
pub enum Seen {
    /// `GET .../invocation/next`.
    Next { at: Instant },
    /// `POST .../invocation/{id}/response`.
    Response { at: Instant, body: Vec<u8> },
    /// `POST .../invocation/{id}/error` (`Lambda-Runtime-Function-Error-Type` header).
    Error {
        at: Instant,
        error_type: String,
        body: Vec<u8>,
    },
    /// `POST .../init/error`.
    InitError { at: Instant, body: Vec<u8> },
    /// A request the API does not have.
    Unknown { method: String, path: String },
}

/// The emulator: a listener on 127.0.0.1 and the stream of what the function did.
pub struct Emulator {
    pub addr: SocketAddr,
    seen: mpsc::UnboundedReceiver<Seen>,
    task: tokio::task::JoinHandle<()>,
}

impl Emulator {
    /// Listens on a free loopback port and serves `event` to the first `/next`.
    pub async fn start(event: Event) -> io::Result<Emulator> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, seen) = mpsc::unbounded_channel();
        let event = Arc::new(Mutex::new(Some(event)));
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let (tx, event) = (tx.clone(), event.clone());
                tokio::spawn(async move {
                    // A connection the function drops (it was killed) ends here.
                    let _ = serve(conn, tx, event).await;
                });
            }
        });
        Ok(Emulator { addr, seen, task })
    }

    /// The value of `AWS_LAMBDA_RUNTIME_API`: `host:port`, no scheme.
    pub fn runtime_api(&self) -> String {
        self.addr.to_string()
    }

    /// The next thing the function did, or `None` after `wait`.
    pub async fn next_seen(&mut self, wait: Duration) -> Option<Seen> {
        tokio::time::timeout(wait, self.seen.recv())
            .await
            .ok()
            .flatten()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One request: method, path, lower-cased headers, body.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Serves the requests of one keep-alive connection.
async fn serve(
    conn: TcpStream,
    tx: mpsc::UnboundedSender<Seen>,
    event: Arc<Mutex<Option<Event>>>,
) -> io::Result<()> {
    conn.set_nodelay(true)?;
    let mut conn = BufReader::new(conn);
    while let Some(req) = read_request(&mut conn).await? {
        let at = Instant::now();
        let path = req.path.strip_prefix(PREFIX).unwrap_or("");
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (req.method.as_str(), parts.as_slice()) {
            ("GET", ["invocation", "next"]) => {
                let _ = tx.send(Seen::Next { at });
                let next = event.lock().expect("event lock").take();
                match next {
                    Some(e) => write_event(conn.get_mut(), &e).await?,
                    // No second event: hold the request, as Lambda does between events,
                    // until the function goes away.
                    None => {
                        let mut byte = [0u8; 1];
                        let _ = conn.read(&mut byte).await;
                        return Ok(());
                    }
                }
            }
            ("POST", ["invocation", _, "response"]) => {
                let _ = tx.send(Seen::Response { at, body: req.body });
                write_status(conn.get_mut(), "202 Accepted", br#"{"status":"OK"}"#).await?;
            }
            ("POST", ["invocation", _, "error"]) => {
                let error_type = req
                    .header("lambda-runtime-function-error-type")
                    .unwrap_or("")
                    .to_string();
                let _ = tx.send(Seen::Error {
                    at,
                    error_type,
                    body: req.body,
                });
                write_status(conn.get_mut(), "202 Accepted", br#"{"status":"OK"}"#).await?;
            }
            ("POST", ["init", "error"]) => {
                let _ = tx.send(Seen::InitError { at, body: req.body });
                write_status(conn.get_mut(), "202 Accepted", br#"{"status":"OK"}"#).await?;
            }
            _ => {
                let _ = tx.send(Seen::Unknown {
                    method: req.method.clone(),
                    path: req.path.clone(),
                });
                write_status(conn.get_mut(), "404 Not Found", b"{}").await?;
            }
        }
    }
    Ok(())
}

async fn write_event(conn: &mut TcpStream, e: &Event) -> io::Result<()> {
    let deadline = (SystemTime::now() + e.timeout)
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         lambda-runtime-aws-request-id: {}\r\nlambda-runtime-deadline-ms: {deadline}\r\n\
         lambda-runtime-invoked-function-arn: {}\r\nlambda-runtime-trace-id: {}\r\n\r\n",
        e.payload.len(),
        e.request_id,
        e.function_arn,
        e.trace_id
    );
    conn.write_all(head.as_bytes()).await?;
    conn.write_all(&e.payload).await?;
    conn.flush().await
}

async fn write_status(conn: &mut TcpStream, status: &str, body: &[u8]) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await?;
    conn.write_all(body).await?;
    conn.flush().await
}

/// Reads one HTTP/1.1 request; `None` when the peer closed the connection between requests.
async fn read_request(conn: &mut BufReader<TcpStream>) -> io::Result<Option<Request>> {
    let mut line = String::new();
    if conn.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    let mut words = line.split_whitespace();
    let (method, path) = match (words.next(), words.next()) {
        (Some(m), Some(p)) => (m.to_string(), p.to_string()),
        _ => return Err(bad(format!("request line {line:?}"))),
    };
    let mut headers = Vec::new();
    loop {
        line.clear();
        if conn.read_line(&mut line).await? == 0 {
            return Err(bad("connection closed inside the headers".into()));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (name, value) = l
            .split_once(':')
            .ok_or_else(|| bad(format!("header {l:?}")))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let mut req = Request {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    if req
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        req.body = read_chunked(conn).await?;
    } else if let Some(len) = req.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| bad(format!("content-length {len:?}")))?;
        req.body = vec![0; len];
        conn.read_exact(&mut req.body).await?;
    }
    Ok(Some(req))
}

/// A chunked body (trailers, which a streamed response may carry, are read and dropped).
async fn read_chunked(conn: &mut BufReader<TcpStream>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        conn.read_line(&mut line).await?;
        let size = line.trim().split(';').next().unwrap_or("");
        let size = usize::from_str_radix(size, 16).map_err(|_| bad(format!("chunk {line:?}")))?;
        if size == 0 {
            loop {
                line.clear();
                if conn.read_line(&mut line).await? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        conn.read_exact(&mut body[start..]).await?;
        line.clear();
        conn.read_line(&mut line).await?; // the CRLF after the chunk
    }
}

fn bad(what: String) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("runtime API: bad {what}"),
    )
}
