//! Attribute paths (RFC 7644 §3.10 attribute notation, §3.5.2 PATCH `path`):
//! `[schemaURN ":"] attrName ["[" valFilter "]"] ["." subAttr]`.
//!
//! The same parser reads PATCH paths, filter attribute paths and the keys of
//! the configuration's attribute maps, so all three agree on one grammar.

use std::fmt;

use crate::scim::filter::{self, Filter};

/// A syntax error at a byte position of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub position: usize,
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at position {}: {}", self.position, self.message)
    }
}

impl std::error::Error for SyntaxError {}

pub(crate) fn err(position: usize, message: impl Into<String>) -> SyntaxError {
    SyntaxError {
        position,
        message: message.into(),
    }
}

/// `[schemaURN ":"] attrName ["[" valFilter "]"] ["." subAttr]`
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    /// The schema URN as written, without the trailing ':'.
    pub schema: Option<String>,
    /// The attribute name as written.
    pub attr: String,
    /// A value filter inside brackets; its attribute names are relative to `attr`.
    pub filter: Option<Box<Filter>>,
    /// A sub-attribute.
    pub sub: Option<String>,
}

impl AttrPath {
    /// A plain attribute name.
    pub fn simple(attr: &str) -> AttrPath {
        AttrPath {
            schema: None,
            attr: attr.to_owned(),
            filter: None,
            sub: None,
        }
    }

    /// Parses a whole path (surrounding whitespace ignored).
    pub fn parse(input: &str) -> Result<AttrPath, SyntaxError> {
        let start = input.len() - input.trim_start().len();
        let trimmed = input.trim();
        let mut p = Cursor {
            s: trimmed,
            pos: 0,
            offset: start,
            in_value_filter: false,
        };
        let path = p.path(true, filter::Limits::default(), 0)?;
        p.skip_ws();
        if p.pos < trimmed.len() {
            return Err(err(
                p.offset + p.pos,
                format!("unexpected {:?} after the attribute path", p.rest_token()),
            ));
        }
        Ok(path)
    }
}

/// True when `input` is a bare schema URN (e.g. an extension's URN used as a
/// PATCH path or as a key holding that extension's attributes): it starts
/// with `urn:`, has no `[`, and its last `:`-separated part starts with an
/// upper-case letter (`User`, `Group`, `EnterpriseUser`).
pub fn is_schema_urn(input: &str) -> bool {
    let t = input.trim();
    t.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
        && !t.contains('[')
        && t.rsplit(':')
            .next()
            .and_then(|last| last.chars().next())
            .is_some_and(|c| c.is_ascii_uppercase())
        && !t.rsplit(':').next().is_some_and(|last| last.contains('.'))
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic()
}

fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

/// A cursor over path/filter text; shared with the filter parser.
pub(crate) struct Cursor<'a> {
    pub s: &'a str,
    pub pos: usize,
    /// Added to positions in errors (when `s` is a slice of a larger input).
    pub offset: usize,
    /// Inside `[...]`, where value filters cannot nest.
    pub in_value_filter: bool,
}

impl Cursor<'_> {
    pub fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    pub fn at(&self) -> usize {
        self.offset + self.pos
    }

    pub fn rest_token(&self) -> String {
        let rest = &self.s[self.pos..];
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == '[' || c == ']')
            .unwrap_or(rest.len())
            .max(1);
        rest.chars().take(end.min(24)).collect()
    }

    /// An attribute name (or `$ref`).
    pub fn name(&mut self) -> Result<String, SyntaxError> {
        let start = self.pos;
        let b = self.s.as_bytes();
        if self.s[self.pos..].starts_with("$ref") {
            self.pos += 4;
            return Ok("$ref".to_owned());
        }
        match self.peek() {
            Some(c) if is_name_start(c) => {}
            Some(c) if c.is_ascii_control() => {
                return Err(err(self.at(), "control characters are not allowed"));
            }
            Some(_) => {
                return Err(err(
                    self.at(),
                    format!("expected an attribute name, found {:?}", self.rest_token()),
                ));
            }
            None => return Err(err(self.at(), "expected an attribute name, found the end")),
        }
        while self.pos < b.len() && is_name_char(b[self.pos]) {
            self.pos += 1;
        }
        Ok(self.s[start..self.pos].to_owned())
    }

    /// An attribute path; `allow_filter` permits `[...]`; `depth` bounds nesting.
    pub fn path(
        &mut self,
        allow_filter: bool,
        limits: filter::Limits,
        depth: usize,
    ) -> Result<AttrPath, SyntaxError> {
        let start = self.pos;
        let rest = &self.s[self.pos..];
        let mut schema = None;
        if rest
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
        {
            // The URN ends at the last ':' before the first character that cannot
            // be part of a path: whitespace, '[', or a filter's ')'.
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '[' || c == ')' || c == ']')
                .unwrap_or(rest.len());
            let head = &rest[..end];
            let colon = head.rfind(':').unwrap_or(0);
            if colon <= 4 || colon + 1 >= head.len() {
                return Err(err(
                    self.at() + head.len(),
                    "a schema URN must be followed by ':' and an attribute name",
                ));
            }
            if let Some(bad) = head[..colon].bytes().position(|b| b.is_ascii_control()) {
                return Err(err(self.at() + bad, "control characters are not allowed"));
            }
            schema = Some(head[..colon].to_owned());
            self.pos += colon + 1;
        }
        let attr = self.name()?;
        let mut filter = None;
        if self.peek() == Some(b'[') {
            if !allow_filter {
                return Err(err(self.at(), "value filters cannot be nested"));
            }
            if depth + 1 > limits.max_depth {
                return Err(err(
                    self.at(),
                    format!("filter nests deeper than {} levels", limits.max_depth),
                ));
            }
            self.pos += 1;
            self.in_value_filter = true;
            let inner = filter::parse_inner(self, limits, depth + 1);
            self.in_value_filter = false;
            let inner = inner?;
            self.skip_ws();
            match self.peek() {
                Some(b']') => self.pos += 1,
                None => return Err(err(self.at(), "expected ']'")),
                Some(_) => {
                    return Err(err(
                        self.at(),
                        format!("expected ']', found {:?}", self.rest_token()),
                    ));
                }
            }
            if matches!(inner, Filter::ValuePath { .. }) {
                return Err(err(self.at(), "value filters cannot be nested"));
            }
            filter = Some(Box::new(inner));
        }
        let mut sub = None;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            sub = Some(self.name()?);
            if self.peek() == Some(b'.') {
                return Err(err(self.at(), "a path has at most one sub-attribute"));
            }
        }
        if self.pos == start {
            return Err(err(self.at(), "expected an attribute name"));
        }
        Ok(AttrPath {
            schema,
            attr,
            filter,
            sub,
        })
    }

    pub fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = &self.schema {
            write!(f, "{s}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(flt) = &self.filter {
            write!(f, "[{flt}]")?;
        }
        if let Some(s) = &self.sub {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn accepted_paths() {
        type Case<'a> = (&'a str, Option<&'a str>, &'a str, bool, Option<&'a str>);
        let cases: [Case; 16] = [
            ("userName", None, "userName", false, None),
            ("name.givenName", None, "name", false, Some("givenName")),
            (
                "emails[type eq \"work\"].value",
                None,
                "emails",
                true,
                Some("value"),
            ),
            (
                "addresses[type eq \"work\"].postalCode",
                None,
                "addresses",
                true,
                Some("postalCode"),
            ),
            (
                "phoneNumbers[type eq \"mobile\"].value",
                None,
                "phoneNumbers",
                true,
                Some("value"),
            ),
            (
                "roles[primary eq \"True\"].value",
                None,
                "roles",
                true,
                Some("value"),
            ),
            (
                "roles[primary eq true].value",
                None,
                "roles",
                true,
                Some("value"),
            ),
            (
                "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]",
                None,
                "members",
                true,
                None,
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
                "department",
                false,
                None,
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
                "manager",
                false,
                None,
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
                Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
                "manager",
                false,
                Some("value"),
            ),
            (
                "urn:ietf:params:scim:schemas:extension:contactify:2.0:User:orderCard",
                Some("urn:ietf:params:scim:schemas:extension:contactify:2.0:User"),
                "orderCard",
                false,
                None,
            ),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:name.familyName",
                Some("urn:ietf:params:scim:schemas:core:2.0:User"),
                "name",
                false,
                Some("familyName"),
            ),
            (
                "meta.lastModified",
                None,
                "meta",
                false,
                Some("lastModified"),
            ),
            (
                "members[value eq \"a\"].display",
                None,
                "members",
                true,
                Some("display"),
            ),
            (
                "  emails[type eq \"work\" and value co \"@example.com\"]  ",
                None,
                "emails",
                true,
                None,
            ),
        ];
        for (input, schema, attr, has_filter, sub) in cases {
            let p = AttrPath::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(p.schema.as_deref(), schema, "{input}");
            assert_eq!(p.attr, attr, "{input}");
            assert_eq!(p.filter.is_some(), has_filter, "{input}");
            assert_eq!(p.sub.as_deref(), sub, "{input}");
            assert_eq!(
                AttrPath::parse(&p.to_string()).unwrap(),
                p,
                "round trip of {input}"
            );
        }
        assert_eq!(
            AttrPath::parse("members.$ref").unwrap().sub.as_deref(),
            Some("$ref")
        );
    }

    #[test]
    fn rejected_paths() {
        let cases = [
            ("", 0, "expected an attribute name, found the end"),
            ("1abc", 0, "expected an attribute name, found \"1abc\""),
            ("emails[", 7, "unexpected end of filter"),
            ("emails[type eq \"work\"", 21, "expected ']'"),
            ("emails[]", 7, "expected an attribute name, found \"]\""),
            ("name..x", 5, "expected an attribute name, found \".x\""),
            ("name.", 5, "expected an attribute name, found the end"),
            ("a b", 2, "unexpected \"b\" after the attribute path"),
            (
                "emails[type eq \"work\"]x",
                22,
                "unexpected \"x\" after the attribute path",
            ),
            (
                "urn:foo:",
                8,
                "a schema URN must be followed by ':' and an attribute name",
            ),
            ("a[b[c eq 1]]", 3, "value filters cannot be nested"),
            (
                "a\u{1}b",
                1,
                "unexpected \"\\u{1}b\" after the attribute path",
            ),
            ("name.a.b", 6, "a path has at most one sub-attribute"),
        ];
        for (input, pos, msg) in cases {
            let Err(e) = AttrPath::parse(input) else {
                panic!("{input} should be refused")
            };
            assert_eq!((e.position, e.message.as_str()), (pos, msg), "{input}");
        }
    }

    #[test]
    fn schema_urns() {
        assert!(is_schema_urn(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ));
        assert!(is_schema_urn(
            "urn:ietf:params:scim:schemas:extension:contactify:2.0:User"
        ));
        assert!(!is_schema_urn(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
        ));
        assert!(!is_schema_urn("userName"));
        assert!(!is_schema_urn("urn:x:User:emails[type eq \"a\"]"));
    }
}
