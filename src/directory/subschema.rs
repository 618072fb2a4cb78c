//! The server's schema (RFC 4512 §4.2): which attribute types and object
//! classes exist, so `check-config` can name every mapping the server would
//! refuse before Entra ever sends a request.

use std::collections::BTreeSet;

use super::{DirError, Directory, Scope, Search};
use crate::ldap::Filter;

/// Names (lower-cased) of attribute types and object classes.
#[derive(Debug, Default, Clone)]
pub struct Subschema {
    pub attribute_types: BTreeSet<String>,
    pub object_classes: BTreeSet<String>,
    /// Attribute types with an ORDERING rule, own or inherited through SUP:
    /// only these can answer `>=`/`<=` (SCIM gt, ge, lt, le).
    pub ordered: BTreeSet<String>,
    /// Attribute types without an EQUALITY rule (facsimileTelephoneNumber in
    /// core.schema): the server cannot find one value among several, so a
    /// change to them must replace all values.
    pub unmatchable: BTreeSet<String>,
    /// One of `unmatchable` to ask the server about (a Directory String one
    /// where there is one): some servers (389-ds) fall back on the syntax's
    /// matching rule, and then none of them is really unmatchable.
    pub unmatchable_probe: Option<String>,
    /// Attribute types of IA5String syntax, own or inherited (`gecos`,
    /// `homeDirectory`, `mail`): they hold ASCII only.
    pub ia5: BTreeSet<String>,
}

/// The IA5String syntax (RFC 4517 §3.3.15).
pub const IA5_STRING: &str = "1.3.6.1.4.1.1466.115.121.1.26";

/// The syntax OID of a definition, without a length bound.
fn syntax(definition: &str) -> Option<String> {
    keyword(definition, "SYNTAX").map(|s| s.split('{').next().unwrap_or_default().to_owned())
}

/// Whether the server can evaluate `(attr=value)` for `attr`: the rootDSE
/// lacks the attribute, so `(!(attr=x))` holds for it — unless the server
/// has no way to match the attribute, which makes the filter Undefined
/// (RFC 4511 §4.5.1.7) and returns nothing.
pub async fn evaluates_equality(dir: &impl Directory, attr: &str) -> bool {
    dir.search(Search {
        base: String::new(),
        scope: Scope::Base,
        filter: Filter::Not(Box::new(Filter::Equal(attr.to_owned(), "x".to_owned()))),
        attrs: crate::ldap::no_attributes(),
    })
    .await
    .is_ok_and(|found| !found.is_empty())
}

/// The word after `KEY` in a definition (`SUP name`, `ORDERING caseIgnoreOrderingMatch`).
fn keyword(definition: &str, key: &str) -> Option<String> {
    let mut words = definition.split_whitespace();
    while let Some(w) = words.next() {
        if w == key {
            return words
                .next()
                .map(|v| v.trim_matches('\'').to_ascii_lowercase());
        }
    }
    None
}

/// Attribute types that have an ORDERING rule, following SUP chains.
pub fn ordered(definitions: &[String]) -> BTreeSet<String> {
    with_rule(definitions, "ORDERING")
}

/// Attribute types that have no EQUALITY rule, own or inherited.
pub fn unmatchable(definitions: &[String]) -> BTreeSet<String> {
    let matchable = with_rule(definitions, "EQUALITY");
    definitions
        .iter()
        .flat_map(|d| names(d))
        .filter(|n| !matchable.contains(n))
        .collect()
}

/// Attribute types of IA5String syntax, following SUP chains.
pub fn ia5(definitions: &[String]) -> BTreeSet<String> {
    inherited(definitions, |d| syntax(d).as_deref() == Some(IA5_STRING))
}

/// Attribute types that have a `rule` (EQUALITY, ORDERING), following SUP chains.
fn with_rule(definitions: &[String], rule: &str) -> BTreeSet<String> {
    inherited(definitions, |d| keyword(d, rule).is_some())
}

/// Attribute types whose definition passes `has`, or whose SUP chain leads
/// to one that does.
fn inherited(definitions: &[String], has: impl Fn(&str) -> bool) -> BTreeSet<String> {
    let mut own = BTreeSet::new();
    let mut sup: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    for d in definitions {
        let ns = names(d);
        let has = has(d);
        let parent = keyword(d, "SUP");
        for n in ns {
            if has {
                own.insert(n.clone());
            }
            if let Some(p) = &parent {
                sup.insert(n, p.clone());
            }
        }
    }
    let mut out = own.clone();
    for name in sup.keys() {
        let mut cur = name.clone();
        // Bounded walk: schemas are shallow and a cycle must not hang us.
        for _ in 0..16 {
            if own.contains(&cur) {
                out.insert(name.clone());
                break;
            }
            match sup.get(&cur) {
                Some(p) => cur = p.clone(),
                None => break,
            }
        }
    }
    out
}

/// The NAMEs of one RFC 4512 definition: `NAME 'cn'` or `NAME ( 'cn' 'commonName' )`.
pub fn names(definition: &str) -> Vec<String> {
    let Some(pos) = definition.find(" NAME ") else {
        return Vec::new();
    };
    let rest = definition[pos + 6..].trim_start();
    let list = if let Some(inner) = rest.strip_prefix('(') {
        inner.split(')').next().unwrap_or_default()
    } else {
        rest.split(' ').next().unwrap_or_default()
    };
    list.split('\'')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, n)| n.to_ascii_lowercase())
        .collect()
}

/// Reads the subschema entry named by the rootDSE.
pub async fn read(dir: &impl Directory) -> Result<Subschema, DirError> {
    let root = dir
        .search(Search {
            base: String::new(),
            scope: Scope::Base,
            filter: Filter::everything(),
            attrs: vec!["subschemaSubentry".to_owned()],
        })
        .await?;
    let dn = root
        .first()
        .and_then(|e| e.first("subschemaSubentry"))
        .unwrap_or("cn=Subschema")
        .to_owned();
    let entries = dir
        .search(Search {
            base: dn,
            scope: Scope::Base,
            filter: Filter::Equal("objectClass".to_owned(), "subschema".to_owned()),
            attrs: vec!["attributeTypes".to_owned(), "objectClasses".to_owned()],
        })
        .await?;
    let mut s = Subschema::default();
    for e in entries {
        s.ordered.extend(ordered(e.values("attributeTypes")));
        s.ia5.extend(ia5(e.values("attributeTypes")));
        let found = unmatchable(e.values("attributeTypes"));
        if s.unmatchable_probe.is_none() {
            let directory_string = e.values("attributeTypes").iter().find_map(|d| {
                (syntax(d).as_deref() == Some("1.3.6.1.4.1.1466.115.121.1.15"))
                    .then(|| names(d).into_iter().find(|n| found.contains(n)))
                    .flatten()
            });
            s.unmatchable_probe = directory_string.or_else(|| found.iter().next().cloned());
        }
        s.unmatchable.extend(found);
        s.attribute_types
            .extend(e.values("attributeTypes").iter().flat_map(|d| names(d)));
        s.object_classes
            .extend(e.values("objectClasses").iter().flat_map(|d| names(d)));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names() {
        assert_eq!(
            names("( 2.5.4.3 NAME ( 'cn' 'commonName' ) DESC 'x' SUP name )"),
            ["cn", "commonname"]
        );
        assert_eq!(
            names("( 0.9.2342.19200300.100.1.1 NAME 'uid' EQUALITY caseIgnoreMatch )"),
            ["uid"]
        );
        assert_eq!(names("( 1.2.3 DESC 'no name' )"), Vec::<String>::new());
        let defs = [
            "( 2.5.4.41 NAME 'name' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{32768} )".to_owned(),
            "( 2.5.4.3 NAME ( 'cn' 'commonName' ) SUP name )".to_owned(),
            "( 2.5.18.1 NAME 'createTimestamp' EQUALITY generalizedTimeMatch ORDERING generalizedTimeOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 )".to_owned(),
            "( 9.9 NAME 'myTime' SUP createTimestamp )".to_owned(),
            "( 9.8 NAME 'loopA' SUP loopB )".to_owned(),
            "( 9.7 NAME 'loopB' SUP loopA )".to_owned(),
        ];
        let o = ordered(&defs);
        assert!(o.contains("createtimestamp") && o.contains("mytime"));
        assert!(!o.contains("cn") && !o.contains("name") && !o.contains("loopa"));
        let mut defs = defs.to_vec();
        defs.push(
            "( 2.5.4.23 NAME 'facsimileTelephoneNumber' SYNTAX 1.3.6.1.4.1.1466.115.121.1.22 )"
                .to_owned(),
        );
        let u = unmatchable(&defs);
        assert!(u.contains("facsimiletelephonenumber") && u.contains("loopa"));
        assert!(!u.contains("cn") && !u.contains("commonname") && !u.contains("mytime"));
    }
}
