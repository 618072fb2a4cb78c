//! What a client sends that no mapping stores (`unmapped = "reject" |
//! "ignore"` in `[users]` and `[groups]`). Refusing is right for Entra, whose
//! admin sees the error and fixes the mapping; a client whose profile the
//! admin cannot trim is better served by leaving those parts out of the write,
//! in the open: the paths left out are returned for the log, the metrics and
//! the audit line. Filters never take this route: a filter on an unmapped
//! attribute would match the wrong resources.

use crate::mapping::AttrMap;
use crate::mapping::patch::covered;
use crate::mapping::resource::prune_value;
use crate::scim::patch::{Op, Operation};
use crate::scim::path::is_schema_urn;
use crate::scim::schema::Mutability;

/// What happens to attributes no mapping stores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Unmapped {
    /// 400 `invalidValue` (`invalidPath` in PATCH) naming the first one;
    /// nothing is written. The default: nothing is lost without the admin
    /// knowing.
    #[default]
    Reject,
    /// Left out of the write, logged and counted.
    Ignore,
}

impl Unmapped {
    /// Reads `{sec}.unmapped`; a problem is appended to `p`.
    pub fn parse(sec: &str, raw: Option<&str>, p: &mut Vec<String>) -> Unmapped {
        match raw {
            None | Some("reject") => Unmapped::Reject,
            Some("ignore") => Unmapped::Ignore,
            Some(other) => {
                p.push(format!(
                    "{sec}.unmapped: {other:?} is not one of \"reject\", \"ignore\""
                ));
                Unmapped::Reject
            }
        }
    }
}

/// PATCH operations without what no mapping stores: an operation whose whole
/// path is unmapped is dropped, a value for a whole attribute loses its
/// unmapped parts. The paths left out are appended to `ignored`. Anything
/// else (read-only attributes, `active`, `password`, malformed values) is left
/// for the planner to accept or refuse.
pub fn prune_ops(map: &AttrMap, ops: Vec<Operation>, ignored: &mut Vec<String>) -> Vec<Operation> {
    ops.into_iter()
        .filter_map(|op| prune_op(map, op, ignored))
        .collect()
}

fn prune_op(map: &AttrMap, mut op: Operation, ignored: &mut Vec<String>) -> Option<Operation> {
    let path = &op.path;
    let core = path
        .schema
        .as_deref()
        .is_none_or(|s| s.eq_ignore_ascii_case(map.kind.core_schema()));
    if core
        && path.filter.is_none()
        && ["id", "meta", "schemas", "groups", "active", "password"]
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&path.attr))
    {
        return Some(op);
    }
    if is_schema_urn(&path.attr) {
        // `remove` of a whole extension no field belongs to removes nothing.
        let known = map
            .fields
            .iter()
            .any(|f| f.schema.eq_ignore_ascii_case(&path.attr));
        if !known {
            ignored.push(path.attr.clone());
            return None;
        }
        return Some(op);
    }
    let fields = covered(map, path);
    let Some(first) = fields.first() else {
        let read_only = crate::scim::schema::resolve(
            &map.schemas,
            path.schema.as_deref(),
            &path.attr,
            path.sub.as_deref(),
        )
        .is_some_and(|(_, d)| d.mutability == Mutability::ReadOnly);
        if read_only {
            return Some(op);
        }
        ignored.push(path.to_string());
        return None;
    };
    let whole = path.sub.is_none() && path.filter.is_none();
    if let (true, Op::Add | Op::Replace, Some(v)) = (whole, op.op, &op.value) {
        let before = ignored.len();
        let kept = prune_value(map, &first.schema, &first.attr, v, ignored);
        if ignored.len() > before {
            // Nothing storable left: the operation changes nothing.
            op.value = Some(kept?);
        }
    }
    Some(op)
}

/// `ignored` without repeats, in first-seen order.
pub fn distinct(mut ignored: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    ignored.retain(|p| seen.insert(p.to_ascii_lowercase()));
    ignored
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::mapping::tests::openldap;
    use crate::scim::patch::parse;
    use serde_json::json;

    #[test]
    fn modes_parse_and_typos_are_named() {
        let mut p = Vec::new();
        assert_eq!(Unmapped::parse("users", None, &mut p), Unmapped::Reject);
        assert_eq!(
            Unmapped::parse("users", Some("reject"), &mut p),
            Unmapped::Reject
        );
        assert_eq!(
            Unmapped::parse("users", Some("ignore"), &mut p),
            Unmapped::Ignore
        );
        assert!(p.is_empty());
        Unmapped::parse("groups", Some("Ignore"), &mut p);
        assert_eq!(
            p,
            ["groups.unmapped: \"Ignore\" is not one of \"reject\", \"ignore\""]
        );
    }

    #[test]
    fn resources_lose_what_no_field_stores_only_when_told() {
        use crate::mapping::Refs;
        use crate::mapping::resource::desired;
        let mut users = openldap().users;
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:example:unknown:2.0:User"],
            "userName": "u1",
            "nickName": "nick",
            "emails": [{"type": "work", "value": "w@x"}, {"type": "home", "value": "h@x"}],
            "addresses": [{"type": "other", "locality": "Elsewhere"}],
            "name": {"givenName": "G", "honorificPrefix": "Dr"},
            "urn:example:unknown:2.0:User": {"shoeSize": 42}
        });
        let e = desired(&users, &body, &Refs::default()).unwrap_err();
        assert!(
            e.to_string()
                .contains("urn:example:unknown:2.0:User is not a schema"),
            "{e}"
        );
        users.unmapped = Unmapped::Ignore;
        let d = desired(&users, &body, &Refs::default()).unwrap();
        assert_eq!(
            d.ignored,
            [
                "addresses[type eq \"other\"].locality",
                "emails[type eq \"home\"].value",
                "name.honorificPrefix",
                "nickName",
                "urn:example:unknown:2.0:User",
            ]
        );
        assert_eq!(d.values.get("mail"), Some(&vec!["w@x".to_owned()]));
        assert_eq!(d.values.get("givenname"), Some(&vec!["G".to_owned()]));
        assert_eq!(d.values.get("uid"), Some(&vec!["u1".to_owned()]));
        assert!(!d.values.contains_key("l"));
    }

    #[test]
    fn unmapped_patch_paths_become_no_ops() {
        let users = openldap().users;
        let ops = parse(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "replace", "path": "nickName", "value": "n"},
                {"op": "add", "path": "emails[type eq \"home\"].value", "value": "h@x"},
                {"op": "replace", "path": "title", "value": "T"},
                {"op": "add", "path": "emails", "value": [
                    {"type": "home", "value": "h@x"},
                    {"type": "work", "value": "w@x", "display": "W", "locale": "x"}
                ]},
                {"op": "add", "path": "phoneNumbers", "value": [{"type": "other", "value": "1"}]},
                {"op": "replace", "value": {"profileUrl": "u", "displayName": "D"}},
                {"op": "remove", "path": "urn:example:unknown:2.0:User"},
                {"op": "replace", "path": "active", "value": false},
                {"op": "replace", "path": "id", "value": "x"}
            ]
        }))
        .unwrap();
        let mut ignored = Vec::new();
        let kept = prune_ops(&users, ops, &mut ignored);
        assert_eq!(
            ignored,
            [
                "nickName",
                "emails[type eq \"home\"].value",
                "emails[type eq \"home\"].value",
                "emails[type eq \"work\"].locale",
                "phoneNumbers[type eq \"other\"].value",
                "profileUrl",
                "urn:example:unknown:2.0:User",
            ]
        );
        let shown: Vec<String> = kept
            .iter()
            .map(|o| format!("{} {}", o.path, o.value.clone().unwrap_or_default()))
            .collect();
        assert_eq!(
            shown,
            [
                "title \"T\"",
                "emails [{\"display\":\"W\",\"type\":\"work\",\"value\":\"w@x\"}]",
                "displayName \"D\"",
                "active false",
                "id \"x\"",
            ]
        );
        assert_eq!(
            distinct(ignored),
            [
                "nickName",
                "emails[type eq \"home\"].value",
                "emails[type eq \"work\"].locale",
                "phoneNumbers[type eq \"other\"].value",
                "profileUrl",
                "urn:example:unknown:2.0:User",
            ]
        );
    }
}
