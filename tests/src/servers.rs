//! Local S3 servers: from the environment, or (moto) started here.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A running server.
#[derive(Debug, Clone)]
pub struct Server {
    pub name: &'static str,
    pub endpoint: String,
}

/// The tools venv that `scripts/test` fills.
pub fn tools_dir() -> PathBuf {
    std::env::var_os("LIBERATOR_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/liberator/tools")
        })
}

fn find_binary(env: &str, name: &str) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p));
    }
    let venv = tools_dir().join("venv/bin").join(name);
    if venv.exists() {
        return Some(venv);
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| PathBuf::from(d).join(name))
        .find(|p| p.exists())
}

/// A free loopback port (the listener is closed before the server binds it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_ready(addr: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(addr).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not start listening on {addr} within 60 s");
}

/// Spawns `cmd` from a thread that parks forever, with `PR_SET_PDEATHSIG` so the server
/// dies with the test process (the signal fires when the spawning *thread* exits, hence the
/// parked thread). Returns the child's pid; panics, naming `what`, if it cannot start.
pub fn spawn_tied(mut cmd: Command, what: &str) -> u32 {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("test-server-parent".into())
        .spawn(move || {
            // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
            unsafe {
                cmd.pre_exec(|| {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let _ = tx.send(cmd.spawn().map(|c| c.id()));
            loop {
                std::thread::park();
            }
        })
        .expect("spawn server thread");
    rx.recv()
        .expect("server thread")
        .unwrap_or_else(|e| panic!("could not start {what}: {e}"))
}

/// moto (S3, RDS, Glue): `LIBERATOR_MOTO_ENDPOINT`, else started here.
pub fn moto() -> &'static Server {
    static MOTO: OnceLock<Server> = OnceLock::new();
    MOTO.get_or_init(|| {
        if let Ok(endpoint) = std::env::var("LIBERATOR_MOTO_ENDPOINT") {
            return Server { name: "moto", endpoint };
        }
        let bin = find_binary("LIBERATOR_MOTO_SERVER", "moto_server").unwrap_or_else(|| {
            panic!(
                "moto_server not found: run `scripts/test` (installs it into {}) or set LIBERATOR_MOTO_SERVER / LIBERATOR_MOTO_ENDPOINT",
                tools_dir().display()
            )
        });
        let port = free_port();
        let mut cmd = Command::new(bin);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        spawn_tied(cmd, "moto_server");
        let addr = format!("127.0.0.1:{port}");
        wait_ready(&addr, "moto_server");
        Server {
            name: "moto",
            endpoint: format!("http://{addr}"),
        }
    })
}

/// SeaweedFS (`weed mini`), started by `scripts/test`: `LIBERATOR_SEAWEED_ENDPOINT`.
pub fn seaweed() -> &'static Server {
    static WEED: OnceLock<Server> = OnceLock::new();
    WEED.get_or_init(|| {
        let endpoint = std::env::var("LIBERATOR_SEAWEED_ENDPOINT").unwrap_or_else(|_| {
            panic!("LIBERATOR_SEAWEED_ENDPOINT is not set: run the tests with `scripts/test`, which installs and starts SeaweedFS")
        });
        let addr = endpoint.trim_start_matches("http://").to_string();
        wait_ready(&addr, "SeaweedFS");
        Server {
            name: "seaweedfs",
            endpoint,
        }
    })
}
