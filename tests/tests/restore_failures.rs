//! Failures stop the task before any snapshot: SQL errors (named by entry, statement,
//! table and the server's message), hostile zips, bombs, missing dumps. The password
//! never shows in an error.

use liberator_restore::RestoreError;
use liberator_restore::config::Password;
use liberator_restore::load::LoadConfig;
use liberator_restore::task;
use liberator_restore::zip::{LocalFile, ZipLimits};
use liberator_tests::mariadb::{MariaDb, mariadb, zip_bytes};
use liberator_tests::restore_day::{DumpDay, mysql_config as mysql};
use mysql_async::prelude::Queryable;

async fn db_exists(db: &str) -> bool {
    let n: Option<u64> = mariadb()
        .conn()
        .await
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?",
            (db,),
        )
        .await
        .unwrap();
    n == Some(1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dump_broken_halfway_fails_without_snapshot() {
    let mut sql = String::from(
        "CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(10));\nCREATE TABLE b (id INT PRIMARY KEY);\n",
    );
    for i in 0..20 {
        sql.push_str(&format!(
            "INSERT INTO a VALUES ({i},'x{i}'),({},'y');\n",
            i + 1000
        ));
    }
    // Statement 23: a row with too many values, halfway through table b's data.
    sql.push_str("INSERT INTO b VALUES (1),(2);\nINSERT INTO b VALUES (3,'oops');\nINSERT INTO b VALUES (4);\n");
    let day = DumpDay::new("broken", zip_bytes(&[("dump.sql", sql.as_bytes())])).await;
    let cfg = day.task_config("broken_db");
    let err = task::run(&cfg, &day.s3, &day.rds)
        .await
        .expect_err("a broken dump must fail");
    match &err {
        RestoreError::Sql {
            entry,
            statement,
            table,
            ..
        } => {
            assert_eq!(entry, "dump.sql");
            assert_eq!(*statement, 24);
            assert_eq!(table, "broken_db.b");
        }
        other => panic!("expected an SQL error, got {other:?}"),
    }
    let chain = format!("{:#}", anyhow::Error::from(err));
    assert!(
        chain.contains("Column count doesn't match"),
        "server message missing: {chain}"
    );
    assert!(
        chain.contains("statement 24") && chain.contains("dump.sql"),
        "{chain}"
    );
    assert!(!chain.contains(MariaDb::PASSWORD));
    // No snapshot taken, and the previous one kept.
    day.assert_nothing_snapshotted().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_zip_fails_without_snapshot() {
    let mut sql = String::new();
    for i in 0..2000 {
        sql.push_str(&format!(
            "INSERT INTO t VALUES ({i}, '{}');\n",
            "z".repeat(i % 50)
        ));
    }
    let zip = zip_bytes(&[(
        "dump.sql",
        format!("CREATE TABLE t (id INT, v TEXT);\n{sql}").as_bytes(),
    )]);
    let half = zip[..zip.len() / 2].to_vec();
    let day = DumpDay::new("truncated", half).await;
    let cfg = day.task_config("truncated_db");
    let err = task::run(&cfg, &day.s3, &day.rds)
        .await
        .expect_err("a truncated zip must fail");
    assert!(matches!(err, RestoreError::Zip { .. }), "{err:?}");
    day.assert_nothing_snapshotted().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parent_dir_entry_is_rejected_before_loading() {
    let zip = zip_bytes(&[
        ("ok.sql", b"CREATE TABLE t (id INT);".as_slice()),
        ("../evil.sql", b"DROP DATABASE mysql;"),
    ]);
    let day = DumpDay::new("slip", zip).await;
    let cfg = day.task_config("slip_db");
    let err = task::run(&cfg, &day.s3, &day.rds)
        .await
        .expect_err("zip-slip must be rejected");
    match &err {
        RestoreError::UnsafeEntry { entry, .. } => assert_eq!(entry, "../evil.sql"),
        other => panic!("expected UnsafeEntry, got {other:?}"),
    }
    assert!(
        !db_exists("slip_db").await,
        "nothing may be loaded from a rejected zip"
    );
    day.assert_nothing_snapshotted().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absolute_entry_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("abs.zip");
    std::fs::write(&path, zip_bytes(&[("/tmp/x.sql", b"SELECT 1;".as_slice())])).unwrap();
    let err = task::load_zip(
        &LocalFile { path },
        &mysql("abs_db"),
        &LoadConfig::default(),
        &ZipLimits::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, RestoreError::UnsafeEntry { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decompression_bomb_is_stopped() {
    // 64 MiB of zeros deflate to about 64 KiB: a ratio near 1000.
    let zeros = vec![b' '; 64 << 20];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.zip");
    std::fs::write(&path, zip_bytes(&[("bomb.sql", zeros.as_slice())])).unwrap();
    let limits = ZipLimits {
        max_ratio: 100,
        ..ZipLimits::default()
    };
    let err = task::load_zip(
        &LocalFile { path: path.clone() },
        &mysql("bomb_db"),
        &LoadConfig::default(),
        &limits,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, RestoreError::Bomb { .. }), "{err:?}");
    assert!(err.to_string().contains("bomb.sql"), "{err}");
    let limits = ZipLimits {
        max_total_bytes: 1 << 20,
        ..ZipLimits::default()
    };
    let err = task::load_zip(
        &LocalFile { path },
        &mysql("bomb_db"),
        &LoadConfig::default(),
        &limits,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, RestoreError::Bomb { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_error_does_not_leak_it() {
    let mut cfg = mysql("pw_db");
    cfg.password = Password::new("not-the-Pa55word-xyzzy");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.zip");
    std::fs::write(&path, zip_bytes(&[("d.sql", b"SELECT 1;".as_slice())])).unwrap();
    let err = task::load_zip(
        &LocalFile { path },
        &cfg,
        &LoadConfig::default(),
        &ZipLimits::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, RestoreError::Connect { .. }), "{err:?}");
    let text = format!("{:#} {:?}", anyhow::Error::from(err), cfg);
    assert!(text.contains("Access denied"), "{text}");
    assert!(!text.contains("xyzzy"), "password leaked: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_error_on_a_worker_names_entry_statement_and_table() {
    let mut sql = String::from("CREATE TABLE w (id INT PRIMARY KEY);\n");
    for i in 0..50 {
        sql.push_str(&format!("INSERT INTO w VALUES ({i});\n"));
    }
    sql.push_str("INSERT INTO w VALUES (7);\n"); // duplicate key, statement 52
    for i in 50..80 {
        sql.push_str(&format!("INSERT INTO w VALUES ({i});\n"));
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dup.zip");
    std::fs::write(&path, zip_bytes(&[("z/dup.sql", sql.as_bytes())])).unwrap();
    let load = LoadConfig {
        workers: 2,
        ..LoadConfig::default()
    };
    let err = task::load_zip(
        &LocalFile { path },
        &mysql("dup_db"),
        &load,
        &ZipLimits::default(),
    )
    .await
    .unwrap_err();
    match &err {
        RestoreError::Sql {
            entry,
            statement,
            table,
            source,
            ..
        } => {
            assert_eq!(
                (entry.as_str(), *statement, table.as_str()),
                ("z/dup.sql", 52, "dup_db.w")
            );
            assert!(source.to_string().contains("Duplicate entry"), "{source}");
        }
        other => panic!("expected an SQL error, got {other:?}"),
    }
    // The database is left as it is (half loaded) but the task never reaches a snapshot.
    let mut conn = mariadb().conn().await;
    let n: Option<u64> = conn
        .query_first("SELECT COUNT(*) FROM dup_db.w")
        .await
        .unwrap();
    assert!(n.unwrap() < 80);
}
