//! The server's schema (RFC 4512 §4.2): which attribute types and object
//! classes exist, so `check-config` can name every mapping the server would
//! refuse before Entra ever sends a request.

use std::collections::{BTreeMap, BTreeSet};

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
    /// Attribute types without an ORDERING rule whose syntax has one: the
    /// rule a sort key can name for them (RFC 2891 §1.1), for servers that
    /// sort only by a rule (OpenLDAP's sssvlv).
    pub sort_rules: BTreeMap<String, String>,
    /// One attribute type without an ORDERING rule, to ask the server
    /// whether it sorts by the syntax instead (389-ds does).
    pub sort_probe: Option<String>,
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
    inherited(definitions, "SYNTAX")
        .into_iter()
        .filter(|(_, syntax)| syntax == IA5_STRING)
        .map(|(name, _)| name)
        .collect()
}

/// Attribute types that have a `rule` (EQUALITY, ORDERING), following SUP chains.
fn with_rule(definitions: &[String], rule: &str) -> BTreeSet<String> {
    inherited(definitions, rule).into_keys().collect()
}

/// The value of `key` (EQUALITY, ORDERING, SYNTAX) for every attribute type
/// that has one, own or inherited through SUP chains (lower-cased).
fn inherited(definitions: &[String], key: &str) -> BTreeMap<String, String> {
    let mut own = BTreeMap::new();
    let mut sup: BTreeMap<String, String> = BTreeMap::new();
    for d in definitions {
        let value = if key == "SYNTAX" {
            syntax(d)
        } else {
            keyword(d, key)
        };
        let parent = keyword(d, "SUP");
        for n in names(d) {
            if let Some(v) = &value {
                own.insert(n.clone(), v.clone());
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
            if let Some(v) = own.get(&cur) {
                out.insert(name.clone(), v.clone());
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

/// The ordering rule that fits a syntax (RFC 4517 §4.2), chosen by the
/// equality rule where case matters; None for syntaxes without an order
/// (DNs, booleans, postal addresses, binary values).
fn ordering_for(syntax: &str, equality: Option<&str>) -> Option<&'static str> {
    const OID: &str = "1.3.6.1.4.1.1466.115.121.1.";
    let text = || {
        if equality.is_some_and(|e| e.starts_with("caseexact")) {
            "caseExactOrderingMatch"
        } else {
            "caseIgnoreOrderingMatch"
        }
    };
    match syntax.strip_prefix(OID) {
        // Directory String, IA5 String, Printable String, Country String,
        // Telephone Number: their values are strings a string rule orders.
        Some("15" | "26" | "44" | "11" | "50") => Some(text()),
        Some("36") => Some("numericStringOrderingMatch"),
        Some("27") => Some("integerOrderingMatch"),
        Some("24") => Some("generalizedTimeOrderingMatch"),
        _ if syntax == "1.3.6.1.1.16.1" => Some("UUIDOrderingMatch"),
        _ => None,
    }
}

/// For each attribute type without an ORDERING rule, the ordering rule its
/// syntax allows, when the server knows that rule (`matching_rules`, lower
/// case; empty when the server does not list them).
pub fn sort_rules(
    definitions: &[String],
    matching_rules: &BTreeSet<String>,
) -> BTreeMap<String, String> {
    let ordered = ordered(definitions);
    let equality = inherited(definitions, "EQUALITY");
    inherited(definitions, "SYNTAX")
        .into_iter()
        .filter(|(name, _)| !ordered.contains(name))
        .filter_map(|(name, syntax)| {
            let rule = ordering_for(&syntax, equality.get(&name).map(String::as_str))?;
            (matching_rules.is_empty() || matching_rules.contains(&rule.to_ascii_lowercase()))
                .then(|| (name, rule.to_owned()))
        })
        .collect()
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
            attrs: vec![
                "attributeTypes".to_owned(),
                "objectClasses".to_owned(),
                "matchingRules".to_owned(),
            ],
        })
        .await?;
    let mut s = Subschema::default();
    for e in entries {
        let rules: BTreeSet<String> = e
            .values("matchingRules")
            .iter()
            .flat_map(|d| names(d))
            .collect();
        let sortable = sort_rules(e.values("attributeTypes"), &rules);
        if s.sort_probe.is_none() {
            s.sort_probe = sortable
                .get_key_value("uid")
                .or_else(|| sortable.first_key_value())
                .map(|(k, _)| k.clone());
        }
        s.sort_rules.extend(sortable);
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

    #[test]
    fn sort_rules_follow_syntax_and_equality() {
        let defs = [
            "( 2.5.4.41 NAME 'name' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{32768} )",
            "( 2.5.4.3 NAME ( 'cn' 'commonName' ) SUP name )",
            "( 0.9.2342.19200300.100.1.1 NAME ( 'uid' 'userid' ) EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15{256} )",
            "( 0.9.2342.19200300.100.1.3 NAME ( 'mail' 'rfc822Mailbox' ) EQUALITY caseIgnoreIA5Match SYNTAX 1.3.6.1.4.1.1466.115.121.1.26{256} )",
            "( 9.1 NAME 'exactCode' EQUALITY caseExactMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )",
            "( 1.3.6.1.1.1.1.0 NAME 'uidNumber' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )",
            "( 2.5.18.2 NAME 'modifyTimestamp' EQUALITY generalizedTimeMatch ORDERING generalizedTimeOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 )",
            "( 2.5.4.34 NAME 'seeAlso' SUP distinguishedName )",
            "( 2.5.4.49 NAME 'distinguishedName' EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )",
            "( 9.2 NAME 'postal' SYNTAX 1.3.6.1.4.1.1466.115.121.1.41 )",
        ]
        .map(str::to_owned);
        let r = sort_rules(&defs, &BTreeSet::new());
        let rule = |a: &str| r.get(a).map(String::as_str);
        assert_eq!(rule("uid"), Some("caseIgnoreOrderingMatch"));
        assert_eq!(rule("userid"), Some("caseIgnoreOrderingMatch"));
        assert_eq!(rule("cn"), Some("caseIgnoreOrderingMatch"), "through SUP");
        assert_eq!(rule("mail"), Some("caseIgnoreOrderingMatch"));
        assert_eq!(rule("exactcode"), Some("caseExactOrderingMatch"));
        assert_eq!(rule("uidnumber"), Some("integerOrderingMatch"));
        // Has its own ORDERING rule: sorted as is.
        assert_eq!(rule("modifytimestamp"), None);
        // No order for DNs or postal addresses.
        assert_eq!(rule("seealso"), None);
        assert_eq!(rule("postal"), None);
        // A server that lists its rules and lacks one gets none named.
        let known = BTreeSet::from(["caseignoreorderingmatch".to_owned()]);
        let r = sort_rules(&defs, &known);
        assert!(
            r.contains_key("uid") && !r.contains_key("uidnumber") && !r.contains_key("exactcode")
        );
    }
}
