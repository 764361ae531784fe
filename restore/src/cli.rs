//! The `restore` binary's logic: its arguments, and [`main`]/[`run`], which the binary's
//! `main` calls after parsing.
//!
//! Configuration comes from the environment with the replaced task's names. The password is
//! read from `MYSQL_PASS` or a Secrets Manager secret (`MYSQL_PASS_SECRET_ID`) and has no
//! command-line flag, so it can never show up in argv. Settings are checked before the first
//! AWS call; AWS clients come from the one factory, `liberator-aws`. The database is spoken
//! to over TLS verified with `MYSQL_CA_BUNDLE` (RDS's bundle in the image) unless
//! `MYSQL_TLS=false`, and the AWS SDK's sensitive response bodies are never logged, even with
//! `LOG_SENSITIVE_BODIES=true`.
//!
//! SIGTERM (ECS stopping the task) and SIGINT stop the run: see [`crate::stop`]. The exit
//! status is then 128 + the signal's number (143, 130).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, Utc};
use clap::Parser;
use liberator_aws::{AwsOptions, ClientFactory};

use crate::config::{MysqlConfig, Password, password_from_secret};
use crate::dump;
use crate::error::RestoreError;
use crate::load::LoadConfig;
use crate::manifest::ManifestLocation;
use crate::stop::{Stop, exit_code};
use crate::task::{self, Run, TaskConfig};
use crate::zip::{LocalFile, ZipLimits};

/// The `restore` binary's arguments; each has an environment variable (the task definition's).
#[derive(Debug, Parser)]
#[command(
    name = "restore",
    version,
    about = "Stream a MySQL dump zip from S3 into RDS, then snapshot the instance"
)]
pub struct Args {
    /// Database host (`host` or `host:port`).
    #[arg(long, env = "MYSQL_HOST", default_value = "127.0.0.1")]
    mysql_host: String,
    /// Database port (when not given in MYSQL_HOST).
    #[arg(long, env = "MYSQL_PORT", default_value_t = 3306)]
    mysql_port: u16,
    #[arg(long, env = "MYSQL_USER", default_value = "admin")]
    mysql_user: String,
    /// Secrets Manager secret holding the password (plain, or JSON with `password`), used when MYSQL_PASS is unset.
    #[arg(long, env = "MYSQL_PASS_SECRET_ID")]
    mysql_pass_secret_id: Option<String>,
    /// Database to (re)create and load into, unless the dump says `USE` another.
    #[arg(long, env = "DB_NAME", default_value = "liberator")]
    db_name: String,
    /// Talk TLS to the database: a server that offers no TLS is refused, and its certificate
    /// must chain to MYSQL_CA_BUNDLE (or a built-in root) and name MYSQL_HOST. Default true.
    #[arg(long, env = "MYSQL_TLS", default_value_t = true, action = clap::ArgAction::Set)]
    mysql_tls: bool,
    /// CA bundle (PEM) to verify the server with, trusted alongside the built-in web PKI roots
    /// (RDS Proxy's ACM certificates chain to those). Default
    /// /etc/ssl/certs/rds-global-bundle.pem, where the image ships RDS's global bundle; when
    /// that default file is absent only the built-in roots are used, with a warning. A path
    /// set here that does not exist is an error.
    #[arg(long, env = "MYSQL_CA_BUNDLE")]
    mysql_ca_bundle: Option<PathBuf>,
    #[arg(long, env = "RDS_INSTANCE_ID")]
    rds_instance_id: Option<String>,
    #[arg(long, env = "BUCKET_NAME")]
    bucket_name: Option<String>,
    /// Load this date's dump (YYYY-MM-DD) and backdate the snapshot id. A per-run override
    /// (`aws ecs run-task --overrides`), never part of the task definition.
    #[arg(long, env = "IMPORT_DATE_OVERRIDE")]
    import_date_override: Option<String>,
    /// Object key to load (as from the S3 event).
    #[arg(long, env = "DUMP_KEY")]
    dump_key: Option<String>,
    /// The triggering S3 event as JSON (EventBridge/CloudTrail or S3 notification shape).
    #[arg(long, env = "S3_EVENT")]
    s3_event: Option<String>,
    /// Worker connections for table data (0 = one connection, like the mysql client).
    #[arg(long, env = "LOAD_WORKERS", default_value_t = LoadConfig::default().workers)]
    workers: usize,
    /// Statements per worker transaction (0 = autocommit).
    #[arg(long, env = "LOAD_STATEMENTS_PER_COMMIT", default_value_t = 0)]
    statements_per_commit: usize,
    /// Send plain-literal inserts as LOAD DATA LOCAL INFILE rows (falls back to INSERT if refused).
    #[arg(long, env = "LOAD_DATA", default_value_t = true, action = clap::ArgAction::Set)]
    load_data: bool,
    /// Build secondary indexes after each table's rows are in.
    #[arg(long, env = "DEFER_INDEXES", default_value_t = true, action = clap::ArgAction::Set)]
    defer_indexes: bool,
    /// Largest total inflated size of the dump, in bytes.
    #[arg(long, env = "MAX_DUMP_BYTES", default_value_t = ZipLimits::default().max_total_bytes)]
    max_dump_bytes: u64,
    /// Where the restore manifest goes (`s3://bucket/prefix/`); default
    /// `s3://<BUCKET_NAME>/liberator-manifests/`. The manifest's key is `<prefix><snapshot id>.json`.
    #[arg(long, env = "MANIFEST_LOCATION")]
    manifest_location: Option<String>,
    /// Wait up to this many seconds for the snapshot to be available (0 = do not wait).
    #[arg(long, env = "WAIT_FOR_SNAPSHOT_SECS", default_value_t = 0)]
    wait_for_snapshot_secs: u64,
    /// Load a local `.zip` or `.sql` instead, and stop there (no S3, no snapshot).
    #[arg(long)]
    from_file: Option<PathBuf>,
    /// Address S3 with path-style URLs. The client factory already does whenever an endpoint
    /// is set (AWS_ENDPOINT_URL); this forces it otherwise.
    #[arg(long, env = "S3_FORCE_PATH_STYLE", default_value_t = false, action = clap::ArgAction::Set)]
    s3_force_path_style: bool,
    /// Log as JSON lines (for CloudWatch) even on a terminal; off a terminal they are JSON
    /// anyway.
    #[arg(long, env = "LOG_JSON", default_value_t = false, action = clap::ArgAction::Set)]
    log_json: bool,
}

/// Sets up logging and signal handling, runs, logs the outcome and maps it to the exit
/// status: 0, 1 on failure, 128 + the signal's number when stopped by SIGTERM/SIGINT.
pub async fn main(args: Args, started: DateTime<Utc>) -> ExitCode {
    init_tracing(args.log_json);
    let stop = match Stop::on_signals() {
        Ok(stop) => stop,
        Err(e) => {
            tracing::error!(error = %e, "cannot install the SIGTERM/SIGINT handlers");
            eprintln!("restore failed: installing signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    match run(args, started, stop).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if let Some(RestoreError::Stopped { signal, phase }) = e.downcast_ref::<RestoreError>()
            {
                tracing::error!(
                    signal,
                    phase,
                    "restore stopped by {signal}: no snapshot taken, no snapshot deleted"
                );
                eprintln!("restore stopped by {signal} while {phase}");
                return ExitCode::from(exit_code(signal));
            }
            tracing::error!(error = format!("{e:#}"), "restore failed");
            eprintln!("restore failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr at `RUST_LOG` (default `info`) through the one set-up every binary uses:
/// JSON off a terminal (`LOG_JSON` forces it), and never an HTTP response body the AWS SDK
/// marks sensitive (`LOG_SENSITIVE_BODIES`; one holds the database password).
fn init_tracing(json: bool) {
    let config = liberator_telemetry::LogConfig {
        format: if json {
            liberator_telemetry::LogFormat::Json
        } else {
            liberator_telemetry::LogFormat::Auto
        },
        ..Default::default()
    };
    if let Err(e) = liberator_telemetry::init(&config) {
        eprintln!("logging: {e}");
    }
}

/// Runs the binary: `--from-file` loads a local file and stops; otherwise the whole task.
/// `started` is the task's start (the snapshot's timestamp); `stop` abandons the load.
pub async fn run(args: Args, started: DateTime<Utc>, stop: Stop) -> anyhow::Result<()> {
    let mysql = mysql_config(&args)?;
    let load = LoadConfig {
        workers: args.workers,
        statements_per_commit: args.statements_per_commit,
        load_data: args.load_data,
        defer_indexes: args.defer_indexes,
        ..LoadConfig::default()
    };
    let limits = ZipLimits {
        max_total_bytes: args.max_dump_bytes,
        ..ZipLimits::default()
    };

    if let Some(path) = &args.from_file {
        // AWS is only needed here for a password kept in Secrets Manager.
        let needs_aws =
            std::env::var_os("MYSQL_PASS").is_none() && args.mysql_pass_secret_id.is_some();
        let factory = match needs_aws {
            true => Some(ClientFactory::load(aws_options()).await),
            false => None,
        };
        let mysql = MysqlConfig {
            password: password(&args, factory.as_ref()).await?,
            ..mysql
        };
        let src = LocalFile { path: path.clone() };
        let is_zip = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
        let loading = async {
            if is_zip {
                task::load_zip(&src, &mysql, &load, &limits).await
            } else {
                task::load_plain(&src, &mysql, &load).await
            }
        };
        let report = stop
            .guard("loading the file", loading)
            .await
            .with_context(|| format!("loading {}", path.display()))?;
        task::log_report(&report);
        return Ok(());
    }

    // Every setting is checked before the first AWS call.
    let mut cfg = task_config(&args, mysql, load, limits)?;
    let factory = ClientFactory::load(aws_options()).await;
    cfg.mysql.password = password(&args, Some(&factory)).await?;
    let mut s3 = factory.s3();
    if args.s3_force_path_style {
        s3 = aws_sdk_s3::Client::from_conf(s3.config().to_builder().force_path_style(true).build());
    }
    let rds = factory.rds();
    let outcome = Run::new(&cfg)
        .started_at(started)
        .stop_on(stop)
        .execute(&s3, &rds)
        .await
        .context("restore task")?;
    tracing::info!(key = %outcome.key, snapshot = %outcome.snapshot_id, manifest = %outcome.manifest_key, deleted = ?outcome.deleted_snapshots, "done");
    Ok(())
}

/// The restore's AWS settings: the factory's defaults, with the SDK's standard retries on
/// for S3 too (the restore makes a handful of S3 calls and has no retry loop of its own
/// beyond resuming a broken body read).
fn aws_options() -> AwsOptions {
    AwsOptions {
        s3_sdk_retries: true,
        ..AwsOptions::default()
    }
}

/// Where the image ships RDS's CA bundle: MYSQL_CA_BUNDLE's default.
/// <https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.SSL.html>
pub const DEFAULT_CA_BUNDLE: &str = "/etc/ssl/certs/rds-global-bundle.pem";

/// Database settings without the password. A CA bundle that was asked for and is missing
/// is an error: falling back to the built-in roots would fail later, naming no file.
fn mysql_config(args: &Args) -> anyhow::Result<MysqlConfig> {
    let (host, port) = match args.mysql_host.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => {
            (h.to_string(), p.parse().unwrap_or(args.mysql_port))
        }
        _ => (args.mysql_host.clone(), args.mysql_port),
    };
    let ca_bundle = match (&args.mysql_ca_bundle, args.mysql_tls) {
        (_, false) => None,
        (Some(path), true) if !path.is_file() => {
            bail!("MYSQL_CA_BUNDLE {} is not a file", path.display())
        }
        (Some(path), true) => Some(path.clone()),
        (None, true) => {
            let default = PathBuf::from(DEFAULT_CA_BUNDLE);
            let found = default.is_file().then_some(default);
            if found.is_none() {
                tracing::warn!(
                    path = DEFAULT_CA_BUNDLE,
                    "CA bundle not found; verifying with built-in roots"
                );
            }
            found
        }
    };
    tracing::info!(host = %host, port, user = %args.mysql_user, tls = args.mysql_tls, ca_bundle = ?ca_bundle, "database connection");
    Ok(MysqlConfig {
        host,
        port,
        user: args.mysql_user.clone(),
        password: Password::default(),
        db_name: args.db_name.clone(),
        tls: args.mysql_tls,
        ca_bundle,
    })
}

/// `MYSQL_PASS`, else the Secrets Manager secret (through `factory`), else none.
async fn password(args: &Args, factory: Option<&ClientFactory>) -> anyhow::Result<Password> {
    Ok(
        match (
            std::env::var("MYSQL_PASS"),
            &args.mysql_pass_secret_id,
            factory,
        ) {
            (Ok(p), _, _) => Password::new(p),
            (Err(_), Some(id), Some(factory)) => {
                password_from_secret(&factory.secretsmanager(), id)
                    .await
                    .context("reading the database password")?
            }
            _ => Password::default(),
        },
    )
}

/// The task's settings, checked: bucket, instance, date override, event key, manifest location.
fn task_config(
    args: &Args,
    mysql: MysqlConfig,
    load: LoadConfig,
    limits: ZipLimits,
) -> anyhow::Result<TaskConfig> {
    let Some(bucket) = args.bucket_name.clone().filter(|b| !b.is_empty()) else {
        bail!("BUCKET_NAME is required")
    };
    let Some(instance) = args.rds_instance_id.clone().filter(|i| !i.is_empty()) else {
        bail!("RDS_INSTANCE_ID is required")
    };
    let import_date_override = match &args.import_date_override {
        Some(d) if !d.trim().is_empty() => Some(
            NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
                .with_context(|| format!("IMPORT_DATE_OVERRIDE {d:?} is not YYYY-MM-DD"))?,
        ),
        _ => None,
    };
    let mut event_key = args.dump_key.clone().filter(|k| !k.is_empty());
    if event_key.is_none()
        && let Some(raw) = args.s3_event.as_deref().filter(|s| !s.trim().is_empty())
    {
        let event: serde_json::Value = serde_json::from_str(raw).context("S3_EVENT is not JSON")?;
        event_key = dump::key_from_event(&event);
        if event_key.is_none() {
            bail!("S3_EVENT names no object key");
        }
    }
    let manifest_location = match args.manifest_location.as_deref().map(str::trim) {
        Some(l) if !l.is_empty() => Some(l.parse::<ManifestLocation>()?),
        _ => None,
    };
    Ok(TaskConfig {
        mysql,
        bucket,
        rds_instance_id: instance,
        import_date_override,
        event_key,
        load,
        limits,
        manifest_location,
        wait_for_snapshot: (args.wait_for_snapshot_secs > 0)
            .then(|| Duration::from_secs(args.wait_for_snapshot_secs)),
    })
}
