//! A small fault-injecting HTTP/1.1 proxy for S3 traffic.
//!
//! Sits between a client and a real server and, per request, answers `503 SlowDown`,
//! `500 InternalError`, resets the connection, or forwards it (optionally after a delay).
//! Each forwarded request gets its own upstream connection and the client connection is
//! closed after the response (`Connection: close`), which keeps the proxy simple: no
//! response framing to parse.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What to inject. Rates are probabilities per request.
#[derive(Debug, Clone, Default)]
pub struct FaultConfig {
    /// The first N requests all get `503 SlowDown` (a throttling burst).
    pub slowdown_burst: u64,
    pub slowdown_rate: f64,
    pub internal_error_rate: f64,
    pub reset_rate: f64,
    /// Added before forwarding a request and before returning its response.
    pub delay: Duration,
    /// Writes (PUT/POST/DELETE) to this bucket get `403 AccessDenied`, as for credentials
    /// without write access.
    pub deny_writes_to: Option<String>,
    /// Only requests with these methods get faults (all when empty).
    pub methods: Vec<&'static str>,
    pub seed: u64,
}

/// What the proxy did.
#[derive(Debug, Default)]
pub struct ProxyStats {
    pub requests: AtomicU64,
    /// Requests faults could apply to (see [`FaultConfig::methods`]).
    pub eligible: AtomicU64,
    pub slowdowns: AtomicU64,
    pub internal_errors: AtomicU64,
    pub resets: AtomicU64,
    pub forwarded: AtomicU64,
    pub denied: AtomicU64,
}

impl ProxyStats {
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    pub endpoint: String,
    pub stats: Arc<ProxyStats>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

enum Fault {
    SlowDown,
    InternalError,
    Reset,
    None,
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port in front of `upstream` (`http://host:port`).
    pub async fn start(upstream: &str, config: FaultConfig) -> FaultProxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let stats = Arc::new(ProxyStats::default());
        let rng = Arc::new(Mutex::new(StdRng::seed_from_u64(config.seed)));
        let (st, cfg) = (stats.clone(), Arc::new(config));
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let (st, cfg, rng, upstream) =
                    (st.clone(), cfg.clone(), rng.clone(), upstream.clone());
                tokio::spawn(async move {
                    let _ = handle(client, &upstream, &cfg, &st, &rng).await;
                });
            }
        });
        FaultProxy {
            endpoint,
            stats,
            task,
        }
    }
}

fn choose(cfg: &FaultConfig, n: u64, rng: &Mutex<StdRng>) -> Fault {
    if n <= cfg.slowdown_burst {
        return Fault::SlowDown;
    }
    let x: f64 = rng.lock().unwrap().random();
    if x < cfg.slowdown_rate {
        Fault::SlowDown
    } else if x < cfg.slowdown_rate + cfg.internal_error_rate {
        Fault::InternalError
    } else if x < cfg.slowdown_rate + cfg.internal_error_rate + cfg.reset_rate {
        Fault::Reset
    } else {
        Fault::None
    }
}

fn error_response(status: &str, code: &str, message: &str) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault-proxy</RequestId></Error>"
    );
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Reads one request (head + Content-Length body). `None` on a clean EOF.
async fn read_request(client: &mut TcpStream) -> std::io::Result<Option<(String, Vec<u8>)>> {
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

async fn handle(
    mut client: TcpStream,
    upstream: &str,
    cfg: &FaultConfig,
    st: &ProxyStats,
    rng: &Mutex<StdRng>,
) -> std::io::Result<()> {
    let Some((head, body)) = read_request(&mut client).await? else {
        return Ok(());
    };
    st.requests.fetch_add(1, Ordering::Relaxed);
    let mut words = head.split(' ');
    let (method, path) = (
        words.next().unwrap_or_default(),
        words.next().unwrap_or_default(),
    );
    if let Some(bucket) = &cfg.deny_writes_to
        && matches!(method, "PUT" | "POST" | "DELETE")
        && (path == format!("/{bucket}")
            || path.starts_with(&format!("/{bucket}/"))
            || path.starts_with(&format!("/{bucket}?")))
    {
        st.denied.fetch_add(1, Ordering::Relaxed);
        client
            .write_all(&error_response(
                "403 Forbidden",
                "AccessDenied",
                "Access Denied",
            ))
            .await?;
        return client.shutdown().await;
    }
    let fault = if cfg.methods.is_empty() || cfg.methods.contains(&method) {
        choose(cfg, st.eligible.fetch_add(1, Ordering::Relaxed) + 1, rng)
    } else {
        Fault::None
    };
    match fault {
        Fault::SlowDown => {
            st.slowdowns.fetch_add(1, Ordering::Relaxed);
            client
                .write_all(&error_response(
                    "503 Slow Down",
                    "SlowDown",
                    "Please reduce your request rate.",
                ))
                .await?;
            return client.shutdown().await;
        }
        Fault::InternalError => {
            st.internal_errors.fetch_add(1, Ordering::Relaxed);
            client
                .write_all(&error_response(
                    "500 Internal Server Error",
                    "InternalError",
                    "We encountered an internal error. Please try again.",
                ))
                .await?;
            return client.shutdown().await;
        }
        Fault::Reset => {
            st.resets.fetch_add(1, Ordering::Relaxed);
            client.set_zero_linger()?;
            drop(client); // RST
            return Ok(());
        }
        Fault::None => {}
    }
    if !cfg.delay.is_zero() {
        tokio::time::sleep(cfg.delay).await;
    }
    let mut rewritten = String::with_capacity(head.len() + 20);
    for line in head.trim_end_matches("\r\n").split("\r\n") {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            rewritten.push_str(line);
            rewritten.push_str("\r\n");
        }
    }
    rewritten.push_str("Connection: close\r\n\r\n");
    let mut up = TcpStream::connect(upstream).await?;
    up.write_all(rewritten.as_bytes()).await?;
    up.write_all(&body).await?;
    let mut response = Vec::new();
    up.read_to_end(&mut response).await?;
    if !cfg.delay.is_zero() {
        tokio::time::sleep(cfg.delay).await;
    }
    st.forwarded.fetch_add(1, Ordering::Relaxed);
    client.write_all(&response).await?;
    client.shutdown().await
}
