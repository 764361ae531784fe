//! Splitting a dump into statements the way the `mysql`/`mariadb` command-line client does.
//!
//! A dump is not a list of `;`-terminated statements: the client understands `DELIMITER`
//! (so trigger and routine bodies can contain `;`), strips `--`, `#` and `/* */` comments but
//! keeps `/*! … */` / `/*M! … */` conditional comments and `/*+ … */` hints for the server,
//! tracks quotes (with backslash escapes) so a `;` inside a string is data, and treats
//! mariadb-dump's `/*M!999999\- enable the sandbox mode */` first line as a client command.
//! [`Splitter`] reproduces that incrementally, over chunks of any size, so a multi-GB entry
//! never has to be held in memory; only the statement being built is.

/// One statement ready to send, without its delimiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// 1-based position of the statement in its entry (for error messages).
    pub number: u64,
    /// Statement text as bytes: dumps may carry binary strings that are not UTF-8.
    pub sql: Vec<u8>,
}

impl Statement {
    /// The statement's first `max` bytes, lossily decoded, for logs and errors.
    pub fn head(&self, max: usize) -> String {
        let end = self.sql.len().min(max);
        let mut s = String::from_utf8_lossy(&self.sql[..end]).replace(['\n', '\r', '\t'], " ");
        if end < self.sql.len() {
            s.push('…');
        }
        s
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Normal,
    Quote(u8),
    LineComment,
    BlockComment,
}

/// Incremental statement splitter with the mysql client's rules.
///
/// Feed bytes with [`push`](Self::push), take statements with [`next_statement`](Self::next_statement)
/// until it returns `None`, and call [`finish`](Self::finish) at the end of the input so the
/// last statement (one without a trailing delimiter) is released.
#[derive(Debug)]
pub struct Splitter {
    delimiter: Vec<u8>,
    /// Unconsumed input; `pos` is where scanning resumes.
    input: Vec<u8>,
    pos: usize,
    /// Start of the input span not yet copied into `stmt` (comments are skipped by not copying).
    copy_from: usize,
    stmt: Vec<u8>,
    state: State,
    /// Inside `/*! … */`: content is kept, `*/` ends it.
    in_conditional: bool,
    /// Whether the statement being built has anything but whitespace and comments.
    has_content: bool,
    eof: bool,
    count: u64,
}

impl Default for Splitter {
    fn default() -> Self {
        Self::new()
    }
}

impl Splitter {
    /// A splitter with the client's default delimiter `;`.
    pub fn new() -> Self {
        Splitter {
            delimiter: b";".to_vec(),
            input: Vec::new(),
            pos: 0,
            copy_from: 0,
            stmt: Vec::new(),
            state: State::Normal,
            in_conditional: false,
            has_content: false,
            eof: false,
            count: 0,
        }
    }

    /// The current delimiter (changed by `DELIMITER` lines).
    pub fn delimiter(&self) -> &[u8] {
        &self.delimiter
    }

    /// Appends input bytes.
    pub fn push(&mut self, data: &[u8]) {
        // Drop what has been consumed so the buffer stays about one chunk long.
        if self.copy_from > 0 {
            self.input.drain(..self.copy_from);
            self.pos -= self.copy_from;
            self.copy_from = 0;
        }
        self.input.extend_from_slice(data);
    }

    /// Marks the end of the input: the rest becomes the last statement.
    pub fn finish(&mut self) {
        self.eof = true;
    }

    fn flush_copy(&mut self, upto: usize) {
        if upto > self.copy_from {
            self.stmt
                .extend_from_slice(&self.input[self.copy_from..upto]);
        }
        self.copy_from = upto;
    }

    fn take_statement(&mut self) -> Option<Statement> {
        let has = self.has_content;
        self.has_content = false;
        let raw = std::mem::take(&mut self.stmt);
        if !has {
            return None;
        }
        let start = raw
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(raw.len());
        let end = raw
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map_or(start, |e| e + 1);
        if start >= end {
            return None;
        }
        let sql = if start == 0 && end == raw.len() {
            raw
        } else {
            raw[start..end].to_vec()
        };
        self.count += 1;
        Some(Statement {
            number: self.count,
            sql,
        })
    }

    /// The line starting at `at`, if it is complete (or the input has ended).
    fn line_at(&self, at: usize) -> Option<&[u8]> {
        match memchr::memchr(b'\n', &self.input[at..]) {
            Some(n) => Some(&self.input[at..at + n]),
            None if self.eof => Some(&self.input[at..]),
            None => None,
        }
    }

    /// Returns the next complete statement, or `None` when more input is needed
    /// (or, after [`finish`](Self::finish), when the input is exhausted).
    pub fn next_statement(&mut self) -> Option<Statement> {
        loop {
            let n = self.input.len();
            if self.pos >= n {
                if matches!(self.state, State::LineComment | State::BlockComment) {
                    self.copy_from = n;
                } else {
                    self.flush_copy(n);
                }
                if self.eof {
                    // Whatever is left (even an unterminated string) goes to the server,
                    // as the client does; the server's error then names the problem.
                    self.state = State::Normal;
                    self.in_conditional = false;
                    return self.take_statement();
                }
                return None;
            }
            match self.state {
                State::Quote(q) => {
                    // Fast path through string data: find the closing quote or a backslash.
                    let rest = &self.input[self.pos..];
                    match memchr::memchr2(q, b'\\', rest) {
                        None => self.pos = n,
                        Some(i) => {
                            let at = self.pos + i;
                            if self.input[at] == b'\\' && q != b'`' {
                                if at + 1 >= n && !self.eof {
                                    self.pos = at;
                                    self.flush_copy(at);
                                    return None;
                                }
                                self.pos = at + 2;
                            } else if self.input[at] == b'\\' {
                                self.pos = at + 1;
                            } else {
                                // A doubled quote is an escaped quote: closing and reopening
                                // the string has the same effect on splitting.
                                self.pos = at + 1;
                                self.state = State::Normal;
                            }
                        }
                    }
                }
                State::LineComment => match memchr::memchr(b'\n', &self.input[self.pos..]) {
                    None => {
                        self.pos = n;
                        self.copy_from = n;
                    }
                    Some(i) => {
                        // Keep the newline itself.
                        self.pos += i;
                        self.copy_from = self.pos;
                        self.state = State::Normal;
                    }
                },
                State::BlockComment => match memchr::memmem::find(&self.input[self.pos..], b"*/") {
                    None if self.eof => {
                        self.pos = n;
                        self.copy_from = n;
                    }
                    None => {
                        // Keep a possible '*' at the end for the next chunk.
                        self.pos = n.saturating_sub(1).max(self.pos);
                        self.copy_from = self.pos;
                        return None;
                    }
                    Some(i) => {
                        self.pos += i + 2;
                        self.copy_from = self.pos;
                        self.stmt.push(b' ');
                        self.state = State::Normal;
                    }
                },
                State::Normal => {
                    if let Some(stmt) = self.step_normal()? {
                        return Some(stmt);
                    }
                }
            }
        }
    }

    /// One step in normal state. `None` = need more input; `Some(None)` = keep going;
    /// `Some(Some(stmt))` = a statement is complete.
    fn step_normal(&mut self) -> Option<Option<Statement>> {
        let n = self.input.len();
        let at = self.pos;
        let b = self.input[at];
        let eof = self.eof;
        let need = |k: usize| at + k > n && !eof;

        // Client commands are only recognised where a statement would start.
        if !self.has_content && !self.in_conditional {
            if b == b'd' || b == b'D' {
                let Some(line) = self.line_at(at) else {
                    self.flush_copy(at);
                    return None;
                };
                if let Some(delim) = parse_delimiter_command(line) {
                    let line_len = line.len();
                    self.delimiter = delim;
                    self.stmt.clear();
                    self.pos = at + line_len;
                    self.copy_from = self.pos;
                    return Some(None);
                }
            } else if b == b'/' && self.input[at..].len() < SANDBOX.len() && !self.eof {
                if self.input[at..] == SANDBOX[..n - at] {
                    self.flush_copy(at);
                    return None;
                }
            } else if b == b'/' && self.input[at..].starts_with(SANDBOX) {
                let Some(line) = self.line_at(at) else {
                    self.flush_copy(at);
                    return None;
                };
                let line_len = line.len();
                self.flush_copy(at);
                self.pos = at + line_len;
                self.copy_from = self.pos;
                return Some(None);
            }
        }

        // The delimiter (also inside conditional comments, as the client does).
        if b == self.delimiter[0] {
            let d = self.delimiter.len();
            if need(d) {
                self.flush_copy(at);
                return None;
            }
            if self.input[at..].starts_with(&self.delimiter) {
                self.flush_copy(at);
                self.pos = at + d;
                self.copy_from = self.pos;
                return Some(self.take_statement());
            }
        }

        match b {
            b'\'' | b'"' | b'`' => {
                self.has_content = true;
                self.state = State::Quote(b);
                self.pos += 1;
            }
            b'-' => {
                if need(3) {
                    self.flush_copy(at);
                    return None;
                }
                let is_comment = self.input.get(at + 1) == Some(&b'-')
                    && self.input.get(at + 2).is_none_or(|c| *c <= b' ');
                if is_comment {
                    self.flush_copy(at);
                    self.state = State::LineComment;
                } else {
                    self.has_content = true;
                }
                self.pos += 1;
            }
            b'#' => {
                self.flush_copy(at);
                self.state = State::LineComment;
                self.pos += 1;
            }
            b'/' => {
                if need(4) {
                    self.flush_copy(at);
                    return None;
                }
                if self.input.get(at + 1) == Some(&b'*') {
                    let c2 = self.input.get(at + 2).copied();
                    let c3 = self.input.get(at + 3).copied();
                    let kept = c2 == Some(b'!')
                        || c2 == Some(b'+')
                        || (c2 == Some(b'M') && c3 == Some(b'!'));
                    if kept {
                        self.has_content = true;
                        self.in_conditional = true;
                        self.pos += 3;
                    } else {
                        self.flush_copy(at);
                        self.state = State::BlockComment;
                        self.pos += 2;
                    }
                } else {
                    self.has_content = true;
                    self.pos += 1;
                }
            }
            b'*' if self.in_conditional => {
                if need(2) {
                    self.flush_copy(at);
                    return None;
                }
                if self.input.get(at + 1) == Some(&b'/') {
                    self.in_conditional = false;
                    self.pos += 2;
                } else {
                    self.pos += 1;
                }
            }
            c if c.is_ascii_whitespace() => self.pos += 1,
            _ => {
                self.has_content = true;
                self.pos += 1;
                // Skip plain bytes quickly: numbers, commas and parentheses of extended INSERTs.
                while self.pos < n {
                    let c = self.input[self.pos];
                    if matches!(c, b'\'' | b'"' | b'`' | b'-' | b'#' | b'/' | b'*')
                        || c == self.delimiter[0]
                    {
                        break;
                    }
                    self.pos += 1;
                }
            }
        }
        Some(None)
    }
}

const SANDBOX: &[u8] = b"/*M!999999\\-";

/// `DELIMITER x` (case-insensitive, at the start of a line) → `x`.
fn parse_delimiter_command(line: &[u8]) -> Option<Vec<u8>> {
    const KW: &[u8] = b"delimiter";
    if line.len() <= KW.len() || !line[..KW.len()].eq_ignore_ascii_case(KW) {
        return None;
    }
    let rest = &line[KW.len()..];
    if !rest[0].is_ascii_whitespace() {
        return None;
    }
    let rest = rest.trim_ascii();
    let token: &[u8] = rest
        .split(|c| c.is_ascii_whitespace())
        .next()
        .unwrap_or(b"");
    if token.is_empty() {
        None
    } else {
        Some(token.to_vec())
    }
}

/// A token from the head of a statement, used to classify it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// An unquoted word (keyword or identifier), as written.
    Word(String),
    /// A backtick-quoted identifier, unquoted.
    Quoted(String),
    /// A string literal (content not kept).
    Str,
    /// Any other single character.
    Punct(u8),
}

impl Token {
    /// Whether this is the unquoted keyword `kw` (case-insensitive).
    pub fn is(&self, kw: &str) -> bool {
        matches!(self, Token::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    /// The identifier this token names, quoted or not.
    pub fn ident(&self) -> Option<&str> {
        match self {
            Token::Word(w) | Token::Quoted(w) => Some(w),
            _ => None,
        }
    }
}

/// The first `max` tokens of a statement, looking through conditional-comment markers
/// (`/*!40101 SET … */` classifies as `SET …`), so the loader can tell DDL from data.
pub fn head_tokens(sql: &[u8], max: usize) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    let n = sql.len();
    while i < n && out.len() < max {
        let c = sql[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if sql[i..].starts_with(b"/*") {
            // Conditional comment opener: skip `/*!`, `/*M!`, `/*+` and the version digits.
            i += 2;
            if i < n && sql[i] == b'M' {
                i += 1;
            }
            if i < n && (sql[i] == b'!' || sql[i] == b'+') {
                i += 1;
            }
            while i < n && sql[i].is_ascii_digit() {
                i += 1;
            }
        } else if sql[i..].starts_with(b"*/") {
            i += 2;
        } else if c == b'`' {
            let mut s = Vec::new();
            i += 1;
            while i < n {
                if sql[i] == b'`' {
                    if sql.get(i + 1) == Some(&b'`') {
                        s.push(b'`');
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                s.push(sql[i]);
                i += 1;
            }
            out.push(Token::Quoted(String::from_utf8_lossy(&s).into_owned()));
        } else if c == b'\'' || c == b'"' {
            i += 1;
            while i < n && sql[i] != c {
                if sql[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push(Token::Str);
        } else if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80 {
            let start = i;
            while i < n
                && (sql[i].is_ascii_alphanumeric()
                    || sql[i] == b'_'
                    || sql[i] == b'$'
                    || sql[i] >= 0x80)
            {
                i += 1;
            }
            out.push(Token::Word(
                String::from_utf8_lossy(&sql[start..i]).into_owned(),
            ));
        } else {
            out.push(Token::Punct(c));
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn head_tokens_look_through_conditional_comments() {
        let t = head_tokens(b"/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER `ins` AFTER INSERT ON `film` FOR", 20);
        assert!(t[0].is("CREATE"));
        assert_eq!(t[1], Token::Word("DEFINER".into()));
        assert_eq!(t[3], Token::Quoted("root".into()));
        assert!(t.iter().any(|x| x.is("TRIGGER")));
        let t = head_tokens(b"INSERT INTO `a``b`.t VALUES ('x')", 10);
        assert_eq!(t[2], Token::Quoted("a`b".into()));
        assert_eq!(t[3], Token::Punct(b'.'));
        assert_eq!(t[5], Token::Word("VALUES".into()));
        assert_eq!(t[7], Token::Str);
    }
}
