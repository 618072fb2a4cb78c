//! The template language of `[users.defaults]`, `[users.computed]` and their
//! `[groups]` twins: text with `{scim.path}` placeholders, each optionally
//! piped through transforms, and a list of alternatives of which the first
//! that renders non-empty wins.
//!
//! ```text
//! template    := ( text | "{{" | "}}" | "{" placeholder "}" )*
//! placeholder := scim-path ( "|" transform )*
//! transform   := name [ "(" arg ( "," arg )* ")" ]
//! arg         := '"' string '"' | integer
//! ```
//!
//! Transforms: `lower`, `upper`, `trim`, `localpart` and `domain` (the parts
//! of an address around its last `@`), `ascii` (transliterate to ASCII:
//! `José Müller` → `Jose Muller`), `replace("chars", "with")` (each of the
//! characters by the replacement), `keep("a-z0-9._-", "with")` (every
//! character outside the class by the replacement; runs of it collapse into
//! one), `truncate(n)`, `login` (a name safe for a Linux login: ASCII-folded,
//! lower-cased, every run of characters outside `a-z0-9._-` one `_`, no
//! leading `-`, `.` or `_`, at most [`LOGIN_MAX`] characters).
//!
//! Safe by construction: no code runs, nothing loops over its own output, and
//! every rendered value is bounded by [`MAX_RENDERED`] characters. Templates are
//! parsed when the configuration is loaded, so an unknown placeholder or
//! transform is a configuration error naming the key, never a failed request.
//! This module is pure: it sees field values only through the closure it is
//! given.

use std::collections::BTreeSet;

/// The longest value a template renders, in characters. Longer results are
/// cut: no LDAP attribute a template feeds (names, paths, descriptions)
/// needs more, and a bound keeps a hostile input from growing an entry.
pub const MAX_RENDERED: usize = 1024;

/// The longest name `login` renders: the login length `useradd` and most
/// NSS clients accept without complaint.
pub const LOGIN_MAX: usize = 32;

/// A compiled template: alternatives, the first that renders non-empty wins.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub alternatives: Vec<Alternative>,
}

/// One alternative: literal text and placeholders, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Alternative {
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Text(String),
    /// A placeholder: the value of a mapped field (by index), transformed.
    Value {
        field: usize,
        transforms: Vec<Transform>,
    },
}

/// A string-to-string step of a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Transform {
    Lower,
    Upper,
    Trim,
    LocalPart,
    Domain,
    Ascii,
    /// Every character of `chars` becomes `with`.
    Replace {
        chars: Vec<char>,
        with: String,
    },
    /// Every run of characters outside `class` becomes one `with`.
    Keep {
        class: CharClass,
        with: String,
    },
    Truncate(usize),
    /// A name safe for a Linux login (see the module doc).
    Login,
}

/// A set of characters written as in a regular-expression bracket without
/// the brackets: single characters and `a-z` ranges; a `-` first or last is
/// itself.
#[derive(Debug, Clone, PartialEq)]
pub struct CharClass {
    ranges: Vec<(char, char)>,
}

impl CharClass {
    fn parse(spec: &str) -> Result<CharClass, String> {
        let chars: Vec<char> = spec.chars().collect();
        if chars.is_empty() {
            return Err("keep: the character class is empty".to_owned());
        }
        let mut ranges = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            if i + 2 < chars.len() && chars[i + 1] == '-' {
                let (lo, hi) = (chars[i], chars[i + 2]);
                if lo > hi {
                    return Err(format!("keep: range {lo}-{hi} is reversed"));
                }
                ranges.push((lo, hi));
                i += 3;
            } else {
                ranges.push((chars[i], chars[i]));
                i += 1;
            }
        }
        Ok(CharClass { ranges })
    }

    fn contains(&self, c: char) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi)
    }

    fn is_ascii(&self) -> bool {
        self.ranges.iter().all(|&(_, hi)| hi.is_ascii())
    }
}

/// Names of the transforms, for error messages.
const TRANSFORMS: &str = "lower, upper, trim, localpart, domain, ascii, replace(\"chars\", \"with\"), keep(\"class\", \"with\"), truncate(n), login";

impl Template {
    /// Compiles the alternatives of one key. `resolve` turns a placeholder's
    /// SCIM path into the index of the mapped field it reads (or says why
    /// not). Every problem of every alternative is returned, one line each.
    pub fn parse<'t>(
        texts: impl IntoIterator<Item = &'t str>,
        resolve: impl Fn(&str) -> Result<usize, String>,
    ) -> Result<Template, Vec<String>> {
        let mut alternatives = Vec::new();
        let mut problems = Vec::new();
        for text in texts {
            match parse_alternative(text, &resolve) {
                Ok(a) => alternatives.push(a),
                Err(e) => problems.push(e),
            }
        }
        if alternatives.is_empty() && problems.is_empty() {
            problems.push("needs at least one template".to_owned());
        }
        if problems.is_empty() {
            Ok(Template { alternatives })
        } else {
            Err(problems)
        }
    }

    /// Renders the first alternative that yields a non-empty value. `value`
    /// gives a field's current (first) value. An alternative whose
    /// placeholders all render empty counts as empty, so `/home/{userName}`
    /// does not render `/home/` for a user without a name. Whitespace runs
    /// collapse into one space, as names are compared in LDAP.
    pub fn render<'v>(&self, value: impl Fn(usize) -> Option<&'v str>) -> Option<String> {
        self.alternatives.iter().find_map(|a| a.render(&value))
    }

    /// The fields any alternative reads: a change to one of them can change
    /// the rendered value.
    pub fn inputs(&self) -> BTreeSet<usize> {
        self.alternatives
            .iter()
            .flat_map(|a| &a.parts)
            .filter_map(|p| match p {
                Part::Value { field, .. } => Some(*field),
                Part::Text(_) => None,
            })
            .collect()
    }

    /// Whether every value this template can render is ASCII, whatever the
    /// input: what an IA5String attribute (`uid`, `gecos`, `homeDirectory`)
    /// needs. Checked once, when the configuration is checked.
    pub fn renders_ascii(&self) -> bool {
        self.alternatives.iter().all(|a| {
            a.parts.iter().all(|p| match p {
                Part::Text(t) => t.is_ascii(),
                Part::Value { transforms, .. } => transforms
                    .iter()
                    .fold(false, |ascii, t| t.keeps_ascii(ascii)),
            })
        })
    }
}

impl Alternative {
    fn render<'v>(&self, value: &impl Fn(usize) -> Option<&'v str>) -> Option<String> {
        let mut out = String::new();
        let mut placeholders = 0;
        let mut filled = 0;
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Value { field, transforms } => {
                    placeholders += 1;
                    let v = transforms
                        .iter()
                        .fold(value(*field).unwrap_or_default().to_owned(), |v, t| {
                            t.apply(&v)
                        });
                    if !v.trim().is_empty() {
                        filled += 1;
                    }
                    out.push_str(&v);
                }
            }
        }
        if placeholders > 0 && filled == 0 {
            return None;
        }
        let collapsed = out.split_whitespace().collect::<Vec<_>>().join(" ");
        (!collapsed.is_empty()).then(|| cut(collapsed, MAX_RENDERED))
    }
}

impl Transform {
    fn apply(&self, v: &str) -> String {
        match self {
            Transform::Lower => v.to_lowercase(),
            Transform::Upper => v.to_uppercase(),
            Transform::Trim => v.trim().to_owned(),
            Transform::LocalPart => v.rsplit_once('@').map_or(v, |(l, _)| l).to_owned(),
            Transform::Domain => v.rsplit_once('@').map_or("", |(_, d)| d).to_owned(),
            Transform::Ascii => fold_ascii(v),
            Transform::Replace { chars, with } => v.chars().fold(String::new(), |mut s, c| {
                if chars.contains(&c) {
                    s.push_str(with);
                } else {
                    s.push(c);
                }
                s
            }),
            Transform::Keep { class, with } => keep(v, class, with),
            Transform::Truncate(n) => cut(v.to_owned(), *n),
            Transform::Login => login(v),
        }
    }

    /// Whether the output is ASCII, given whether the input is.
    fn keeps_ascii(&self, ascii_in: bool) -> bool {
        match self {
            Transform::Ascii | Transform::Login => true,
            Transform::Keep { class, with } => class.is_ascii() && with.is_ascii(),
            Transform::Replace { with, .. } => ascii_in && with.is_ascii(),
            // Lower/upper-casing non-ASCII never yields only ASCII, and
            // casing ASCII stays ASCII (Unicode's special cases like 'İ'
            // are not ASCII to begin with).
            _ => ascii_in,
        }
    }
}

/// Transliterates to printable ASCII: letters lose their accents (`é` → `e`),
/// ligatures and special letters are spelled out (`ß` → `ss`, `Æ` → `AE`),
/// other scripts are romanised; what has no spelling is dropped.
fn fold_ascii(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if c.is_ascii() {
            if !c.is_ascii_control() {
                out.push(c);
            }
        } else if let Some(s) = deunicode::deunicode_char(c) {
            out.extend(s.chars().filter(|c| c.is_ascii() && !c.is_ascii_control()));
        }
    }
    out
}

fn keep(v: &str, class: &CharClass, with: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut replaced = false;
    for c in v.chars() {
        if class.contains(c) {
            out.push(c);
            replaced = false;
        } else if !replaced {
            out.push_str(with);
            replaced = true;
        }
    }
    out
}

/// A name NSS clients, shells and `useradd` accept: ASCII-folded,
/// lower-cased, every run of other characters than `a-z0-9._-` one `_`, no
/// leading `-` (an option to many tools), `.` (a hidden file) or `_`, and at
/// most [`LOGIN_MAX`] characters. Empty stays empty, so a template made only
/// of it renders nothing rather than a name made up of filler.
fn login(v: &str) -> String {
    let folded = fold_ascii(v).to_ascii_lowercase();
    let safe = CharClass {
        ranges: vec![('a', 'z'), ('0', '9'), ('.', '.'), ('_', '_'), ('-', '-')],
    };
    let kept = keep(&folded, &safe, "_");
    cut(
        kept.trim_start_matches(['-', '.', '_']).to_owned(),
        LOGIN_MAX,
    )
}

/// The first `n` characters of `s`.
fn cut(mut s: String, n: usize) -> String {
    if let Some((i, _)) = s.char_indices().nth(n) {
        s.truncate(i);
    }
    s
}

fn parse_alternative(
    text: &str,
    resolve: &impl Fn(&str) -> Result<usize, String>,
) -> Result<Alternative, String> {
    let mut parts = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        literal.push_str(&rest[..i]);
        let (c, after) = (&rest[i..i + 1], &rest[i + 1..]);
        if after.starts_with(c) {
            literal.push_str(c); // "{{" or "}}"
            rest = &after[1..];
            continue;
        }
        if c == "}" {
            return Err(format!(
                "unmatched '}}' in {text:?} (write '}}}}' for a brace)"
            ));
        }
        let close = closing_brace(after).ok_or_else(|| format!("unclosed '{{' in {text:?}"))?;
        if !literal.is_empty() {
            parts.push(Part::Text(std::mem::take(&mut literal)));
        }
        parts.push(parse_placeholder(&after[..close], resolve)?);
        rest = &after[close + 1..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        parts.push(Part::Text(literal));
    }
    Ok(Alternative { parts })
}

fn parse_placeholder(
    inner: &str,
    resolve: &impl Fn(&str) -> Result<usize, String>,
) -> Result<Part, String> {
    let mut pieces = split_pipes(inner).into_iter();
    let path = pieces.next().unwrap_or_default().trim();
    if path.is_empty() {
        return Err(format!("placeholder {{{inner}}} names no attribute"));
    }
    let field = resolve(path).map_err(|e| format!("placeholder {{{path}}}: {e}"))?;
    let transforms = pieces
        .map(|t| parse_transform(t.trim()).map_err(|e| format!("placeholder {{{inner}}}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Part::Value { field, transforms })
}

/// The position of the `}` that closes a placeholder, skipping quoted
/// arguments (which may hold braces).
fn closing_brace(s: &str) -> Option<usize> {
    let (mut quoted, mut escaped) = (false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '}' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// Splits on `|` outside double-quoted arguments.
fn split_pipes(s: &str) -> Vec<&str> {
    let (mut out, mut start, mut quoted, mut escaped) = (Vec::new(), 0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '|' if !quoted => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

enum Arg {
    Text(String),
    Number(usize),
}

fn parse_transform(t: &str) -> Result<Transform, String> {
    let (name, args) = match t.split_once('(') {
        Some((name, rest)) => {
            let inner = rest
                .strip_suffix(')')
                .ok_or_else(|| format!("transform {t:?}: missing ')'"))?;
            (
                name.trim(),
                parse_args(inner).map_err(|e| format!("transform {name}: {e}"))?,
            )
        }
        None => (t, Vec::new()),
    };
    let plain = |tr: Transform| {
        if args.is_empty() {
            Ok(tr)
        } else {
            Err(format!("transform {name} takes no arguments"))
        }
    };
    match (name, args.as_slice()) {
        ("lower", _) => plain(Transform::Lower),
        ("upper", _) => plain(Transform::Upper),
        ("trim", _) => plain(Transform::Trim),
        ("localpart", _) => plain(Transform::LocalPart),
        ("domain", _) => plain(Transform::Domain),
        ("ascii", _) => plain(Transform::Ascii),
        ("login", _) => plain(Transform::Login),
        ("replace", [Arg::Text(chars), Arg::Text(with)]) if !chars.is_empty() => {
            Ok(Transform::Replace {
                chars: chars.chars().collect(),
                with: with.clone(),
            })
        }
        ("keep", [Arg::Text(class), Arg::Text(with)]) => Ok(Transform::Keep {
            class: CharClass::parse(class)?,
            with: with.clone(),
        }),
        ("truncate", [Arg::Number(n)]) if (1..=MAX_RENDERED).contains(n) => {
            Ok(Transform::Truncate(*n))
        }
        ("replace", _) => Err("replace takes (\"chars\", \"with\"), chars not empty".to_owned()),
        ("keep", _) => {
            Err("keep takes (\"class\", \"with\"), e.g. keep(\"a-z0-9._-\", \"_\")".to_owned())
        }
        ("truncate", _) => Err(format!(
            "truncate takes one number from 1 to {MAX_RENDERED}"
        )),
        _ => Err(format!("unknown transform {name:?}; known: {TRANSFORMS}")),
    }
}

fn parse_args(s: &str) -> Result<Vec<Arg>, String> {
    let mut args = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.peek() {
            None if args.is_empty() => return Ok(args),
            None => return Err("an argument is missing after ','".to_owned()),
            Some('"') => {
                chars.next();
                let mut text = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => text.extend(chars.next()),
                        Some('"') => break,
                        Some(c) => text.push(c),
                        None => return Err("unclosed '\"'".to_owned()),
                    }
                }
                args.push(Arg::Text(text));
            }
            Some(c) if c.is_ascii_digit() => {
                let mut digits = String::new();
                while let Some(d) = chars.next_if(char::is_ascii_digit) {
                    digits.push(d);
                }
                let n = digits
                    .parse()
                    .map_err(|_| format!("{digits} is too large"))?;
                args.push(Arg::Number(n));
            }
            Some(c) => {
                return Err(format!(
                    "unexpected {c:?}: arguments are \"text\" or numbers"
                ));
            }
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        match chars.next() {
            None => return Ok(args),
            Some(',') => {}
            Some(c) => return Err(format!("unexpected {c:?} after an argument")),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Fields of the tests: 0 userName, 1 name.givenName, 2 name.familyName,
    /// 3 displayName.
    fn resolve(p: &str) -> Result<usize, String> {
        [
            "userName",
            "name.givenName",
            "name.familyName",
            "displayName",
        ]
        .iter()
        .position(|f| f.eq_ignore_ascii_case(p))
        .ok_or_else(|| "is not a mapped SCIM attribute".to_owned())
    }

    fn t(texts: &[&str]) -> Template {
        Template::parse(texts.iter().copied(), resolve).unwrap()
    }

    fn render(texts: &[&str], values: &[Option<&str>]) -> Option<String> {
        t(texts).render(|i| values.get(i).copied().flatten())
    }

    #[test]
    fn every_transform() {
        let rows: &[(&str, &str, &str)] = &[
            (
                "{userName}",
                "Alice.Smith@Contoso.com",
                "Alice.Smith@Contoso.com",
            ),
            (
                "{userName|lower}",
                "Alice.Smith@Contoso.com",
                "alice.smith@contoso.com",
            ),
            ("{userName | upper}", "alice@x", "ALICE@X"),
            (
                "{userName|localpart}",
                "Alice.Smith@Contoso.com",
                "Alice.Smith",
            ),
            (
                "{userName|localpart|lower}",
                "Alice.Smith@Contoso.com",
                "alice.smith",
            ),
            ("{userName|domain}", "alice@contoso.com", "contoso.com"),
            // The last '@' separates: a quoted local part may hold one.
            ("{userName|localpart}", "\"a@b\"@contoso.com", "\"a@b\""),
            ("{userName|domain}", "\"a@b\"@contoso.com", "contoso.com"),
            ("{userName|localpart}", "no-at-sign", "no-at-sign"),
            ("{userName|ascii}", "José Müller", "Jose Muller"),
            ("{userName|trim}", "  a b  ", "a b"),
            (
                "{userName|replace(\" .\", \"_\")}",
                "Mo Dyo.Jr",
                "Mo_Dyo_Jr",
            ),
            (
                "{userName|keep(\"a-z0-9._-\", \"_\")}",
                "o'brien+x y",
                "o_brien_x_y",
            ),
            ("{userName|keep(\"a-z\", \"\")}", "a1b22c", "abc"),
            ("{userName|truncate(3)}", "Zoë Zimmer", "Zoë"),
            ("{userName|truncate(30)}", "short", "short"),
            (
                "/home/{userName|localpart|lower|ascii}",
                "Jürgen@x.de",
                "/home/jurgen",
            ),
            ("{{literal}} {userName}", "v", "{literal} v"),
            ("a}}b {userName}", "v", "a}b v"),
        ];
        for (tpl, input, want) in rows {
            assert_eq!(
                render(&[tpl], &[Some(input)]).as_deref(),
                Some(*want),
                "{tpl} on {input:?}"
            );
        }
    }

    #[test]
    fn ascii_folding_table() {
        let rows = [
            ("José", "Jose"),
            ("Müller", "Muller"),
            ("Straße", "Strasse"),
            ("Ærøskøbing", "AEroskobing"),
            ("Łukasz Żółć", "Lukasz Zolc"),
            ("François Ñúñez", "Francois Nunez"),
            ("Ødegård", "Odegard"),
            ("Þór", "Thor"),
            ("İlkay Çelik", "Ilkay Celik"),
            ("Παύλος", "Paulos"),
            ("Дмитрий", "Dmitrii"),
            ("tab\there", "tabhere"),
        ];
        for (input, want) in rows {
            assert_eq!(fold_ascii(input), want, "{input}");
            assert!(fold_ascii(input).is_ascii());
        }
    }

    #[test]
    fn login_names() {
        let rows = [
            // The UPN's local part, lower-cased.
            ("alice.smith", "alice.smith"),
            ("Alice.Smith", "alice.smith"),
            ("ALICE", "alice"),
            ("a-b_c.d", "a-b_c.d"),
            ("user42", "user42"),
            // Folding to ASCII before anything is dropped.
            ("José.Müller", "jose.muller"),
            ("Jürgen", "jurgen"),
            ("Straße", "strasse"),
            ("Ærøskøbing", "aeroskobing"),
            ("Łukasz.Żółć", "lukasz.zolc"),
            ("İlkay", "ilkay"),
            ("Дмитрий", "dmitrii"),
            // Characters NSS clients, shells or file names choke on: each
            // run becomes one '_'.
            ("o'brien", "o_brien"),
            ("a b", "a_b"),
            ("a  \t b", "a_b"),
            ("a+b", "a_b"),
            ("a$(rm -rf)b", "a_rm_-rf_b"),
            ("a/b\\c", "a_b_c"),
            ("a:b;c,d", "a_b_c_d"),
            ("a@b", "a_b"),
            ("a\"b\"", "a_b_"),
            ("a*?[]b", "a_b"),
            ("a\u{0}b\nc", "abc"),
            ("a\u{200b}b", "a_b"),
            ("日本", "ri_ben_"),
            // No leading '-', '.' or '_', whatever they came from.
            ("-rf", "rf"),
            (".hidden", "hidden"),
            ("_x", "x"),
            ("..-_x", "x"),
            ("!x", "x"),
            ("  x", "x"),
            ("x-", "x-"),
            ("x.", "x."),
            // Empty stays empty; nothing safe left is empty too.
            ("", ""),
            ("!!!", ""),
            ("-._", ""),
            ("   ", ""),
            ("\u{E000}\u{E001}", ""),
            ("\u{1F600}", "grinning_"),
        ];
        for (input, want) in rows {
            assert_eq!(login(input), want, "{input:?}");
        }
    }

    #[test]
    fn login_is_bounded_and_safe() {
        let long = "a".repeat(40);
        assert_eq!(login(&long), "a".repeat(LOGIN_MAX));
        // Exactly the limit is kept; one more is cut.
        assert_eq!(login(&"b".repeat(32)).len(), 32);
        assert_eq!(login(&"b".repeat(33)).len(), 32);
        // The cut counts what is left after leading filler is dropped.
        assert_eq!(login(&format!("--{}", "c".repeat(32))), "c".repeat(32));
        // Folding that lengthens (ß -> ss) is cut after folding.
        assert_eq!(login(&"ß".repeat(20)), "s".repeat(32));
        for input in ["Zoë Zimmer", "💥-x", "a\u{7f}b", "İ", "ǅ", "ﬁ", "Ⅻ"] {
            let out = login(input);
            assert!(
                out.chars()
                    .all(|c| matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-')),
                "{input:?} -> {out:?}"
            );
            assert!(!out.starts_with(['-', '.', '_']), "{input:?} -> {out:?}");
        }
        // In a template: the UPN's local part as a login, and a template of
        // nothing but unsafe characters renders nothing.
        let tpl = ["{userName | localpart | login}"];
        assert_eq!(
            render(&tpl, &[Some("Alice.Smith@Contoso.com")]).as_deref(),
            Some("alice.smith")
        );
        assert_eq!(
            render(&tpl, &[Some("Ünal O'Neil@x.com")]).as_deref(),
            Some("unal_o_neil")
        );
        assert_eq!(render(&tpl, &[Some("!!!@x.com")]), None);
        assert_eq!(render(&tpl, &[Some("")]), None);
        assert!(t(&tpl).renders_ascii());
        assert!(t(&["{displayName|lower|login}"]).renders_ascii());
    }

    #[test]
    fn fallbacks_take_the_first_non_empty() {
        let tpl = [
            "{displayName}",
            "{name.givenName} {name.familyName}",
            "{userName|localpart}",
        ];
        let rows: &[(&[Option<&str>], Option<&str>)] = &[
            (
                &[Some("a@x"), Some("Carol"), Some("Jones"), Some("CJ")],
                Some("CJ"),
            ),
            (
                &[Some("a@x"), Some("Carol"), Some("Jones"), None],
                Some("Carol Jones"),
            ),
            (&[Some("a@x"), None, Some("Jones"), None], Some("Jones")),
            (&[Some("a@x"), None, None, Some("   ")], Some("a")),
            (&[None, None, None, None], None),
        ];
        for (values, want) in rows {
            assert_eq!(render(&tpl, values).as_deref(), *want, "{values:?}");
        }
        // Literal text alone does not make an alternative non-empty.
        assert_eq!(
            render(&["/home/{userName}", "fallback"], &[None]).as_deref(),
            Some("fallback")
        );
        assert_eq!(render(&["/home/{userName}"], &[None]), None);
        // A template of text only always renders.
        assert_eq!(render(&["/bin/bash"], &[]).as_deref(), Some("/bin/bash"));
    }

    #[test]
    fn output_is_bounded() {
        let long = "x".repeat(5000);
        let out = render(&["{userName}{userName}"], &[Some(&long)]).unwrap();
        assert_eq!(out.chars().count(), MAX_RENDERED);
        let wide = "é".repeat(2000);
        assert_eq!(
            render(&["{userName}"], &[Some(&wide)])
                .unwrap()
                .chars()
                .count(),
            MAX_RENDERED
        );
    }

    #[test]
    fn inputs_are_the_fields_read() {
        let tpl = t(&["{name.givenName} {name.familyName}", "{userName|lower}"]);
        assert_eq!(tpl.inputs(), BTreeSet::from([0, 1, 2]));
        assert!(t(&["/bin/bash"]).inputs().is_empty());
    }

    #[test]
    fn ascii_output_is_known_before_any_value() {
        let rows = [
            ("{userName}", false),
            ("{userName|lower}", false),
            ("{userName|ascii}", true),
            ("{userName|ascii|lower}", true),
            ("{userName|ascii|replace(\"x\", \"é\")}", false),
            ("{userName|keep(\"a-z\", \"_\")}", true),
            ("{userName|keep(\"a-zé\", \"_\")}", false),
            ("{userName|keep(\"a-z\", \"é\")}", false),
            ("é {userName|ascii}", false),
            ("/home/{userName|localpart|ascii|lower}", true),
        ];
        for (tpl, want) in rows {
            assert_eq!(t(&[tpl]).renders_ascii(), want, "{tpl}");
        }
        assert!(!t(&["{userName|ascii}", "{displayName}"]).renders_ascii());
    }

    #[test]
    fn errors_name_the_problem() {
        let rows = [
            (
                "{nickName}",
                "placeholder {nickName}: is not a mapped SCIM attribute",
            ),
            ("{userName|shout}", "unknown transform \"shout\""),
            ("{userName", "unclosed '{'"),
            ("a}b", "unmatched '}'"),
            ("{}", "names no attribute"),
            ("{userName|lower(1)}", "lower takes no arguments"),
            ("{userName|login(32)}", "login takes no arguments"),
            ("{userName|truncate(0)}", "truncate takes one number"),
            ("{userName|truncate(\"3\")}", "truncate takes one number"),
            ("{userName|replace(\"\", \"_\")}", "replace takes"),
            ("{userName|keep(\"z-a\", \"_\")}", "range z-a is reversed"),
            ("{userName|keep(\"a-z\", \"_\"}", "missing ')'"),
            (
                "{userName|keep(\"a-z\" \"_\")}",
                "unexpected '\"' after an argument",
            ),
            ("{userName|replace(\"a)}", "unclosed '{'"),
        ];
        for (tpl, want) in rows {
            let err = Template::parse([tpl], resolve).unwrap_err();
            assert_eq!(err.len(), 1, "{tpl}: {err:?}");
            assert!(
                err[0].contains(want),
                "{tpl}: {} should contain {want}",
                err[0]
            );
        }
        // Every bad alternative is reported, not only the first.
        let err = Template::parse(["{a}", "{userName}", "{b}"], resolve).unwrap_err();
        assert_eq!(err.len(), 2);
        assert!(Template::parse([], resolve).is_err());
    }

    #[test]
    fn pipes_inside_arguments_are_text() {
        assert_eq!(
            render(&["{userName|replace(\"|\", \"/\")}"], &[Some("a|b")]).as_deref(),
            Some("a/b")
        );
        assert_eq!(
            render(&["{userName|replace(\"{}\", \"\")}"], &[Some("{a}")]).as_deref(),
            Some("a")
        );
        assert_eq!(
            render(
                &["{userName|replace(\"\\\"\", \"'\")}"],
                &[Some("say \"hi\"")]
            )
            .as_deref(),
            Some("say 'hi'")
        );
    }
}
