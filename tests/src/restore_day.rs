//! A day for the restore task's tests: today's dump in a new bucket of moto's, and a new RDS
//! instance with one old manual snapshot that a successful run deletes and a failed run must
//! keep. Shared by the restore tests of this crate and of `restore/tests` (the ones that run
//! the `restore` binary itself, which only that package's tests can name).

use std::path::Path;
use std::process::Command;

use liberator_restore::config::{MysqlConfig, Password};
use liberator_restore::task::TaskConfig;

use crate::aws::{create_instance, rds_client};
use crate::mariadb::{MariaDb, mariadb};
use crate::{create_bucket, moto, s3_client, unique_bucket};

/// A start time for a restore run in a second no other run of this process started in.
///
/// A snapshot id is the task's start to the second and unique in the account (one moto
/// for the whole suite): two runs started in the same second, as a quick test followed by
/// another can be, would collide with `DBSnapshotAlreadyExists`. Waits for the next
/// second when needed.
pub async fn fresh_start_second() -> chrono::DateTime<chrono::Utc> {
    static LAST: tokio::sync::Mutex<i64> = tokio::sync::Mutex::const_new(i64::MIN);
    let mut last = LAST.lock().await;
    loop {
        let now = chrono::Utc::now();
        if now.timestamp() > *last {
            *last = now.timestamp();
            return now;
        }
        let into = u64::from(now.timestamp_subsec_millis());
        tokio::time::sleep(std::time::Duration::from_millis(1001 - into.min(1000))).await;
    }
}

/// Today's dump key, as the dump producer names it (`YYMMDD`).
pub fn todays_dump_key() -> String {
    format!(
        "parking/liberator_dump_{}.zip",
        chrono::Utc::now().format("%y%m%d")
    )
}

/// The harness's MariaDB, as the restore connects to it, loading into `db`.
pub fn mysql_config(db: &str) -> MysqlConfig {
    let server = mariadb();
    MysqlConfig {
        port: server.port,
        user: server.user.clone(),
        password: Password::new(MariaDb::PASSWORD),
        db_name: db.into(),
        ..Default::default()
    }
}

/// One day's inputs on moto.
pub struct DumpDay {
    pub bucket: String,
    /// Today's dump key in `bucket`.
    pub key: String,
    pub instance: String,
    /// The instance's old manual snapshot (snapshot ids are unique in the account, hence
    /// the bucket's unique name in it).
    pub old_snapshot: String,
    pub s3: aws_sdk_s3::Client,
    pub rds: aws_sdk_rds::Client,
}

impl DumpDay {
    /// Uploads `zip` as today's dump to a new bucket named after `name`, and creates an
    /// instance with one old manual snapshot.
    pub async fn new(name: &str, zip: Vec<u8>) -> DumpDay {
        let s3 = s3_client(&moto().endpoint);
        let rds = rds_client(&moto().endpoint);
        let bucket = unique_bucket(name);
        create_bucket(&s3, &bucket).await;
        let key = todays_dump_key();
        s3.put_object()
            .bucket(&bucket)
            .key(&key)
            .body(zip.into())
            .send()
            .await
            .unwrap();
        let instance = format!("inst-{bucket}");
        create_instance(&rds, &instance).await;
        let old_snapshot = format!("sql-to-parquet-old-{bucket}");
        rds.create_db_snapshot()
            .db_instance_identifier(&instance)
            .db_snapshot_identifier(&old_snapshot)
            .send()
            .await
            .unwrap();
        DumpDay {
            bucket,
            key,
            instance,
            old_snapshot,
            s3,
            rds,
        }
    }

    /// The task's configuration for this day, loading into `db` on the harness's MariaDB.
    pub fn task_config(&self, db: &str) -> TaskConfig {
        TaskConfig {
            mysql: mysql_config(db),
            bucket: self.bucket.clone(),
            rds_instance_id: self.instance.clone(),
            ..Default::default()
        }
    }

    /// The instance's manual snapshots, by id.
    pub async fn manual_snapshots(&self) -> Vec<String> {
        let out = self
            .rds
            .describe_db_snapshots()
            .db_instance_identifier(&self.instance)
            .snapshot_type("manual")
            .send()
            .await
            .unwrap();
        out.db_snapshots()
            .iter()
            .filter_map(|s| s.db_snapshot_identifier().map(str::to_string))
            .collect()
    }

    /// A failed or stopped run took no snapshot and deleted none: the old one is the only
    /// one.
    pub async fn assert_nothing_snapshotted(&self) {
        assert_eq!(
            self.manual_snapshots().await,
            std::slice::from_ref(&self.old_snapshot)
        );
    }

    /// The restore manifests written in this day's bucket (key, size).
    pub async fn manifests(&self) -> Vec<(String, u64)> {
        crate::list_all(&self.s3, &self.bucket, "liberator-manifests/").await
    }
}

/// The `restore` binary at `bin` with none of the task's configuration inherited from the
/// environment the tests run in.
pub fn restore_command(bin: &Path) -> Command {
    let mut cmd = Command::new(bin);
    for var in [
        "MYSQL_HOST",
        "MYSQL_PORT",
        "MYSQL_USER",
        "MYSQL_PASS",
        "MYSQL_PASS_SECRET_ID",
        "MYSQL_TLS",
        "MYSQL_CA_BUNDLE",
        "DB_NAME",
        "BUCKET_NAME",
        "RDS_INSTANCE_ID",
        "IMPORT_DATE_OVERRIDE",
        "DUMP_KEY",
        "S3_EVENT",
        "MANIFEST_LOCATION",
        "AWS_PROFILE",
    ] {
        cmd.env_remove(var);
    }
    cmd
}
