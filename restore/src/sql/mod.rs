//! Splitting a dump into statements the way the `mysql`/`mariadb` command-line client does.
//!
//! A dump is not a list of `;`-terminated statements: the client understands `DELIMITER`
//! (so trigger and routine bodies can contain `;`), strips `--`, `#` and `/* */` comments but
//! keeps `/*! … */` / `/*M! … */` conditional comments and `/*+ … */` hints for the server,
//! tracks quotes (with backslash escapes) so a `;` inside a string is data, and treats
//! mariadb-dump's `/*M!999999\- enable the sandbox mode */` first line as a client command.
//! [`Splitter`] reproduces that incrementally, over chunks of any size, so a multi-GB entry
//! never has to be held in memory; only the statement being built is.

mod tokens;

pub use tokens::{Token, head_tokens};

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
        let sql = if start == 0 {
            let mut raw = raw;
            raw.truncate(end);
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
            c if c.is_ascii_whitespace() => {
                // Whitespace before a statement (the newline after the last delimiter) is
                // trimmed anyway: not copying it lets `take_statement` hand over its buffer
                // as it is instead of copying the whole statement to drop one byte.
                if !self.has_content && self.copy_from == at && self.stmt.is_empty() {
                    self.copy_from = at + 1;
                }
                self.pos += 1;
            }
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
#[cfg(test)]
mod tests;
