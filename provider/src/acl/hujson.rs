//! A small lossless HuJSON (JWCC: JSON with comments and trailing commas)
//! reader. It parses the policy document into a tree whose nodes keep their
//! byte spans, so the merge edits the document by splicing the original text:
//! every byte it does not touch stays byte-identical (comments, blank lines,
//! indentation, key order).

use serde_json::{Map, Value};

/// A parsed value with its span `[start, end)` in the source text.
#[derive(Clone, Debug)]
pub struct Node {
    pub start: usize,
    pub end: usize,
    pub kind: Kind,
}

#[derive(Clone, Debug)]
pub enum Kind {
    Scalar(Value),
    /// `close` is the offset of the closing `]`.
    Array {
        items: Vec<Item>,
        close: usize,
    },
    /// `close` is the offset of the closing `}`.
    Object {
        members: Vec<Member>,
        close: usize,
    },
}

/// An array element: `lead` is where its leading trivia (whitespace and
/// comments after the previous `,` or the `[`) begins; `comma` the offset of
/// its own trailing comma, if any.
#[derive(Clone, Debug)]
pub struct Item {
    pub lead: usize,
    pub value: Node,
    pub comma: Option<usize>,
}

/// An object member; `start` is the key's first byte.
#[derive(Clone, Debug)]
pub struct Member {
    pub lead: usize,
    pub start: usize,
    pub key: String,
    pub value: Node,
    pub comma: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("HuJSON syntax error at line {line}, column {column}: {message}")]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Parses a whole HuJSON document (one value, optional surrounding trivia).
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        pos: 0,
        depth: 0,
    };
    p.trivia()?;
    let node = p.value()?;
    p.trivia()?;
    if p.pos != p.s.len() {
        return Err(p.err("unexpected text after the document"));
    }
    Ok(node)
}

impl Node {
    /// The standard JSON value (comments and trailing commas dropped).
    pub fn to_value(&self) -> Value {
        match &self.kind {
            Kind::Scalar(v) => v.clone(),
            Kind::Array { items, .. } => {
                Value::Array(items.iter().map(|i| i.value.to_value()).collect())
            }
            Kind::Object { members, .. } => {
                let mut m = Map::new();
                for mem in members {
                    m.insert(mem.key.clone(), mem.value.to_value());
                }
                Value::Object(m)
            }
        }
    }

    /// The member `key` of an object node.
    pub fn get(&self, key: &str) -> Option<&Member> {
        match &self.kind {
            Kind::Object { members, .. } => members.iter().find(|m| m.key == key),
            _ => None,
        }
    }
}

/// The comments in `text[from..to]` (trivia only), as `(offset, text)`.
pub fn comments(text: &str, from: usize, to: usize) -> Vec<(usize, &str)> {
    let s = text.as_bytes();
    let mut out = Vec::new();
    let mut i = from;
    while i < to {
        if s[i] == b'/' && i + 1 < to && s[i + 1] == b'/' {
            let end = text[i..to].find('\n').map_or(to, |n| i + n);
            out.push((i, &text[i..end]));
            i = end;
        } else if s[i] == b'/' && i + 1 < to && s[i + 1] == b'*' {
            let end = text[i + 2..to].find("*/").map_or(to, |n| i + 2 + n + 2);
            out.push((i, &text[i..end]));
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

/// Deep nesting is refused rather than overflowing the stack.
const MAX_DEPTH: usize = 128;

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn err(&self, message: &str) -> SyntaxError {
        let mut at = self.pos.min(self.text.len());
        while !self.text.is_char_boundary(at) {
            at -= 1;
        }
        let before = &self.text[..at];
        let line = before.matches('\n').count() + 1;
        let column = before
            .rfind('\n')
            .map_or(before.len(), |n| before.len() - n - 1)
            + 1;
        SyntaxError {
            line,
            column,
            message: message.to_string(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    /// Skips whitespace and comments.
    fn trivia(&mut self) -> Result<(), SyntaxError> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.pos += 1,
                Some(b'/') => match self.s.get(self.pos + 1) {
                    Some(b'/') => {
                        while let Some(c) = self.peek() {
                            if c == b'\n' {
                                break;
                            }
                            self.pos += 1;
                        }
                    }
                    Some(b'*') => {
                        let Some(n) = self.text[self.pos + 2..].find("*/") else {
                            return Err(self.err("unterminated block comment"));
                        };
                        self.pos += 2 + n + 2;
                    }
                    _ => return Err(self.err("unexpected '/'")),
                },
                _ => return Ok(()),
            }
        }
    }

    fn value(&mut self) -> Result<Node, SyntaxError> {
        let start = self.pos;
        match self.peek() {
            Some(b'{') => self.nested(|p| p.object(start)),
            Some(b'[') => self.nested(|p| p.array(start)),
            Some(b'"') => {
                let s = self.string()?;
                Ok(Node {
                    start,
                    end: self.pos,
                    kind: Kind::Scalar(Value::String(s)),
                })
            }
            Some(_) => {
                while let Some(c) = self.peek() {
                    if matches!(c, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r' | b'/') {
                        break;
                    }
                    self.pos += 1;
                }
                let word = &self.text[start..self.pos];
                let v = match word {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    _ => {
                        let ok = word.starts_with(|c: char| c == '-' || c.is_ascii_digit());
                        match serde_json::from_str::<serde_json::Number>(word) {
                            Ok(n) if ok => Value::Number(n),
                            _ => {
                                self.pos = start;
                                return Err(self.err("expected a value"));
                            }
                        }
                    }
                };
                Ok(Node {
                    start,
                    end: self.pos,
                    kind: Kind::Scalar(v),
                })
            }
            None => Err(self.err("unexpected end of document")),
        }
    }

    fn nested(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<Node, SyntaxError>,
    ) -> Result<Node, SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("nesting too deep"));
        }
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.peek() {
                None | Some(b'\n') => return Err(self.err("unterminated string")),
                Some(b'\\') => self.pos += 2,
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(_) => self.pos += 1,
            }
        }
        let raw = self
            .text
            .get(start..self.pos)
            .ok_or_else(|| self.err("bad string"))?;
        serde_json::from_str(raw).map_err(|e| self.err(&format!("bad string: {e}")))
    }

    fn array(&mut self, start: usize) -> Result<Node, SyntaxError> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            let lead = self.pos;
            self.trivia()?;
            if self.peek() == Some(b']') {
                let close = self.pos;
                self.pos += 1;
                return Ok(Node {
                    start,
                    end: self.pos,
                    kind: Kind::Array { items, close },
                });
            }
            let value = self.value()?;
            self.trivia()?;
            let comma = if self.peek() == Some(b',') {
                self.pos += 1;
                Some(self.pos - 1)
            } else {
                None
            };
            items.push(Item { lead, value, comma });
            if comma.is_none() {
                self.trivia()?;
                if self.peek() != Some(b']') {
                    return Err(self.err("expected ',' or ']'"));
                }
            }
        }
    }

    fn object(&mut self, start: usize) -> Result<Node, SyntaxError> {
        self.pos += 1;
        let mut members = Vec::new();
        loop {
            let lead = self.pos;
            self.trivia()?;
            if self.peek() == Some(b'}') {
                let close = self.pos;
                self.pos += 1;
                return Ok(Node {
                    start,
                    end: self.pos,
                    kind: Kind::Object { members, close },
                });
            }
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a quoted key"));
            }
            let key_start = self.pos;
            let key = self.string()?;
            self.trivia()?;
            if self.peek() != Some(b':') {
                return Err(self.err("expected ':'"));
            }
            self.pos += 1;
            self.trivia()?;
            let value = self.value()?;
            self.trivia()?;
            let comma = if self.peek() == Some(b',') {
                self.pos += 1;
                Some(self.pos - 1)
            } else {
                None
            };
            members.push(Member {
                lead,
                start: key_start,
                key,
                value,
                comma,
            });
            if comma.is_none() {
                self.trivia()?;
                if self.peek() != Some(b'}') {
                    return Err(self.err("expected ',' or '}'"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardizes_comments_and_trailing_commas() {
        let doc = "// top\n{\n  \"a\": [1, 2,], /* x */\n  \"b\": {\"c\": \"d\\\"\",},\n}\n";
        let v = parse(doc).unwrap().to_value();
        assert_eq!(v, serde_json::json!({"a": [1, 2], "b": {"c": "d\""}}));
    }

    #[test]
    fn keeps_spans() {
        let doc = "{\n  // hello\n  \"a\": [1],\n}";
        let root = parse(doc).unwrap();
        let a = root.get("a").unwrap();
        assert_eq!(&doc[a.start..a.value.end], "\"a\": [1]");
        assert_eq!(comments(doc, a.lead, a.start), vec![(4, "// hello")]);
    }

    #[test]
    fn rejects_what_is_not_hujson() {
        for bad in [
            "{a: 1}",
            "{'a': 1}",
            "[1 2]",
            "{\"a\": 1",
            "[0x10]",
            "/* open",
            "[1] x",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be rejected");
        }
        let deep = "[".repeat(1000);
        assert!(parse(&deep).is_err());
        // Errors inside multi-byte text are reported, not panicked on.
        for bad in ["\"\\é", "{\"é\": é}", "[\"a\\\u{1F600}", "\u{1F600}"] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
