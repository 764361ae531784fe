//! The operator mistakes the `engine` binary answers clearly: each row is one mistake, the
//! exit code it gets (2: bad input, nothing run) and the words its error must carry (the
//! location, id, date or flag at fault). S3 rows talk to moto. The count of rows is the
//! README's "mistakes answered" figure.

use std::path::Path;
use std::process::Command;

use liberator_tests::{ACCESS_KEY, SECRET_KEY, create_bucket, moto, s3_client, unique_bucket};

const ID: &str = "sql-to-parquet-24-06-04-101500";

/// One mistake: what is run, with which environment changes, and what must come back.
struct Mistake {
    name: &'static str,
    args: Vec<String>,
    /// Run without any AWS credentials in reach.
    no_credentials: bool,
    code: i32,
    says: Vec<String>,
}

fn row(name: &'static str, args: &[&str], says: &[&str]) -> Mistake {
    Mistake {
        name,
        args: args.iter().map(|s| s.to_string()).collect(),
        no_credentials: false,
        code: 2,
        says: says.iter().map(|s| s.to_string()).collect(),
    }
}

fn run(m: &Mistake, endpoint: &str, dir: &Path) -> Result<(), String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_engine"));
    cmd.args(&m.args)
        .current_dir(dir)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("RUST_LOG")
        .env_remove("DUMP_BUCKET")
        .env_remove("SOURCE_BUCKET")
        .env_remove("TARGET_BUCKET")
        .env_remove("WORKFLOW_NAME");
    if m.no_credentials {
        cmd.env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("AWS_SESSION_TOKEN")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", dir.join("no-config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("no-credentials"));
    } else {
        cmd.env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
    }
    let out = cmd.output().map_err(|e| format!("running engine: {e}"))?;
    let err = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code().unwrap_or(-1);
    let missing: Vec<&String> = m
        .says
        .iter()
        .filter(|s| !err.contains(s.as_str()))
        .collect();
    if code != m.code || !missing.is_empty() {
        return Err(format!(
            "exit {code} (want {}), missing {missing:?} in stderr:\n{err}",
            m.code
        ));
    }
    if !out.stdout.is_empty() {
        return Err(format!(
            "a mistake prints nothing on stdout: {}",
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    if err.contains(SECRET_KEY) {
        return Err("the secret key was printed".into());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operator_mistake_gets_a_clear_answer() {
    let ep = moto().endpoint.clone();
    let s3 = s3_client(&ep);
    let (dump, exports, landing) = (
        unique_bucket("mk-dump"),
        unique_bucket("mk-exp"),
        unique_bucket("mk-land"),
    );
    for b in [&dump, &exports, &landing] {
        create_bucket(&s3, b).await;
    }
    let missing_bucket = unique_bucket("mk-missing");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (src, dst) = (d.join("exports"), d.join("landing"));
    let (src, dst) = (src.to_str().unwrap(), dst.to_str().unwrap());
    let nowhere = d.join("nowhere");
    let nowhere = nowhere.to_str().unwrap();
    let sample = Command::new(env!("CARGO_BIN_EXE_engine"))
        .args(["sample", src, "--export-id", ID])
        .output()
        .unwrap();
    assert!(sample.status.success(), "{sample:?}");
    let s3_src = format!("s3://{missing_bucket}");
    let s3_dst = format!("s3://{landing}/parking");
    let status = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = ["status"].iter().map(|s| s.to_string()).collect();
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let buckets = [
        "--dump-bucket",
        &dump,
        "--export-bucket",
        &exports,
        "--landing-bucket",
        &landing,
        "--workflow",
        "wf",
    ];
    let with_buckets = |extra: &[&str]| -> Vec<String> {
        let mut a = status(extra);
        a.extend(buckets.iter().map(|s| s.to_string()));
        a
    };

    let table = vec![
        row(
            "wrong export id",
            &["copy", "not-an-id", "--source", src, "--target", dst],
            &["\"not-an-id\"", "sql-to-parquet-YY-MM-DD-HHMMSS"],
        ),
        row(
            "missing source folder",
            &["backfill", "--source", nowhere, "--target", dst],
            &[nowhere, "no sql-to-parquet-* export"],
        ),
        row(
            "missing source bucket",
            &["backfill", "--source", &s3_src, "--target", &s3_dst],
            &[&missing_bucket, "NoSuchBucket"],
        ),
        row(
            "empty range",
            &[
                "backfill",
                "--source",
                src,
                "--target",
                dst,
                "--since",
                "2030-01-01",
            ],
            &[src, "from 2030-01-01 to any"],
        ),
        row(
            "unknown export in --only",
            &[
                "backfill",
                "--source",
                src,
                "--target",
                dst,
                "--only",
                "sql-to-parquet-24-06-05-101500",
            ],
            &["sql-to-parquet-24-06-05-101500", "not found"],
        ),
        row(
            "bad date",
            &[
                "backfill",
                "--source",
                src,
                "--target",
                dst,
                "--since",
                "2024-13-01",
            ],
            &["\"2024-13-01\"", "YYYY-MM-DD"],
        ),
        row(
            "store mismatch",
            &["copy", ID, "--source", &s3_src, "--target", dst],
            &["cannot cross stores"],
        ),
        row(
            "nothing to verify",
            &["verify", nowhere],
            &[nowhere, "no .parquet file"],
        ),
        row(
            "unreachable endpoint",
            &[
                "--endpoint-url",
                "http://127.0.0.1:1",
                "status",
                "--date",
                "2005-05-05",
                "--dump-bucket",
                &dump,
                "--export-bucket",
                &exports,
                "--landing-bucket",
                &landing,
                "--workflow",
                "wf",
            ],
            &[&dump, "Connection refused"],
        ),
        Mistake {
            args: with_buckets(&["--date", "2005-05-05"]),
            ..row(
                "status: nothing for a past date",
                &[],
                &["nothing found for 2005-05-05", &dump, &exports, &landing],
            )
        },
        Mistake {
            args: with_buckets(&["--date", "2005-02-30"]),
            ..row("status: bad date", &[], &["\"2005-02-30\""])
        },
        Mistake {
            args: with_buckets(&["--export", "sql-to-parquet-nope"]),
            ..row("status: wrong export id", &[], &["\"sql-to-parquet-nope\""])
        },
        Mistake {
            args: with_buckets(&["--date", "2005-05-05", "--export", ID]),
            ..row(
                "status: --date with --export",
                &[],
                &["--date", "--export", "cannot be used with"],
            )
        },
        Mistake {
            args: status(&["--date", "2005-05-05"]),
            ..row(
                "status: no bucket named",
                &[],
                &[
                    "--dump-bucket",
                    "--export-bucket",
                    "--landing-bucket",
                    "--workflow",
                ],
            )
        },
        row(
            "status: missing bucket",
            &[
                "status",
                "--dump-bucket",
                &missing_bucket,
                "--export-bucket",
                &exports,
                "--landing-bucket",
                &landing,
                "--workflow",
                "wf",
            ],
            &[
                &missing_bucket,
                "--dump-bucket / DUMP_BUCKET",
                "does not exist",
            ],
        ),
        Mistake {
            no_credentials: true,
            ..row(
                "missing credentials",
                &["copy", ID, "--source", &s3_src, "--target", &s3_dst],
                &["no AWS credentials", "AWS_PROFILE"],
            )
        },
        Mistake {
            no_credentials: true,
            ..row(
                "status: missing credentials",
                &[
                    "status",
                    "--dump-bucket",
                    &dump,
                    "--export-bucket",
                    &exports,
                    "--landing-bucket",
                    &landing,
                    "--workflow",
                    "wf",
                ],
                &["no AWS credentials"],
            )
        },
    ];
    let failures: Vec<String> = table
        .iter()
        .filter_map(|m| run(m, &ep, d).err().map(|e| format!("{}: {e}", m.name)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} mistakes not answered clearly:\n{}",
        failures.len(),
        table.len(),
        failures.join("\n\n")
    );
    assert_eq!(table.len(), 17, "the README counts the mistakes answered");
}
