//! A MariaDB server for tests, spawned once per test binary and killed with it.
//!
//! `mariadb()` installs a fresh data directory in a temp dir, starts `mariadbd
//! --no-defaults` on a unix socket and a free loopback port, and waits until it answers.
//! The child is spawned from a thread that parks forever with `PR_SET_PDEATHSIG`, so the
//! server dies with the test process (the signal fires when the spawning *thread* exits).
//! A server that cannot be started panics: tests that need it fail, never skip.
//! [`start`] runs another server of a test's own with [`ServerOptions`] (TLS).
//!
//! Also here: RDS helpers for the shared moto server and a small zip writer for test dumps.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::servers::{free_port, spawn_tied};

/// A running MariaDB server (root without password on loopback).
#[derive(Debug)]
pub struct MariaDb {
    pub port: u16,
    pub socket: PathBuf,
    pub datadir: PathBuf,
    /// User `restore` with password [`MariaDb::PASSWORD`], all privileges.
    pub user: String,
}

impl MariaDb {
    /// The test user's password (tests check it never appears in output).
    pub const PASSWORD: &'static str = "s3cr3t-Pa55word";

    /// Connection options as the test user, no default database.
    pub fn opts(&self) -> mysql_async::Opts {
        mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(self.port)
            .user(Some(self.user.clone()))
            .pass(Some(Self::PASSWORD))
            .prefer_socket(false)
            .into()
    }

    /// A new connection as the test user.
    pub async fn conn(&self) -> mysql_async::Conn {
        mysql_async::Conn::new(self.opts())
            .await
            .expect("connect to test MariaDB")
    }
}

/// Finds `name` on PATH or in /usr/sbin, /usr/bin.
pub fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([
            PathBuf::from("/usr/sbin"),
            PathBuf::from("/usr/bin"),
            PathBuf::from("/usr/local/bin"),
        ])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn wait_port(port: u16, what: &str, log: &Path, timeout: Duration) {
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if start.elapsed() > timeout {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            panic!("{what} did not listen on 127.0.0.1:{port} within {timeout:?}; log:\n{log}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

const ROOT_PREFIX: &str = "liberator-mariadb-";
const OWNER_FILE: &str = "owner.pid";

/// Removes the data dirs of earlier test processes that no longer run.
fn remove_stale_roots() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let is_ours = entry.file_name().to_string_lossy().starts_with(ROOT_PREFIX);
        let owner = std::fs::read_to_string(path.join(OWNER_FILE)).ok();
        let alive = owner
            .as_deref()
            .and_then(|p| p.trim().parse::<u32>().ok())
            .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
        if is_ours && owner.is_some() && !alive {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// A new directory kept for the life of the test process (a server's data, certificates
/// it serves): Rust runs no destructor for statics, so the directories of test processes
/// that are gone are removed here instead, by the next one.
pub fn process_dir() -> PathBuf {
    remove_stale_roots();
    let root = tempfile::Builder::new()
        .prefix(ROOT_PREFIX)
        .tempdir()
        .expect("temp dir")
        .keep();
    std::fs::write(root.join(OWNER_FILE), std::process::id().to_string()).expect("owner file");
    root
}

/// The test binary's MariaDB server, started on first use.
pub fn mariadb() -> &'static MariaDb {
    static SERVER: OnceLock<MariaDb> = OnceLock::new();
    SERVER.get_or_init(|| start(&ServerOptions::default()))
}

/// How [`start`] runs a server. The default is what [`mariadb`] runs: plaintext only.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Serve TLS with these files. Default `None`: no TLS.
    pub tls: Option<ServerTls>,
}

/// PEM files for `--ssl-ca`, `--ssl-cert` and `--ssl-key`.
#[derive(Debug, Clone)]
pub struct ServerTls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// `--require-secure-transport=ON`: TCP clients without TLS are refused, as an RDS
    /// parameter group with `require_secure_transport` does (the unix socket still works).
    pub require_secure_transport: bool,
}

/// Starts a server of the caller's own, apart from [`mariadb`]'s, with the same test user;
/// it dies with the test process. With [`ServerOptions::tls`], panics (with the server's
/// log) unless the server really serves TLS: MariaDB starts without it when it cannot load
/// the certificates.
pub fn start(options: &ServerOptions) -> MariaDb {
    let mariadbd = find_binary("mariadbd")
        .or_else(|| find_binary("mysqld"))
        .expect(
            "mariadbd not found on PATH, /usr/sbin or /usr/bin: apt-get install mariadb-server",
        );
    let install = find_binary("mariadb-install-db")
        .or_else(|| find_binary("mysql_install_db"))
        .expect("mariadb-install-db not found: apt-get install mariadb-server");
    let root = process_dir();
    let datadir = root.join("data");
    let socket = root.join("mysqld.sock");
    let log = root.join("server.log");
    // A tmpdir of its own: a starting server deletes every `#sql*` file in its tmpdir, which
    // breaks another server's install running at the same time in a shared /tmp.
    let tmpdir = root.join("tmp");
    std::fs::create_dir(&tmpdir).expect("server tmpdir");
    let out = Command::new(&install)
        .arg("--no-defaults")
        .arg("--user=root")
        .arg(format!("--datadir={}", datadir.display()))
        .arg("--auth-root-authentication-method=normal")
        .arg("--skip-test-db")
        .arg(format!("--tmpdir={}", tmpdir.display()))
        .output()
        .expect("run mariadb-install-db");
    assert!(
        out.status.success(),
        "mariadb-install-db failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let port = free_port();
    let log_file = std::fs::File::create(&log).expect("server log");
    let mut cmd = Command::new(&mariadbd);
    cmd.arg("--no-defaults")
        .arg("--user=root")
        .arg(format!("--datadir={}", datadir.display()))
        .arg(format!("--socket={}", socket.display()))
        .arg(format!("--tmpdir={}", tmpdir.display()))
        .arg(format!("--port={port}"))
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--pid-file={}", root.join("mysqld.pid").display()))
        .arg("--innodb-buffer-pool-size=256M")
        .arg("--innodb-log-file-size=32M")
        .arg("--innodb-flush-log-at-trx-commit=2")
        .arg("--max-allowed-packet=64M")
        .arg("--skip-name-resolve");
    if let Some(tls) = &options.tls {
        cmd.arg(format!("--ssl-ca={}", tls.ca.display()))
            .arg(format!("--ssl-cert={}", tls.cert.display()))
            .arg(format!("--ssl-key={}", tls.key.display()));
        if tls.require_secure_transport {
            cmd.arg("--require-secure-transport=ON");
        }
    }
    cmd.stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file);
    spawn_tied(cmd, "mariadbd");
    wait_port(port, "mariadbd", &log, Duration::from_secs(60));

    // Root over the socket creates the password user the tests connect as.
    let admin = find_binary("mariadb")
        .or_else(|| find_binary("mysql"))
        .expect("mariadb client not found: apt-get install mariadb-client");
    let sql = format!(
        "CREATE USER 'restore'@'127.0.0.1' IDENTIFIED BY '{p}'; GRANT ALL PRIVILEGES ON *.* TO 'restore'@'127.0.0.1' WITH GRANT OPTION;",
        p = MariaDb::PASSWORD
    );
    let started = Instant::now();
    loop {
        let out = Command::new(&admin)
            .arg("--no-defaults")
            .arg(format!("--socket={}", socket.display()))
            .arg("-uroot")
            .arg("-e")
            .arg(&sql)
            .output()
            .expect("run mariadb client");
        if out.status.success() {
            break;
        }
        if started.elapsed() > Duration::from_secs(30) {
            panic!(
                "creating the test user failed: {}\nserver log:\n{}",
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    if options.tls.is_some() {
        let out = Command::new(&admin)
            .arg("--no-defaults")
            .arg(format!("--socket={}", socket.display()))
            .args(["-uroot", "-N", "-e", "SELECT @@have_ssl"])
            .output()
            .expect("run mariadb client");
        let have_ssl = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(
            have_ssl,
            "YES",
            "the server did not enable TLS ({}); server log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
    MariaDb {
        port,
        socket,
        datadir,
        user: "restore".into(),
    }
}

/// A zip of `entries` (name, content), deflated, as the uploader's tooling makes them.
/// Names are written as given, so tests can make hostile ones.
pub fn zip_bytes(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        let compressed = enc.finish().unwrap();
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let offset = out.len() as u32;
        let header = |sig: u32, central: bool| {
            let mut h = Vec::new();
            h.extend_from_slice(&sig.to_le_bytes());
            if central {
                h.extend_from_slice(&20u16.to_le_bytes()); // version made by
            }
            h.extend_from_slice(&20u16.to_le_bytes()); // version needed
            h.extend_from_slice(&0u16.to_le_bytes()); // flags
            h.extend_from_slice(&8u16.to_le_bytes()); // deflate
            h.extend_from_slice(&0u32.to_le_bytes()); // time, date
            h.extend_from_slice(&crc.sum().to_le_bytes());
            h.extend_from_slice(&(compressed.len() as u32).to_le_bytes());
            h.extend_from_slice(&(data.len() as u32).to_le_bytes());
            h.extend_from_slice(&(name.len() as u16).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes()); // extra
            if central {
                h.extend_from_slice(&[0; 6]); // comment len, disk, internal attrs
                h.extend_from_slice(&0u32.to_le_bytes()); // external attrs
                h.extend_from_slice(&offset.to_le_bytes());
            }
            h.extend_from_slice(name.as_bytes());
            h
        };
        out.extend_from_slice(&header(0x04034b50, false));
        out.extend_from_slice(&compressed);
        central.extend_from_slice(&header(0x02014b50, true));
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x06054b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}
