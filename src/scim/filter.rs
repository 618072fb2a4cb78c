//! SCIM filter expressions: the `filter` query parameter and `/.search`
//! body of RFC 7644 §3.4.2.2 (grammar in Figure 1), and the value filters
//! inside `[...]` used by PATCH paths (§3.5.2).
//!
//! This module owns the filter AST ([`Filter`], [`CompareOp`], [`Value`]),
//! the parse [`Limits`], and the filter grammar. Attribute paths, the shared
//! cursor and [`SyntaxError`] live in [`crate::scim::path`].
//!
//! Precedence, tightest first: `not (...)`, parentheses and attribute
//! expressions; then `and`; then `or`. Both binary operators associate to the
//! left. Keywords and operators are case-insensitive. Comparison values are
//! JSON literals (RFC 8259): strings with every JSON escape, numbers kept as
//! their validated text, `true`, `false`, `null`; dates are plain strings.
//!
//! Deliberate leniencies beyond Figure 1: any amount of spaces, tabs and
//! newlines between tokens (including none where the tokens cannot run
//! together, e.g. `not(`, `emails [`), and `emails[type eq "work"].value eq
//! "x"`, a comparison through a filtered path that some clients send.

use std::fmt::{self, Write as _};

use crate::scim::path::{AttrPath, Parser, SyntaxError};

/// A comparison operator (RFC 7644 §3.4.2.2, Table 3); `pr` is
/// [`Filter::Present`] since it takes no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Contains (substring).
    Co,
    /// Starts with.
    Sw,
    /// Ends with.
    Ew,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
}

impl CompareOp {
    /// The canonical lowercase keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// The operator named by `word`, in any case.
    pub fn from_keyword(word: &str) -> Option<CompareOp> {
        const ALL: [CompareOp; 9] = [
            CompareOp::Eq,
            CompareOp::Ne,
            CompareOp::Co,
            CompareOp::Sw,
            CompareOp::Ew,
            CompareOp::Gt,
            CompareOp::Ge,
            CompareOp::Lt,
            CompareOp::Le,
        ];
        ALL.into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A comparison value (`compValue` in Figure 1).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// The decoded string (escapes resolved).
    String(String),
    /// `true` or `false`.
    Bool(bool),
    /// `null`; only meaningful with `eq` (absent) and `ne` (present).
    Null,
    /// The literal JSON number text, validated as a JSON number. Kept as text
    /// so no precision is lost before the caller knows the attribute type.
    Number(String),
}

impl fmt::Display for Value {
    /// JSON literal syntax, so the output can be pasted back into a filter.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(s) => write_json_string(f, s),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Null => f.write_str("null"),
            Value::Number(n) => f.write_str(n),
        }
    }
}

fn write_json_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            // Raw control characters are rejected by the parser, so they
            // must be escaped for the output to parse back.
            c if c.is_control() => write!(f, "\\u{:04x}", u32::from(c))?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

/// A parsed filter.
///
/// Parentheses leave no node of their own. Invariant of parsed filters (and
/// required for [`Display`](fmt::Display) to round-trip): the `path` of a
/// [`Filter::ValuePath`] has neither `filter` nor `sub`, and paths inside a
/// value filter carry no value filter of their own.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `left and right`.
    And(Box<Filter>, Box<Filter>),
    /// `left or right`.
    Or(Box<Filter>, Box<Filter>),
    /// `not (inner)`.
    Not(Box<Filter>),
    /// `attr pr`
    Present(AttrPath),
    /// `path op value`. `path` normally has no `filter`, but may carry one
    /// together with a `sub` for the lenient `emails[type eq "work"].value
    /// eq "x"` form.
    Compare {
        /// The attribute compared.
        path: AttrPath,
        /// The operator.
        op: CompareOp,
        /// The literal compared against.
        value: Value,
    },
    /// valuePath: `emails[type eq "work" and value co "x"]`; `path.filter`
    /// and `path.sub` are None, and attribute paths inside `filter` are
    /// relative to `path`.
    ValuePath {
        /// The multi-valued (complex) attribute.
        path: AttrPath,
        /// The condition each value is tested against.
        filter: Box<Filter>,
    },
}

/// Resource limits applied before and during parsing. Filters come straight
/// from unauthenticated-looking query strings, so both are enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum input length in bytes.
    pub max_len: usize,
    /// Maximum nesting of parentheses, brackets and `not` (each counts one).
    /// Values above an internal ceiling of 64 are treated as 64 so the
    /// recursive parser can never exhaust the stack.
    pub max_depth: usize,
}

impl Default for Limits {
    /// 8192 bytes is the common request-line limit of web servers and
    /// proxies, so no legitimate GET filter is longer; 32 levels is ten
    /// times the nesting any real client sends while keeping recursion (and
    /// the recursive consumers of the AST) shallow.
    fn default() -> Self {
        Limits {
            max_len: 8192,
            max_depth: 32,
        }
    }
}

impl Filter {
    /// Parses a whole filter with [`Limits::default`].
    pub fn parse(input: &str) -> Result<Filter, SyntaxError> {
        Self::parse_with(input, Limits::default())
    }

    /// Parses a whole filter; surrounding whitespace is ignored.
    pub fn parse_with(input: &str, limits: Limits) -> Result<Filter, SyntaxError> {
        let mut p = Parser::new(input, limits, "filter")?;
        p.skip_ws();
        if p.at_end() {
            return Err(p.error_here("empty filter"));
        }
        let filter = p.or_expr()?;
        p.skip_ws();
        match p.peek() {
            None => Ok(filter),
            Some(b')') => Err(p.error_here("unbalanced ')'")),
            Some(b']') => Err(p.error_here("unbalanced ']'")),
            Some(_) => Err(p.error_here(format!(
                "expected 'and' or 'or', found {}",
                p.describe_here()
            ))),
        }
    }
}

impl fmt::Display for Filter {
    /// Canonical form: lowercase keywords, single spaces, JSON-escaped
    /// strings, and parentheses exactly where precedence or the left
    /// associativity of the AST needs them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::And(left, right) => {
                operand(f, left, matches!(**left, Filter::Or(..)))?;
                f.write_str(" and ")?;
                operand(
                    f,
                    right,
                    matches!(**right, Filter::And(..) | Filter::Or(..)),
                )
            }
            Filter::Or(left, right) => {
                write!(f, "{left} or ")?;
                operand(f, right, matches!(**right, Filter::Or(..)))
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
        }
    }
}

fn operand(f: &mut fmt::Formatter<'_>, filter: &Filter, parenthesise: bool) -> fmt::Result {
    if parenthesise {
        write!(f, "({filter})")
    } else {
        write!(f, "{filter}")
    }
}

/// Echoes client text in a message with control characters made visible.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_debug().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn is_operator_word(word: &str) -> bool {
    word.eq_ignore_ascii_case("pr") || CompareOp::from_keyword(word).is_some()
}

/// RFC 8259 §6 number syntax. Leading zeros, `+1`, `.5`, `1.` and hex are
/// all rejected, as a JSON parser would.
fn is_json_number(text: &str) -> bool {
    let b = text.as_bytes();
    let digits_from = |mut i: usize| {
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let mut i = usize::from(b.first() == Some(&b'-'));
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits_from(i + 1),
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        let end = digits_from(i + 1);
        if end == i + 1 {
            return false;
        }
        i = end;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let end = digits_from(i);
        if end == i {
            return false;
        }
        i = end;
    }
    i == b.len()
}

/// The filter grammar, on the cursor defined in [`crate::scim::path`].
/// Every recursive step goes through `group`, `not_expr` or `value_filter`,
/// each of which calls `enter`, so recursion depth is bounded by the limit.
impl Parser<'_> {
    /// `or` has the loosest binding.
    fn or_expr(&mut self) -> Result<Filter, SyntaxError> {
        let mut left = self.and_expr()?;
        loop {
            self.skip_ws();
            if !self.eat_keyword("or") {
                return Ok(left);
            }
            let right = self.and_expr()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
    }

    fn and_expr(&mut self) -> Result<Filter, SyntaxError> {
        let mut left = self.unary()?;
        loop {
            self.skip_ws();
            if !self.eat_keyword("and") {
                return Ok(left);
            }
            let right = self.unary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
    }

    fn unary(&mut self) -> Result<Filter, SyntaxError> {
        self.skip_ws();
        match self.peek() {
            None => Err(self.error_here(format!("unexpected end of {}", self.noun))),
            Some(b'(') => self.group(),
            Some(b')') => Err(self.error_here("unbalanced ')'")),
            _ if self.word().eq_ignore_ascii_case("not") => self.not_expr(),
            _ => self.attr_exp(),
        }
    }

    /// `not` is a keyword only when `(` follows; otherwise it may be an
    /// attribute called "not", which ATTRNAME allows.
    fn not_expr(&mut self) -> Result<Filter, SyntaxError> {
        let start = self.pos;
        let after_word = start + 3;
        let next = self.skip_ws_from(after_word);
        let attribute_follows = self.byte_at(next) == Some(b'[')
            || (next == after_word && self.byte_at(next) == Some(b'.'))
            || is_operator_word(self.word_at(next));
        if attribute_follows {
            return self.attr_exp();
        }
        if self.byte_at(next) != Some(b'(') {
            return Err(self.error_at(
                next,
                format!("expected '(' after 'not', found {}", self.describe_at(next)),
            ));
        }
        self.enter(start)?;
        self.pos = next;
        let inner = self.group()?;
        self.leave();
        Ok(Filter::Not(Box::new(inner)))
    }

    /// `"(" filter ")"` with the cursor on the `(`.
    fn group(&mut self) -> Result<Filter, SyntaxError> {
        let open = self.pos;
        self.enter(open)?;
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b')') {
            return Err(self.error_here("empty parentheses"));
        }
        let inner = self.or_expr()?;
        self.skip_ws();
        if self.peek() != Some(b')') {
            return Err(self.error_here(format!(
                "expected ')' to close the '(' at position {open}, found {}",
                self.describe_here()
            )));
        }
        self.pos += 1;
        self.leave();
        Ok(inner)
    }

    /// `"[" valFilter "]"` with the cursor on the `[`; called from the path
    /// grammar.
    pub(super) fn value_filter(&mut self) -> Result<Filter, SyntaxError> {
        let open = self.pos;
        self.enter(open)?;
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b']') {
            return Err(self.error_here("empty value filter"));
        }
        self.in_value_filter = true;
        let inner = self.or_expr()?;
        self.in_value_filter = false;
        self.skip_ws();
        if self.peek() != Some(b']') {
            return Err(self.error_here(format!(
                "expected ']' to close the '[' at position {open}, found {}",
                self.describe_here()
            )));
        }
        self.pos += 1;
        self.leave();
        Ok(inner)
    }

    /// `attrPath "pr"`, `attrPath compareOp compValue`, or a valuePath.
    fn attr_exp(&mut self) -> Result<Filter, SyntaxError> {
        let start = self.pos;
        let mut path = self.attr_path()?;
        let path_end = self.pos;
        self.skip_ws();
        let word = self.word();

        // `emails[...]` followed by anything but an operator is a valuePath;
        // followed by an operator it is the lenient filtered comparison.
        if path.sub.is_none()
            && !is_operator_word(word)
            && let Some(filter) = path.filter.take()
        {
            return Ok(Filter::ValuePath { path, filter });
        }

        if word.eq_ignore_ascii_case("pr") {
            self.pos += word.len();
            let next = self.skip_ws_from(self.pos);
            if self.starts_value_at(next) {
                return Err(self.error_at(next, "'pr' takes no value"));
            }
            return Ok(Filter::Present(path));
        }

        let Some(op) = CompareOp::from_keyword(word) else {
            return Err(self.error_here(format!(
                "expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after '{}', found {}",
                self.text(start, path_end),
                self.describe_here()
            )));
        };
        self.pos += word.len();
        self.skip_ws();
        let value_pos = self.pos;
        let value = self.comp_value(op)?;
        // RFC 7644 §3.4.2.2: booleans and null only support eq/ne; anything
        // else is "invalidFilter", reported here so callers need not check.
        if !matches!(op, CompareOp::Eq | CompareOp::Ne)
            && matches!(value, Value::Bool(_) | Value::Null)
        {
            return Err(self.error_at(
                value_pos,
                format!("operator '{op}' cannot compare with {value}"),
            ));
        }
        Ok(Filter::Compare { path, op, value })
    }

    fn starts_value_at(&self, pos: usize) -> bool {
        let word = self.word_at(pos);
        matches!(self.byte_at(pos), Some(b'"' | b'-' | b'0'..=b'9'))
            || ["true", "false", "null"]
                .iter()
                .any(|kw| word.eq_ignore_ascii_case(kw))
    }

    fn comp_value(&mut self, op: CompareOp) -> Result<Value, SyntaxError> {
        match self.peek() {
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => {
                let word = self.word();
                let value = if word.eq_ignore_ascii_case("true") {
                    Value::Bool(true)
                } else if word.eq_ignore_ascii_case("false") {
                    Value::Bool(false)
                } else if word.eq_ignore_ascii_case("null") {
                    Value::Null
                } else {
                    return Err(self.error_here(format!(
                        "expected a value (a string, number, true, false or null) after '{op}', found {}",
                        self.describe_here()
                    )));
                };
                self.pos += word.len();
                Ok(value)
            }
        }
    }

    /// Takes the whole run of number-ish characters before validating, so
    /// `1abc` is reported as one bad number rather than `1` followed by junk.
    fn number(&mut self) -> Result<Value, SyntaxError> {
        let rest = self.rest();
        let len = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-'))
            .count();
        let text = rest.get(..len).unwrap_or("");
        if !is_json_number(text) {
            return Err(self.error_here(format!("invalid number '{text}'")));
        }
        self.pos += len;
        Ok(Value::Number(text.to_owned()))
    }

    /// A JSON string (RFC 8259 §7) with the cursor on the opening quote.
    fn string(&mut self) -> Result<String, SyntaxError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.rest().chars().next() else {
                return Err(self.error_at(open, "unterminated string"));
            };
            match c {
                '"' => {
                    self.pos += 1;
                    return Ok(out);
                }
                '\\' => out.push(self.escape(open)?),
                c if c.is_control() => {
                    return Err(self.error_here(format!(
                        "control character U+{:04X} must be escaped in a string",
                        u32::from(c)
                    )));
                }
                c => {
                    out.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
    }

    /// One escape sequence with the cursor on the backslash.
    fn escape(&mut self, open: usize) -> Result<char, SyntaxError> {
        let backslash = self.pos;
        let Some(kind) = self.src.get(backslash + 1..).and_then(|s| s.chars().next()) else {
            return Err(self.error_at(open, "unterminated string"));
        };
        let simple = match kind {
            '"' => Some('"'),
            '\\' => Some('\\'),
            '/' => Some('/'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'u' => None,
            other => {
                return Err(self.error_at(
                    backslash,
                    format!(
                        "invalid escape '\\{}' in string",
                        printable(&other.to_string())
                    ),
                ));
            }
        };
        if let Some(c) = simple {
            self.pos = backslash + 2;
            return Ok(c);
        }

        let high = self.hex4(backslash)?;
        self.pos = backslash + 6;
        let code = if (0xD800..0xDC00).contains(&high) {
            // A high surrogate is only meaningful with a low one right after.
            let next = self.pos;
            let low = if self.src.get(next..next + 2) == Some("\\u") {
                Some(self.hex4(next)?)
            } else {
                None
            };
            match low {
                Some(low) if (0xDC00..0xE000).contains(&low) => {
                    self.pos = next + 6;
                    0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                }
                _ => return Err(self.unpaired_surrogate(backslash, high)),
            }
        } else {
            high
        };
        char::from_u32(code).ok_or_else(|| self.unpaired_surrogate(backslash, code))
    }

    /// The four hex digits of `\uXXXX` starting at the backslash at `at`.
    fn hex4(&self, at: usize) -> Result<u32, SyntaxError> {
        let digits = self
            .src
            .get(at + 2..at + 6)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()));
        match digits.and_then(|d| u32::from_str_radix(d, 16).ok()) {
            Some(code) => Ok(code),
            None => {
                let shown: String = self.src.get(at..).unwrap_or("").chars().take(6).collect();
                Err(self.error_at(
                    at,
                    format!(
                        "invalid unicode escape '{}' in string; expected 4 hex digits",
                        printable(&shown)
                    ),
                ))
            }
        }
    }

    fn unpaired_surrogate(&self, at: usize, code: u32) -> SyntaxError {
        self.error_at(at, format!("unpaired surrogate '\\u{code:04X}' in string"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use CompareOp::*;

    const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

    fn path(text: &str) -> AttrPath {
        AttrPath::parse(text).unwrap()
    }
    fn cmp(p: &str, op: CompareOp, value: Value) -> Filter {
        Filter::Compare {
            path: path(p),
            op,
            value,
        }
    }
    fn eq(p: &str, value: Value) -> Filter {
        cmp(p, Eq, value)
    }
    fn s(v: &str) -> Value {
        Value::String(v.to_owned())
    }
    fn num(v: &str) -> Value {
        Value::Number(v.to_owned())
    }
    fn pr(p: &str) -> Filter {
        Filter::Present(path(p))
    }
    fn and(l: Filter, r: Filter) -> Filter {
        Filter::And(Box::new(l), Box::new(r))
    }
    fn or(l: Filter, r: Filter) -> Filter {
        Filter::Or(Box::new(l), Box::new(r))
    }
    fn not(f: Filter) -> Filter {
        Filter::Not(Box::new(f))
    }
    fn vp(p: &str, f: Filter) -> Filter {
        Filter::ValuePath {
            path: path(p),
            filter: Box::new(f),
        }
    }

    fn check_accepted(cases: Vec<(&str, Filter)>) {
        for (input, expected) in cases {
            let parsed = Filter::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(parsed, expected, "{input:?}");
            let shown = parsed.to_string();
            let reparsed =
                Filter::parse(&shown).unwrap_or_else(|e| panic!("{shown:?} (from {input:?}): {e}"));
            assert_eq!(reparsed, parsed, "round trip of {input:?} via {shown:?}");
            assert_eq!(
                reparsed.to_string(),
                shown,
                "display of {input:?} is not stable"
            );
        }
    }

    #[test]
    // Longer than a screen: the RFC's example filters, one row each.
    fn rfc7644_examples() {
        check_accepted(vec![
            (r#"userName Eq "john""#, eq("userName", s("john"))),
            (
                r#"name.familyName co "O'Malley""#,
                cmp("name.familyName", Co, s("O'Malley")),
            ),
            (r#"userName sw "J""#, cmp("userName", Sw, s("J"))),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
                Filter::Compare {
                    path: AttrPath {
                        schema: Some(CORE_USER.to_owned()),
                        ..AttrPath::simple("userName")
                    },
                    op: Sw,
                    value: s("J"),
                },
            ),
            ("title pr", pr("title")),
            (
                r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
                cmp("meta.lastModified", Gt, s("2011-05-13T04:42:34Z")),
            ),
            (
                r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
                cmp("meta.lastModified", Ge, s("2011-05-13T04:42:34Z")),
            ),
            (
                r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
                cmp("meta.lastModified", Lt, s("2011-05-13T04:42:34Z")),
            ),
            (
                r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
                cmp("meta.lastModified", Le, s("2011-05-13T04:42:34Z")),
            ),
            (
                r#"title pr and userType eq "Employee""#,
                and(pr("title"), eq("userType", s("Employee"))),
            ),
            (
                r#"title pr or userType eq "Intern""#,
                or(pr("title"), eq("userType", s("Intern"))),
            ),
            (
                r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
                eq(
                    "schemas",
                    s("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
                ),
            ),
            (
                r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
                and(
                    eq("userType", s("Employee")),
                    or(
                        cmp("emails", Co, s("example.com")),
                        cmp("emails.value", Co, s("example.org")),
                    ),
                ),
            ),
            (
                r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
                and(
                    cmp("userType", Ne, s("Employee")),
                    not(or(
                        cmp("emails", Co, s("example.com")),
                        cmp("emails.value", Co, s("example.org")),
                    )),
                ),
            ),
            (
                r#"userType eq "Employee" and (emails.type eq "work")"#,
                and(eq("userType", s("Employee")), eq("emails.type", s("work"))),
            ),
            (
                r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
                and(
                    eq("userType", s("Employee")),
                    vp(
                        "emails",
                        and(eq("type", s("work")), cmp("value", Co, s("@example.com"))),
                    ),
                ),
            ),
            (
                r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
                or(
                    vp(
                        "emails",
                        and(eq("type", s("work")), cmp("value", Co, s("@example.com"))),
                    ),
                    vp(
                        "ims",
                        and(eq("type", s("xmpp")), cmp("value", Co, s("@foo.com"))),
                    ),
                ),
            ),
        ]);
    }

    #[test]
    fn entra_id_filters() {
        check_accepted(vec![
            (
                r#"userName eq "alice@contoso.com""#,
                eq("userName", s("alice@contoso.com")),
            ),
            (
                r#"externalId eq "0a1b2c3d-4e5f-6789-abcd-ef0123456789""#,
                eq("externalId", s("0a1b2c3d-4e5f-6789-abcd-ef0123456789")),
            ),
            (r#"displayName eq "Sales""#, eq("displayName", s("Sales"))),
            (
                r#"id eq "2819c223-7f76-453a-919d-413861904646""#,
                eq("id", s("2819c223-7f76-453a-919d-413861904646")),
            ),
            (
                r#"userName eq "x" and externalId eq "y""#,
                and(eq("userName", s("x")), eq("externalId", s("y"))),
            ),
        ]);
    }

    #[test]
    fn precedence_and_associativity() {
        check_accepted(vec![
            ("a pr or b pr and c pr", or(pr("a"), and(pr("b"), pr("c")))),
            ("a pr and b pr or c pr", or(and(pr("a"), pr("b")), pr("c"))),
            ("a pr or b pr or c pr", or(or(pr("a"), pr("b")), pr("c"))),
            (
                "a pr and b pr and c pr",
                and(and(pr("a"), pr("b")), pr("c")),
            ),
            (
                "a pr and (b pr or c pr)",
                and(pr("a"), or(pr("b"), pr("c"))),
            ),
            (
                "(a pr or b pr) and c pr",
                and(or(pr("a"), pr("b")), pr("c")),
            ),
            ("a pr or (b pr or c pr)", or(pr("a"), or(pr("b"), pr("c")))),
            (
                "a pr and (b pr and c pr)",
                and(pr("a"), and(pr("b"), pr("c"))),
            ),
            ("not (a pr) and b pr", and(not(pr("a")), pr("b"))),
            ("not (a pr or b pr)", not(or(pr("a"), pr("b")))),
            ("not (not (a pr))", not(not(pr("a")))),
            ("((a pr))", pr("a")),
            (
                "a pr or not (b pr) and c pr",
                or(pr("a"), and(not(pr("b")), pr("c"))),
            ),
            (
                "a pr and b pr or c pr and d pr",
                or(and(pr("a"), pr("b")), and(pr("c"), pr("d"))),
            ),
        ]);
    }

    #[test]
    fn case_and_whitespace_leniency() {
        check_accepted(vec![
            (r#"userName EQ "x""#, eq("userName", s("x"))),
            ("title PR", pr("title")),
            ("a pr AND b pr", and(pr("a"), pr("b"))),
            ("a pr Or b pr", or(pr("a"), pr("b"))),
            ("NOT (a pr)", not(pr("a"))),
            ("active eq True", eq("active", Value::Bool(true))),
            ("x eq NULL", eq("x", Value::Null)),
            ("x ne FALSE", cmp("x", Ne, Value::Bool(false))),
            (r#"  userName   eq   "x"  "#, eq("userName", s("x"))),
            ("\tuserName\teq\t\"x\"\n", eq("userName", s("x"))),
            ("( a pr )", pr("a")),
            ("not(a pr)", not(pr("a"))),
            ("a pr and(b pr)", and(pr("a"), pr("b"))),
            ("a pr\r\nand b pr", and(pr("a"), pr("b"))),
            (
                r#"emails [ type eq "work" ]"#,
                vp("emails", eq("type", s("work"))),
            ),
            (
                r#"emails[type eq "work"]and x pr"#,
                and(vp("emails", eq("type", s("work"))), pr("x")),
            ),
        ]);
    }

    #[test]
    fn values() {
        check_accepted(vec![
            (
                r#"userName eq "a\"b\\c\u00e9""#,
                eq("userName", s("a\"b\\cé")),
            ),
            (r#"x eq "\/\b\f\n\r\t""#, eq("x", s("/\u{8}\u{c}\n\r\t"))),
            (r#"x eq "\ud83d\ude00 \u00E9""#, eq("x", s("😀 é"))),
            (
                r#"x eq "\u0001\u001f\u0085""#,
                eq("x", s("\u{1}\u{1f}\u{85}")),
            ),
            (r#"x eq "é😀 raw""#, eq("x", s("é😀 raw"))),
            (r#"x eq """#, eq("x", s(""))),
            (
                r#"emails[value eq "a]b)c(d[e"]"#,
                vp("emails", eq("value", s("a]b)c(d[e"))),
            ),
            ("x eq -1", eq("x", num("-1"))),
            ("x gt 1.5e3", cmp("x", Gt, num("1.5e3"))),
            ("x eq 0", eq("x", num("0"))),
            ("x lt 1E-2", cmp("x", Lt, num("1E-2"))),
            ("x ge -0.5E+10", cmp("x", Ge, num("-0.5E+10"))),
            ("(x eq 10)", eq("x", num("10"))),
            ("active eq true", eq("active", Value::Bool(true))),
            ("active ne false", cmp("active", Ne, Value::Bool(false))),
            ("x eq null", eq("x", Value::Null)),
            ("x ne null", cmp("x", Ne, Value::Null)),
            (r#"x co "true""#, cmp("x", Co, s("true"))),
        ]);
    }

    #[test]
    fn paths_in_filters() {
        check_accepted(vec![
            (
                r#"emails[type eq "work"].value eq "x""#,
                Filter::Compare {
                    path: path(r#"emails[type eq "work"].value"#),
                    op: Eq,
                    value: s("x"),
                },
            ),
            (
                r#"emails[type eq "work"] pr"#,
                Filter::Present(path(r#"emails[type eq "work"]"#)),
            ),
            (
                r#"emails[type eq "work"] and userName sw "a""#,
                and(
                    vp("emails", eq("type", s("work"))),
                    cmp("userName", Sw, s("a")),
                ),
            ),
            (
                r#"not (emails[type eq "work"])"#,
                not(vp("emails", eq("type", s("work")))),
            ),
            (
                r#"emails[not (type eq "work")]"#,
                vp("emails", not(eq("type", s("work")))),
            ),
            (
                r#"emails[(type eq "work" or type eq "home") and primary eq true]"#,
                vp(
                    "emails",
                    and(
                        or(eq("type", s("work")), eq("type", s("home"))),
                        eq("primary", Value::Bool(true)),
                    ),
                ),
            ),
            (r#"not eq "x""#, eq("not", s("x"))),
            ("not pr", pr("not")),
            ("and pr or or pr", or(pr("and"), pr("or"))),
            (r#"members.$ref eq "x""#, eq("members.$ref", s("x"))),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m1""#,
                eq(
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                    s("m1"),
                ),
            ),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"]"#,
                vp(
                    "urn:ietf:params:scim:schemas:core:2.0:User:emails",
                    eq("type", s("work")),
                ),
            ),
            (
                r#"(urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x")"#,
                eq(
                    "urn:ietf:params:scim:schemas:core:2.0:User:userName",
                    s("x"),
                ),
            ),
        ]);
    }

    #[test]
    fn canonical_display() {
        let cases = [
            (r#"userName Eq "john""#, r#"userName eq "john""#),
            ("a pr or (b pr or c pr)", "a pr or (b pr or c pr)"),
            ("(a pr or b pr) or c pr", "a pr or b pr or c pr"),
            ("(a pr or b pr) and c pr", "(a pr or b pr) and c pr"),
            ("a pr and (b pr and c pr)", "a pr and (b pr and c pr)"),
            ("a pr and (b pr or c pr)", "a pr and (b pr or c pr)"),
            ("a pr or (b pr and c pr)", "a pr or b pr and c pr"),
            (r#"x eq "a\"b\\c\u00e9\/""#, r#"x eq "a\"b\\cé/""#),
            (r#"x eq "\u0001\b\n""#, r#"x eq "\u0001\b\n""#),
            ("NOT(a PR)", "not (a pr)"),
            (r#"emails [ type EQ "work" ]"#, r#"emails[type eq "work"]"#),
            ("x eq TRUE", "x eq true"),
            ("x gt 1.50E3", "x gt 1.50E3"),
        ];
        for (input, expected) in cases {
            assert_eq!(
                Filter::parse(input).unwrap().to_string(),
                expected,
                "{input:?}"
            );
        }
        assert_eq!(Ne.to_string(), "ne");
        assert_eq!(CompareOp::from_keyword("LE"), Some(Le));
        assert_eq!(CompareOp::from_keyword("pr"), None);
    }

    #[test]
    // Longer than a screen: a table of refused filters and the detail each names.
    fn rejections() {
        const OPS: &str = "expected a comparison operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)";
        const VALUE: &str = "expected a value (a string, number, true, false or null)";
        let cases: Vec<(&str, usize, String)> = vec![
            ("", 0, "empty filter".into()),
            ("   ", 3, "empty filter".into()),
            (
                r#"userName equals "x""#,
                9,
                format!("{OPS} after 'userName', found 'equals'"),
            ),
            (
                "userName",
                8,
                format!("{OPS} after 'userName', found end of filter"),
            ),
            (
                r#"userName "x""#,
                9,
                format!("{OPS} after 'userName', found a string"),
            ),
            (
                r#"emails[type eq "work"].value"#,
                28,
                format!(r#"{OPS} after 'emails[type eq "work"].value', found end of filter"#),
            ),
            (
                "userName eq",
                11,
                format!("{VALUE} after 'eq', found end of filter"),
            ),
            (
                "userName eq john",
                12,
                format!("{VALUE} after 'eq', found 'john'"),
            ),
            ("a eq +1", 5, format!("{VALUE} after 'eq', found '+'")),
            ("a eq .5", 5, format!("{VALUE} after 'eq', found '.'")),
            (r#"userName eq "john"#, 12, "unterminated string".into()),
            (r#"userName eq "john\"#, 12, "unterminated string".into()),
            (
                r#"userName eq "a\x""#,
                14,
                r"invalid escape '\x' in string".into(),
            ),
            (
                r#"userName eq "a\'""#,
                14,
                r"invalid escape '\'' in string".into(),
            ),
            (
                r#"x eq "\u12G4""#,
                6,
                r"invalid unicode escape '\u12G4' in string; expected 4 hex digits".into(),
            ),
            (
                r#"x eq "\u12"#,
                6,
                r"invalid unicode escape '\u12' in string; expected 4 hex digits".into(),
            ),
            (
                r#"x eq "\ud800""#,
                6,
                r"unpaired surrogate '\uD800' in string".into(),
            ),
            (
                r#"x eq "\udc00""#,
                6,
                r"unpaired surrogate '\uDC00' in string".into(),
            ),
            (
                r#"x eq "\ud800\u0041""#,
                6,
                r"unpaired surrogate '\uD800' in string".into(),
            ),
            (
                r#"x eq "\ud800x""#,
                6,
                r"unpaired surrogate '\uD800' in string".into(),
            ),
            (
                r#"x eq "\ud800\uZZZZ""#,
                12,
                r"invalid unicode escape '\uZZZZ' in string; expected 4 hex digits".into(),
            ),
            (
                "x eq \"a\tb\"",
                7,
                "control character U+0009 must be escaped in a string".into(),
            ),
            (
                "x eq \"a\u{1}\"",
                7,
                "control character U+0001 is not allowed".into(),
            ),
            (
                "x\u{0} pr",
                1,
                "control character U+0000 is not allowed".into(),
            ),
            (
                "x eq \"\u{85}\"",
                6,
                "control character U+0085 is not allowed".into(),
            ),
            (
                "(a pr",
                5,
                "expected ')' to close the '(' at position 0, found end of filter".into(),
            ),
            (
                "(a pr b pr)",
                6,
                "expected ')' to close the '(' at position 0, found 'b'".into(),
            ),
            ("a pr)", 4, "unbalanced ')'".into()),
            ("(a pr))", 6, "unbalanced ')'".into()),
            ("a pr]", 4, "unbalanced ']'".into()),
            (")", 0, "unbalanced ')'".into()),
            ("a pr and )", 9, "unbalanced ')'".into()),
            ("()", 1, "empty parentheses".into()),
            ("a pr and", 8, "unexpected end of filter".into()),
            ("a pr or ", 8, "unexpected end of filter".into()),
            (r#"a eq "x" or"#, 11, "unexpected end of filter".into()),
            ("not a pr", 4, "expected '(' after 'not', found 'a'".into()),
            (
                "not",
                3,
                "expected '(' after 'not', found end of filter".into(),
            ),
            (
                r#"a eq "x" and not b eq 1"#,
                17,
                "expected '(' after 'not', found 'b'".into(),
            ),
            (
                "not (a pr",
                9,
                "expected ')' to close the '(' at position 4, found end of filter".into(),
            ),
            ("a pr b pr", 5, "expected 'and' or 'or', found 'b'".into()),
            (
                "a eq 1 xyz",
                7,
                "expected 'and' or 'or', found 'xyz'".into(),
            ),
            (
                r#"userName eq "x" eq "y""#,
                16,
                "expected 'and' or 'or', found 'eq'".into(),
            ),
            (
                "a pr andb pr",
                5,
                "expected 'and' or 'or', found 'andb'".into(),
            ),
            (
                r#"a eq "x""y""#,
                8,
                "expected 'and' or 'or', found a string".into(),
            ),
            (r#"title pr "x""#, 9, "'pr' takes no value".into()),
            ("title pr true", 9, "'pr' takes no value".into()),
            ("title pr -1", 9, "'pr' takes no value".into()),
            (
                "a gt true",
                5,
                "operator 'gt' cannot compare with true".into(),
            ),
            (
                "a co null",
                5,
                "operator 'co' cannot compare with null".into(),
            ),
            (
                "a LE False",
                5,
                "operator 'le' cannot compare with false".into(),
            ),
            (
                "a sw true",
                5,
                "operator 'sw' cannot compare with true".into(),
            ),
            ("a eq 01", 5, "invalid number '01'".into()),
            ("a eq 1.", 5, "invalid number '1.'".into()),
            ("a eq -", 5, "invalid number '-'".into()),
            ("a eq 1e", 5, "invalid number '1e'".into()),
            ("a eq 0x10", 5, "invalid number '0x10'".into()),
            ("a eq 1and b pr", 5, "invalid number '1and'".into()),
            (
                r#"emails[type eq "work""#,
                21,
                "expected ']' to close the '[' at position 6, found end of filter".into(),
            ),
            (
                r#"emails[type eq "work")]"#,
                21,
                "expected ']' to close the '[' at position 6, found ')'".into(),
            ),
            (
                r#"(emails[type eq "work")"#,
                22,
                "expected ']' to close the '[' at position 7, found ')'".into(),
            ),
            ("emails[]", 7, "empty value filter".into()),
            ("emails[", 7, "unexpected end of filter".into()),
            (
                r#"emails[type eq "work"]x"#,
                22,
                "expected 'and' or 'or', found 'x'".into(),
            ),
            ("a[b[c eq 1]]", 3, "value filters cannot be nested".into()),
            (
                "emails[type[value eq 1] pr]",
                11,
                "value filters cannot be nested".into(),
            ),
            (
                "emails[(x pr or y[z pr])]",
                17,
                "value filters cannot be nested".into(),
            ),
            (
                "1abc eq 1",
                0,
                "expected an attribute name, found '1abc'".into(),
            ),
            (
                r#"a pr and "x""#,
                9,
                "expected an attribute name, found a string".into(),
            ),
            (
                "name. eq 1",
                5,
                "expected a sub-attribute name after '.', found ' '".into(),
            ),
            (
                "name.a.b eq 1",
                6,
                "a path can name only one sub-attribute".into(),
            ),
            (
                "urn:foo: eq 1",
                8,
                "expected an attribute name after the schema URN, found ' '".into(),
            ),
            (
                "foo:bar eq 1",
                3,
                "unexpected ':'; a schema URN must start with 'urn:'".into(),
            ),
        ];
        for (input, position, message) in cases {
            let err = Filter::parse(input).expect_err(input);
            assert_eq!(
                err,
                SyntaxError { position, message },
                "{input:?} gave {err}"
            );
        }
    }

    #[test]
    fn length_limit() {
        let exact = format!(r#"a eq "{}""#, "x".repeat(8192 - 7));
        assert_eq!(exact.len(), 8192);
        assert!(Filter::parse(&exact).is_ok());
        let over = format!("{exact} ");
        assert_eq!(
            Filter::parse(&over).unwrap_err(),
            SyntaxError {
                position: 8192,
                message: "filter is longer than 8192 bytes".into()
            }
        );
        let small = Limits {
            max_len: 10,
            max_depth: 32,
        };
        assert!(Filter::parse_with("title pr", small).is_ok());
        assert_eq!(
            Filter::parse_with("userName pr", small)
                .unwrap_err()
                .to_string(),
            "at position 10: filter is longer than 10 bytes"
        );
    }

    #[test]
    // Longer than a screen: each nesting form checked at and over the limit.
    fn depth_limit() {
        let nested = |n: usize| format!("{}a pr{}", "(".repeat(n), ")".repeat(n));
        assert_eq!(Filter::parse(&nested(32)).unwrap(), pr("a"));
        let err = Filter::parse(&nested(33)).unwrap_err();
        assert_eq!(
            (err.position, err.message.as_str()),
            (32, "filter nests deeper than 32 levels")
        );

        // With default limits the length check fires first; without it the
        // depth check must, long before the stack is at risk.
        let parens = "(".repeat(100_000);
        assert_eq!(Filter::parse(&parens).unwrap_err().position, 8192);
        let long = Limits {
            max_len: usize::MAX,
            max_depth: 32,
        };
        let err = Filter::parse_with(&parens, long).unwrap_err();
        assert_eq!(
            (err.position, err.message.as_str()),
            (32, "filter nests deeper than 32 levels")
        );

        // `not` and its parenthesis count one level each.
        let nots = |n: usize| format!("{}a pr{}", "not (".repeat(n), ")".repeat(n));
        assert!(Filter::parse(&nots(16)).is_ok());
        let err = Filter::parse(&nots(17)).unwrap_err();
        assert_eq!(
            (err.position, err.message.as_str()),
            (80, "filter nests deeper than 32 levels")
        );
        let nots_10k = "not (".repeat(10_000);
        let err = Filter::parse_with(&nots_10k, long).unwrap_err();
        assert_eq!(
            (err.position, err.message.as_str()),
            (80, "filter nests deeper than 32 levels")
        );

        // Brackets count too.
        let one = Limits {
            max_len: 8192,
            max_depth: 1,
        };
        assert!(Filter::parse_with("(a pr)", one).is_ok());
        assert!(Filter::parse_with("emails[a pr]", one).is_ok());
        assert_eq!(Filter::parse_with("((a pr))", one).unwrap_err().position, 1);
        assert_eq!(
            Filter::parse_with("not (a pr)", one).unwrap_err().position,
            4
        );
        assert_eq!(
            Filter::parse_with("emails[(a pr)]", one)
                .unwrap_err()
                .position,
            7
        );
        assert_eq!(
            Filter::parse_with("(emails[a pr])", one)
                .unwrap_err()
                .position,
            7
        );

        // A huge configured depth is capped so the stack stays safe.
        let unbounded = Limits {
            max_len: usize::MAX,
            max_depth: usize::MAX,
        };
        let err = Filter::parse_with(&parens, unbounded).unwrap_err();
        assert_eq!(
            (err.position, err.message.as_str()),
            (64, "filter nests deeper than 64 levels")
        );
        let deepest = format!("{}emails[(a pr)]{}", "not (".repeat(31), ")".repeat(31));
        let too_deep = format!("({deepest})");
        assert_eq!(
            Filter::parse_with(&too_deep, unbounded)
                .unwrap_err()
                .position,
            163
        );
        // Parse, display and drop at the ceiling on a stack smaller than the
        // 2 MiB Rust and Tokio threads get, in whatever profile tests run.
        let worker = std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(move || {
                let parsed = Filter::parse_with(&deepest, unbounded).unwrap();
                let shown = parsed.to_string();
                assert_eq!(shown, deepest.replace("[(a pr)]", "[a pr]"));
                assert_eq!(Filter::parse_with(&shown, unbounded).unwrap(), parsed);
            });
        worker.unwrap().join().unwrap();
    }

    /// Worst case for consumers: the longest `and` chain the default length
    /// allows is a left-deep tree that is not depth-limited; it must still
    /// display, compare and drop without trouble.
    #[test]
    fn long_chains_are_only_length_bounded() {
        let mut input = String::from("a pr");
        while input.len() + 9 <= 8192 {
            input.push_str(" and a pr");
        }
        let parsed = Filter::parse(&input).unwrap();
        assert_eq!(Filter::parse(&parsed.to_string()).unwrap(), parsed);
    }

    #[test]
    fn parse_is_total_on_awkward_input() {
        // None of these may panic; each must yield Ok or a positioned error.
        let inputs = [
            "é",
            "\"",
            "\\",
            "[",
            "]",
            "urn:",
            "urn:é:x pr",
            "a eq \"\\u",
            "a eq \"\\ud83d\\u",
            "a eq \"é",
            "emails[type eq \"é\"",
            "not (",
            "$",
            "$ref pr",
            "a eq -é",
            "a.é pr",
            "😀 pr",
            "a eq 1😀",
            "x eq \"\\😀\"",
        ];
        let prefixes_of = [
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "exa\u00e9")"#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work" and value co "@x"].value eq "é😀\ud83d\ude00""#,
            "a ge -1.5e+3 or (b pr and c eq null)",
        ];
        let prefixes = prefixes_of
            .iter()
            .flat_map(|full| (0..=full.len()).filter_map(move |end| full.get(..end)));
        for input in inputs.into_iter().chain(prefixes) {
            if let Err(err) = Filter::parse(input) {
                assert!(err.position <= input.len(), "{input:?}: {err}");
                assert!(input.is_char_boundary(err.position), "{input:?}: {err}");
            }
        }
    }
}
