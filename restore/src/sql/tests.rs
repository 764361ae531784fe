//! The splitter against the mysql client's rules.

use super::*;

fn split_chunks(input: &[u8], chunk: usize) -> Vec<String> {
    let mut s = Splitter::new();
    let mut out = Vec::new();
    for part in input.chunks(chunk.max(1)) {
        s.push(part);
        while let Some(st) = s.next_statement() {
            out.push(String::from_utf8(st.sql).unwrap());
        }
    }
    s.finish();
    while let Some(st) = s.next_statement() {
        out.push(String::from_utf8(st.sql).unwrap());
    }
    out
}

/// Splits with every chunk size from 1 to 17 and the whole input, and checks they agree.
fn split(input: &str) -> Vec<String> {
    let whole = split_chunks(input.as_bytes(), input.len());
    for chunk in 1..=17 {
        assert_eq!(
            split_chunks(input.as_bytes(), chunk),
            whole,
            "chunk size {chunk}"
        );
    }
    whole
}

#[test]
fn plain_statements() {
    assert_eq!(split("SELECT 1;\nSELECT 2;\n"), ["SELECT 1", "SELECT 2"]);
    // The last statement needs no delimiter.
    assert_eq!(split("SELECT 1;SELECT 2"), ["SELECT 1", "SELECT 2"]);
    // Empty statements are not sent.
    assert_eq!(split(";;\n ; SELECT 1;;"), ["SELECT 1"]);
}

#[test]
fn strings_with_delimiters_quotes_and_backslashes() {
    let sql =
        r#"INSERT INTO t VALUES ('a;b','it''s','back\\slash\';x',"dq;\"",`we;ird`);SELECT 2;"#;
    assert_eq!(
        split(sql),
        [
            r#"INSERT INTO t VALUES ('a;b','it''s','back\\slash\';x',"dq;\"",`we;ird`)"#,
            "SELECT 2"
        ]
    );
    // Comment markers inside strings are data.
    assert_eq!(
        split("INSERT INTO t VALUES ('-- x','#y','/* z */');"),
        ["INSERT INTO t VALUES ('-- x','#y','/* z */')"]
    );
}

#[test]
fn comments_are_stripped() {
    let sql = "-- header\n# hash\n/* block; with ; */SELECT 1; -- trailing\nSELECT 2 /* mid */ + 1;\n--\n-- end\n";
    assert_eq!(split(sql), ["SELECT 1", "SELECT 2   + 1"]);
    // `--` without a following space is an operator, not a comment.
    assert_eq!(split("SELECT 1--1;"), ["SELECT 1--1"]);
    // A dump ending with only comments yields nothing more.
    assert_eq!(split("SELECT 1;\n-- Dump completed\n"), ["SELECT 1"]);
}

#[test]
fn conditional_comments_are_kept() {
    let sql = "/*!40101 SET NAMES utf8mb4 */;\n/*M!100616 SET NOTE_VERBOSITY=0 */;\nSELECT /*+ MAX_EXECUTION_TIME(1) */ 1;";
    assert_eq!(
        split(sql),
        [
            "/*!40101 SET NAMES utf8mb4 */",
            "/*M!100616 SET NOTE_VERBOSITY=0 */",
            "SELECT /*+ MAX_EXECUTION_TIME(1) */ 1"
        ]
    );
    // The delimiter is recognised inside a conditional comment, as the client does.
    assert_eq!(split("/*!50003 SET @a=1; */"), ["/*!50003 SET @a=1"]);
}

#[test]
fn delimiter_command() {
    let sql = "DELIMITER ;;\nCREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN SET NEW.a = 1; SET NEW.b = ';;'; END ;;\ndelimiter ;\nSELECT 1;\nDELIMITER $$\nCREATE FUNCTION f() RETURNS INT BEGIN RETURN 1; END$$\nDELIMITER ;\n";
    assert_eq!(
        split(sql),
        [
            "CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN SET NEW.a = 1; SET NEW.b = ';;'; END",
            "SELECT 1",
            "CREATE FUNCTION f() RETURNS INT BEGIN RETURN 1; END",
        ]
    );
    // `delimiter` inside a statement is not a command.
    assert_eq!(split("SELECT\ndelimiter ;"), ["SELECT\ndelimiter"]);
}

#[test]
fn mariadb_dump_sandbox_line() {
    let sql = "/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19\n/*!40101 SET NAMES utf8mb4 */;\n";
    assert_eq!(split(sql), ["/*!40101 SET NAMES utf8mb4 */"]);
}

#[test]
fn binary_and_utf8_bytes_pass_through() {
    let mut sql = b"INSERT INTO b VALUES ('".to_vec();
    sql.extend_from_slice(&[0xff, 0x00, b'\\', b'\'', 0x80, b';', 0xc3, 0xa9]);
    sql.extend_from_slice("','ünï😀');SELECT 1;".as_bytes());
    let mut s = Splitter::new();
    s.push(&sql);
    s.finish();
    let first = s.next_statement().unwrap();
    assert_eq!(first.number, 1);
    assert_eq!(first.sql, sql[..sql.len() - ";SELECT 1;".len()]);
    assert_eq!(s.next_statement().unwrap().sql, b"SELECT 1");
    assert_eq!(s.next_statement(), None);
}

#[test]
fn unterminated_statement_is_released_at_end() {
    assert_eq!(
        split("SELECT 1; INSERT INTO t VALUES ('abc"),
        ["SELECT 1", "INSERT INTO t VALUES ('abc"]
    );
}
