//! SCIM attribute paths: RFC 7644 §3.10 (attribute notation), §3.5.2 (the
//! PATCH `path` attribute) and the `attrPath` / `valuePath` rules of
//! §3.4.2.2 (Figure 1).
//!
//! This module owns [`AttrPath`], the [`SyntaxError`] shared with the filter
//! parser, and the cursor both grammars run on. The two grammars are mutually
//! recursive (a path may carry a value filter, `emails[type eq "work"]`, and a
//! filter is made of paths), so the cursor type lives here together with the
//! path rules, and [`crate::scim::filter`] adds the filter rules to it.
//!
//! Accepted syntax: `[schemaURN ":"] attrName ["[" valFilter "]"] ["." subAttr]`
//! where names are `ALPHA *("-" / "_" / DIGIT / ALPHA)` or `$ref`.
//!
//! A schema URN on its own (a PATCH `path` such as
//! `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User`) is *not* an
//! attribute path: [`AttrPath::parse`] would read its last segment as the
//! attribute name. Callers handling PATCH must test [`is_schema_urn`] first.

use std::fmt;

use crate::scim::filter::{Filter, Limits};

/// Hard ceiling on nesting whatever [`Limits::max_depth`] says: each level
/// costs four stack frames (about 5 KiB unoptimised), and 64 levels keep the
/// worst case well inside the 2 MiB stack of Rust and Tokio threads.
const DEPTH_CEILING: usize = 64;

/// A syntax error at a byte position of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset into the input where the problem was found.
    pub position: usize,
    /// A human-readable description, suitable for a SCIM `detail` field.
    pub message: String,
}

impl SyntaxError {
    pub(crate) fn new(position: usize, message: impl Into<String>) -> Self {
        SyntaxError {
            position,
            message: message.into(),
        }
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at position {}: {}", self.position, self.message)
    }
}

impl std::error::Error for SyntaxError {}

/// `[schemaURN ":"] attrName ["[" valFilter "]"] ["." subAttr]`
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    /// The schema URN as written, without the trailing ':' (e.g.
    /// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"), or None.
    pub schema: Option<String>,
    /// The attribute name as written (e.g. "emails").
    pub attr: String,
    /// A value filter inside brackets; attribute names inside are relative to
    /// `attr` (e.g. `type eq "work"`).
    pub filter: Option<Box<Filter>>,
    /// A sub-attribute (e.g. "value", "givenName").
    pub sub: Option<String>,
}

impl AttrPath {
    /// Parses one attribute path; the whole input (less surrounding
    /// whitespace) must be the path. Uses [`Limits::default`].
    pub fn parse(input: &str) -> Result<AttrPath, SyntaxError> {
        Self::parse_with(input, Limits::default())
    }

    /// Like [`AttrPath::parse`] with explicit limits for the length and for
    /// the nesting inside a value filter.
    pub fn parse_with(input: &str, limits: Limits) -> Result<AttrPath, SyntaxError> {
        let mut p = Parser::new(input, limits, "attribute path")?;
        p.skip_ws();
        if p.at_end() {
            return Err(p.error_here("empty attribute path"));
        }
        let path = p.attr_path()?;
        p.skip_ws();
        if !p.at_end() {
            return Err(p.error_here(format!(
                "unexpected {} after the attribute path",
                p.describe_here()
            )));
        }
        Ok(path)
    }

    /// A path naming just `attr`, with no schema, value filter or
    /// sub-attribute.
    pub fn simple(attr: &str) -> AttrPath {
        AttrPath {
            schema: None,
            attr: attr.to_owned(),
            filter: None,
            sub: None,
        }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(schema) = &self.schema {
            write!(f, "{schema}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// True when `input` (surrounding whitespace ignored) names a whole schema
/// rather than an attribute: it starts with `urn:` (any case), contains no
/// `[`, and its last `:`-separated segment is a plain name starting with an
/// ASCII uppercase letter (`User`, `Group`, `EnterpriseUser`).
///
/// This is a heuristic, because RFC 7644 §3.5.2 allows a PATCH `path` to be a
/// bare extension URN yet the grammar cannot tell `...:2.0:User` from an
/// attribute called `User`; SCIM attribute names are conventionally
/// camelCase, so an uppercase initial means "schema". Call it before
/// [`AttrPath::parse`].
pub fn is_schema_urn(input: &str) -> bool {
    let s = input.trim_matches(is_ws_char);
    let has_prefix = s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    if !has_prefix || s.contains('[') {
        return false;
    }
    match s.rsplit_once(':') {
        Some((namespace, last)) => {
            namespace.len() > 4
                && last.starts_with(|c: char| c.is_ascii_uppercase())
                && scan_name(last) == last.len()
        }
        None => false,
    }
}

/// Whitespace between tokens. Newlines are accepted because filters arrive
/// pretty-printed in `POST /.search` bodies.
fn is_ws_char(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_ws_byte(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// RFC 7643 §2.1 `nameChar`.
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Characters allowed in the schema part of a URN-qualified path. Brackets,
/// parentheses and quotes are excluded because they end the path token in a
/// filter.
fn is_urn_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~%!$&'*+,;=@/:".contains(c)
}

/// Where a URN-prefixed path token stops, so that the "last ':'" rule never
/// looks into a value filter, a following operator or a closing bracket.
fn is_token_end(c: char) -> bool {
    is_ws_char(c) || matches!(c, '[' | ']' | '(' | ')' | '"') || c.is_control()
}

/// Length of the attribute name at the start of `s`, or 0 if there is none.
/// `$ref` is admitted because SCIM defines it as a sub-attribute of
/// references even though it breaks the ATTRNAME rule.
fn scan_name(s: &str) -> usize {
    let b = s.as_bytes();
    match b.first() {
        Some(c) if c.is_ascii_alphabetic() => {
            1 + b.iter().skip(1).take_while(|c| is_name_byte(**c)).count()
        }
        Some(b'$') => {
            let is_ref = b.get(1..4).is_some_and(|r| r.eq_ignore_ascii_case(b"ref"));
            if is_ref && !b.get(4).is_some_and(|c| is_name_byte(*c)) {
                4
            } else {
                0
            }
        }
        _ => 0,
    }
}

/// The cursor shared by the path and filter grammars. Positions are byte
/// offsets into the original input so errors point at what the client sent.
pub(crate) struct Parser<'a> {
    pub(super) src: &'a str,
    pub(super) pos: usize,
    pub(super) depth: usize,
    pub(super) max_depth: usize,
    /// Set while inside `[...]`: value filters cannot nest (§3.4.2.2).
    pub(super) in_value_filter: bool,
    /// "filter" or "attribute path", for messages such as "end of filter".
    pub(super) noun: &'static str,
}

impl<'a> Parser<'a> {
    /// Checks the length and control characters up front so the grammar
    /// never has to, and so oversize input costs nothing to reject.
    pub(super) fn new(
        src: &'a str,
        limits: Limits,
        noun: &'static str,
    ) -> Result<Self, SyntaxError> {
        if src.len() > limits.max_len {
            // Point at a character boundary, never inside a multi-byte character.
            let mut at = limits.max_len;
            while !src.is_char_boundary(at) {
                at -= 1;
            }
            return Err(SyntaxError::new(
                at,
                format!("{noun} is longer than {} bytes", limits.max_len),
            ));
        }
        if let Some((i, c)) = src
            .char_indices()
            .find(|&(_, c)| c.is_control() && !is_ws_char(c))
        {
            return Err(SyntaxError::new(
                i,
                format!("control character U+{:04X} is not allowed", u32::from(c)),
            ));
        }
        Ok(Parser {
            src,
            pos: 0,
            depth: 0,
            max_depth: limits.max_depth.min(DEPTH_CEILING),
            in_value_filter: false,
            noun,
        })
    }

    pub(super) fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    pub(super) fn byte_at(&self, pos: usize) -> Option<u8> {
        self.src.as_bytes().get(pos).copied()
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    /// Index of the first non-whitespace byte at or after `from`.
    pub(super) fn skip_ws_from(&self, from: usize) -> usize {
        let bytes = self.src.as_bytes();
        let mut i = from;
        while bytes.get(i).is_some_and(|b| is_ws_byte(*b)) {
            i += 1;
        }
        i
    }

    pub(super) fn skip_ws(&mut self) {
        self.pos = self.skip_ws_from(self.pos);
    }

    /// The run of name characters at `pos`; keywords are recognised by
    /// whole words so that `prefix` is never read as `pr` + `efix`.
    pub(super) fn word_at(&self, pos: usize) -> &'a str {
        let rest = self.src.get(pos..).unwrap_or("");
        let len = rest.bytes().take_while(|b| is_name_byte(*b)).count();
        rest.get(..len).unwrap_or("")
    }

    pub(super) fn word(&self) -> &'a str {
        self.word_at(self.pos)
    }

    /// Consumes `keyword` (any case) if it is the whole word at the cursor.
    pub(super) fn eat_keyword(&mut self, keyword: &str) -> bool {
        let word = self.word();
        if word.eq_ignore_ascii_case(keyword) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    pub(super) fn text(&self, from: usize, to: usize) -> &'a str {
        self.src.get(from..to).unwrap_or("")
    }

    pub(super) fn error_at(&self, pos: usize, message: impl Into<String>) -> SyntaxError {
        SyntaxError::new(pos, message)
    }

    pub(super) fn error_here(&self, message: impl Into<String>) -> SyntaxError {
        SyntaxError::new(self.pos, message)
    }

    /// What the client wrote at `pos`, for "found ..." in messages.
    pub(super) fn describe_at(&self, pos: usize) -> String {
        let rest = self.src.get(pos..).unwrap_or("");
        let Some(c) = rest.chars().next() else {
            return format!("end of {}", self.noun);
        };
        if c == '"' {
            return "a string".to_owned();
        }
        let word = self.word_at(pos);
        if !word.is_empty() {
            const SHOWN: usize = 40;
            return if word.len() > SHOWN {
                format!("'{}...'", word.get(..SHOWN).unwrap_or(word))
            } else {
                format!("'{word}'")
            };
        }
        if c.is_control() {
            format!("'{}'", c.escape_debug())
        } else {
            format!("'{c}'")
        }
    }

    pub(super) fn describe_here(&self) -> String {
        self.describe_at(self.pos)
    }

    /// Enters one level of nesting (parenthesis, bracket or `not`).
    pub(super) fn enter(&mut self, at: usize) -> Result<(), SyntaxError> {
        if self.depth >= self.max_depth {
            return Err(self.error_at(
                at,
                format!("{} nests deeper than {} levels", self.noun, self.max_depth),
            ));
        }
        self.depth += 1;
        Ok(())
    }

    pub(super) fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Parses one attribute path at the cursor, including a bracketed value
    /// filter and a sub-attribute. Stops at the first character that cannot
    /// continue the path; the caller decides whether that is acceptable.
    pub(super) fn attr_path(&mut self) -> Result<AttrPath, SyntaxError> {
        let schema = self.schema_prefix()?;
        let Some(attr) = self.name() else {
            let what = if schema.is_some() {
                "an attribute name after the schema URN"
            } else {
                "an attribute name"
            };
            return Err(self.error_here(format!("expected {what}, found {}", self.describe_here())));
        };
        let attr = attr.to_owned();

        // Whitespace before '[' is tolerated; if no bracket follows, give it
        // back so the caller's "after '...'" text does not include it.
        let after_name = self.pos;
        self.skip_ws();
        let filter = if self.peek() == Some(b'[') {
            if self.in_value_filter {
                return Err(self.error_here("value filters cannot be nested"));
            }
            Some(Box::new(self.value_filter()?))
        } else {
            self.pos = after_name;
            None
        };

        let sub = if self.peek() == Some(b'.') {
            self.pos += 1;
            match self.name() {
                Some(name) => Some(name.to_owned()),
                None => {
                    return Err(self.error_here(format!(
                        "expected a sub-attribute name after '.', found {}",
                        self.describe_here()
                    )));
                }
            }
        } else {
            None
        };

        match self.peek() {
            Some(b'.') => Err(self.error_here("a path can name only one sub-attribute")),
            Some(b':') => {
                Err(self.error_here("unexpected ':'; a schema URN must start with 'urn:'"))
            }
            _ => Ok(AttrPath {
                schema,
                attr,
                filter,
                sub,
            }),
        }
    }

    fn name(&mut self) -> Option<&'a str> {
        let rest = self.rest();
        let len = scan_name(rest);
        if len == 0 {
            return None;
        }
        self.pos += len;
        rest.get(..len)
    }

    /// Consumes `urn:...:` if present. URNs contain dots and colons
    /// (`...:enterprise:2.0:User:manager.value`), so the schema is everything
    /// up to the last ':' of the path token rather than anything tokenised.
    fn schema_prefix(&mut self) -> Result<Option<String>, SyntaxError> {
        let rest = self.rest();
        if !rest
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
        {
            return Ok(None);
        }
        let token = rest.split(is_token_end).next().unwrap_or(rest);
        let colon = token.rfind(':').unwrap_or(0);
        // "urn:" alone or "urn::x" leaves no namespace to name a schema.
        if colon <= 4 {
            return Err(self
                .error_here("incomplete schema URN; expected 'urn:<namespace>:...:<attribute>'"));
        }
        let schema = token.get(..colon).unwrap_or("");
        if let Some((i, c)) = schema.char_indices().find(|&(_, c)| !is_urn_char(c)) {
            return Err(self.error_at(
                self.pos + i,
                format!("invalid character '{c}' in schema URN"),
            ));
        }
        self.pos += colon + 1;
        Ok(Some(schema.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::scim::filter::{CompareOp, Value};

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn path(
        schema: Option<&str>,
        attr: &str,
        filter: Option<Filter>,
        sub: Option<&str>,
    ) -> AttrPath {
        AttrPath {
            schema: schema.map(str::to_owned),
            attr: attr.to_owned(),
            filter: filter.map(Box::new),
            sub: sub.map(str::to_owned),
        }
    }

    fn eq(attr: &str, value: Value) -> Filter {
        Filter::Compare {
            path: AttrPath::simple(attr),
            op: CompareOp::Eq,
            value,
        }
    }

    fn s(v: &str) -> Value {
        Value::String(v.to_owned())
    }

    #[test]
    // Longer than a screen: a table of accepted paths and their parse, one row each.
    fn accepted_paths() {
        let cases: Vec<(&str, AttrPath)> = vec![
            ("userName", AttrPath::simple("userName")),
            ("  userName\t", AttrPath::simple("userName")),
            (
                "name.givenName",
                path(None, "name", None, Some("givenName")),
            ),
            (
                r#"emails[type eq "work"].value"#,
                path(None, "emails", Some(eq("type", s("work"))), Some("value")),
            ),
            (
                r#"addresses[type eq "work"].postalCode"#,
                path(
                    None,
                    "addresses",
                    Some(eq("type", s("work"))),
                    Some("postalCode"),
                ),
            ),
            (
                r#"phoneNumbers[type eq "mobile"].value"#,
                path(
                    None,
                    "phoneNumbers",
                    Some(eq("type", s("mobile"))),
                    Some("value"),
                ),
            ),
            (
                r#"roles[primary eq "True"].value"#,
                path(None, "roles", Some(eq("primary", s("True"))), Some("value")),
            ),
            (
                "roles[primary eq true].value",
                path(
                    None,
                    "roles",
                    Some(eq("primary", Value::Bool(true))),
                    Some("value"),
                ),
            ),
            (
                r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#,
                path(
                    None,
                    "members",
                    Some(eq("value", s("2819c223-7f76-453a-919d-413861904646"))),
                    None,
                ),
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                path(Some(ENTERPRISE), "department", None, None),
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                path(Some(ENTERPRISE), "manager", None, None),
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                path(Some(ENTERPRISE), "manager", None, Some("value")),
            ),
            (
                "urn:ietf:params:scim:schemas:extension:contactify:2.0:User:orderCard",
                path(
                    Some("urn:ietf:params:scim:schemas:extension:contactify:2.0:User"),
                    "orderCard",
                    None,
                    None,
                ),
            ),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:name.familyName",
                path(
                    Some("urn:ietf:params:scim:schemas:core:2.0:User"),
                    "name",
                    None,
                    Some("familyName"),
                ),
            ),
            (
                "URN:ietf:params:scim:schemas:core:2.0:User:userName",
                path(
                    Some("URN:ietf:params:scim:schemas:core:2.0:User"),
                    "userName",
                    None,
                    None,
                ),
            ),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"].value"#,
                path(
                    Some("urn:ietf:params:scim:schemas:core:2.0:User"),
                    "emails",
                    Some(eq("type", s("work"))),
                    Some("value"),
                ),
            ),
            (
                "meta.lastModified",
                path(None, "meta", None, Some("lastModified")),
            ),
            (
                r#"members[value eq "a"].display"#,
                path(None, "members", Some(eq("value", s("a"))), Some("display")),
            ),
            (
                r#"emails[type eq "work" and value co "@example.com"]"#,
                path(
                    None,
                    "emails",
                    Some(Filter::And(
                        Box::new(eq("type", s("work"))),
                        Box::new(Filter::Compare {
                            path: AttrPath::simple("value"),
                            op: CompareOp::Co,
                            value: s("@example.com"),
                        }),
                    )),
                    None,
                ),
            ),
            (
                r#"emails [ type eq "work" ]"#,
                path(None, "emails", Some(eq("type", s("work"))), None),
            ),
            ("members.$ref", path(None, "members", None, Some("$ref"))),
            ("x-custom_attr2", AttrPath::simple("x-custom_attr2")),
        ];
        for (input, expected) in cases {
            let parsed = AttrPath::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(parsed, expected, "{input:?}");
            let shown = parsed.to_string();
            assert_eq!(
                AttrPath::parse(&shown).unwrap(),
                parsed,
                "round trip of {input:?} via {shown:?}"
            );
        }
    }

    #[test]
    fn canonical_display() {
        let cases = [
            (r#"emails [ type EQ "work" ] .value"#, None),
            (
                r#"emails[ type EQ "work" ].value"#,
                Some(r#"emails[type eq "work"].value"#),
            ),
            ("name.givenName", Some("name.givenName")),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"),
            ),
        ];
        for (input, expected) in cases {
            match expected {
                Some(text) => assert_eq!(AttrPath::parse(input).unwrap().to_string(), text),
                None => assert!(AttrPath::parse(input).is_err(), "{input:?}"),
            }
        }
    }

    #[test]
    fn rejected_paths() {
        let cases: &[(&str, usize, &str)] = &[
            ("", 0, "empty attribute path"),
            ("   ", 3, "empty attribute path"),
            ("1abc", 0, "expected an attribute name, found '1abc'"),
            ("emails[", 7, "unexpected end of attribute path"),
            (
                r#"emails[type eq "work""#,
                21,
                "expected ']' to close the '[' at position 6, found end of attribute path",
            ),
            ("emails[]", 7, "empty value filter"),
            (
                "name..x",
                5,
                "expected a sub-attribute name after '.', found '.'",
            ),
            (
                "name.",
                5,
                "expected a sub-attribute name after '.', found end of attribute path",
            ),
            (
                "name.givenName.x",
                14,
                "a path can name only one sub-attribute",
            ),
            ("a b", 2, "unexpected 'b' after the attribute path"),
            (
                r#"emails[type eq "work"]x"#,
                22,
                "unexpected 'x' after the attribute path",
            ),
            (
                "urn:foo:",
                8,
                "expected an attribute name after the schema URN, found end of attribute path",
            ),
            (
                "urn:foo",
                0,
                "incomplete schema URN; expected 'urn:<namespace>:...:<attribute>'",
            ),
            (
                "urn::x",
                0,
                "incomplete schema URN; expected 'urn:<namespace>:...:<attribute>'",
            ),
            ("urn:a{b:c", 5, "invalid character '{' in schema URN"),
            (
                "foo:bar",
                3,
                "unexpected ':'; a schema URN must start with 'urn:'",
            ),
            ("a[b[c eq 1]]", 3, "value filters cannot be nested"),
            ("a\u{1}b", 1, "control character U+0001 is not allowed"),
            ("na\u{7f}me", 2, "control character U+007F is not allowed"),
            ("a\nb", 2, "unexpected 'b' after the attribute path"),
            ("$refs", 0, "expected an attribute name, found '$'"),
            ("émails", 0, "expected an attribute name, found 'é'"),
            (
                "emails[type eq]",
                14,
                "expected a value (a string, number, true, false or null) after 'eq', found ']'",
            ),
            (
                "emails[type eq \"work\")",
                21,
                "expected ']' to close the '[' at position 6, found ')'",
            ),
        ];
        for &(input, position, message) in cases {
            let err = AttrPath::parse(input).expect_err(input);
            assert_eq!(
                err,
                SyntaxError::new(position, message),
                "{input:?} gave {err}"
            );
        }
    }

    #[test]
    fn length_limit() {
        let long = "a".repeat(8193);
        let err = AttrPath::parse(&long).unwrap_err();
        assert_eq!(
            err,
            SyntaxError::new(8192, "attribute path is longer than 8192 bytes")
        );
        assert!(AttrPath::parse(&"a".repeat(8192)).is_ok());
    }

    #[test]
    fn schema_urn_detection() {
        let cases = [
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                true,
            ),
            ("urn:ietf:params:scim:schemas:core:2.0:Group", true),
            ("URN:example:EnterpriseUser", true),
            (" urn:ietf:params:scim:schemas:core:2.0:User ", true),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                false,
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                false,
            ),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq \"Work\"]",
                false,
            ),
            ("urn:User", false),
            ("userName", false),
            ("User", false),
            ("urn:x:User.name", false),
            ("", false),
        ];
        for (input, expected) in cases {
            assert_eq!(is_schema_urn(input), expected, "{input:?}");
        }
    }

    #[test]
    fn error_display() {
        let err = SyntaxError::new(3, "boom");
        assert_eq!(err.to_string(), "at position 3: boom");
        let _: &dyn std::error::Error = &err;
    }
}
