//! LDAP vocabulary as plain data: distinguished names, filters, entries and
//! modifications, with the only string escaping in the crate.
//!
//! Every DN and filter that reaches the directory is built here. DNs are parsed
//! with the RFC 4514 grammar (never split on commas) and values going into a DN
//! are escaped per RFC 4514 §2.4; filter values are escaped per RFC 4515 §3 by
//! the one `Display` impl of [`Filter`]. Nothing in this module does I/O.

use std::fmt;

/// One attribute-type-and-value of an RDN, e.g. `uid=alice`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ava {
    /// Attribute type as written (compared case-insensitively).
    pub attr: String,
    /// The unescaped value.
    pub value: String,
}

/// A distinguished name as a list of RDNs, leaf first (RFC 4514 §2). The
/// default is the empty DN (the root DSE).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dn {
    rdns: Vec<Vec<Ava>>,
}

/// Why a DN string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid DN {dn:?}: {reason}")]
pub struct DnError {
    pub dn: String,
    pub reason: &'static str,
}

impl Dn {
    /// The empty DN (the root DSE).
    pub fn root() -> Dn {
        Dn { rdns: Vec::new() }
    }

    /// Parses an RFC 4514 string representation: RDNs separated by `,` (or
    /// `;`), each one or more `type=value` pairs joined by `+`.
    pub fn parse(input: &str) -> Result<Dn, DnError> {
        if input.trim().is_empty() {
            return Ok(Dn::root());
        }
        let mut cursor = DnCursor { input, at: 0 };
        let mut rdns = Vec::new();
        let mut rdn = Vec::new();
        loop {
            let attr = cursor.attribute_type()?;
            let value = cursor.attribute_value()?;
            rdn.push(Ava { attr, value });
            match cursor.separator() {
                None => {
                    rdns.push(std::mem::take(&mut rdn));
                    break;
                }
                Some(b'+') => {}
                Some(_) => rdns.push(std::mem::take(&mut rdn)),
            }
        }
        Ok(Dn { rdns })
    }

    /// A DN made of one RDN `attr=value` under `parent`.
    pub fn child(parent: &Dn, attr: &str, value: &str) -> Dn {
        let mut rdns = Vec::with_capacity(parent.rdns.len() + 1);
        rdns.push(vec![Ava {
            attr: attr.to_owned(),
            value: value.to_owned(),
        }]);
        rdns.extend(parent.rdns.iter().cloned());
        Dn { rdns }
    }

    /// The leaf RDN's AVAs (empty for the root).
    pub fn rdn(&self) -> &[Ava] {
        self.rdns.first().map(Vec::as_slice).unwrap_or(&[])
    }

    /// The value of the leaf RDN for `attr`, if the RDN has that type.
    pub fn rdn_value(&self, attr: &str) -> Option<&str> {
        self.rdn()
            .iter()
            .find(|a| a.attr.eq_ignore_ascii_case(attr))
            .map(|a| a.value.as_str())
    }

    /// The DN without its leaf RDN.
    pub fn parent(&self) -> Dn {
        Dn {
            rdns: self.rdns.iter().skip(1).cloned().collect(),
        }
    }

    /// Number of RDNs.
    pub fn len(&self) -> usize {
        self.rdns.len()
    }

    /// True for the root DN.
    pub fn is_empty(&self) -> bool {
        self.rdns.is_empty()
    }

    /// True when `self` is `base` or below it. Attribute types and values are
    /// compared case-insensitively, which is right for the naming attributes in
    /// use (uid, cn, ou, dc are all caseIgnoreMatch).
    pub fn is_within(&self, base: &Dn) -> bool {
        if self.rdns.len() < base.rdns.len() {
            return false;
        }
        let offset = self.rdns.len() - base.rdns.len();
        self.rdns[offset..]
            .iter()
            .zip(&base.rdns)
            .all(|(a, b)| rdn_eq(a, b))
    }

    /// Equality under the same rules as [`Dn::is_within`].
    pub fn same_as(&self, other: &Dn) -> bool {
        self.rdns.len() == other.rdns.len() && self.is_within(other)
    }

    /// A canonical key for maps: lower-cased types and values, RFC 4514 escaped.
    pub fn key(&self) -> String {
        self.to_string().to_lowercase()
    }

    /// The deepest DN that both `a` and `b` are within.
    pub fn common_ancestor(a: &Dn, b: &Dn) -> Dn {
        let mut common = Vec::new();
        for (x, y) in a.rdns.iter().rev().zip(b.rdns.iter().rev()) {
            if rdn_eq(x, y) {
                common.push(x.clone());
            } else {
                break;
            }
        }
        common.reverse();
        Dn { rdns: common }
    }
}

fn rdn_eq(a: &[Ava], b: &[Ava]) -> bool {
    a.len() == b.len()
        && a.iter().all(|x| {
            b.iter().any(|y| {
                x.attr.eq_ignore_ascii_case(&y.attr)
                    && x.value.to_lowercase() == y.value.to_lowercase()
            })
        })
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

/// [`Dn::parse`]'s position in the string it reads: one pass of the RFC 4514
/// grammar (type, value with its escapes, separator), a method per part.
struct DnCursor<'a> {
    input: &'a str,
    at: usize,
}

impl DnCursor<'_> {
    /// The error for the whole input.
    fn error(&self, reason: &'static str) -> DnError {
        DnError {
            dn: self.input.to_owned(),
            reason,
        }
    }

    /// The byte `ahead` places past the cursor, if any.
    fn peek(&self, ahead: usize) -> Option<u8> {
        self.input.as_bytes().get(self.at + ahead).copied()
    }

    /// Steps over spaces, which may surround a type.
    fn skip_spaces(&mut self) {
        while self.peek(0) == Some(b' ') {
            self.at += 1;
        }
    }

    /// `attributeType "="` with spaces around the type; returns the type as
    /// written.
    fn attribute_type(&mut self) -> Result<String, DnError> {
        self.skip_spaces();
        let start = self.at;
        while self
            .peek(0)
            .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'))
        {
            self.at += 1;
        }
        if start == self.at {
            return Err(self.error("expected an attribute type"));
        }
        let attr = self.input[start..self.at].to_owned();
        self.skip_spaces();
        if self.peek(0) != Some(b'=') {
            return Err(self.error("expected '=' after an attribute type"));
        }
        self.at += 1;
        Ok(attr)
    }

    /// `attributeValue` up to the next separator, unescaped.
    fn attribute_value(&mut self) -> Result<String, DnError> {
        let value = if self.peek(0) == Some(b'#') {
            self.hex_string()
        } else {
            self.string()?
        };
        String::from_utf8(value).map_err(|_| self.error("value is not UTF-8"))
    }

    /// The `#` hexstring form, kept verbatim: it is compared as text.
    fn hex_string(&mut self) -> Vec<u8> {
        let start = self.at;
        self.at += 1;
        while self.peek(0).is_some_and(|b| b.is_ascii_hexdigit()) {
            self.at += 1;
        }
        self.input.as_bytes()[start..self.at].to_vec()
    }

    /// The string form: escapes resolved, unescaped trailing spaces dropped.
    fn string(&mut self) -> Result<Vec<u8>, DnError> {
        let mut value = Vec::new();
        let mut trailing_unescaped_spaces = 0usize;
        while let Some(b) = self.peek(0).filter(|b| !matches!(b, b',' | b'+' | b';')) {
            match b {
                b'\\' => {
                    value.push(self.escape()?);
                    trailing_unescaped_spaces = 0;
                }
                b'"' => return Err(self.error("unescaped '\"' in a value")),
                b => {
                    if b == b' ' {
                        trailing_unescaped_spaces += 1;
                    } else {
                        trailing_unescaped_spaces = 0;
                    }
                    value.push(b);
                    self.at += 1;
                }
            }
        }
        value.truncate(value.len() - trailing_unescaped_spaces);
        Ok(value)
    }

    /// The byte a `\` at the cursor stands for: two hex digits or one
    /// special character.
    fn escape(&mut self) -> Result<u8, DnError> {
        let next = self.peek(1).ok_or_else(|| self.error("dangling '\\'"))?;
        if next.is_ascii_hexdigit() {
            let hi = hex(next).ok_or_else(|| self.error("bad hex escape"))?;
            let lo = self
                .peek(2)
                .and_then(hex)
                .ok_or_else(|| self.error("bad hex escape"))?;
            self.at += 3;
            Ok(hi * 16 + lo)
        } else if b"\"+,;<>\\ #=".contains(&next) {
            self.at += 2;
            Ok(next)
        } else {
            Err(self.error("'\\' must escape a special character or two hex digits"))
        }
    }

    /// The separator after a value (`+`, `,` or `;`), stepped over; `None`
    /// at the end of the input.
    fn separator(&mut self) -> Option<u8> {
        let b = self.peek(0)?;
        self.at += 1;
        Some(b)
    }
}

impl fmt::Display for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rdn) in self.rdns.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            for (j, ava) in rdn.iter().enumerate() {
                if j > 0 {
                    f.write_str("+")?;
                }
                write!(f, "{}=", ava.attr)?;
                f.write_str(&escape_dn_value(&ava.value))?;
            }
        }
        Ok(())
    }
}

/// The string form of a single-valued RDN `attr=value`, the value escaped
/// (RFC 4514 §2.4): what a modrdn names as the new RDN.
pub fn rdn(attr: &str, value: &str) -> String {
    format!("{attr}={}", escape_dn_value(value))
}

/// The attribute list that asks a search for no attributes at all (RFC 4511
/// §4.5.1.8): only whether, or how many, entries match.
pub const NO_ATTRIBUTES: &str = "1.1";

/// A search's attribute list naming no attributes (see [`NO_ATTRIBUTES`]).
pub fn no_attributes() -> Vec<String> {
    vec![NO_ATTRIBUTES.to_owned()]
}

/// Escapes an attribute value for use in a DN string (RFC 4514 §2.4).
pub fn escape_dn_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' | '=' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\{b:02x}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Escapes an assertion value for a filter string (RFC 4515 §3).
pub fn escape_filter_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    for c in value.chars() {
        match c {
            '*' => out.push_str("\\2a"),
            '(' => out.push_str("\\28"),
            ')' => out.push_str("\\29"),
            '\\' => out.push_str("\\5c"),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

/// An LDAP search filter (RFC 4511 §4.5.1), rendered by `Display` (RFC 4515).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Equal(String, String),
    /// `(attr=initial*any*...*final)`: (initial, any, final).
    Substring(String, Option<String>, Vec<String>, Option<String>),
    GreaterOrEqual(String, String),
    LessOrEqual(String, String),
    Present(String),
}

impl Filter {
    /// The filter that matches every entry.
    pub fn everything() -> Filter {
        Filter::Present("objectClass".to_owned())
    }

    /// A filter no entry matches (RFC 4526 absolute false).
    pub fn nothing() -> Filter {
        Filter::Or(Vec::new())
    }

    /// True for the absolute-false filter built by [`Filter::nothing`].
    pub fn is_nothing(&self) -> bool {
        matches!(self, Filter::Or(v) if v.is_empty())
    }

    /// Conjunction that drops redundant nesting and short-circuits on false.
    pub fn and(parts: Vec<Filter>) -> Filter {
        let mut out = Vec::with_capacity(parts.len());
        for p in parts {
            match p {
                Filter::And(inner) => out.extend(inner),
                p if p.is_nothing() => return Filter::nothing(),
                p => out.push(p),
            }
        }
        // Absolute true adds nothing to a conjunction.
        if out.len() > 1 {
            out.retain(|p| *p != Filter::everything());
            if out.is_empty() {
                return Filter::everything();
            }
        }
        if out.len() == 1 {
            out.pop().unwrap_or_else(Filter::nothing)
        } else {
            Filter::And(out)
        }
    }

    /// Disjunction that drops redundant nesting and false members.
    pub fn or(parts: Vec<Filter>) -> Filter {
        let mut out = Vec::with_capacity(parts.len());
        for p in parts {
            match p {
                p if p.is_nothing() => {}
                p if p == Filter::everything() => return Filter::everything(),
                Filter::Or(inner) => out.extend(inner),
                p => out.push(p),
            }
        }
        if out.len() == 1 {
            out.pop().unwrap_or_else(Filter::nothing)
        } else {
            Filter::Or(out)
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::And(parts) => {
                f.write_str("(&")?;
                for p in parts {
                    p.fmt(f)?;
                }
                f.write_str(")")
            }
            Filter::Or(parts) => {
                f.write_str("(|")?;
                for p in parts {
                    p.fmt(f)?;
                }
                f.write_str(")")
            }
            Filter::Not(inner) => write!(f, "(!{inner})"),
            Filter::Equal(a, v) => write!(f, "({a}={})", escape_filter_value(v)),
            Filter::GreaterOrEqual(a, v) => write!(f, "({a}>={})", escape_filter_value(v)),
            Filter::LessOrEqual(a, v) => write!(f, "({a}<={})", escape_filter_value(v)),
            Filter::Present(a) => write!(f, "({a}=*)"),
            Filter::Substring(a, initial, any, fin) => {
                write!(f, "({a}=")?;
                if let Some(i) = initial {
                    f.write_str(&escape_filter_value(i))?;
                }
                f.write_str("*")?;
                for x in any {
                    write!(f, "{}*", escape_filter_value(x))?;
                }
                if let Some(x) = fin {
                    f.write_str(&escape_filter_value(x))?;
                }
                f.write_str(")")
            }
        }
    }
}

/// An entry's attributes: lower-case names in order, each with its values in
/// the order the server sent them. A sorted vector rather than a map: an
/// entry holds a few dozen attributes, is built once per read and looked up
/// for every mapped attribute rendered, and a binary search that folds the
/// asked name's case as it compares needs neither a copy of the name nor a
/// tree of nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attrs(Vec<(String, Vec<String>)>);

/// An attribute description's name as a key: options (`;binary`) dropped,
/// lower case (descriptions are ASCII, RFC 4512 §2.5).
fn attr_key(mut name: String) -> String {
    if let Some(i) = name.find(';') {
        name.truncate(i);
    }
    name.make_ascii_lowercase();
    name
}

impl Attrs {
    fn position(&self, name: &str) -> Result<usize, usize> {
        // The name is folded once, on the stack (no allocation: this runs for
        // every mapped attribute of every entry rendered), then compared as
        // bytes.
        let mut buf = [0u8; 64];
        match buf.get_mut(..name.len()) {
            Some(b) if name.is_ascii() => {
                b.copy_from_slice(name.as_bytes());
                b.make_ascii_lowercase();
                let folded: &[u8] = b;
                self.0.binary_search_by(|(k, _)| k.as_bytes().cmp(folded))
            }
            _ => {
                let folded = name.to_lowercase();
                self.0.binary_search_by(|(k, _)| k.as_str().cmp(&folded))
            }
        }
    }

    /// The values of `name`, in any case.
    pub fn get(&self, name: &str) -> Option<&Vec<String>> {
        self.position(name).ok().map(|i| &self.0[i].1)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut Vec<String>> {
        self.position(name).ok().map(|i| &mut self.0[i].1)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.position(name).is_ok()
    }

    /// Sets `name`'s values, returning those it had.
    pub fn insert(&mut self, name: String, values: Vec<String>) -> Option<Vec<String>> {
        let key = attr_key(name);
        match self.position(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, values)),
            Err(i) => {
                self.0.insert(i, (key, values));
                None
            }
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<Vec<String>> {
        self.position(name).ok().map(|i| self.0.remove(i).1)
    }

    /// `name`'s values, added empty when absent.
    pub fn values_mut(&mut self, name: &str) -> &mut Vec<String> {
        let key = attr_key(name.to_owned());
        let i = match self.position(&key) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, (key, Vec::new()));
                i
            }
        };
        &mut self.0[i].1
    }

    /// The names, in order.
    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(k, _)| k)
    }

    /// Every attribute's values, in the order of the names.
    pub fn values(&self) -> impl Iterator<Item = &Vec<String>> {
        self.0.iter().map(|(_, v)| v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Vec<String>)> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(String, Vec<String>)> for Attrs {
    /// Folds the names (`attr;binary` and other options onto the base name,
    /// lower case) and merges the values of names that fold alike.
    fn from_iter<I: IntoIterator<Item = (String, Vec<String>)>>(attrs: I) -> Attrs {
        let mut folded: Vec<(String, Vec<String>)> =
            attrs.into_iter().map(|(k, v)| (attr_key(k), v)).collect();
        // Stable: a name's values keep the order the server sent them in.
        folded.sort_by(|a, b| a.0.cmp(&b.0));
        folded.dedup_by(|later, first| {
            let same = later.0 == first.0;
            if same {
                first.1.append(&mut later.1);
            }
            same
        });
        Attrs(folded)
    }
}

impl IntoIterator for Attrs {
    type Item = (String, Vec<String>);
    type IntoIter = std::vec::IntoIter<(String, Vec<String>)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Attrs {
    type Item = (&'a String, &'a Vec<String>);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (String, Vec<String>)>,
        fn(&'a (String, Vec<String>)) -> (&'a String, &'a Vec<String>),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

/// An entry as read from the directory. Attribute names are keyed in lower case
/// so look-ups follow LDAP's case-insensitive attribute descriptions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub dn: Dn,
    pub attrs: Attrs,
}

impl Entry {
    /// Builds an entry, folding attribute names to lower case.
    pub fn new(dn: Dn, attrs: impl IntoIterator<Item = (String, Vec<String>)>) -> Entry {
        Entry {
            dn,
            attrs: attrs.into_iter().collect(),
        }
    }

    /// All values of `attr` (empty when absent).
    pub fn values(&self, attr: &str) -> &[String] {
        self.attrs.get(attr).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The first value of `attr`.
    pub fn first(&self, attr: &str) -> Option<&str> {
        self.values(attr).first().map(String::as_str)
    }

    /// Applies a modify the way the server does (RFC 4511 §4.6), for an entry
    /// known to have changed by nothing else. Values to delete match exactly
    /// or, failing that, ignoring ASCII case; an empty delete or replace
    /// removes the attribute.
    pub fn apply(&mut self, mods: &[Mod]) {
        for m in mods {
            let key = m
                .attr()
                .split(';')
                .next()
                .unwrap_or_default()
                .to_lowercase();
            match m {
                Mod::Add(_, vals) => {
                    let have = self.attrs.values_mut(&key);
                    let mut present: std::collections::HashSet<String> =
                        have.iter().cloned().collect();
                    for v in vals {
                        if present.insert(v.clone()) {
                            have.push(v.clone());
                        }
                    }
                }
                Mod::Replace(_, vals) => {
                    self.attrs.insert(key.clone(), vals.clone());
                }
                Mod::Delete(_, vals) if vals.is_empty() => {
                    self.attrs.remove(&key);
                }
                Mod::Delete(_, vals) => {
                    if let Some(have) = self.attrs.get_mut(&key) {
                        // Exact matches in one pass; the rare rest by case.
                        let mut gone: std::collections::HashSet<&String> = vals.iter().collect();
                        have.retain(|h| !gone.remove(h));
                        for v in gone {
                            if let Some(i) = have.iter().position(|h| h.eq_ignore_ascii_case(v)) {
                                have.remove(i);
                            }
                        }
                    }
                }
            }
            if self.attrs.get(&key).is_some_and(Vec::is_empty) {
                self.attrs.remove(&key);
            }
        }
    }

    /// Replaces the listed attributes by their values in `fresh` (removing
    /// those `fresh` lacks).
    pub fn refresh(&mut self, attrs: &[String], fresh: Entry) {
        for a in attrs {
            self.attrs.remove(&a.to_lowercase());
        }
        let mut fresh = fresh;
        for a in attrs {
            if let Some(v) = fresh.attrs.remove(&a.to_lowercase()) {
                self.attrs.insert(a.to_lowercase(), v);
            }
        }
    }
}

/// One change of a modify operation (RFC 4511 §4.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mod {
    Add(String, Vec<String>),
    Delete(String, Vec<String>),
    Replace(String, Vec<String>),
}

impl Mod {
    /// The attribute the change is about.
    pub fn attr(&self) -> &str {
        match self {
            Mod::Add(a, _) | Mod::Delete(a, _) | Mod::Replace(a, _) => a,
        }
    }
}

/// Rewrites value-level changes (add or delete of single values) to the
/// attributes in `unmatchable` — lower-case names of attribute types without
/// an EQUALITY rule, whose single values the server cannot find — as one
/// replace with the values they leave on `entry`.
pub fn replace_unmatchable(
    entry: &Entry,
    mods: Vec<Mod>,
    unmatchable: &std::collections::BTreeSet<String>,
) -> Vec<Mod> {
    let key = |m: &Mod| {
        m.attr()
            .split(';')
            .next()
            .unwrap_or_default()
            .to_lowercase()
    };
    let value_level = |m: &Mod| match m {
        Mod::Add(..) => true,
        Mod::Delete(_, v) => !v.is_empty(),
        Mod::Replace(..) => false,
    };
    if !mods
        .iter()
        .any(|m| value_level(m) && unmatchable.contains(&key(m)))
    {
        return mods;
    }
    let mut out: Vec<Mod> = Vec::new();
    let mut done: Vec<String> = Vec::new();
    for m in &mods {
        let k = key(m);
        if !unmatchable.contains(&k) {
            out.push(m.clone());
            continue;
        }
        if done.contains(&k) {
            continue;
        }
        let mut e = Entry::new(entry.dn.clone(), [(k.clone(), entry.values(&k).to_vec())]);
        let same: Vec<Mod> = mods.iter().filter(|x| key(x) == k).cloned().collect();
        e.apply(&same);
        out.push(Mod::Replace(m.attr().to_owned(), e.values(&k).to_vec()));
        done.push(k);
    }
    out
}

/// Converts LDAP GeneralizedTime (`20240102030405Z`, optionally with
/// fractions) into an RFC 3339 / xsd:dateTime string as SCIM wants it.
pub fn generalized_to_rfc3339(value: &str) -> Option<String> {
    let digits = value.get(..14)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rest = &value[14..];
    let frac = rest
        .strip_prefix('.')
        .map(|r| r.trim_end_matches('Z'))
        .filter(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
    Some(format!(
        "{}-{}-{}T{}:{}:{}{}Z",
        &digits[0..4],
        &digits[4..6],
        &digits[6..8],
        &digits[8..10],
        &digits[10..12],
        &digits[12..14],
        frac.map(|f| format!(".{f}")).unwrap_or_default()
    ))
}

/// Converts an RFC 3339 UTC timestamp (`2024-01-02T03:04:05Z`, optional
/// fraction) into GeneralizedTime; other offsets are rejected rather than
/// silently mis-compared.
pub fn rfc3339_to_generalized(value: &str) -> Option<String> {
    // Byte offsets below are only char boundaries for ASCII text.
    if !value.is_ascii() {
        return None;
    }
    let b = value.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let parts = [
        &value[0..4],
        &value[5..7],
        &value[8..10],
        &value[11..13],
        &value[14..16],
        &value[17..19],
    ];
    if !parts.iter().all(|p| p.bytes().all(|c| c.is_ascii_digit())) {
        return None;
    }
    let rest = &value[19..];
    let (frac, tz) = match rest.strip_prefix('.') {
        Some(r) => {
            let n = r.bytes().take_while(u8::is_ascii_digit).count();
            (Some(&r[..n]), &r[n..])
        }
        None => (None, rest),
    };
    if !(tz == "Z" || tz == "z" || tz == "+00:00") {
        return None;
    }
    Some(format!(
        "{}{}Z",
        parts.concat(),
        frac.filter(|f| !f.is_empty())
            .map(|f| format!(".{f}"))
            .unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn unmatchable_attributes_are_replaced_whole() {
        let e = Entry::new(
            Dn::parse("uid=a,ou=people,dc=example,dc=com").unwrap(),
            [
                (
                    "facsimileTelephoneNumber".to_owned(),
                    vec!["+1 1".to_owned(), "+1 2".to_owned()],
                ),
                ("mail".to_owned(), vec!["a@x".to_owned()]),
            ],
        );
        let unmatchable = std::collections::BTreeSet::from(["facsimiletelephonenumber".to_owned()]);
        let mods = vec![
            Mod::Delete("mail".into(), vec!["a@x".into()]),
            Mod::Delete("facsimileTelephoneNumber".into(), vec!["+1 1".into()]),
            Mod::Add("mail".into(), vec!["b@x".into()]),
            Mod::Add("facsimileTelephoneNumber".into(), vec!["+1 3".into()]),
        ];
        assert_eq!(
            replace_unmatchable(&e, mods.clone(), &unmatchable),
            [
                Mod::Delete("mail".into(), vec!["a@x".into()]),
                Mod::Replace(
                    "facsimileTelephoneNumber".into(),
                    vec!["+1 2".into(), "+1 3".into()]
                ),
                Mod::Add("mail".into(), vec!["b@x".into()]),
            ]
        );
        // Nothing to rewrite: unchanged; removing all values needs no matching.
        let whole = vec![Mod::Delete("facsimileTelephoneNumber".into(), vec![])];
        assert_eq!(replace_unmatchable(&e, whole.clone(), &unmatchable), whole);
        assert_eq!(
            replace_unmatchable(&e, mods.clone(), &Default::default()),
            mods
        );
    }

    #[test]
    fn modifies_apply_as_the_server_does() {
        let mut e = Entry::new(
            Dn::parse("uid=a,ou=people,dc=example,dc=com").unwrap(),
            [
                ("mail".to_owned(), vec!["a@x".to_owned(), "B@x".to_owned()]),
                ("title".to_owned(), vec!["Old".to_owned()]),
                ("mobile".to_owned(), vec!["1".to_owned()]),
                ("sn".to_owned(), vec!["S".to_owned()]),
            ],
        );
        e.apply(&[
            Mod::Add("Mail".into(), vec!["c@x".into(), "a@x".into()]),
            Mod::Delete("mail".into(), vec!["b@x".into()]),
            Mod::Replace("title".into(), vec!["New".into()]),
            Mod::Delete("mobile".into(), vec!["1".into()]),
            Mod::Replace("sn".into(), vec![]),
            Mod::Add("givenName;lang-en".into(), vec!["G".into()]),
            Mod::Delete("absent".into(), vec!["x".into()]),
        ]);
        assert_eq!(e.values("mail"), ["a@x", "c@x"]);
        assert_eq!(e.values("title"), ["New"]);
        assert!(!e.attrs.contains_key("mobile"));
        assert!(!e.attrs.contains_key("sn"));
        assert!(!e.attrs.contains_key("absent"));
        assert_eq!(e.values("givenname"), ["G"]);
        e.apply(&[Mod::Delete("mail".into(), vec![])]);
        assert!(e.values("mail").is_empty());
        let fresh = Entry::new(
            e.dn.clone(),
            [(
                "modifyTimestamp".to_owned(),
                vec!["20260101000000Z".to_owned()],
            )],
        );
        e.refresh(&["modifyTimestamp".into(), "title".into()], fresh);
        assert_eq!(e.values("modifytimestamp"), ["20260101000000Z"]);
        assert!(
            e.values("title").is_empty(),
            "absent from the fresh read: gone"
        );
        assert_eq!(e.values("givenName"), ["G"]);
    }

    #[test]
    fn dn_round_trips_and_escapes() {
        let cases = [
            (
                "uid=alice,ou=people,dc=example,dc=com",
                "uid=alice,ou=people,dc=example,dc=com",
            ),
            (
                "UID=Alice, OU=People,DC=example,DC=com",
                "UID=Alice,OU=People,DC=example,DC=com",
            ),
            (
                "cn=Smith\\, John,ou=people,dc=x",
                "cn=Smith\\, John,ou=people,dc=x",
            ),
            ("cn=a\\2Cb,dc=x", "cn=a\\,b,dc=x"),
            ("cn=\\#hash,dc=x", "cn=\\#hash,dc=x"),
            ("cn=\\ lead,dc=x", "cn=\\ lead,dc=x"),
            ("cn=a+sn=b,dc=x", "cn=a+sn=b,dc=x"),
            ("cn=caf\\C3\\A9,dc=x", "cn=café,dc=x"),
        ];
        for (input, out) in cases {
            let dn = Dn::parse(input).unwrap();
            assert_eq!(dn.to_string(), out, "{input}");
            assert_eq!(Dn::parse(&dn.to_string()).unwrap(), dn);
        }
    }

    #[test]
    fn dn_rejects_garbage() {
        for bad in ["=x", "uid", "uid=a,", "cn=a\\", "cn=a\\zz", "cn=\"q\""] {
            assert!(Dn::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dn_value_escaping_is_rfc4514() {
        let hostile = [
            (",", "\\,"),
            ("a+b", "a\\+b"),
            ("\"q\"", "\\\"q\\\""),
            ("back\\slash", "back\\\\slash"),
            ("<x>", "\\<x\\>"),
            ("a;b", "a\\;b"),
            ("a=b", "a\\=b"),
            ("#lead", "\\#lead"),
            (" both ", "\\ both\\ "),
            ("nul\0", "nul\\00"),
        ];
        for (raw, escaped) in hostile {
            assert_eq!(escape_dn_value(raw), escaped);
            let dn = Dn::child(&Dn::parse("ou=people,dc=x").unwrap(), "uid", raw);
            let reparsed = Dn::parse(&dn.to_string()).unwrap();
            assert_eq!(reparsed.rdn_value("uid"), Some(raw), "{raw:?}");
            assert_eq!(reparsed.len(), 3, "{raw:?} must not add RDNs");
            assert!(reparsed.is_within(&Dn::parse("ou=people,dc=x").unwrap()));
        }
    }

    #[test]
    fn within_and_ancestor() {
        let base = Dn::parse("ou=People,dc=Example,dc=com").unwrap();
        assert!(
            Dn::parse("uid=a,ou=people,dc=example,dc=com")
                .unwrap()
                .is_within(&base)
        );
        assert!(
            !Dn::parse("uid=a,ou=outside,dc=example,dc=com")
                .unwrap()
                .is_within(&base)
        );
        assert!(!Dn::parse("dc=com").unwrap().is_within(&base));
        let groups = Dn::parse("ou=groups,dc=example,dc=com").unwrap();
        assert_eq!(
            Dn::common_ancestor(&base, &groups).to_string(),
            "dc=Example,dc=com"
        );
    }

    #[test]
    fn filter_values_are_rfc4515_escaped() {
        let f = Filter::Equal("uid".into(), "*)(uid=*".into());
        assert_eq!(f.to_string(), "(uid=\\2a\\29\\28uid=\\2a)");
        let f = Filter::Substring(
            "cn".into(),
            Some("a(".into()),
            vec!["\\".into()],
            Some("\0".into()),
        );
        assert_eq!(f.to_string(), "(cn=a\\28*\\5c*\\00)");
        assert_eq!(Filter::nothing().to_string(), "(|)");
        assert_eq!(
            Filter::and(vec![
                Filter::Present("a".into()),
                Filter::and(vec![
                    Filter::Present("b".into()),
                    Filter::Present("c".into())
                ])
            ])
            .to_string(),
            "(&(a=*)(b=*)(c=*))"
        );
        assert!(Filter::and(vec![Filter::Present("a".into()), Filter::nothing()]).is_nothing());
        assert_eq!(
            Filter::or(vec![Filter::nothing(), Filter::Present("a".into())]).to_string(),
            "(a=*)"
        );
        assert!(Filter::or(vec![Filter::nothing(), Filter::nothing()]).is_nothing());
    }

    #[test]
    fn timestamps_convert_both_ways() {
        assert_eq!(
            generalized_to_rfc3339("20261123193651Z").as_deref(),
            Some("2026-11-23T19:36:51Z")
        );
        assert_eq!(
            generalized_to_rfc3339("20261123193651.123456Z").as_deref(),
            Some("2026-11-23T19:36:51.123456Z")
        );
        assert_eq!(generalized_to_rfc3339("garbage"), None);
        assert_eq!(
            rfc3339_to_generalized("2011-05-13T04:42:34Z").as_deref(),
            Some("20110513044234Z")
        );
        assert_eq!(
            rfc3339_to_generalized("2011-05-13T04:42:34.5Z").as_deref(),
            Some("20110513044234.5Z")
        );
        assert_eq!(rfc3339_to_generalized("2011-05-13T04:42:34+02:00"), None);
        assert_eq!(rfc3339_to_generalized("yesterday"), None);
        assert_eq!(rfc3339_to_generalized("2011-05-13T04:42:34\u{e9}Z"), None);
        assert_eq!(rfc3339_to_generalized("2011-\u{e9}5-13T04:42:34Z"), None);
    }

    #[test]
    fn values_are_found_whatever_the_case_of_the_name() {
        let long = format!("x{}", "A".repeat(70));
        let e = Entry::new(
            Dn::parse("cn=a").unwrap(),
            [
                ("displayName".to_owned(), vec!["D".to_owned()]),
                (long.clone(), vec!["L".to_owned()]),
                ("nämé".to_owned(), vec!["N".to_owned()]),
            ],
        );
        for name in ["displayName", "DISPLAYNAME", "displayname"] {
            assert_eq!(e.values(name), ["D"], "{name}");
        }
        assert_eq!(e.values(&long), ["L"]);
        assert_eq!(e.values(&long.to_lowercase()), ["L"]);
        assert_eq!(e.values("nämé"), ["N"]);
        assert!(e.values("display").is_empty());
        assert!(e.values("").is_empty());
    }

    #[test]
    fn attributes_stay_in_order_through_inserts_and_removals() {
        let mut a: Attrs = [("sn".to_owned(), vec!["S".to_owned()])]
            .into_iter()
            .collect();
        assert_eq!(a.insert("Mail".to_owned(), vec!["m".to_owned()]), None);
        assert_eq!(
            a.insert("cn;lang-en".to_owned(), vec!["c".to_owned()]),
            None
        );
        assert_eq!(
            a.insert("MAIL".to_owned(), vec!["n".to_owned()]),
            Some(vec!["m".to_owned()])
        );
        a.values_mut("uid").push("u".to_owned());
        a.values_mut("CN").push("d".to_owned());
        assert_eq!(a.keys().collect::<Vec<_>>(), ["cn", "mail", "sn", "uid"]);
        assert_eq!(a.get("cn"), Some(&vec!["c".to_owned(), "d".to_owned()]));
        assert_eq!(a.remove("Sn"), Some(vec!["S".to_owned()]));
        assert_eq!(a.remove("sn"), None);
        assert!(a.contains_key("UID") && !a.contains_key("u"));
        assert_eq!(a.len(), 3);
        // Every name is still found by the binary search after the changes.
        for k in ["cn", "mail", "uid", "zzz", "a"] {
            assert_eq!(a.get(k).is_some(), k.len() > 1 && k != "zzz", "{k}");
        }
    }

    #[test]
    fn options_and_case_fold_onto_one_attribute_in_arrival_order() {
        let e = Entry::new(
            Dn::parse("cn=a").unwrap(),
            [
                ("userCertificate;binary".to_owned(), vec!["1".to_owned()]),
                ("mail".to_owned(), vec!["m".to_owned()]),
                ("USERCERTIFICATE".to_owned(), vec!["2".to_owned()]),
                ("cn".to_owned(), vec!["c".to_owned()]),
                ("userCertificate;x-tag".to_owned(), vec!["3".to_owned()]),
            ],
        );
        assert_eq!(
            e.attrs.keys().collect::<Vec<_>>(),
            ["cn", "mail", "usercertificate"]
        );
        assert_eq!(e.values("userCertificate"), ["1", "2", "3"]);
        assert_eq!(e.values("mail"), ["m"]);
    }
}
