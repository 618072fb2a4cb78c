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
    }
}
