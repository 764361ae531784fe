//! Sakila end to end: S3 (moto) → restore → MariaDB → manifest → snapshot (moto RDS),
//! compared with what the mariadb command-line client loads from the same dump.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use liberator_restore::config::{MysqlConfig, Password};
use liberator_restore::manifest::{Manifest, TableRows};
use liberator_restore::task::{self, TaskConfig};
use liberator_tests::aws::{create_instance, rds_client};
use liberator_tests::mariadb::{MariaDb, find_binary, mariadb};
use liberator_tests::{create_bucket, get_bytes, list_all, moto, s3_client, unique_bucket};
use mysql_async::prelude::Queryable;

fn sakila_zip() -> PathBuf {
    let p = liberator_tests::manifest_dir().join("../../shared/data/sakila.zip");
    assert!(
        p.is_file(),
        "{} is missing: the shared sample data must be present",
        p.display()
    );
    p
}

/// Row counts of every base table of `db`, plus numbers of triggers, routines and views.
async fn inventory(db: &str) -> BTreeMap<String, u64> {
    let mut conn = mariadb().conn().await;
    let tables: Vec<String> = conn
        .exec("SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_type = 'BASE TABLE' ORDER BY 1", (db,))
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for t in tables {
        let n: Option<u64> = conn
            .query_first(format!("SELECT COUNT(*) FROM `{db}`.`{t}`"))
            .await
            .unwrap();
        out.insert(t, n.unwrap());
    }
    // Every index, as declared (the loader may build secondary ones after the rows).
    let idx: Vec<(String, String, u64, String, u64)> = conn
        .exec("SELECT table_name, index_name, seq_in_index, column_name, non_unique FROM information_schema.statistics WHERE table_schema = ?", (db,))
        .await
        .unwrap();
    for (t, i, seq, col, non_unique) in idx {
        out.insert(format!("index {t}.{i}.{seq}.{col}"), non_unique);
    }
    for (what, sql) in [
        (
            "#triggers",
            "SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = ?",
        ),
        (
            "#routines",
            "SELECT COUNT(*) FROM information_schema.routines WHERE routine_schema = ?",
        ),
        (
            "#views",
            "SELECT COUNT(*) FROM information_schema.views WHERE table_schema = ?",
        ),
    ] {
        let n: Option<u64> = conn.exec_first(sql, (db,)).await.unwrap();
        out.insert(what.to_string(), n.unwrap());
    }
    out
}

fn load_with_client(server: &MariaDb, sql: &[u8]) {
    let client = find_binary("mariadb")
        .or_else(|| find_binary("mysql"))
        .expect("mariadb client not installed");
    let mut child = Command::new(client)
        .arg("--no-defaults")
        .args([
            "-h",
            "127.0.0.1",
            "-P",
            &server.port.to_string(),
            "-u",
            &server.user,
        ])
        .env("MYSQL_PWD", MariaDb::PASSWORD)
        .stdin(Stdio::piped())
        .spawn()
        .expect("run mariadb client");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(sql).unwrap();
    assert!(
        child.wait().unwrap().success(),
        "the mariadb client failed to load sakila.sql"
    );
}

fn unzip_first(zip: &[u8]) -> Vec<u8> {
    // Local header: name and extra lengths at 26/28, data after; sizes at 18 (compressed).
    let name_len = u16::from_le_bytes([zip[26], zip[27]]) as usize;
    let extra_len = u16::from_le_bytes([zip[28], zip[29]]) as usize;
    let csize = u32::from_le_bytes(zip[18..22].try_into().unwrap()) as usize;
    let start = 30 + name_len + extra_len;
    let mut out = Vec::new();
    use std::io::Read;
    flate2::read::DeflateDecoder::new(&zip[start..start + csize])
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sakila_loads_like_the_mysql_client_and_is_snapshotted() {
    let server = mariadb();
    let zip = std::fs::read(sakila_zip()).unwrap();

    // What the mysql client makes of the dump.
    load_with_client(server, &unzip_first(&zip));
    let expected = inventory("sakila").await;
    mariadb()
        .conn()
        .await
        .query_drop("DROP DATABASE sakila")
        .await
        .unwrap();
    for (t, n) in [
        ("actor", 200),
        ("film", 1000),
        ("customer", 599),
        ("rental", 16044),
        ("payment", 16049),
        ("film_text", 1000),
    ] {
        assert_eq!(expected[t], n, "mysql client's count for {t}");
    }
    assert_eq!(
        expected
            .keys()
            .filter(|k| !k.starts_with('#') && !k.starts_with("index "))
            .count(),
        16,
        "16 tables: {expected:?}"
    );
    assert!(
        expected.contains_key("index actor.idx_actor_last_name.1.last_name"),
        "{expected:?}"
    );

    // The task, end to end, against moto.
    let s3 = s3_client(&moto().endpoint);
    let rds = rds_client(&moto().endpoint);
    let bucket = unique_bucket("restore-sakila");
    create_bucket(&s3, &bucket).await;
    let key = format!(
        "parking/liberator_dump_{}.zip",
        chrono::Utc::now().format("%y%m%d")
    );
    s3.put_object()
        .bucket(&bucket)
        .key(&key)
        .body(zip.clone().into())
        .send()
        .await
        .unwrap();
    create_instance(&rds, "liberator-sakila").await;

    let cfg = TaskConfig {
        mysql: MysqlConfig {
            port: server.port,
            user: server.user.clone(),
            password: Password::new(MariaDb::PASSWORD),
            db_name: "liberator_sakila".into(),
            ..Default::default()
        },
        bucket: bucket.clone(),
        rds_instance_id: "liberator-sakila".into(),
        ..Default::default()
    };
    let outcome = task::run(&cfg, &s3, &rds).await.expect("restore of sakila");
    assert_eq!(outcome.key, key);
    let got = inventory("sakila").await;
    assert_eq!(got, expected, "restore differs from the mysql client");
    assert_eq!(outcome.report.rows["sakila.payment"], 16049);
    assert!(outcome.report.bytes > 3_000_000, "{:?}", outcome.report);

    // The target database was created even though the dump USEs its own.
    let dbs: Vec<String> = mariadb()
        .conn()
        .await
        .query("SHOW DATABASES")
        .await
        .unwrap();
    assert!(dbs.contains(&"liberator_sakila".to_string()), "{dbs:?}");

    // Snapshot id: sql-to-parquet-YY-MM-DD-HHMMSS, and it exists.
    let id = &outcome.snapshot_id;
    assert!(
        id.starts_with("sql-to-parquet-") && id.len() == "sql-to-parquet-24-06-04-101500".len(),
        "{id}"
    );
    let snaps = rds
        .describe_db_snapshots()
        .db_snapshot_identifier(id)
        .send()
        .await
        .unwrap();
    assert_eq!(snaps.db_snapshots().len(), 1);
    assert_eq!(
        snaps.db_snapshots()[0].db_instance_identifier(),
        Some("liberator-sakila")
    );

    // The manifest, written before the snapshot beside (not inside) the dumps, holds the
    // exact COUNT(*) of all 16 sakila tables.
    let manifests: Vec<String> = list_all(&s3, &bucket, "liberator-manifests/")
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(manifests, [format!("liberator-manifests/{id}.json")]);
    assert_eq!(outcome.manifest_key, manifests[0]);
    let raw = get_bytes(&s3, &bucket, &outcome.manifest_key).await;
    let manifest: Manifest = serde_json::from_slice(&raw).expect("manifest JSON");
    assert_eq!(manifest, outcome.manifest);
    assert_eq!(manifest.version, 1);
    assert_eq!(&manifest.snapshot_id, id);
    assert_eq!(manifest.import_date, chrono::Utc::now().date_naive());
    assert_eq!(manifest.dump.bucket, bucket);
    assert_eq!(manifest.dump.key, key);
    assert_eq!(manifest.dump.size, zip.len() as u64);
    assert_eq!(manifest.dump.entries, ["sakila.sql"]);
    let counted: Vec<TableRows> = expected
        .iter()
        .filter(|(k, _)| !k.starts_with('#') && !k.starts_with("index "))
        .map(|(t, &rows)| TableRows {
            database: "sakila".into(),
            table: t.clone(),
            rows,
        })
        .collect();
    assert_eq!(counted.len(), 16);
    assert_eq!(
        manifest.tables, counted,
        "manifest rows differ from COUNT(*)"
    );
    // The raw JSON has exactly the documented field names.
    let v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    let mut fields: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "created_at",
            "dump",
            "import_date",
            "snapshot_id",
            "tables",
            "version"
        ]
    );
    assert_eq!(v["tables"][0]["database"], "sakila");
    assert!(v["tables"][0]["rows"].is_u64());
}
