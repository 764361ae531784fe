//! A fault-injecting HTTP/1.1 proxy for S3 traffic, with faults on both sides of the server
//! (DESIGN.md, "Faults: two sides of the server").
//!
//! Sits between a client and a real server, classifies each request by S3 operation
//! ([`ops::classify`]) and, when a [`Rule`] fires, either fails it **before** the server
//! sees it (503 SlowDown, 500, connection reset) or forwards it and then loses the reply
//! **after** the server acted (reset with no reply, reset mid-body, or a stall past the
//! client's timeout); see [`Kind`]. Stats per operation and per kind ([`ProxyStats`]).
//!
//! Each forwarded request gets its own upstream connection and the client connection is
//! closed after the response (`Connection: close` both ways), which keeps the proxy
//! simple: no response framing to parse beyond the end of the head.

mod http;
pub mod ops;
pub mod rules;
pub mod stats;

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

pub use ops::{Op, RequestHead, classify, op_name};
pub use rules::{Kind, Rule, When, describe_all};
pub use stats::{OpStats, ProxyStats};

use http::{error_response, forward, read_request, reset};
use rules::Decider;

/// What to inject. The first fields are the proxy's original, simple "before the server"
/// faults (rates are probabilities per request, drawn once among the three); [`rules`]
/// add per-operation faults of every kind. The simple fields are checked first.
///
/// [`rules`]: FaultConfig::rules
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
    /// Only requests with these methods get the simple faults (all when empty).
    pub methods: Vec<&'static str>,
    /// Per-operation rules, on both sides of the server; the first that fires wins.
    pub rules: Vec<Rule>,
    pub seed: u64,
}

impl FaultConfig {
    /// Only `rules`, seeded.
    pub fn with_rules(rules: Vec<Rule>, seed: u64) -> Self {
        FaultConfig {
            rules,
            seed,
            ..FaultConfig::default()
        }
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

struct State {
    upstream: String,
    cfg: FaultConfig,
    stats: Arc<ProxyStats>,
    /// Draws for the simple rates.
    rng: Mutex<StdRng>,
    rules: Decider,
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port in front of `upstream` (`http://host:port`).
    pub async fn start(upstream: &str, config: FaultConfig) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let stats = Arc::new(ProxyStats::default());
        let state = Arc::new(State {
            upstream: upstream
                .trim_start_matches("http://")
                .trim_end_matches('/')
                .to_string(),
            rng: Mutex::new(StdRng::seed_from_u64(config.seed)),
            rules: Decider::new(config.rules.clone(), config.seed.wrapping_add(1)),
            cfg: config,
            stats: stats.clone(),
        });
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let _ = handle(client, &state).await;
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

/// The simple faults' draw for the `n`th eligible request.
fn simple_fault(cfg: &FaultConfig, n: u64, rng: &Mutex<StdRng>) -> Option<Kind> {
    if n <= cfg.slowdown_burst {
        return Some(Kind::SlowDown);
    }
    let x: f64 = rng.lock().unwrap().random();
    if x < cfg.slowdown_rate {
        Some(Kind::SlowDown)
    } else if x < cfg.slowdown_rate + cfg.internal_error_rate {
        Some(Kind::InternalError)
    } else if x < cfg.slowdown_rate + cfg.internal_error_rate + cfg.reset_rate {
        Some(Kind::Reset)
    } else {
        None
    }
}

fn denied(cfg: &FaultConfig, req: &RequestHead) -> bool {
    cfg.deny_writes_to.as_deref().is_some_and(|bucket| {
        matches!(req.method.as_str(), "PUT" | "POST" | "DELETE") && req.bucket() == bucket
    })
}

async fn handle(mut client: TcpStream, s: &State) -> std::io::Result<()> {
    let Some((head, body)) = read_request(&mut client).await? else {
        return Ok(());
    };
    let req = RequestHead::parse(&head);
    let op = classify(&req);
    s.stats.saw(op);
    if denied(&s.cfg, &req) {
        s.stats.denied.fetch_add(1, Ordering::Relaxed);
        let answer = error_response("403 Forbidden", "AccessDenied", "Access Denied");
        client.write_all(&answer).await?;
        return client.shutdown().await;
    }
    let simple = if s.cfg.methods.is_empty() || s.cfg.methods.contains(&req.method.as_str()) {
        let n = s.stats.eligible.fetch_add(1, Ordering::Relaxed) + 1;
        simple_fault(&s.cfg, n, &s.rng)
    } else {
        None
    };
    let fault = simple.or_else(|| op.and_then(|op| s.rules.decide(op)));
    if let Some(kind) = fault {
        s.stats.injected(op, kind);
    }
    let answer = match fault {
        Some(Kind::SlowDown) => error_response(
            "503 Slow Down",
            "SlowDown",
            "Please reduce your request rate.",
        ),
        Some(Kind::InternalError) => error_response(
            "500 Internal Server Error",
            "InternalError",
            "We encountered an internal error. Please try again.",
        ),
        Some(Kind::Reset) => return reset(client),
        _ => Vec::new(),
    };
    if !answer.is_empty() {
        client.write_all(&answer).await?;
        return client.shutdown().await;
    }
    if !s.cfg.delay.is_zero() {
        tokio::time::sleep(s.cfg.delay).await;
    }
    let response = forward(&s.upstream, &head, &body).await?;
    s.stats.answered(op, response.status);
    if !s.cfg.delay.is_zero() {
        tokio::time::sleep(s.cfg.delay).await;
    }
    match fault {
        Some(Kind::LostReply) => reset(client),
        Some(Kind::ResetMidBody) => {
            let partial = if response.body.is_empty() {
                &response.head[..response.head.len() / 2]
            } else {
                client.write_all(&response.head).await?;
                &response.body[..response.body.len() / 2]
            };
            client.write_all(partial).await?;
            client.flush().await?;
            // Let the partial answer reach the client before the reset discards what the
            // kernel has not sent yet.
            tokio::time::sleep(Duration::from_millis(20)).await;
            reset(client)
        }
        Some(Kind::Stall(hold)) => {
            tokio::time::sleep(hold).await;
            client.shutdown().await
        }
        _ => {
            client.write_all(&response.bytes()).await?;
            client.shutdown().await
        }
    }
}
