//! The restore's security paths, run for real (issue 12, item 7), with the `restore` binary
//! against moto (S3, RDS, Secrets Manager) and a MariaDB of this test's own that serves TLS
//! with certificates made here by the `openssl` command line and refuses plaintext clients
//! (`require_secure_transport`, as an RDS parameter group sets it):
//! - the server's CA as `MYSQL_CA_BUNDLE` loads the dump and snapshots it; another CA is
//!   refused with an error naming the certificate, and nothing is snapshotted or deleted;
//!   a server offering no TLS is refused; a CA bundle that is not there is named;
//! - the password read from Secrets Manager (an RDS-managed secret's JSON) appears nowhere
//!   in the output of a successful run at `RUST_LOG=trace`, also with the SDK's
//!   `LOG_SENSITIVE_BODIES=true`, which would otherwise print the secret's response body.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use liberator_tests::mariadb::{self, MariaDb, ServerOptions, ServerTls, zip_bytes};
use liberator_tests::restore_day::DumpDay;
use liberator_tests::{ACCESS_KEY, SECRET_KEY, moto};
use mysql_async::prelude::Queryable;

/// Runs `openssl` with `args` (split at spaces) in `dir`, failing loudly when it is
/// missing or refuses.
fn openssl(dir: &Path, args: &str) {
    let bin = mariadb::find_binary("openssl").unwrap_or_else(|| {
        panic!(
            "openssl not found: apt-get install openssl (scripts/servers.sh install_mariadb does)"
        )
    });
    let out = Command::new(bin)
        .current_dir(dir)
        .args(args.split_whitespace())
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed CA `<name>.pem` / `<name>.key` in `dir` (RSA 2048, like RDS's default CA).
fn make_ca(dir: &Path, name: &str) -> PathBuf {
    openssl(
        dir,
        &format!(
            "req -x509 -newkey rsa:2048 -nodes -days 2 -sha256 -keyout {name}.key \
             -out {name}.pem -subj /CN=liberator-test-{name} \
             -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign"
        ),
    );
    dir.join(format!("{name}.pem"))
}

/// `server.pem` / `server.key` for 127.0.0.1 and localhost, signed by the CA `ca`.
fn make_server_cert(dir: &Path, ca: &str) -> (PathBuf, PathBuf) {
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        "req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost",
    );
    openssl(
        dir,
        &format!(
            "x509 -req -in server.csr -CA {ca}.pem -CAkey {ca}.key -CAcreateserial -days 2 \
             -sha256 -extfile server.ext -out server.pem"
        ),
    );
    (dir.join("server.pem"), dir.join("server.key"))
}

/// This binary's TLS server, the CA that signed its certificate, and a CA that did not.
struct TlsServer {
    db: MariaDb,
    ca: PathBuf,
    other_ca: PathBuf,
}

fn tls_server() -> &'static TlsServer {
    static SERVER: OnceLock<TlsServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let dir = mariadb::process_dir();
        let ca = make_ca(&dir, "ca");
        let other_ca = make_ca(&dir, "other-ca");
        let (cert, key) = make_server_cert(&dir, "ca");
        let db = mariadb::start(&ServerOptions {
            tls: Some(ServerTls {
                ca: ca.clone(),
                cert,
                key,
                require_secure_transport: true,
            }),
        });
        TlsServer { db, ca, other_ca }
    })
}

/// The test's own connection to the TLS server, verifying it with the right CA only.
async fn tls_conn(user: &str, password: &str) -> mysql_async::Conn {
    let server = tls_server();
    let ssl = mysql_async::SslOpts::default()
        .with_root_certs(vec![server.ca.clone().into()])
        .with_disable_built_in_roots(true);
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(server.db.port)
        .user(Some(user))
        .pass(Some(password))
        .prefer_socket(false)
        .ssl_opts(Some(ssl));
    mysql_async::Conn::new(opts)
        .await
        .expect("connect to the TLS server")
}

/// Rows of `db.t` on the TLS server (0 when the database does not exist).
async fn rows_in(db: &str) -> u64 {
    let n: Option<u64> = tls_conn(&tls_server().db.user, MariaDb::PASSWORD)
        .await
        .query_first(format!("SELECT COUNT(*) FROM `{db}`.t"))
        .await
        .unwrap_or(None);
    n.unwrap_or(0)
}

const ROWS: u64 = 500;

/// A small dump of `t` with [`ROWS`] rows.
fn dump_zip() -> Vec<u8> {
    let mut sql = b"CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(32));\n".to_vec();
    for i in 0..ROWS {
        sql.extend_from_slice(format!("INSERT INTO t VALUES ({i},'row {i}');\n").as_bytes());
    }
    zip_bytes(&[("dump.sql", sql.as_slice())])
}

/// The `restore` binary's whole task on the TLS server, verifying it with `ca`; no
/// ambient configuration leaks in.
fn restore(ca: &Path, db: &str, bucket: &str, instance: &str) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_restore"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("MYSQL_HOST", format!("127.0.0.1:{}", tls_server().db.port))
        .env("MYSQL_USER", &tls_server().db.user)
        .env("MYSQL_TLS", "true")
        .env("MYSQL_CA_BUNDLE", ca)
        .env("DB_NAME", db)
        .env("BUCKET_NAME", bucket)
        .env("RDS_INSTANCE_ID", instance)
        .env("AWS_ENDPOINT_URL", &moto().endpoint)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "info");
    cmd
}

/// Exit code and stdout + stderr. Runs one at a time, each starting in a second of its own:
/// a snapshot id is the task's start to the second and unique in the account, so two runs
/// started in the same second would collide.
async fn run(cmd: &mut tokio::process::Command) -> (Option<i32>, String) {
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _turn = ONE_AT_A_TIME.lock().await;
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().await.expect("run restore");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    let into_second = chrono::Utc::now().timestamp_subsec_millis() as u64;
    tokio::time::sleep(std::time::Duration::from_millis(
        1001 - into_second.min(1000),
    ))
    .await;
    (status.code(), all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_ca_verifies_it_and_the_dump_is_snapshotted() {
    let day = DumpDay::new("tls-ok", dump_zip()).await;
    let (code, out) = run(
        restore(&tls_server().ca, "tls_ok", &day.bucket, &day.instance)
            .env("MYSQL_PASS", MariaDb::PASSWORD),
    )
    .await;
    assert_eq!(code, Some(0), "{out}");
    // The server refuses plaintext TCP clients, so the rows came over TLS.
    assert_eq!(rows_in("tls_ok").await, ROWS);
    let snapshots = day.manual_snapshots().await;
    assert_eq!(snapshots.len(), 1, "{snapshots:?}");
    assert_ne!(snapshots[0], day.old_snapshot);
    assert_eq!(day.manifests().await.len(), 1);
    assert!(!out.contains(MariaDb::PASSWORD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_ca_is_refused_and_nothing_is_snapshotted() {
    let day = DumpDay::new("tls-wrong-ca", dump_zip()).await;
    let (code, out) = run(restore(
        &tls_server().other_ca,
        "tls_wrong_ca",
        &day.bucket,
        &day.instance,
    )
    .env("MYSQL_PASS", MariaDb::PASSWORD))
    .await;
    assert_eq!(code, Some(1), "{out}");
    let port = tls_server().db.port;
    assert!(
        out.contains(&format!(
            "restore failed: restore task: connecting to MySQL at 127.0.0.1:{port} as restore (TLS)"
        )) && out.contains("invalid peer certificate: UnknownIssuer"),
        "the error names the connection, TLS and the certificate: {out}"
    );
    assert_eq!(rows_in("tls_wrong_ca").await, 0);
    day.assert_nothing_snapshotted().await;
    assert!(day.manifests().await.is_empty());
    assert!(!out.contains(MariaDb::PASSWORD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_tls_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("d.sql");
    std::fs::write(&dump, "CREATE TABLE t (id INT);").unwrap();
    // The harness's shared server offers no TLS at all.
    let plain = mariadb::mariadb();
    let (code, out) = run(restore(&tls_server().ca, "no_tls", "unused", "unused")
        .env("MYSQL_HOST", format!("127.0.0.1:{}", plain.port))
        .env("MYSQL_PASS", MariaDb::PASSWORD)
        .arg("--from-file")
        .arg(&dump))
    .await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("(TLS)") && out.contains("server does not have this capability"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_ca_bundle_is_named_before_anything_runs() {
    let (code, out) = run(restore(
        Path::new("/nonexistent/rds-bundle.pem"),
        "missing_ca",
        "unused",
        "unused",
    )
    .env("MYSQL_PASS", MariaDb::PASSWORD))
    .await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("MYSQL_CA_BUNDLE /nonexistent/rds-bundle.pem is not a file"),
        "{out}"
    );
}

/// A user of its own on the TLS server whose password (random hex, so that no other text
/// matches it) is only in a Secrets Manager secret shaped as RDS makes them; then the whole
/// task at `RUST_LOG=trace`. Returns the password's random part and the run's output.
async fn run_with_secret(name: &str, sensitive_bodies: bool) -> String {
    let day = DumpDay::new(name, dump_zip()).await;
    // The user and the secret are named by one random value, the password is another.
    let id = uuid::Uuid::new_v4().simple().to_string();
    let hex = uuid::Uuid::new_v4().simple().to_string();
    let user = format!("sec_{}", &id[..8]);
    let password = format!("Lib-{hex}-pw");
    let mut admin = tls_conn(&tls_server().db.user, MariaDb::PASSWORD).await;
    admin
        .query_drop(format!(
            "CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{password}'; \
             GRANT ALL PRIVILEGES ON *.* TO '{user}'@'127.0.0.1'"
        ))
        .await
        .unwrap();
    // RDS-managed secrets hold JSON with (at least) these two fields:
    // https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html
    let secret_id = format!("rds!db-{id}");
    liberator_tests::factory(&moto().endpoint)
        .secretsmanager()
        .create_secret()
        .name(&secret_id)
        .secret_string(serde_json::json!({ "username": user, "password": password }).to_string())
        .send()
        .await
        .unwrap();

    let db = name.replace('-', "_");
    let mut cmd = restore(&tls_server().ca, &db, &day.bucket, &day.instance);
    cmd.env("MYSQL_USER", &user)
        .env("MYSQL_PASS_SECRET_ID", &secret_id)
        .env("RUST_LOG", "trace");
    if sensitive_bodies {
        cmd.env("LOG_SENSITIVE_BODIES", "true");
    }
    let (code, out) = run(&mut cmd).await;
    assert_eq!(code, Some(0), "the run must succeed: {}", tail(&out));
    // The password is nowhere but in the secret: logging in with it proves the secret was read.
    assert!(
        out.contains("GetSecretValue") && out.contains(&secret_id),
        "the Secrets Manager request shows in the trace: {}",
        tail(&out)
    );
    assert_eq!(rows_in(&db).await, ROWS);
    assert_eq!(day.manual_snapshots().await.len(), 1);
    assert_eq!(day.manifests().await.len(), 1);
    assert!(
        out.len() > 100_000,
        "RUST_LOG=trace logs the SDK, TLS and the load: {} bytes",
        out.len()
    );
    if let Some(at) = out.find(&hex) {
        let from = out[..at]
            .char_indices()
            .rev()
            .nth(300)
            .map_or(0, |(i, _)| i);
        let to = out[at..]
            .char_indices()
            .nth(200)
            .map_or(out.len(), |(i, _)| at + i);
        panic!("the password leaked: ...{}", &out[from..to]);
    }
    out
}

/// The last lines of a long trace, for assertion messages.
fn tail(out: &str) -> &str {
    let from = out.char_indices().rev().nth(4000).map_or(0, |(i, _)| i);
    &out[from..]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secrets_password_is_not_in_a_trace_log() {
    run_with_secret("secret-trace", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secrets_password_is_not_logged_with_sensitive_bodies_on() {
    let out = run_with_secret("secret-bodies", true).await;
    assert!(out.contains("LOG_SENSITIVE_BODIES"), "{}", tail(&out));
}
