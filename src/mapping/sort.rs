//! `sortBy` (RFC 7644 §3.4.2.3) → the LDAP attribute a server-side sort key
//! names. Whether the server can order that attribute is the directory's
//! business (its capabilities); this only says which attribute holds what the
//! client sees under the path.

use crate::error::{Error, ScimType};
use crate::mapping::{AttrMap, CREATED, MODIFIED};
use crate::scim::path::AttrPath;

/// The attribute a `sortBy` path sorts by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// The SCIM path, canonical, for messages.
    pub path: String,
    /// The LDAP attribute holding its values.
    pub attribute: String,
}

fn refuse(path: &AttrPath, why: &str) -> Error {
    Error::bad(
        ScimType::InvalidValue,
        format!("sortBy: {path} cannot be sorted on: {why}"),
    )
}

/// The LDAP attribute to sort by for `path`. A multi-valued complex
/// attribute named without a sub-attribute sorts by its `value` (RFC 7644
/// §3.4.2.3); references are refused, since the directory holds DNs where
/// the client sees ids.
pub fn key(map: &AttrMap, path: &AttrPath) -> Result<SortKey, Error> {
    if path.filter.is_some() {
        return Err(refuse(
            path,
            "sortBy names an attribute path without a filter",
        ));
    }
    let core = path
        .schema
        .as_deref()
        .is_none_or(|s| s.eq_ignore_ascii_case(map.kind.core_schema()));
    let attr = path.attr.to_ascii_lowercase();
    let sub = path.sub.as_deref().map(str::to_ascii_lowercase);
    if core {
        let special = match (attr.as_str(), sub.as_deref()) {
            ("id", None) => Some(("id", map.id_attribute.as_str())),
            ("meta", Some("created")) => Some(("meta.created", CREATED)),
            ("meta", Some("lastmodified")) => Some(("meta.lastModified", MODIFIED)),
            ("meta", _) | ("schemas", None) | ("active", None) => {
                return Err(refuse(path, "it is not stored as a value of its own"));
            }
            _ => None,
        };
        if let Some((p, a)) = special {
            return Ok(SortKey {
                path: p.to_owned(),
                attribute: a.to_owned(),
            });
        }
    }
    let mut fields: Vec<_> = map
        .fields_of(path.schema.as_deref(), &path.attr)
        .map(|(_, f)| f)
        .collect();
    if path.schema.is_none() && fields.iter().any(|f| f.is_core(map.kind)) {
        fields.retain(|f| f.is_core(map.kind));
    }
    if fields.is_empty() {
        return Err(Error::bad(
            ScimType::InvalidValue,
            format!("sortBy: {path} is not a mapped attribute"),
        ));
    }
    let wanted = match &sub {
        Some(s) => Some(s.as_str()),
        None if fields.iter().all(|f| f.sub.is_some()) => Some("value"),
        None => None,
    };
    let field = fields
        .into_iter()
        .find(|f| match (wanted, &f.sub) {
            (None, None) => true,
            (Some(w), Some(fs)) => fs.eq_ignore_ascii_case(w),
            _ => false,
        })
        .ok_or_else(|| match sub {
            Some(_) => Error::bad(
                ScimType::InvalidValue,
                format!("sortBy: {path} is not a mapped attribute"),
            ),
            None => refuse(path, "name one of its sub-attributes, e.g. name.familyName"),
        })?;
    if field.reference.is_some() {
        return Err(refuse(
            path,
            "it refers to other resources, which the directory stores by DN, not by id",
        ));
    }
    Ok(SortKey {
        path: field.path_text(),
        attribute: field.ldap.clone(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::mapping::tests::openldap;

    fn key_of(map: &AttrMap, p: &str) -> Result<String, String> {
        let path = AttrPath::parse(p).map_err(|e| e.to_string())?;
        key(map, &path)
            .map(|k| format!("{} -> {}", k.path, k.attribute))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn sort_paths_map_to_the_attribute_holding_them() {
        let users = openldap().users;
        let ok: &[(&str, &str)] = &[
            ("userName", "userName -> uid"),
            ("USERNAME", "userName -> uid"),
            ("displayName", "displayName -> displayName"),
            ("name.familyName", "name.familyName -> sn"),
            ("meta.lastModified", "meta.lastModified -> modifyTimestamp"),
            ("meta.created", "meta.created -> createTimestamp"),
            ("id", "id -> entryUUID"),
            ("emails", "emails[type eq \"work\"].value -> mail"),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:userName",
                "userName -> uid",
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                "department -> departmentNumber",
            ),
        ];
        for (p, want) in ok {
            assert_eq!(key_of(&users, p).as_deref(), Ok(*want), "{p}");
        }
        let refused: &[(&str, &str)] = &[
            ("nickName", "not a mapped attribute"),
            ("meta.version", "cannot be sorted on"),
            ("active", "cannot be sorted on"),
            ("name", "name one of its sub-attributes"),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                "refers to other resources",
            ),
            ("emails[type eq \"work\"].value", "without a filter"),
        ];
        for (p, want) in refused {
            let got = key_of(&users, p).unwrap_err();
            assert!(got.contains(want), "{p}: {got}");
        }
    }
}
