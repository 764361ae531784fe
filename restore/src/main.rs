//! `restore`: the ECS task that loads the day's dump into RDS and snapshots it.
//!
//! Configuration comes from the environment with the replaced task's names. The password is
//! read from `MYSQL_PASS` or a Secrets Manager secret (`MYSQL_PASS_SECRET_ID`) and has no
//! command-line flag, so it can never show up in argv.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use clap::Parser;
use liberator_restore::config::{MysqlConfig, Password, password_from_secret};
use liberator_restore::dump;
use liberator_restore::load::LoadConfig;
use liberator_restore::task::{self, TaskConfig};
use liberator_restore::zip::{LocalFile, ZipLimits};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Stream a MySQL dump zip from S3 into RDS, then snapshot the instance"
)]
struct Args {
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
    /// Talk TLS to the database.
    #[arg(long, env = "MYSQL_TLS", default_value_t = true, action = clap::ArgAction::Set)]
    mysql_tls: bool,
    /// CA bundle to verify the server (the image ships RDS's global bundle here).
    #[arg(
        long,
        env = "MYSQL_CA_BUNDLE",
        default_value = "/etc/ssl/certs/rds-global-bundle.pem"
    )]
    mysql_ca_bundle: PathBuf,
    #[arg(long, env = "RDS_INSTANCE_ID")]
    rds_instance_id: Option<String>,
    #[arg(long, env = "BUCKET_NAME")]
    bucket_name: Option<String>,
    /// Load this date's dump (YYYY-MM-DD) and backdate the snapshot id.
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
    /// Wait up to this many seconds for the snapshot to be available (0 = do not wait).
    #[arg(long, env = "WAIT_FOR_SNAPSHOT_SECS", default_value_t = 0)]
    wait_for_snapshot_secs: u64,
    /// Load a local `.zip` or `.sql` instead, and stop there (no S3, no snapshot).
    #[arg(long)]
    from_file: Option<PathBuf>,
    /// Address S3 with path-style URLs (for S3-compatible endpoints set with AWS_ENDPOINT_URL).
    #[arg(long, env = "S3_FORCE_PATH_STYLE", default_value_t = false, action = clap::ArgAction::Set)]
    s3_force_path_style: bool,
    /// Log as JSON lines (for CloudWatch).
    #[arg(long, env = "LOG_JSON", default_value_t = false, action = clap::ArgAction::Set)]
    log_json: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    init_tracing(args.log_json);
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "restore failed");
            eprintln!("restore failed: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_tracing(json: bool) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let (host, port) = match args.mysql_host.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => (h.to_string(), p.parse().unwrap()),
        _ => (args.mysql_host.clone(), args.mysql_port),
    };
    let mut mysql = MysqlConfig {
        host,
        port,
        user: args.mysql_user.clone(),
        password: Password::default(),
        db_name: args.db_name.clone(),
        tls: args.mysql_tls,
        ca_bundle: args
            .mysql_ca_bundle
            .exists()
            .then(|| args.mysql_ca_bundle.clone()),
    };
    if args.mysql_tls && mysql.ca_bundle.is_none() {
        tracing::warn!(path = %args.mysql_ca_bundle.display(), "CA bundle not found; verifying with built-in roots");
    }
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

    // AWS configuration is only resolved when an AWS service is used (not for --from-file).
    let needs_aws = args.from_file.is_none()
        || (std::env::var_os("MYSQL_PASS").is_none() && args.mysql_pass_secret_id.is_some());
    let aws = if needs_aws {
        Some(aws_config::load_from_env().await)
    } else {
        None
    };
    mysql.password = match (
        std::env::var("MYSQL_PASS"),
        &args.mysql_pass_secret_id,
        &aws,
    ) {
        (Ok(p), _, _) => Password::new(p),
        (Err(_), Some(id), Some(aws)) => {
            let sm = aws_sdk_secretsmanager::Client::new(aws);
            password_from_secret(&sm, id)
                .await
                .context("reading the database password")?
        }
        _ => Password::default(),
    };

    if let Some(path) = &args.from_file {
        let src = LocalFile { path: path.clone() };
        let is_zip = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
        let report = if is_zip {
            task::load_zip(&src, &mysql, &load, &limits).await
        } else {
            task::load_plain(&src, &mysql, &load).await
        };
        let report = report.with_context(|| format!("loading {}", path.display()))?;
        task::log_report(&report);
        return Ok(());
    }

    let Some(bucket) = args.bucket_name.clone() else {
        bail!("BUCKET_NAME is required")
    };
    let Some(instance) = args.rds_instance_id.clone() else {
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
    let cfg = TaskConfig {
        mysql,
        bucket,
        rds_instance_id: instance,
        import_date_override,
        event_key,
        load,
        limits,
        wait_for_snapshot: (args.wait_for_snapshot_secs > 0)
            .then(|| Duration::from_secs(args.wait_for_snapshot_secs)),
    };
    let aws = aws.context("AWS configuration")?;
    let s3_conf = aws_sdk_s3::config::Builder::from(&aws)
        .force_path_style(args.s3_force_path_style)
        .build();
    let s3 = aws_sdk_s3::Client::from_conf(s3_conf);
    let rds = aws_sdk_rds::Client::new(&aws);
    let outcome = task::run(&cfg, &s3, &rds).await.context("restore task")?;
    tracing::info!(key = %outcome.key, snapshot = %outcome.snapshot_id, deleted = ?outcome.deleted_snapshots, "done");
    Ok(())
}
