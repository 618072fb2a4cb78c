//! SCIM filters (RFC 7644 §3.4.2.2, grammar in Figure 1) parsed into an AST.
//!
//! Precedence: `not`, parentheses and attribute expressions bind tightest,
//! then `and`, then `or`, both left-associative. Operators, `and`/`or`/`not`,
//! `pr` and `true`/`false`/`null` are case-insensitive; attribute names keep
//! their spelling (they are compared case-insensitively downstream). Input
//! length and nesting depth are bounded so no filter can exhaust the stack.

use std::fmt;

use crate::scim::path::{AttrPath, Cursor, SyntaxError, err};

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    fn parse(word: &str) -> Option<CompareOp> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            _ => return None,
        })
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        })
    }
}

/// A comparison value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(String),
    Bool(bool),
    Null,
    /// The literal JSON number text.
    Number(String),
}

/// A filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Present(AttrPath),
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: Value,
    },
    /// `emails[type eq "work" and value co "x"]`: `path` carries no filter.
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
    },
}

/// Bounds on what the parser accepts.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_len: usize,
    pub max_depth: usize,
}

impl Default for Limits {
    /// 8 KiB fits any real filter (Entra's are under 200 bytes); 32 levels of
    /// nesting is far beyond hand-written queries and keeps recursion shallow.
    fn default() -> Limits {
        Limits {
            max_len: 8192,
            max_depth: 32,
        }
    }
}

impl Filter {
    /// Parses with the default limits.
    pub fn parse(input: &str) -> Result<Filter, SyntaxError> {
        Filter::parse_with(input, Limits::default())
    }

    /// Parses with explicit limits.
    pub fn parse_with(input: &str, limits: Limits) -> Result<Filter, SyntaxError> {
        if input.len() > limits.max_len {
            return Err(err(
                limits.max_len,
                format!("filter is longer than {} bytes", limits.max_len),
            ));
        }
        let mut c = Cursor {
            s: input,
            pos: 0,
            offset: 0,
            in_value_filter: false,
        };
        c.skip_ws();
        let f = parse_inner(&mut c, limits, 0)?;
        c.skip_ws();
        match c.peek() {
            None => Ok(f),
            Some(b')') => Err(err(c.at(), "unbalanced ')'")),
            Some(_) => Err(err(
                c.at(),
                format!(
                    "expected 'and', 'or' or the end of the filter, found {:?}",
                    c.rest_token()
                ),
            )),
        }
    }
}

/// Reads a keyword (`and`, `or`, `not`) if the cursor is at one; it must be
/// followed by whitespace or `(`.
fn keyword(c: &mut Cursor<'_>, word: &str) -> bool {
    let rest = &c.s[c.pos..];
    if rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word) {
        let next = rest.as_bytes().get(word.len()).copied();
        if matches!(next, Some(b' ' | b'\t' | b'(')) {
            c.pos += word.len();
            return true;
        }
    }
    false
}

/// `or`-expression up to a `)`, `]` or the end (shared with value paths).
pub(crate) fn parse_inner(
    c: &mut Cursor<'_>,
    limits: Limits,
    depth: usize,
) -> Result<Filter, SyntaxError> {
    let mut left = parse_and(c, limits, depth)?;
    loop {
        let save = c.pos;
        c.skip_ws();
        if keyword(c, "or") {
            c.skip_ws();
            let right = parse_and(c, limits, depth)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        } else {
            c.pos = save;
            return Ok(left);
        }
    }
}

fn parse_and(c: &mut Cursor<'_>, limits: Limits, depth: usize) -> Result<Filter, SyntaxError> {
    let mut left = parse_unary(c, limits, depth)?;
    loop {
        let save = c.pos;
        c.skip_ws();
        if keyword(c, "and") {
            c.skip_ws();
            let right = parse_unary(c, limits, depth)?;
            left = Filter::And(Box::new(left), Box::new(right));
        } else {
            c.pos = save;
            return Ok(left);
        }
    }
}

fn deeper(c: &Cursor<'_>, limits: Limits, depth: usize) -> Result<usize, SyntaxError> {
    if depth + 1 > limits.max_depth {
        return Err(err(
            c.at(),
            format!("filter nests deeper than {} levels", limits.max_depth),
        ));
    }
    Ok(depth + 1)
}

fn parenthesised(c: &mut Cursor<'_>, limits: Limits, depth: usize) -> Result<Filter, SyntaxError> {
    // at '('
    c.pos += 1;
    c.skip_ws();
    let inner = parse_inner(c, limits, depth)?;
    c.skip_ws();
    match c.peek() {
        Some(b')') => {
            c.pos += 1;
            Ok(inner)
        }
        None => Err(err(c.at(), "expected ')', found the end of the filter")),
        Some(_) => Err(err(
            c.at(),
            format!("expected ')', found {:?}", c.rest_token()),
        )),
    }
}

fn parse_unary(c: &mut Cursor<'_>, limits: Limits, depth: usize) -> Result<Filter, SyntaxError> {
    c.skip_ws();
    match c.peek() {
        None => return Err(err(c.at(), "unexpected end of filter")),
        Some(b'(') => {
            let d = deeper(c, limits, depth)?;
            return parenthesised(c, limits, d);
        }
        Some(b')') => return Err(err(c.at(), "unbalanced ')'")),
        _ => {}
    }
    let save = c.pos;
    if keyword(c, "not") {
        c.skip_ws();
        if c.peek() != Some(b'(') {
            return Err(err(
                c.at(),
                "'not' must be followed by a parenthesised filter, e.g. not (title pr)",
            ));
        }
        let d = deeper(c, limits, depth)?;
        let inner = parenthesised(c, limits, d)?;
        return Ok(Filter::Not(Box::new(inner)));
    }
    c.pos = save;
    attr_exp(c, limits, depth)
}

fn attr_exp(c: &mut Cursor<'_>, limits: Limits, depth: usize) -> Result<Filter, SyntaxError> {
    let path = c.path(!c.in_value_filter, limits, depth)?;
    let path_text = path.to_string();
    let before_ws = c.pos;
    c.skip_ws();
    // A value path standing alone: `emails[type eq "work"]`.
    if path.filter.is_some() && path.sub.is_none() {
        let save = c.pos;
        let word_start = c.pos;
        let word: String = c.s[c.pos..]
            .chars()
            .take_while(|ch| ch.is_ascii_alphabetic())
            .collect();
        if CompareOp::parse(&word).is_none() && !word.eq_ignore_ascii_case("pr")
            || word_start == before_ws
        {
            c.pos = before_ws;
            let mut p = path;
            let filter = p
                .filter
                .take()
                .map(|b| *b)
                .unwrap_or(Filter::Present(AttrPath::simple("value")));
            return Ok(Filter::ValuePath {
                path: p,
                filter: Box::new(filter),
            });
        }
        c.pos = save;
    }
    if c.pos == before_ws {
        return Err(err(
            c.at(),
            match c.peek() {
                None => format!(
                    "expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after '{path_text}', found the end"
                ),
                Some(_) => format!(
                    "expected a space and an operator after '{path_text}', found {:?}",
                    c.rest_token()
                ),
            },
        ));
    }
    let op_at = c.at();
    let word: String = c.s[c.pos..]
        .chars()
        .take_while(|ch| ch.is_ascii_alphanumeric())
        .collect();
    if word.eq_ignore_ascii_case("pr") {
        c.pos += 2;
        return Ok(Filter::Present(path));
    }
    let Some(op) = CompareOp::parse(&word) else {
        return Err(err(
            op_at,
            if word.is_empty() && c.peek().is_none() {
                format!(
                    "expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after '{path_text}', found the end"
                )
            } else {
                format!(
                    "expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after '{path_text}', found '{}'",
                    if word.is_empty() {
                        c.rest_token()
                    } else {
                        word
                    }
                )
            },
        ));
    };
    c.pos += word.len();
    let ws = c.pos;
    c.skip_ws();
    if c.pos == ws {
        return Err(err(
            c.at(),
            format!("expected a space and a value after '{op}'"),
        ));
    }
    let value_at = c.at();
    let value = comp_value(c)?;
    if matches!(value, Value::Bool(_) | Value::Null) && !matches!(op, CompareOp::Eq | CompareOp::Ne)
    {
        let shown = match &value {
            Value::Bool(true) => "true",
            Value::Bool(false) => "false",
            _ => "null",
        };
        return Err(err(
            value_at,
            format!("operator '{op}' cannot compare with {shown}"),
        ));
    }
    Ok(Filter::Compare { path, op, value })
}

fn comp_value(c: &mut Cursor<'_>) -> Result<Value, SyntaxError> {
    let start = c.pos;
    match c.peek() {
        None => Err(err(c.at(), "expected a value, found the end of the filter")),
        Some(b'"') => {
            let b = c.s.as_bytes();
            let mut i = c.pos + 1;
            let mut escaped = false;
            while i < b.len() {
                match (escaped, b[i]) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => break,
                    _ => {}
                }
                i += 1;
            }
            if i >= b.len() {
                return Err(err(c.offset + start, "unterminated string"));
            }
            let literal = &c.s[start..=i];
            let s: String = serde_json::from_str(literal).map_err(|e| {
                let text = e.to_string();
                let what = text.split(" at line").next().unwrap_or(&text).to_owned();
                err(
                    c.offset + start + e.column().saturating_sub(1),
                    format!("invalid string: {what}"),
                )
            })?;
            c.pos = i + 1;
            Ok(Value::String(s))
        }
        Some(b) if b == b'-' || b.is_ascii_digit() => {
            let len = c.s[c.pos..]
                .bytes()
                .take_while(|x| x.is_ascii_digit() || matches!(x, b'-' | b'+' | b'.' | b'e' | b'E'))
                .count();
            let text = &c.s[c.pos..c.pos + len];
            serde_json::from_str::<serde_json::Number>(text)
                .map_err(|_| err(c.at(), format!("{text:?} is not a number")))?;
            c.pos += len;
            Ok(Value::Number(text.to_owned()))
        }
        Some(_) => {
            let word: String = c.s[c.pos..]
                .chars()
                .take_while(|ch| ch.is_ascii_alphabetic())
                .collect();
            let v = match word.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => {
                    return Err(err(
                        c.at(),
                        format!(
                            "expected a value (a \"string\", number, true, false or null), found {:?}",
                            c.rest_token()
                        ),
                    ));
                }
            };
            c.pos += word.len();
            Ok(v)
        }
    }
}

fn write_value(f: &mut fmt::Formatter<'_>, v: &Value) -> fmt::Result {
    match v {
        Value::String(s) => f.write_str(&serde_json::Value::String(s.clone()).to_string()),
        Value::Bool(b) => write!(f, "{b}"),
        Value::Null => f.write_str("null"),
        Value::Number(n) => f.write_str(n),
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::And(a, b) => {
                match **a {
                    Filter::Or(..) => write!(f, "({a})")?,
                    _ => write!(f, "{a}")?,
                }
                f.write_str(" and ")?;
                match **b {
                    Filter::Or(..) | Filter::And(..) => write!(f, "({b})"),
                    _ => write!(f, "{b}"),
                }
            }
            Filter::Or(a, b) => {
                write!(f, "{a} or ")?;
                match **b {
                    Filter::Or(..) => write!(f, "({b})"),
                    _ => write!(f, "{b}"),
                }
            }
            Filter::Not(a) => write!(f, "not ({a})"),
            Filter::Present(p) => write!(f, "{p} pr"),
            Filter::Compare { path, op, value } => {
                write!(f, "{path} {op} ")?;
                write_value(f, value)
            }
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    fn p(s: &str) -> AttrPath {
        AttrPath::parse(s).unwrap()
    }
    fn cmp(path: &str, op: CompareOp, v: Value) -> Filter {
        Filter::Compare {
            path: p(path),
            op,
            value: v,
        }
    }
    fn s(v: &str) -> Value {
        Value::String(v.to_owned())
    }
    fn and(a: Filter, b: Filter) -> Filter {
        Filter::And(Box::new(a), Box::new(b))
    }
    fn or(a: Filter, b: Filter) -> Filter {
        Filter::Or(Box::new(a), Box::new(b))
    }
    fn vp(attr: &str, f: Filter) -> Filter {
        Filter::ValuePath {
            path: AttrPath::simple(attr),
            filter: Box::new(f),
        }
    }

    #[test]
    fn rfc7644_examples() {
        use CompareOp::*;
        let cases = vec![
            ("userName Eq \"john\"", cmp("userName", Eq, s("john"))),
            (
                "name.familyName co \"O'Malley\"",
                cmp("name.familyName", Co, s("O'Malley")),
            ),
            ("userName sw \"J\"", cmp("userName", Sw, s("J"))),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"J\"",
                cmp(
                    "urn:ietf:params:scim:schemas:core:2.0:User:userName",
                    Sw,
                    s("J"),
                ),
            ),
            ("title pr", Filter::Present(p("title"))),
            (
                "meta.lastModified gt \"2011-05-13T04:42:34Z\"",
                cmp("meta.lastModified", Gt, s("2011-05-13T04:42:34Z")),
            ),
            (
                "meta.lastModified ge \"2011-05-13T04:42:34Z\"",
                cmp("meta.lastModified", Ge, s("2011-05-13T04:42:34Z")),
            ),
            (
                "meta.lastModified lt \"2011-05-13T04:42:34Z\"",
                cmp("meta.lastModified", Lt, s("2011-05-13T04:42:34Z")),
            ),
            (
                "meta.lastModified le \"2011-05-13T04:42:34Z\"",
                cmp("meta.lastModified", Le, s("2011-05-13T04:42:34Z")),
            ),
            (
                "title pr and userType eq \"Employee\"",
                and(
                    Filter::Present(p("title")),
                    cmp("userType", Eq, s("Employee")),
                ),
            ),
            (
                "title pr or userType eq \"Intern\"",
                or(
                    Filter::Present(p("title")),
                    cmp("userType", Eq, s("Intern")),
                ),
            ),
            (
                "schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"",
                cmp(
                    "schemas",
                    Eq,
                    s("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
                ),
            ),
            (
                "userType eq \"Employee\" and (emails co \"example.com\" or emails.value co \"example.org\")",
                and(
                    cmp("userType", Eq, s("Employee")),
                    or(
                        cmp("emails", Co, s("example.com")),
                        cmp("emails.value", Co, s("example.org")),
                    ),
                ),
            ),
            (
                "userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co \"example.org\")",
                and(
                    cmp("userType", Ne, s("Employee")),
                    Filter::Not(Box::new(or(
                        cmp("emails", Co, s("example.com")),
                        cmp("emails.value", Co, s("example.org")),
                    ))),
                ),
            ),
            (
                "userType eq \"Employee\" and (emails.type eq \"work\")",
                and(
                    cmp("userType", Eq, s("Employee")),
                    cmp("emails.type", Eq, s("work")),
                ),
            ),
            (
                "userType eq \"Employee\" and emails[type eq \"work\" and value co \"@example.com\"]",
                and(
                    cmp("userType", Eq, s("Employee")),
                    vp(
                        "emails",
                        and(
                            cmp("type", Eq, s("work")),
                            cmp("value", Co, s("@example.com")),
                        ),
                    ),
                ),
            ),
            (
                "emails[type eq \"work\" and value co \"@example.com\"] or ims[type eq \"xmpp\" and value co \"@foo.com\"]",
                or(
                    vp(
                        "emails",
                        and(
                            cmp("type", Eq, s("work")),
                            cmp("value", Co, s("@example.com")),
                        ),
                    ),
                    vp(
                        "ims",
                        and(cmp("type", Eq, s("xmpp")), cmp("value", Co, s("@foo.com"))),
                    ),
                ),
            ),
            // Entra
            (
                "userName eq \"alice@contoso.com\"",
                cmp("userName", Eq, s("alice@contoso.com")),
            ),
            ("externalId eq \"0a1b\"", cmp("externalId", Eq, s("0a1b"))),
            (
                "userName eq \"x\" and externalId eq \"y\"",
                and(cmp("userName", Eq, s("x")), cmp("externalId", Eq, s("y"))),
            ),
            // precedence, associativity, case, escapes, literals
            (
                "a pr or b pr and c pr",
                or(
                    Filter::Present(p("a")),
                    and(Filter::Present(p("b")), Filter::Present(p("c"))),
                ),
            ),
            (
                "a pr or b pr or c pr",
                or(
                    or(Filter::Present(p("a")), Filter::Present(p("b"))),
                    Filter::Present(p("c")),
                ),
            ),
            (
                "(a pr or b pr) and c pr",
                and(
                    or(Filter::Present(p("a")), Filter::Present(p("b"))),
                    Filter::Present(p("c")),
                ),
            ),
            (
                "a PR AND NOT (b Pr)",
                and(
                    Filter::Present(p("a")),
                    Filter::Not(Box::new(Filter::Present(p("b")))),
                ),
            ),
            (
                "userName eq \"a\\\"b\\\\c\\u00e9\"",
                cmp("userName", Eq, s("a\"b\\cé")),
            ),
            ("x eq \"\\ud83d\\ude00\"", cmp("x", Eq, s("😀"))),
            ("n gt -1.5e3", cmp("n", Gt, Value::Number("-1.5e3".into()))),
            ("active eq TRUE", cmp("active", Eq, Value::Bool(true))),
            ("title ne null", cmp("title", Ne, Value::Null)),
            (
                "emails[type eq \"work\"].value eq \"x\"",
                Filter::Compare {
                    path: p("emails[type eq \"work\"].value"),
                    op: Eq,
                    value: s("x"),
                },
            ),
            ("  ( title pr )  ", Filter::Present(p("title"))),
        ];
        for (input, want) in cases {
            let got = Filter::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(got, want, "{input}");
            let again = Filter::parse(&got.to_string()).unwrap_or_else(|e| panic!("{got}: {e}"));
            assert_eq!(again, got, "round trip of {input} via {got}");
        }
    }

    #[test]
    fn rejections() {
        let cases = [
            (
                "userName equals \"x\"",
                9,
                "expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after 'userName', found 'equals'",
            ),
            ("userName eq", 11, "expected a space and a value after 'eq'"),
            (
                "userName eq ",
                12,
                "expected a value, found the end of the filter",
            ),
            ("userName eq \"abc", 12, "unterminated string"),
            ("userName eq \"a\")", 15, "unbalanced ')'"),
            (
                "(userName eq \"a\"",
                16,
                "expected ')', found the end of the filter",
            ),
            ("", 0, "unexpected end of filter"),
            (
                "userName",
                8,
                "expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after 'userName', found the end",
            ),
            (
                "not title pr",
                4,
                "'not' must be followed by a parenthesised filter, e.g. not (title pr)",
            ),
            ("title gt true", 9, "operator 'gt' cannot compare with true"),
            ("title co null", 9, "operator 'co' cannot compare with null"),
            (
                "a eq b",
                5,
                "expected a value (a \"string\", number, true, false or null), found \"b\"",
            ),
            (
                "a eq 1 b eq 2",
                7,
                "expected 'and', 'or' or the end of the filter, found \"b\"",
            ),
            ("a eq \"\\q\"", 7, "invalid string: invalid escape"),
            ("emails[type eq \"work\"", 21, "expected ']'"),
            ("a[b[c eq 1]]", 3, "value filters cannot be nested"),
            (
                "userName and",
                9,
                "expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after 'userName', found 'and'",
            ),
        ];
        for (input, pos, msg) in cases {
            let Err(e) = Filter::parse(input) else {
                panic!("{input} should be refused")
            };
            assert_eq!((e.position, e.message.as_str()), (pos, msg), "{input}");
        }
    }

    #[test]
    fn limits_protect_the_stack() {
        let deep = "(".repeat(100_000);
        let e = Filter::parse(&deep).unwrap_err();
        assert!(e.message.contains("longer than 8192"), "{e}");
        let deep = format!("{}a pr{}", "(".repeat(5000), ")".repeat(5000));
        assert!(
            Filter::parse_with(
                &deep,
                Limits {
                    max_len: 1 << 20,
                    max_depth: 32
                }
            )
            .unwrap_err()
            .message
            .contains("deeper than 32")
        );
        let nots = format!("{}a pr{}", "not (".repeat(10_000), ")".repeat(10_000));
        assert!(
            Filter::parse_with(
                &nots,
                Limits {
                    max_len: 1 << 20,
                    max_depth: 32
                }
            )
            .unwrap_err()
            .message
            .contains("deeper than 32")
        );
        let ok = format!("{}a pr{}", "(".repeat(20), ")".repeat(20));
        assert!(Filter::parse(&ok).is_ok());
    }
}
