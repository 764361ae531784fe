//! A generated dump full of awkward values round-trips exactly: quotes, backslashes,
//! comment markers and delimiters inside strings, NULLs, UTF-8, binary blobs, multi-MB
//! extended INSERTs, DELIMITER blocks with a trigger and a procedure, several entries.

use liberator_restore::config::{MysqlConfig, Password};
use liberator_restore::load::LoadConfig;
use liberator_restore::task;
use liberator_restore::zip::{LocalFile, ZipLimits};
use liberator_tests::mariadb::{MariaDb, mariadb, zip_bytes};
use mysql_async::prelude::Queryable;
use rand::{Rng, SeedableRng};

type Row = (i64, Option<String>, Option<String>, Option<Vec<u8>>);

/// mysqldump's string escaping.
fn escape(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 2);
    out.push(b'\'');
    for &c in bytes {
        match c {
            0 => out.extend_from_slice(b"\\0"),
            b'\'' => out.extend_from_slice(b"\\'"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0x1a => out.extend_from_slice(b"\\Z"),
            c => out.push(c),
        }
    }
    out.push(b'\'');
    out
}

fn awkward_rows() -> Vec<Row> {
    let nasty = [
        "it's",
        "say \"hi\"",
        "back\\slash",
        "trailing\\",
        "semi;colon",
        "-- not a comment",
        "# nor this",
        "/* nor */ this",
        "*/",
        "DELIMITER ;;",
        "new\nline\r\ttab",
        "nul\0byte",
        "ctrl-z \u{1a}",
        "ünïcödé ✓ 😀 中文",
        "`tick`",
        "''",
        "\\'",
        "",
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut rows = Vec::new();
    for id in 1..=3000i64 {
        let s = match id % 7 {
            0 => None,
            _ => Some(format!(
                "{}{}",
                nasty[id as usize % nasty.len()],
                nasty[(id as usize / 3) % nasty.len()]
            )),
        };
        // Every tenth row carries a long text so a statement holds several MB.
        let t = match id % 5 {
            0 => None,
            _ if id % 10 == 1 => Some(
                nasty
                    .iter()
                    .cycle()
                    .take(2500)
                    .copied()
                    .collect::<Vec<_>>()
                    .join("|"),
            ),
            _ => Some(nasty[id as usize % nasty.len()].repeat(3)),
        };
        let b = match id % 6 {
            0 => None,
            1 => Some((0..=255u8).collect()),
            _ => Some(
                (0..rng.random_range(0..600))
                    .map(|_| rng.random::<u8>())
                    .collect(),
            ),
        };
        rows.push((id, s, t, b));
    }
    rows
}

fn value(v: Option<&[u8]>, hex: bool, binary: bool) -> Vec<u8> {
    match v {
        None => b"NULL".to_vec(),
        Some(b) if hex && !b.is_empty() => {
            let mut out = b"0x".to_vec();
            for c in b {
                out.extend_from_slice(format!("{c:02X}").as_bytes());
            }
            out
        }
        Some(b) if binary => [b"_binary ".as_slice(), &escape(b)].concat(),
        Some(b) => escape(b),
    }
}

fn dump(rows: &[Row]) -> (Vec<u8>, Vec<u8>) {
    let schema = "/*M!999999\\- enable the sandbox mode */ \n\
-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB\n\
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n\
/*!40101 SET NAMES utf8mb4 */;\n\
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;\n\
/*!40103 SET TIME_ZONE='+00:00' */;\n\
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;\n\
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;\n\
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;\n\
DROP TABLE IF EXISTS `awkward`;\n\
/*!40101 SET @saved_cs_client     = @@character_set_client */;\n\
/*!40101 SET character_set_client = utf8mb4 */;\n\
CREATE TABLE `awkward` (\n  `id` int(11) NOT NULL,\n  `s` varchar(255) DEFAULT NULL COMMENT 'semi;colon ''quoted''',\n  `t` longtext DEFAULT NULL,\n  `b` longblob DEFAULT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;\n\
/*!40101 SET character_set_client = @saved_cs_client */;\n\
CREATE TABLE `nums` (`id` int NOT NULL, `parent` int DEFAULT NULL, `ts` timestamp NOT NULL DEFAULT '2000-01-01 00:00:00', PRIMARY KEY (`id`), KEY `p` (`parent`),\n  CONSTRAINT `fk_parent` FOREIGN KEY (`parent`) REFERENCES `parents` (`id`)) ENGINE=InnoDB;\n\
CREATE TABLE `parents` (`id` int NOT NULL PRIMARY KEY) ENGINE=InnoDB;\n\
CREATE TABLE `texts` (`id` int NOT NULL, `s` varchar(255), `t` longtext, PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;\n\
CREATE TABLE `indexed` (\n  `id` int NOT NULL,\n  `ref` varchar(12) NOT NULL,\n  `n` int DEFAULT NULL,\n  PRIMARY KEY (`id`),\n  UNIQUE KEY `ref` (`ref`),\n  KEY `n_id` (`n`,`id`)\n) ENGINE=InnoDB;\n\
CREATE TABLE `audit_src` (`id` int NOT NULL PRIMARY KEY, `v` varchar(20)) ENGINE=InnoDB;\n\
CREATE TABLE `audit` (`n` int NOT NULL AUTO_INCREMENT PRIMARY KEY, `src` int, `note` varchar(40)) ENGINE=InnoDB;\n\
/*!50003 SET @saved_sql_mode       = @@sql_mode */ ;\n\
DELIMITER ;;\n\
/*!50003 CREATE*/ /*!50017 DEFINER=CURRENT_USER*/ /*!50003 TRIGGER `audit_ins` AFTER INSERT ON `audit_src` FOR EACH ROW BEGIN\n\
  -- a comment inside the body; with a semicolon\n\
  INSERT INTO audit (src, note) VALUES (NEW.id, CONCAT('ins;', NEW.v));\n\
END */;;\n\
DELIMITER ;\n\
/*!50003 SET sql_mode              = @saved_sql_mode */ ;\n\
DELIMITER $$\n\
CREATE PROCEDURE `count_awkward`(OUT n INT)\nBEGIN\n  SELECT COUNT(*) INTO n FROM awkward; -- ends with ;\nEND $$\n\
DELIMITER ;\n\
CREATE VIEW `v_awkward` AS SELECT id, s FROM awkward WHERE s LIKE '%;%';\n";

    let mut data: Vec<u8> = b"/*!40101 SET NAMES utf8mb4 */;\n/*!40014 SET FOREIGN_KEY_CHECKS=0 */;\nLOCK TABLES `awkward` WRITE;\n/*!40000 ALTER TABLE `awkward` DISABLE KEYS */;\n".to_vec();
    // Extended INSERTs of about 4 MB, as mysqldump's net_buffer_length would cut them bigger.
    let mut stmt: Vec<u8> = Vec::new();
    for (i, (id, s, t, b)) in rows.iter().enumerate() {
        if stmt.is_empty() {
            stmt.extend_from_slice(b"INSERT INTO `awkward` VALUES ");
        } else {
            stmt.push(b',');
        }
        stmt.extend_from_slice(format!("({id},").as_bytes());
        stmt.extend(value(s.as_deref().map(str::as_bytes), false, false));
        stmt.push(b',');
        stmt.extend(value(t.as_deref().map(str::as_bytes), false, false));
        stmt.push(b',');
        stmt.extend(value(b.as_deref(), i % 2 == 0, true));
        stmt.push(b')');
        if stmt.len() > 4 << 20 || i + 1 == rows.len() {
            data.extend_from_slice(&stmt);
            data.extend_from_slice(b";\n");
            stmt.clear();
        }
    }
    data.extend_from_slice(b"/*!40000 ALTER TABLE `awkward` ENABLE KEYS */;\nUNLOCK TABLES;\n");
    // The same texts without the blobs: valid UTF-8 literals only (the LOAD DATA path).
    for chunk in rows.chunks(700) {
        let mut stmt = b"INSERT INTO `texts` (`id`, `s`, `t`) VALUES ".to_vec();
        for (i, (id, s, t, _)) in chunk.iter().enumerate() {
            if i > 0 {
                stmt.extend_from_slice(b",\n");
            }
            stmt.extend_from_slice(format!("({id}, ").as_bytes());
            stmt.extend(value(s.as_deref().map(str::as_bytes), false, false));
            stmt.extend_from_slice(b", ");
            stmt.extend(value(t.as_deref().map(str::as_bytes), false, false));
            stmt.push(b')');
        }
        data.extend_from_slice(&stmt);
        data.extend_from_slice(b";\n");
    }
    // Children before parents, as a dump's alphabetical order does: needs FK checks off.
    for chunk in 0..40 {
        let mut s = b"INSERT INTO `nums` VALUES ".to_vec();
        let vals: Vec<String> = (0..5000)
            .map(|i| chunk * 5000 + i)
            .map(|id| format!("({id},{},'2024-06-04 10:15:00')", id % 100))
            .collect();
        s.extend_from_slice(vals.join(",").as_bytes());
        s.extend_from_slice(b";\n");
        data.extend_from_slice(&s);
    }
    data.extend_from_slice(
        b"LOCK TABLES `indexed` WRITE;\n/*!40000 ALTER TABLE `indexed` DISABLE KEYS */;\n",
    );
    for chunk in 0..10 {
        let vals: Vec<String> = (0..2000)
            .map(|i| chunk * 2000 + i)
            .map(|id| format!("({id},'R{:08}',{})", (id * 7919) % 1_000_003, id % 37))
            .collect();
        data.extend_from_slice(
            format!("INSERT INTO `indexed` VALUES {};\n", vals.join(",")).as_bytes(),
        );
    }
    data.extend_from_slice(b"/*!40000 ALTER TABLE `indexed` ENABLE KEYS */;\nUNLOCK TABLES;\n");
    data.extend_from_slice(b"INSERT INTO `parents` VALUES ");
    data.extend_from_slice(
        (0..100)
            .map(|i| format!("({i})"))
            .collect::<Vec<_>>()
            .join(",")
            .as_bytes(),
    );
    data.extend_from_slice(b";\n");
    for i in 0..10 {
        data.extend_from_slice(
            format!(
                "INSERT INTO `audit_src` VALUES ({i},'v{i};'),({},'w');\n",
                i + 100
            )
            .as_bytes(),
        );
    }
    data.extend_from_slice(b"/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n-- Dump completed on 2024-06-04\n");
    (schema.as_bytes().to_vec(), data)
}

fn mysql(server: &MariaDb, db: &str) -> MysqlConfig {
    MysqlConfig {
        port: server.port,
        user: server.user.clone(),
        password: Password::new(MariaDb::PASSWORD),
        db_name: db.into(),
        ..Default::default()
    }
}

async fn check(db: &str, rows: &[Row]) {
    let mut conn = mariadb().conn().await;
    let got: Vec<Row> = conn
        .query(format!(
            "SELECT id, s, t, b FROM `{db}`.awkward ORDER BY id"
        ))
        .await
        .unwrap();
    assert_eq!(got.len(), rows.len());
    for (g, r) in got.iter().zip(rows) {
        assert_eq!(g, r, "row {} differs", r.0);
    }
    let texts: Vec<(i64, Option<String>, Option<String>)> = conn
        .query(format!("SELECT id, s, t FROM `{db}`.texts ORDER BY id"))
        .await
        .unwrap();
    assert_eq!(texts.len(), rows.len());
    for (g, r) in texts.iter().zip(rows) {
        assert_eq!(
            (g.0, &g.1, &g.2),
            (r.0, &r.1, &r.2),
            "texts row {} differs",
            r.0
        );
    }
    let (n, sum): (u64, u64) = conn
        .query_first(format!("SELECT COUNT(*), SUM(id) FROM `{db}`.nums"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((n, sum), (200_000, (0..200_000u64).sum()));
    let ts: Option<String> = conn
        .query_first(format!(
            "SELECT DATE_FORMAT(MIN(ts), '%Y-%m-%d %H:%i:%s') FROM `{db}`.nums"
        ))
        .await
        .unwrap();
    assert_eq!(ts.as_deref(), Some("2024-06-04 10:15:00"));
    // The trigger fired once per audit_src row, with the dump's values.
    let (n, notes): (u64, String) = conn
        .query_first(format!(
            "SELECT COUNT(*), GROUP_CONCAT(note ORDER BY src) FROM `{db}`.audit"
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 20);
    assert!(notes.starts_with("ins;v0;,ins;v1;"), "{notes}");
    // Secondary indexes exist as declared, whether built with the table or after its rows.
    let idx: Vec<(String, u64, u64, String)> = conn
        .exec("SELECT index_name, non_unique, seq_in_index, column_name FROM information_schema.statistics WHERE table_schema = ? AND table_name = 'indexed' ORDER BY index_name, seq_in_index", (db,))
        .await
        .unwrap();
    let idx: Vec<(&str, u64, u64, &str)> = idx
        .iter()
        .map(|(a, b, c, d)| (a.as_str(), *b, *c, d.as_str()))
        .collect();
    assert_eq!(
        idx,
        [
            ("n_id", 1, 1, "n"),
            ("n_id", 1, 2, "id"),
            ("PRIMARY", 0, 1, "id"),
            ("ref", 0, 1, "ref")
        ]
    );
    let n: Option<u64> = conn
        .query_first(format!("SELECT COUNT(DISTINCT ref) FROM `{db}`.indexed"))
        .await
        .unwrap();
    assert_eq!(n, Some(20_000));
    conn.query_drop(format!("USE `{db}`")).await.unwrap();
    conn.query_drop("CALL count_awkward(@n)").await.unwrap();
    let n: Option<u64> = conn.query_first("SELECT @n").await.unwrap();
    assert_eq!(n, Some(rows.len() as u64));
    let v: Option<u64> = conn
        .query_first("SELECT COUNT(*) FROM v_awkward")
        .await
        .unwrap();
    assert!(v.unwrap() > 0);
    let comment: Option<String> = conn
        .exec_first("SELECT column_comment FROM information_schema.columns WHERE table_schema = ? AND table_name = 'awkward' AND column_name = 's'", (db,))
        .await
        .unwrap();
    assert_eq!(comment.as_deref(), Some("semi;colon 'quoted'"));
}

async fn roundtrip(db: &str, workers: usize) {
    let rows = awkward_rows();
    let (schema, data) = dump(&rows);
    assert!(
        data.len() > 8 << 20,
        "the dump should have multi-MB statements"
    );
    let zip = zip_bytes(&[
        ("notes.txt", b"not sql"),
        ("02-data.sql", &data),
        ("01-schema.sql", schema.as_slice()),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dump.zip");
    std::fs::write(&path, zip).unwrap();
    let load = LoadConfig {
        workers,
        ..LoadConfig::default()
    };
    let report = task::load_zip(
        &LocalFile { path },
        &mysql(mariadb(), db),
        &load,
        &ZipLimits::default(),
    )
    .await
    .expect("load");
    assert_eq!(report.rows[&format!("{db}.awkward")], rows.len() as u64);
    assert_eq!(report.rows[&format!("{db}.nums")], 200_000);
    check(db, &rows).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awkward_values_round_trip_over_parallel_connections() {
    roundtrip("rt_parallel", 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awkward_values_round_trip_with_inserts_only() {
    let rows = awkward_rows();
    let (schema, data) = dump(&rows);
    let zip = zip_bytes(&[("a.sql", schema.as_slice()), ("b.sql", &data)]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dump.zip");
    std::fs::write(&path, zip).unwrap();
    let load = LoadConfig {
        workers: 2,
        load_data: false,
        defer_indexes: false,
        ..LoadConfig::default()
    };
    task::load_zip(
        &LocalFile { path },
        &mysql(mariadb(), "rt_insert"),
        &load,
        &ZipLimits::default(),
    )
    .await
    .expect("load");
    check("rt_insert", &rows).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awkward_values_round_trip_on_one_connection() {
    roundtrip("rt_serial", 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_transactions_round_trip() {
    let rows = awkward_rows();
    let (schema, data) = dump(&rows);
    let zip = zip_bytes(&[("a.sql", schema.as_slice()), ("b.sql", &data)]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dump.zip");
    std::fs::write(&path, zip).unwrap();
    let load = LoadConfig {
        workers: 2,
        statements_per_commit: 8,
        ..LoadConfig::default()
    };
    task::load_zip(
        &LocalFile { path },
        &mysql(mariadb(), "rt_txn"),
        &load,
        &ZipLimits::default(),
    )
    .await
    .expect("load");
    check("rt_txn", &rows).await;
}
