//! Keeps the side-by-side harness from rotting: the latency proxy on its own, then the whole
//! harness at tiny sizes (engine + sequential loop, through the proxy) against SeaweedFS.
//! Peers (s5cmd, rclone, aws) are not needed: absent ones are reported as absent.

use std::process::Command;
use std::time::{Duration, Instant};

use liberator_benches::proxy::LatencyProxy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn seaweed_endpoint() -> String {
    std::env::var("LIBERATOR_SEAWEED_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "LIBERATOR_SEAWEED_ENDPOINT is not set: the side-by-side smoke test needs SeaweedFS \
             (scripts/test starts it; or `weed mini -dir=DIR -ip=127.0.0.1 -s3.port=PORT` and \
             export LIBERATOR_SEAWEED_ENDPOINT=http://127.0.0.1:PORT)"
        )
    })
}

#[tokio::test]
async fn proxy_adds_the_delay_each_way_and_keeps_the_connection() {
    let echo = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = echo.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = echo.accept().await.unwrap();
        let mut buf = [0u8; 1024];
        loop {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            s.write_all(&buf[..n]).await.unwrap();
        }
    });
    let delay = Duration::from_millis(40);
    let proxy = LatencyProxy::start(upstream, delay).await.unwrap();
    let mut client = TcpStream::connect(proxy.addr()).await.unwrap();
    // Several round trips over one connection (keep-alive): each pays 2 × delay.
    for i in 0..3u8 {
        let start = Instant::now();
        client.write_all(&[i; 100]).await.unwrap();
        let mut got = [0u8; 100];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(got, [i; 100]);
        let rtt = start.elapsed();
        assert!(rtt >= 2 * delay, "round trip {i} took {rtt:?}");
        assert!(
            rtt < 2 * delay + Duration::from_secs(2),
            "round trip {i} took {rtt:?}"
        );
    }
    assert_eq!(proxy.connections(), 1);
}

#[test]
fn side_by_side_smoke() {
    let endpoint = seaweed_endpoint();
    let work = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_side_by_side"))
        .args(["run", "--endpoint", &endpoint, "--scenario", "custom"])
        .args(["--tools", "engine,sequential"])
        .args(["--rounds", "2", "--delay-ms", "3"])
        .args(["--tables", "2", "--batches", "2", "--files", "3"])
        .args(["--size", "6000"])
        .arg("--work-dir")
        .arg(work.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "side_by_side failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // Columns by their header, not their position.
    let header: Vec<&str> = stdout
        .lines()
        .find(|l| l.starts_with("| tool |"))
        .unwrap_or_else(|| panic!("no table header in:\n{stdout}"))
        .split('|')
        .map(str::trim)
        .collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("no column {name:?} in {header:?}"))
    };
    let (rate_at, rss_at) = (column("objects/s"), column("peak RSS MiB"));
    // 2 tables × 2 batches × 3 files = 12 Parquet files, landed by every tool each round.
    for tool in ["engine", "sequential"] {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {tool} | 2/2 |")))
            .unwrap_or_else(|| panic!("no successful {tool} row in:\n{stdout}\n{stderr}"));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let rate: f64 = cells[rate_at].parse().unwrap();
        let rss: f64 = cells[rss_at].parse().unwrap();
        assert!(rate > 0.0, "{row}");
        assert!(rss > 1.0 && rss < 1024.0, "{row}");
    }
    assert!(stdout.contains("| 12 × 5.9 KiB | 1 | "), "{stdout}");
    assert!(stdout.contains("speed ÷ engine's"), "{stdout}");
}
