//! A latency-injecting TCP relay: every chunk read from one side is written to the other
//! side `delay` later, in order, independently per direction. It is a plain byte relay (no
//! HTTP parsing), so keep-alive, pipelining and streaming bodies pass through unchanged;
//! the delay models distance, not bandwidth. A new connection also pays one round trip
//! before the upstream connection opens (the TCP handshake a real client would wait for).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// A running proxy; stops when dropped.
#[derive(Debug)]
pub struct LatencyProxy {
    addr: SocketAddr,
    delay: Duration,
    connections: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl LatencyProxy {
    /// Listens on `127.0.0.1:0` and relays every connection to `upstream`, adding `delay`
    /// each way.
    pub async fn start(upstream: SocketAddr, delay: Duration) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let connections = Arc::new(AtomicU64::new(0));
        let counter = connections.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                counter.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    // One round trip for the handshake.
                    tokio::time::sleep(delay * 2).await;
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return; // dropping `client` closes it: the tool sees a connection error
                    };
                    relay(client, server, delay).await;
                });
            }
        });
        Ok(LatencyProxy {
            addr,
            delay,
            connections,
            task,
        })
    }

    /// Resolves `endpoint` (`http://host:port`) and starts a proxy in front of it.
    pub async fn for_endpoint(endpoint: &str, delay: Duration) -> io::Result<Self> {
        let upstream = resolve_endpoint(endpoint).await?;
        Self::start(upstream, delay).await
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The socket address of an `http://host:port[/...]` endpoint.
pub async fn resolve_endpoint(endpoint: &str) -> io::Result<SocketAddr> {
    let rest = endpoint
        .strip_prefix("http://")
        .ok_or_else(|| io::Error::other(format!("{endpoint:?}: only http:// endpoints")))?;
    let hostport = rest.split('/').next().unwrap_or(rest);
    let hostport = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    tokio::net::lookup_host(&hostport)
        .await?
        .next()
        .ok_or_else(|| io::Error::other(format!("{hostport} does not resolve")))
}

async fn relay(client: TcpStream, server: TcpStream, delay: Duration) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    tokio::join!(pipe(cr, sw, delay), pipe(sr, cw, delay));
}

/// Copies `r` to `w`, each chunk `delay` after it was read. Ends (shutting `w` down) at
/// EOF or on any error.
async fn pipe(mut r: OwnedReadHalf, mut w: OwnedWriteHalf, delay: Duration) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Bytes)>(1024);
    let reader = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let chunk = Bytes::copy_from_slice(&buf[..n]);
                    if tx.send((Instant::now() + delay, chunk)).await.is_err() {
                        break;
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if w.write_all(&chunk).await.is_err() {
                return; // dropping rx stops the reader
            }
        }
        let _ = w.shutdown().await;
    };
    tokio::join!(reader, writer);
}
