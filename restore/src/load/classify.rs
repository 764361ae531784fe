//! A statement's role in a parallel load, decided from its first tokens (see the
//! [module docs](super) for what each role means for ordering).

use crate::sql::{Token, head_tokens};

/// A statement's role, decided from its first tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `INSERT INTO t … VALUES` (`plain` = not IGNORE/REPLACE/ON DUPLICATE).
    Insert {
        db: Option<String>,
        table: String,
        plain: bool,
    },
    /// A session `SET` to replay on workers (`replay` = false for checks/autocommit).
    Set { replay: bool },
    /// `SET autocommit=…`, `LOCK/UNLOCK TABLES`, `ALTER TABLE … DISABLE KEYS`.
    Dropped,
    /// `ALTER TABLE t ENABLE KEYS`: mysqldump's mark that `t`'s rows are all out.
    EnableKeys { db: Option<String>, table: String },
    /// `USE db`.
    Use(String),
    /// DDL about one table; waits for that table's inserts.
    Table {
        db: Option<String>,
        table: String,
        trigger: bool,
        create: bool,
    },
    /// Needs no barrier: defines views or routines, or ends a transaction.
    NoData,
    /// Anything else: waits for every insert handed out.
    Other,
}

fn table_name(t: &[Token], i: usize) -> Option<(Option<String>, String, usize)> {
    let first = t.get(i)?.ident()?.to_string();
    if t.get(i + 1) == Some(&Token::Punct(b'.')) {
        let second = t.get(i + 2)?.ident()?.to_string();
        return Some((Some(first), second, i + 3));
    }
    Some((None, first, i + 1))
}

pub(crate) fn classify(sql: &[u8], parallel: bool) -> Kind {
    let t = head_tokens(sql, 40);
    let Some(first) = t.first() else {
        return Kind::Other;
    };
    let is = |i: usize, kw: &str| t.get(i).is_some_and(|x| x.is(kw));
    if first.is("INSERT") || first.is("REPLACE") {
        let mut i = 1;
        let mut plain = first.is("INSERT");
        while t.get(i).is_some_and(|x| {
            ["LOW_PRIORITY", "DELAYED", "HIGH_PRIORITY", "IGNORE"]
                .iter()
                .any(|k| x.is(k))
        }) {
            plain &= !is(i, "IGNORE");
            i += 1;
        }
        if is(i, "INTO") {
            i += 1;
        }
        let Some((db, table, mut i)) = table_name(&t, i) else {
            return Kind::Other;
        };
        // Optional column list, then VALUES.
        if t.get(i) == Some(&Token::Punct(b'(')) {
            while i < t.len() && t[i] != Token::Punct(b')') {
                i += 1;
            }
            i += 1;
        }
        if i < t.len() && !(is(i, "VALUES") || is(i, "VALUE")) {
            return Kind::Other;
        }
        // `ON DUPLICATE KEY UPDATE` sits at the end; look there.
        let tail = &sql[sql.len().saturating_sub(4096)..];
        if memchr::memmem::find(&tail.to_ascii_uppercase(), b"ON DUPLICATE KEY UPDATE").is_some() {
            plain = false;
        }
        return Kind::Insert { db, table, plain };
    }
    if first.is("SET") {
        if t.iter().any(|x| x.is("SELECT")) || is(1, "GLOBAL") || is(1, "TRANSACTION") {
            return Kind::Other;
        }
        let mentions = |kw: &str| {
            t.iter().any(|x| {
                x.is(kw) || matches!(x, Token::Word(w) if w.to_ascii_lowercase().ends_with(kw))
            })
        };
        if parallel && is(1, "AUTOCOMMIT") && !t.contains(&Token::Punct(b',')) {
            return Kind::Dropped;
        }
        let replay = !(mentions("foreign_key_checks")
            || mentions("unique_checks")
            || mentions("autocommit"));
        return Kind::Set { replay };
    }
    if first.is("USE") {
        return match t.get(1).and_then(Token::ident) {
            Some(db) => Kind::Use(db.to_string()),
            None => Kind::Other,
        };
    }
    if parallel && (first.is("LOCK") || first.is("UNLOCK")) && (is(1, "TABLES") || is(1, "TABLE")) {
        return Kind::Dropped;
    }
    if parallel && (first.is("BEGIN") || (first.is("START") && is(1, "TRANSACTION"))) {
        return Kind::Dropped;
    }
    if first.is("COMMIT") || first.is("ROLLBACK") || first.is("BEGIN") || first.is("START") {
        return Kind::NoData;
    }
    if first.is("ALTER") && is(1, "TABLE") {
        if let Some((db, table, i)) = table_name(&t, 2) {
            if parallel && is(i, "DISABLE") && is(i + 1, "KEYS") && t.len() == i + 2 {
                return Kind::Dropped;
            }
            if parallel && is(i, "ENABLE") && is(i + 1, "KEYS") && t.len() == i + 2 {
                return Kind::EnableKeys { db, table };
            }
            return Kind::Table {
                db,
                table,
                trigger: false,
                create: false,
            };
        }
        return Kind::Other;
    }
    if first.is("DROP") {
        let mut i = 1;
        if is(i, "TEMPORARY") {
            i += 1;
        }
        if is(i, "VIEW")
            || is(i, "PROCEDURE")
            || is(i, "FUNCTION")
            || is(i, "TRIGGER")
            || is(i, "EVENT")
        {
            return Kind::NoData;
        }
        if is(i, "TABLE") {
            i += 1;
            if is(i, "IF") && is(i + 1, "EXISTS") {
                i += 2;
            }
            if let Some((db, table, j)) = table_name(&t, i)
                && j >= t.len()
            {
                return Kind::Table {
                    db,
                    table,
                    trigger: false,
                    create: false,
                };
            }
        }
        return Kind::Other;
    }
    if first.is("CREATE") {
        // Skip the modifiers: OR REPLACE, ALGORITHM=…, DEFINER=…, SQL SECURITY …, TEMPORARY, …
        let what = t.iter().position(|x| {
            [
                "TABLE",
                "TRIGGER",
                "VIEW",
                "PROCEDURE",
                "FUNCTION",
                "EVENT",
                "DATABASE",
                "SCHEMA",
                "INDEX",
            ]
            .iter()
            .any(|k| x.is(k))
        });
        let Some(w) = what else { return Kind::Other };
        let kw = &t[w];
        if kw.is("VIEW") || kw.is("PROCEDURE") || kw.is("FUNCTION") || kw.is("EVENT") {
            return Kind::NoData;
        }
        if kw.is("TABLE") {
            let mut i = w + 1;
            if is(i, "IF") && is(i + 1, "NOT") && is(i + 2, "EXISTS") {
                i += 3;
            }
            let all = head_tokens(sql, usize::MAX);
            if all.iter().any(|x| x.is("SELECT")) {
                return Kind::Other;
            }
            if let Some((db, table, _)) = table_name(&t, i) {
                return Kind::Table {
                    db,
                    table,
                    trigger: false,
                    create: true,
                };
            }
        }
        if kw.is("TRIGGER")
            && let Some(on) = t.iter().skip(w).position(|x| x.is("ON"))
            && let Some((db, table, _)) = table_name(&t, w + on + 1)
        {
            return Kind::Table {
                db,
                table,
                trigger: true,
                create: false,
            };
        }
        return Kind::Other;
    }
    Kind::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(sql: &str) -> Kind {
        classify(sql.as_bytes(), true)
    }

    #[test]
    fn classifies_dump_statements() {
        assert_eq!(
            k("INSERT INTO `actor` VALUES (1,'a')"),
            Kind::Insert {
                db: None,
                table: "actor".into(),
                plain: true
            }
        );
        assert_eq!(
            k("INSERT INTO s.t (a,b) VALUES (1,2)"),
            Kind::Insert {
                db: Some("s".into()),
                table: "t".into(),
                plain: true
            }
        );
        assert_eq!(
            k("INSERT IGNORE INTO t VALUES (1)"),
            Kind::Insert {
                db: None,
                table: "t".into(),
                plain: false
            }
        );
        assert_eq!(
            k("REPLACE INTO t VALUES (1)"),
            Kind::Insert {
                db: None,
                table: "t".into(),
                plain: false
            }
        );
        assert_eq!(
            k("INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a=1"),
            Kind::Insert {
                db: None,
                table: "t".into(),
                plain: false
            }
        );
        assert_eq!(k("INSERT INTO t SELECT * FROM u"), Kind::Other);
        assert_eq!(
            k("/*!40101 SET NAMES utf8mb4 */"),
            Kind::Set { replay: true }
        );
        assert_eq!(
            k("/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */"),
            Kind::Set { replay: false }
        );
        assert_eq!(k("SET AUTOCOMMIT=0"), Kind::Dropped);
        assert_eq!(k("LOCK TABLES `t` WRITE"), Kind::Dropped);
        assert_eq!(k("/*!40000 ALTER TABLE `t` DISABLE KEYS */"), Kind::Dropped);
        assert_eq!(
            k("/*!40000 ALTER TABLE `t` ENABLE KEYS */"),
            Kind::EnableKeys {
                db: None,
                table: "t".into()
            }
        );
        assert_eq!(
            k("ALTER TABLE t ADD KEY (a)"),
            Kind::Table {
                db: None,
                table: "t".into(),
                trigger: false,
                create: false
            }
        );
        assert_eq!(k("USE `sakila`"), Kind::Use("sakila".into()));
        assert_eq!(
            k("DROP TABLE IF EXISTS `t`"),
            Kind::Table {
                db: None,
                table: "t".into(),
                trigger: false,
                create: false
            }
        );
        assert_eq!(
            k("CREATE TABLE t (a int, b varchar(3) COMMENT 'select')"),
            Kind::Table {
                db: None,
                table: "t".into(),
                trigger: false,
                create: true
            }
        );
        assert_eq!(k("CREATE TABLE t AS SELECT 1"), Kind::Other);
        assert_eq!(
            k(
                "/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER `ins` AFTER INSERT ON `film` FOR EACH ROW BEGIN END */"
            ),
            Kind::Table {
                db: None,
                table: "film".into(),
                trigger: true,
                create: false
            }
        );
        assert_eq!(
            k(
                "CREATE TRIGGER customer_create_date BEFORE INSERT ON customer FOR EACH ROW SET NEW.create_date = NOW()"
            ),
            Kind::Table {
                db: None,
                table: "customer".into(),
                trigger: true,
                create: false
            }
        );
        assert_eq!(
            k(
                "/*!50001 CREATE ALGORITHM=UNDEFINED */ /*!50013 DEFINER=`root`@`localhost` SQL SECURITY DEFINER */ /*!50001 VIEW `v` AS select 1 */"
            ),
            Kind::NoData
        );
        assert_eq!(
            k("CREATE DEFINER=CURRENT_USER SQL SECURITY INVOKER VIEW actor_info AS SELECT 1"),
            Kind::NoData
        );
        assert_eq!(k("CREATE PROCEDURE p() BEGIN SELECT 1; END"), Kind::NoData);
        assert_eq!(k("CREATE SCHEMA sakila"), Kind::Other);
        assert_eq!(k("UPDATE t SET a = 1"), Kind::Other);
        assert_eq!(k("COMMIT"), Kind::NoData);
        // Without workers, nothing is dropped: the mysql client's exact behaviour.
        assert_eq!(
            classify(b"SET AUTOCOMMIT=0", false),
            Kind::Set { replay: false }
        );
        assert_eq!(classify(b"LOCK TABLES t WRITE", false), Kind::Other);
    }
}
