//! Discovery documents (RFC 7644 §4; RFC 7643 §5–7) generated from the live
//! configuration: only what a deployment maps is published, with the types
//! and mutability the mapping gives it. The reduction lives here, next to the
//! maps; the JSON shapes of schemas and resource types are `scim::schema`'s.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::config::file::Extension;
use crate::mapping::{AttrMap, Field, Maps, Pinned};
use crate::scim::ResourceKind;
use crate::scim::schema::{self, AttrDef, Mutability, Returned, Schema};

/// The schema of one resource type, reduced to what its map stores, plus the
/// attributes the daemon derives (id-related, active, groups, members).
fn published(map: &AttrMap) -> Vec<Schema> {
    map.schemas
        .iter()
        .map(|s| {
            let mut out = s.retain(&|top, sub| derived(map, top) || mapped(map, &s.id, top, sub));
            pin_types(map, &s.id, &mut out);
            apply_mapped(map, &s.id, &mut out);
            out
        })
        .filter(|s| !s.attributes.is_empty())
        .collect()
}

/// The attributes the daemon fills itself, published when the map enables them.
fn derived(map: &AttrMap, attr: &str) -> bool {
    match map.kind {
        ResourceKind::User => {
            (attr.eq_ignore_ascii_case("active") && !map.disable.is_empty())
                || (attr.eq_ignore_ascii_case("password") && map.password.is_some())
                || attr.eq_ignore_ascii_case("groups")
        }
        ResourceKind::Group => attr.eq_ignore_ascii_case("members"),
    }
}

/// The fields of schema `id` mapping attribute `attr`.
fn fields_of<'a>(map: &'a AttrMap, id: &'a str, attr: &'a str) -> impl Iterator<Item = &'a Field> {
    map.fields
        .iter()
        .filter(move |f| f.schema.eq_ignore_ascii_case(id) && f.attr.eq_ignore_ascii_case(attr))
}

/// Whether a (sub-)attribute is stored by a mapping.
fn mapped(map: &AttrMap, id: &str, top: &str, sub: Option<&str>) -> bool {
    let fields: Vec<&Field> = fields_of(map, id, top).collect();
    let Some(x) = sub else {
        return !fields.is_empty();
    };
    fields.iter().any(|f| {
        // A mapped sub-attribute, a qualifier a mapping pins (type,
        // primary), or what references carry on reads.
        f.sub.as_deref().is_some_and(|y| y.eq_ignore_ascii_case(x))
            || f.pinned.iter().any(|(k, _)| k.eq_ignore_ascii_case(x))
            || (f.reference.is_some()
                && ["$ref", "type", "display", "displayName"]
                    .iter()
                    .any(|q| q.eq_ignore_ascii_case(x)))
    })
}

/// A pinned `type` can only take the pinned values.
fn pin_types(map: &AttrMap, id: &str, out: &mut Schema) {
    for a in &mut out.attributes {
        let mut pinned: Vec<String> = fields_of(map, id, &a.name)
            .flat_map(|f| {
                f.pinned
                    .iter()
                    .filter(|(k, _)| k.eq_ignore_ascii_case("type"))
            })
            .filter_map(|(_, p)| match p {
                Pinned::Str(v) => Some(v.clone()),
                Pinned::Bool(_) => None,
            })
            .collect();
        if let Some(t) = a
            .sub_attributes
            .iter_mut()
            .find(|d| d.name.eq_ignore_ascii_case("type"))
        {
            if !pinned.is_empty() {
                pinned.sort();
                pinned.dedup();
                t.canonical_values = pinned;
            }
        }
    }
}

/// Mutability given in the mapping (e.g. immutable orderCard) wins.
fn apply_mapped(map: &AttrMap, id: &str, out: &mut Schema) {
    for a in &mut out.attributes {
        let name = a.name.clone();
        for f in fields_of(map, id, &name) {
            match &f.sub {
                None => apply(a, f.mutability, f.returned),
                Some(sub) => {
                    if let Some(d) = a
                        .sub_attributes
                        .iter_mut()
                        .find(|d| d.name.eq_ignore_ascii_case(sub))
                    {
                        apply(d, f.mutability, f.returned);
                    }
                }
            }
        }
    }
}

fn apply(a: &mut AttrDef, m: Mutability, r: Returned) {
    a.mutability = m;
    a.returned = r;
}

/// Every `/Schemas` document.
pub fn schemas(
    maps: Maps<'_>,
    extensions: &BTreeMap<String, Extension>,
    base_url: &str,
) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for map in [Some(maps.users), maps.groups].into_iter().flatten() {
        for mut s in published(map) {
            if let Some((_, e)) = extensions
                .iter()
                .find(|(u, _)| u.eq_ignore_ascii_case(&s.id))
            {
                if let Some(n) = &e.name {
                    s.name = n.clone();
                }
                if let Some(d) = &e.description {
                    s.description = d.clone();
                }
            }
            if !out.iter().any(|v| {
                v["id"]
                    .as_str()
                    .is_some_and(|id| id.eq_ignore_ascii_case(&s.id))
            }) {
                out.push(s.to_json(&format!("{base_url}/Schemas/{}", s.id)));
            }
        }
    }
    out
}

/// Every `/ResourceTypes` document.
pub fn resource_types(
    maps: Maps<'_>,
    extensions: &BTreeMap<String, Extension>,
    base_url: &str,
) -> Vec<Value> {
    let mut out = Vec::new();
    for map in [Some(maps.users), maps.groups].into_iter().flatten() {
        let ext: Vec<(String, bool)> = published(map)
            .into_iter()
            .filter(|s| !s.id.eq_ignore_ascii_case(map.kind.core_schema()))
            .map(|s| {
                let required = extensions
                    .iter()
                    .any(|(u, e)| u.eq_ignore_ascii_case(&s.id) && e.required == Some(true));
                (s.id, required)
            })
            .collect();
        out.push(schema::resource_type(
            map.kind.name(),
            &format!("/{}", map.kind.endpoint()),
            map.kind.core_schema(),
            &ext,
            &format!("{base_url}/ResourceTypes/{}", map.kind.name()),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::mapping::tests::openldap;

    #[test]
    fn contactify_extension_is_published_with_types() {
        let c = openldap();
        let maps = Maps {
            users: &c.users,
            groups: c.groups.as_ref(),
        };
        let docs = schemas(maps, &c.extensions, "https://h/scim/v2");
        let ids: Vec<&str> = docs.iter().filter_map(|d| d["id"].as_str()).collect();
        assert!(ids.contains(&schema::CORE_USER));
        assert!(ids.contains(&schema::ENTERPRISE_USER));
        assert!(ids.contains(&schema::CORE_GROUP));
        let contactify = docs
            .iter()
            .find(|d| d["id"] == "urn:ietf:params:scim:schemas:extension:contactify:2.0:User")
            .unwrap();
        let attr = |n: &str| {
            contactify["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["name"] == n)
                .unwrap()
                .clone()
        };
        assert_eq!(attr("orderCard")["type"], "boolean");
        assert_eq!(attr("orderCard")["mutability"], "immutable");
        assert_eq!(attr("deliverCardToHeadquarters")["type"], "boolean");
        assert_eq!(attr("uid")["caseExact"], true);
        assert_eq!(attr("externalCompanyId")["caseExact"], false);
        assert_eq!(
            contactify["meta"]["location"],
            "https://h/scim/v2/Schemas/urn:ietf:params:scim:schemas:extension:contactify:2.0:User"
        );
        let user = docs.iter().find(|d| d["id"] == schema::CORE_USER).unwrap();
        let names: Vec<&str> = user["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|a| a["name"].as_str())
            .collect();
        assert!(
            names.contains(&"userName") && names.contains(&"active") && names.contains(&"emails")
        );
        assert!(
            !names.contains(&"nickName"),
            "unmapped attributes are not published"
        );
        let types = resource_types(maps, &c.extensions, "https://h/scim/v2");
        assert_eq!(types.len(), 2);
        assert_eq!(types[0]["schemaExtensions"].as_array().unwrap().len(), 2);
    }
}
