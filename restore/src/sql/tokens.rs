//! The first tokens of a statement, enough for the loader to classify it.

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
