//! SCIM resource JSON ↔ LDAP attribute values.
//!
//! Writing: [`desired`] turns a full resource (POST, PUT) into the LDAP values
//! it stands for, refusing anything it cannot store — nothing is silently
//! dropped. Reading: [`to_resource`] turns an entry back into JSON, honouring
//! the projection. References (manager, members) travel as ids on the SCIM
//! side and DNs on the LDAP side, translated through [`Refs`] the service fills.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::{Error, ScimType};
use crate::ldap::{self, Dn, Entry};
use crate::mapping::as_bool;
use crate::mapping::managed::{Managed, Role};
use crate::mapping::unmapped::Unmapped;
use crate::mapping::{AttrMap, CREATED, Field, MODIFIED, Maps, RefTarget, Refs};
use crate::scim::ResourceKind;
use crate::scim::json::{Json, Obj, Rendered};
use crate::scim::query::Projection;
use crate::scim::schema::{AttrType, Mutability, Returned};

/// LDAP attribute (lower-case) → values: the state a write aims for.
pub type Values = BTreeMap<String, Vec<String>>;

/// What a full resource asks to store.
#[derive(Debug, Default)]
pub struct Desired {
    pub values: Values,
    pub active: Option<bool>,
    pub password: Option<secrecy::SecretString>,
    /// What the body held that no field stores, left out under
    /// `unmapped = "ignore"` (SCIM paths, first-seen order, no repeats).
    pub ignored: Vec<String>,
    /// Values sent for fields whose LDAP attribute is computed: SCIM path,
    /// LDAP attribute, values. A write refuses them unless they are what the
    /// template renders (a PUT echoing a GET).
    pub computed: Vec<(String, String, Vec<String>)>,
}

/// Case-insensitive key look-up (SCIM attribute names are case-insensitive).
pub fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.iter().all(is_empty),
        Value::Object(o) => o.values().all(is_empty),
        Value::String(s) => s.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Sub-attributes of a multi-valued element that qualify the value rather
/// than carry data of their own.
const QUALIFIERS: &[&str] = &["type", "primary", "display", "$ref"];

/// Whether a multi-valued element belongs to `field`. An element that does
/// not say its `type` goes to the field when that field is the only one for
/// the attribute and sub-attribute (clients often omit `type`).
pub fn element_matches(map: &AttrMap, field: &Field, element: &Map<String, Value>) -> bool {
    field.pinned.iter().all(|(k, p)| match get_ci(element, k) {
        Some(v) if !v.is_null() => p.matches(v.as_str(), as_bool(v)),
        _ => {
            map.fields_of(Some(&field.schema), &field.attr)
                .filter(|(_, f)| f.sub == field.sub)
                .count()
                == 1
        }
    })
}

/// The JSON object holding `field`'s attribute: the resource itself for core
/// attributes, the extension's object otherwise.
fn container<'a>(
    map: &AttrMap,
    field: &Field,
    res: &'a Map<String, Value>,
) -> Option<&'a Map<String, Value>> {
    if field.is_core(map.kind) {
        Some(res)
    } else {
        get_ci(res, &field.schema).and_then(Value::as_object)
    }
}

/// Which elements of a complex value a field takes its leaves from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elements {
    /// Only elements whose sub-attributes match the field's pinned values
    /// (`type eq "work"`): a whole resource or attribute value.
    Pinned,
    /// Every element: a PATCH path's filter already selected them.
    Selected,
}

/// The leaf JSON values `field` takes from `value`, where `value` is what the
/// resource holds under the field's attribute.
pub fn leaves<'a>(
    map: &AttrMap,
    field: &Field,
    value: &'a Value,
    elements: Elements,
) -> Result<Vec<&'a Value>, Error> {
    let skip_pins = elements == Elements::Selected;
    let from_element = |o: &'a Map<String, Value>| -> Option<&'a Value> {
        if skip_pins || element_matches(map, field, o) {
            field.sub.as_deref().and_then(|s| get_ci(o, s))
        } else {
            None
        }
    };
    let out: Vec<&Value> = match (value, &field.sub) {
        (Value::Null, _) => Vec::new(),
        (Value::Array(items), Some(_)) => items
            .iter()
            .filter_map(|e| match e {
                Value::Object(o) => from_element(o),
                // A bare value in a list of complex values: `["a@b"]`.
                other if field.pinned.is_empty() || skip_pins => Some(other),
                _ => None,
            })
            .collect(),
        (Value::Object(o), Some(_)) => from_element(o).into_iter().collect(),
        // Entra's older manager form: the id as a bare string.
        (scalar, Some(_)) => vec![scalar],
        (Value::Array(items), None) if field.multi => items.iter().collect(),
        (Value::Array(_) | Value::Object(_), None) => {
            return Err(Error::invalid_value(format!(
                "{} takes a single value, not a list or object",
                field.path_text()
            )));
        }
        (scalar, None) => vec![scalar],
    };
    Ok(out.into_iter().filter(|v| !v.is_null()).collect())
}

/// Converts one SCIM leaf to its LDAP string. References go through `refs`.
pub fn to_ldap(field: &Field, v: &Value, refs: &Refs) -> Result<String, Error> {
    let wrong =
        |what: &str| Error::invalid_value(format!("{} must be {what}, got {v}", field.path_text()));
    if let Some(target) = field.reference {
        let id = match v {
            Value::String(s) => s.as_str(),
            Value::Object(o) => get_ci(o, "value")
                .and_then(Value::as_str)
                .ok_or_else(|| wrong("an id"))?,
            _ => return Err(wrong("an id")),
        };
        let r = refs.id(id).filter(|r| match target {
            RefTarget::Any => true,
            RefTarget::Kind(k) => r.kind == k,
        });
        let r = r.ok_or_else(|| {
            let what = match target {
                RefTarget::Any => "User or Group".to_owned(),
                RefTarget::Kind(k) => k.name().to_owned(),
            };
            Error::invalid_value(format!("{}: no {what} has id {id:?}", field.path_text()))
        })?;
        return Ok(if field.store_rdn {
            r.rdn_value.clone()
        } else {
            r.dn.clone()
        });
    }
    match field.ty {
        AttrType::Boolean => as_bool(v)
            .map(|b| if b { "TRUE" } else { "FALSE" }.to_owned())
            .ok_or_else(|| wrong("true or false")),
        AttrType::Integer => match v {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
            Value::String(s) if s.parse::<i64>().is_ok() => Ok(s.clone()),
            _ => Err(wrong("an integer")),
        },
        AttrType::Decimal => match v {
            Value::Number(n) => Ok(n.to_string()),
            Value::String(s) if s.parse::<f64>().is_ok() => Ok(s.clone()),
            _ => Err(wrong("a number")),
        },
        AttrType::DateTime => v
            .as_str()
            .and_then(ldap::rfc3339_to_generalized)
            .ok_or_else(|| wrong("a UTC dateTime like 2024-01-31T12:00:00Z")),
        AttrType::String | AttrType::Reference | AttrType::Binary => match v {
            Value::String(s) if s.contains('\0') => Err(wrong("text without NUL characters")),
            Value::String(s) => Ok(s.clone()),
            // Numbers and booleans sent for string attributes (phone numbers as
            // numbers, "True" flags) are stored as their text.
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(wrong("a string")),
        },
        AttrType::Complex => Err(wrong("a simple value")),
    }
}

/// Converts a stored LDAP value back to JSON; `None` when a reference points
/// at nothing the daemon can name (a placeholder, an entry outside the bases).
pub fn from_ldap<'a>(field: &Field, v: &'a str, refs: &'a Refs) -> Option<Json<'a>> {
    if field.reference.is_some() {
        let r = if field.store_rdn {
            refs.rdn_value(ResourceKind::User, v)
        } else {
            refs.dn(v)
        };
        return r.map(|r| Json::str(&r.id));
    }
    Some(match field.ty {
        AttrType::Boolean => Json::Bool(v.eq_ignore_ascii_case("TRUE")),
        AttrType::Integer => v.parse::<i64>().map_or(Json::str(v), Json::Int),
        AttrType::Decimal => v
            .parse::<f64>()
            .ok()
            .and_then(Json::float)
            .unwrap_or(Json::str(v)),
        AttrType::DateTime => ldap::generalized_to_rfc3339(v).map_or(Json::str(v), Json::owned),
        AttrType::String | AttrType::Reference | AttrType::Binary | AttrType::Complex => {
            Json::str(v)
        }
    })
}

/// Ids a resource refers to, so the service can resolve them in one search.
pub fn reference_ids(map: &AttrMap, res: &Value) -> Vec<String> {
    let Some(obj) = res.as_object() else {
        return Vec::new();
    };
    // A body given both ways with different values is refused by `desired`.
    let Ok(obj) = crate::scim::core::lift(obj, map.kind.core_schema()) else {
        return Vec::new();
    };
    let obj = obj.as_ref();
    let mut out = Vec::new();
    for f in map.fields.iter().filter(|f| f.reference.is_some()) {
        if let Some(v) = container(map, f, obj).and_then(|c| get_ci(c, &f.attr)) {
            for leaf in leaves(map, f, v, Elements::Pinned).unwrap_or_default() {
                match leaf {
                    Value::String(s) => out.push(s.clone()),
                    Value::Object(o) => out.extend(
                        get_ci(o, "value")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                    ),
                    _ => {}
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Checks `schemas` names the core schema and only extensions this map knows.
pub fn check_schemas(map: &AttrMap, res: &Map<String, Value>) -> Result<(), Error> {
    let list = get_ci(res, "schemas")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            Error::bad(
                ScimType::InvalidSyntax,
                format!(
                    "schemas is missing; it must list {}",
                    map.kind.core_schema()
                ),
            )
        })?;
    let mut has_core = false;
    for s in list {
        let s = s
            .as_str()
            .ok_or_else(|| Error::bad(ScimType::InvalidSyntax, "schemas must be a list of URNs"))?;
        if s.eq_ignore_ascii_case(map.kind.core_schema()) {
            has_core = true;
        } else if !map.schemas.iter().any(|x| x.id.eq_ignore_ascii_case(s))
            && map.unmapped == Unmapped::Reject
        {
            return Err(Error::invalid_value(format!(
                "schemas: {s} is not a schema of {} resources here (known: {})",
                map.kind.name(),
                map.schemas
                    .iter()
                    .map(|x| x.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    if !has_core {
        return Err(Error::bad(
            ScimType::InvalidSyntax,
            format!("schemas must list {}", map.kind.core_schema()),
        ));
    }
    Ok(())
}

fn unmapped(map: &AttrMap, path: &str) -> Error {
    let sec = match map.kind {
        ResourceKind::User => "users",
        ResourceKind::Group => "groups",
    };
    Error::invalid_value(format!(
        "{path} is not mapped to an LDAP attribute; map it under [{sec}.attributes] or stop sending it"
    ))
}

/// Refuses any attribute of `res` that no field would store.
pub fn check_mapped(map: &AttrMap, res: &Map<String, Value>) -> Result<(), Error> {
    let mut ignored = Vec::new();
    prune(map, res, &mut ignored)?;
    first_unmapped(map, &ignored)
}

fn first_unmapped(map: &AttrMap, ignored: &[String]) -> Result<(), Error> {
    match ignored.first() {
        Some(path) => Err(unmapped(map, path)),
        None => Ok(()),
    }
}

/// `res` without what no field would store; the paths left out are
/// appended to `ignored`, in body order. Unknown extension URNs are refused
/// (they are schemas, not attributes).
pub fn prune(
    map: &AttrMap,
    res: &Map<String, Value>,
    ignored: &mut Vec<String>,
) -> Result<Map<String, Value>, Error> {
    let core = map.kind.core_schema();
    let mut out = Map::new();
    for (k, v) in res {
        let lower = k.to_ascii_lowercase();
        if is_empty(v) || matches!(lower.as_str(), "schemas" | "id" | "meta") {
            // readOnly: ignored on input (RFC 7643 §2.2)
            out.insert(k.clone(), v.clone());
            continue;
        }
        if lower.starts_with("urn:") {
            let Some(schema) = map.schemas.iter().find(|s| s.id.eq_ignore_ascii_case(k)) else {
                if map.unmapped == Unmapped::Ignore {
                    ignored.push(k.clone());
                    continue;
                }
                return Err(Error::invalid_value(format!(
                    "{k} is not a schema of {} resources here",
                    map.kind.name()
                )));
            };
            let obj = v
                .as_object()
                .ok_or_else(|| Error::invalid_value(format!("{k} must be an object")))?;
            let mut kept = Map::new();
            for (ak, av) in obj {
                if ak.eq_ignore_ascii_case("schemas") {
                    continue;
                }
                let shown = format!("{}:{ak}", schema.id);
                if let Some(pv) = prune_attr(map, &schema.id, ak, av, &shown, ignored) {
                    kept.insert(ak.clone(), pv);
                }
            }
            out.insert(k.clone(), Value::Object(kept));
        } else if let Some(pv) = prune_attr(map, core, k, v, k, ignored) {
            out.insert(k.clone(), pv);
        }
    }
    Ok(out)
}

fn describe(element: &Map<String, Value>, attr: &str) -> String {
    match get_ci(element, "type").and_then(Value::as_str) {
        Some(t) => format!("{attr}[type eq {}]", Value::String(t.to_owned())),
        None => attr.to_owned(),
    }
}

/// Refuses any part of `v` (the value of attribute `attr` of `schema`) that no
/// field would store; PATCH values go through the same check as full resources.
pub fn check_value(map: &AttrMap, schema: &str, attr: &str, v: &Value) -> Result<(), Error> {
    let mut ignored = Vec::new();
    prune_value(map, schema, attr, v, &mut ignored);
    first_unmapped(map, &ignored)
}

/// `v` (the value of attribute `attr` of `schema`) without what no field
/// would store, or None when nothing of it would be; the paths left out are
/// appended to `ignored`.
pub fn prune_value(
    map: &AttrMap,
    schema: &str,
    attr: &str,
    v: &Value,
    ignored: &mut Vec<String>,
) -> Option<Value> {
    let shown = if schema.eq_ignore_ascii_case(map.kind.core_schema()) {
        attr.to_owned()
    } else {
        format!("{schema}:{attr}")
    };
    prune_attr(map, schema, attr, v, &shown, ignored)
}

/// The part of one attribute's value that fields store (None: no part).
fn prune_attr(
    map: &AttrMap,
    schema: &str,
    k: &str,
    v: &Value,
    shown: &str,
    ignored: &mut Vec<String>,
) -> Option<Value> {
    if is_empty(v) {
        return Some(v.clone());
    }
    let core = schema.eq_ignore_ascii_case(map.kind.core_schema());
    if core
        && map.kind == ResourceKind::User
        && (k.eq_ignore_ascii_case("active") || k.eq_ignore_ascii_case("password"))
    {
        return Some(v.clone());
    }
    let fields: Vec<&Field> = map.fields_of(Some(schema), k).map(|(_, f)| f).collect();
    if fields.is_empty() {
        // readOnly attributes a client echoes back (groups) are ignored.
        let read_only = crate::scim::schema::resolve(&map.schemas, Some(schema), k, None)
            .is_some_and(|(_, d)| d.mutability == Mutability::ReadOnly);
        if !read_only {
            ignored.push(shown.to_owned());
            return None;
        }
        return Some(v.clone());
    }
    let bare = |ignored: &mut Vec<String>| {
        let stored = fields
            .iter()
            .any(|f| f.sub.is_none() || (f.sub.as_deref() == Some("value") && f.pinned.is_empty()));
        if !stored {
            ignored.push(shown.to_owned());
        }
        stored
    };
    match v {
        Value::Object(o) => prune_element(map, &fields, o, shown, ignored).map(Value::Object),
        Value::Array(items) => {
            let kept: Vec<Value> = items
                .iter()
                .filter_map(|item| match item {
                    Value::Object(o) => {
                        prune_element(map, &fields, o, shown, ignored).map(Value::Object)
                    }
                    Value::Null => Some(Value::Null),
                    _ => bare(ignored).then(|| item.clone()),
                })
                .collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        // A bare value goes to a field without sub-attribute or to `value`.
        _ if fields
            .iter()
            .any(|f| f.sub.is_none() || f.sub.as_deref() == Some("value")) =>
        {
            Some(v.clone())
        }
        _ => {
            ignored.push(shown.to_owned());
            None
        }
    }
}

/// One element of a complex attribute without the sub-attributes no field
/// stores; None when only qualifiers (`type`, `primary`) would be left.
fn prune_element(
    map: &AttrMap,
    fields: &[&Field],
    o: &Map<String, Value>,
    shown: &str,
    ignored: &mut Vec<String>,
) -> Option<Map<String, Value>> {
    let cands: Vec<&&Field> = fields
        .iter()
        .filter(|f| element_matches(map, f, o))
        .collect();
    let mut kept = Map::new();
    let mut data = false;
    for (sk, sv) in o {
        let qualifier = QUALIFIERS.iter().any(|q| q.eq_ignore_ascii_case(sk));
        let stored = cands
            .iter()
            .any(|f| f.sub.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(sk)));
        if is_empty(sv) || qualifier || stored {
            data |= stored && !is_empty(sv);
            kept.insert(sk.clone(), sv.clone());
            continue;
        }
        let base = if fields[0].multi {
            describe(o, shown)
        } else {
            shown.to_owned()
        };
        ignored.push(format!("{base}.{sk}"));
    }
    let pruned = kept.len() < o.len();
    (data || !pruned).then_some(kept)
}

/// The LDAP values a full resource asks for (POST, PUT). Read-only and
/// unknown attributes are checked here; references must be in `refs`.
pub fn desired(map: &AttrMap, res: &Value, refs: &Refs) -> Result<Desired, Error> {
    let obj = res.as_object().ok_or_else(|| {
        Error::bad(
            ScimType::InvalidSyntax,
            "the request body must be a JSON object",
        )
    })?;
    let obj = crate::scim::core::lift(obj, map.kind.core_schema())?;
    let mut ignored = Vec::new();
    let obj = match map.unmapped {
        Unmapped::Reject => obj,
        Unmapped::Ignore => Cow::Owned(prune(map, &obj, &mut ignored)?),
    };
    let obj = obj.as_ref();
    check_schemas(map, obj)?;
    check_mapped(map, obj)?;
    let mut out = Desired {
        ignored: crate::mapping::unmapped::distinct(ignored),
        ..Desired::default()
    };
    for f in &map.fields {
        let Some(v) = container(map, f, obj).and_then(|c| get_ci(c, &f.attr)) else {
            continue;
        };
        let computed = map.is_computed(&f.ldap);
        if f.mutability == Mutability::ReadOnly && !computed {
            continue;
        }
        let mut vals: Vec<String> = Vec::new();
        for leaf in leaves(map, f, v, Elements::Pinned)? {
            let s = to_ldap(f, leaf, refs)?;
            if !s.is_empty() && !vals.iter().any(|x| x.eq_ignore_ascii_case(&s)) {
                vals.push(s);
            }
        }
        if computed {
            out.computed.push((f.path_text(), f.ldap.clone(), vals));
            continue;
        }
        if vals.len() > 1 && !f.multi {
            return Err(Error::invalid_value(format!(
                "{} takes one value",
                f.path_text()
            )));
        }
        if !vals.is_empty() {
            out.values.insert(f.ldap.to_ascii_lowercase(), vals);
        }
    }
    if map.kind == ResourceKind::User {
        if let Some(a) = get_ci(obj, "active").filter(|v| !v.is_null()) {
            out.active = Some(as_bool(a).ok_or_else(|| {
                Error::invalid_value(format!("active must be true or false, got {a}"))
            })?);
        }
        if let Some(p) = get_ci(obj, "password").filter(|v| !v.is_null()) {
            let p = p
                .as_str()
                .ok_or_else(|| Error::invalid_value("password must be a string"))?;
            out.password = Some(secrecy::SecretString::from(p.to_owned()));
        }
    }
    Ok(out)
}

/// What a read needs besides the entry.
pub struct ReadContext<'a> {
    pub maps: Maps<'a>,
    /// `https://host/scim/v2`, for `meta.location` and `$ref`.
    pub base_url: &'a str,
    pub refs: &'a Refs,
    /// DNs of the groups a user is in, when the server keeps no memberOf.
    pub groups: Option<&'a [String]>,
}

impl ReadContext<'_> {
    fn location(&self, kind: ResourceKind, id: &str) -> String {
        location(self.base_url, kind, id)
    }
}

/// A resource's URL (`meta.location`, `$ref`, the `Location` of a 201).
pub fn location(base_url: &str, kind: ResourceKind, id: &str) -> String {
    format!("{}/{}/{}", base_url, kind.endpoint(), id)
}

/// The SCIM resource for an entry, limited to what `projection` asks for,
/// serialised once.
pub fn to_resource(
    map: &AttrMap,
    entry: &Entry,
    ctx: &ReadContext<'_>,
    projection: &Projection,
) -> Result<Rendered, Error> {
    Rendered::new(&resource_tree(map, entry, ctx, projection))
        .map_err(|e| Error::Internal(format!("rendering {}: {e}", entry.dn)))
}

/// The resource as a tree borrowing from the map, the entry and the context:
/// `schemas` and `id` first, then the mapped fields in schema order, then
/// `active`, `groups` and `meta`.
fn resource_tree<'a>(
    map: &'a AttrMap,
    entry: &'a Entry,
    ctx: &ReadContext<'a>,
    projection: &Projection,
) -> Obj<'a> {
    let core = map.kind.core_schema();
    let id = entry.first(&map.id_attribute).unwrap_or_default();
    let mut root = Obj::new();
    root.insert("schemas", Json::Arr(Vec::new()));
    root.insert("id", Json::str(id));
    let mut schemas = vec![Json::str(core)];
    for (i, f) in map.fields.iter().enumerate() {
        let wanted = f.returned != Returned::Never
            && projection.wants(
                &f.schema,
                &f.attr,
                f.sub.as_deref(),
                f.returned == Returned::Request,
            );
        let vals: Vec<Json<'a>> = if wanted {
            entry
                .values(&f.ldap)
                .iter()
                .filter_map(|v| from_ldap(f, v, ctx.refs))
                .collect()
        } else {
            Vec::new()
        };
        if vals.is_empty() {
            continue;
        }
        let cont = if f.is_core(map.kind) {
            Some(&mut root)
        } else {
            if !schemas.iter().any(|s| {
                s.as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(&f.schema))
            }) {
                schemas.push(Json::str(&f.schema));
            }
            root.obj_mut(&f.schema)
        };
        if let Some(cont) = cont {
            let siblings = map.element_fields.get(i).copied().unwrap_or(1);
            place(f, siblings, vals, cont, ctx);
        }
    }
    if map.kind == ResourceKind::User && projection.wants(core, "active", None, false) {
        root.insert("active", Json::Bool(is_active(map, entry)));
    }
    if map.kind == ResourceKind::User && projection.wants(core, "groups", Some("value"), false) {
        let groups = groups(map, entry, ctx);
        if !groups.is_empty() {
            root.insert("groups", Json::Arr(groups));
        }
    }
    if projection.wants(core, "meta", None, false) {
        root.insert("meta", Json::Obj(meta(map, entry, ctx, id)));
    }
    root.insert("schemas", Json::Arr(schemas));
    root
}

/// Inactive when any disable attribute holds its value: a lock set by one
/// client (or half of an interrupted disable) reads inactive.
fn is_active(map: &AttrMap, entry: &Entry) -> bool {
    !map.disable.iter().any(|d| {
        entry
            .values(&d.attribute)
            .iter()
            .any(|v| v.eq_ignore_ascii_case(&d.value))
    })
}

/// A user's `groups`: the groups the context found for it, or its memberOf.
fn groups<'a>(map: &'a AttrMap, entry: &'a Entry, ctx: &ReadContext<'a>) -> Vec<Json<'a>> {
    let dns: &'a [String] = match (ctx.groups, &map.member_of) {
        (Some(g), _) => g,
        (None, Some(attr)) => entry.values(attr),
        (None, None) => &[],
    };
    dns.iter()
        .filter_map(|dn| ctx.refs.dn(dn))
        .filter(|r| r.kind == ResourceKind::Group)
        .map(|r| {
            let mut g = Obj::new();
            g.insert("value", Json::str(&r.id));
            g.insert(
                "$ref",
                Json::owned(ctx.location(ResourceKind::Group, &r.id)),
            );
            g.insert("type", Json::str("direct"));
            if let Some(d) = &r.display {
                g.insert("display", Json::str(d));
            }
            Json::Obj(g)
        })
        .collect()
}

/// `meta`: resource type, timestamps, location and version.
fn meta<'a>(map: &AttrMap, entry: &Entry, ctx: &ReadContext<'_>, id: &str) -> Obj<'a> {
    let mut meta = Obj::new();
    meta.insert("resourceType", Json::str(map.kind.name()));
    for (key, attr) in [("created", CREATED), ("lastModified", MODIFIED)] {
        if let Some(t) = entry.first(attr).and_then(ldap::generalized_to_rfc3339) {
            meta.insert(key, Json::owned(t));
        }
    }
    meta.insert("location", Json::owned(ctx.location(map.kind, id)));
    if let Some(v) = version(map, entry) {
        meta.insert("version", Json::owned(v));
    }
    meta
}

/// The weak ETag of an entry (`W/"..."`), from the version attribute.
pub fn version(map: &AttrMap, entry: &Entry) -> Option<String> {
    let v = entry.values(&map.version_attribute);
    (!v.is_empty()).then(|| {
        let mut sorted: Vec<&str> = v.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        format!("W/\"{}\"", sorted.join("+").replace('"', ""))
    })
}

/// Names a referenced resource in its element: `$ref`, and its display name
/// (`display` and `type` in a multi-valued element, `displayName` in a
/// single one, as the manager).
fn decorate<'a>(f: &Field, el: &mut Obj<'a>, v: &Json<'_>, ctx: &ReadContext<'a>) {
    if f.reference.is_none() {
        return;
    }
    let Some(r) = v.as_str().and_then(|id| ctx.refs.id(id)) else {
        return;
    };
    el.insert("$ref", Json::owned(ctx.location(r.kind, &r.id)));
    if f.multi {
        el.insert("type", Json::str(r.kind.name()));
        if let Some(d) = &r.display {
            el.insert("display", Json::str(d));
        }
    } else if let Some(d) = &r.display {
        el.insert("displayName", Json::str(d));
    }
}

/// Puts a field's values where they sit in its attribute: simple, a
/// sub-attribute of a single complex value, or of multi-valued elements.
fn place<'a>(
    f: &'a Field,
    siblings: usize,
    vals: Vec<Json<'a>>,
    cont: &mut Obj<'a>,
    ctx: &ReadContext<'a>,
) {
    let Some(sub) = &f.sub else {
        if f.multi {
            cont.insert(&f.attr, Json::Arr(vals));
        } else if let Some(v) = vals.into_iter().next() {
            cont.insert(&f.attr, v);
        }
        return;
    };
    if !f.multi {
        if let (Some(o), Some(v)) = (cont.obj_mut(&f.attr), vals.into_iter().next()) {
            decorate(f, o, &v, ctx);
            o.insert(sub, v);
        }
        return;
    }
    let Some(arr) = cont.arr_mut(&f.attr) else {
        return;
    };
    let pinned = || {
        let mut el = Obj::new();
        for (k, p) in &f.pinned {
            el.insert(k, p.json());
        }
        el
    };
    if siblings == 1 {
        arr.extend(vals.into_iter().map(|v| {
            let mut el = pinned();
            decorate(f, &mut el, &v, ctx);
            el.insert(sub, v);
            Json::Obj(el)
        }));
        return;
    }
    // Several sub-attributes of one element (a work address): merge. The
    // element is found by its pins, so none of its fields may overwrite them
    // (a reference's `type`): only the sub-attribute is set.
    let Some(v) = vals.into_iter().next() else {
        return;
    };
    let existing = arr.iter_mut().find_map(|e| match e {
        Json::Obj(o)
            if f.pinned
                .iter()
                .all(|(k, p)| o.get(k).is_some_and(|v| p.matches(v.as_str(), v.as_bool()))) =>
        {
            Some(o)
        }
        _ => None,
    });
    match existing {
        Some(o) => o.insert(sub, v),
        None => {
            let mut el = pinned();
            el.insert(sub, v);
            arr.push(Json::Obj(el));
        }
    }
}

/// DNs an entry refers to (manager, members, memberOf), for batch resolution.
pub fn referenced_dns(map: &AttrMap, entry: &Entry, projection: &Projection) -> Vec<String> {
    let mut out = Vec::new();
    for f in map
        .fields
        .iter()
        .filter(|f| f.reference.is_some() && !f.store_rdn)
    {
        if projection.wants(&f.schema, &f.attr, f.sub.as_deref(), false) {
            out.extend(entry.values(&f.ldap).iter().cloned());
        }
    }
    if let Some(m) = &map.member_of {
        if projection.wants(map.kind.core_schema(), "groups", Some("value"), false) {
            out.extend(entry.values(m).iter().cloned());
        }
    }
    out
}

/// Stored RDN values (memberUid) an entry refers to.
pub fn referenced_rdn_values(map: &AttrMap, entry: &Entry, projection: &Projection) -> Vec<String> {
    map.fields
        .iter()
        .filter(|f| f.store_rdn && projection.wants(&f.schema, &f.attr, f.sub.as_deref(), false))
        .flat_map(|f| entry.values(&f.ldap).iter().cloned())
        .collect()
}

/// The LDAP attributes a read with `projection` needs.
pub fn attributes_for(map: &AttrMap, projection: &Projection) -> Vec<String> {
    if projection.is_default() {
        return map.read_attributes();
    }
    let core = map.kind.core_schema();
    let wanted = |m: &Managed<'_>| match m.role {
        Role::Id | Role::Created | Role::Modified | Role::Version => true,
        Role::Field(i) => {
            let f = &map.fields[i];
            projection.wants(
                &f.schema,
                &f.attr,
                f.sub.as_deref(),
                f.returned == Returned::Request,
            )
        }
        Role::Disable => projection.wants(core, "active", None, false),
        Role::MemberOf => projection.wants(core, "groups", Some("value"), false),
        // Only writes compare the token; the RDN is read through its field,
        // defaults and computed values are derived (a field mapped onto one
        // reads it).
        Role::VersionToken | Role::Rdn | Role::Default(_) | Role::Computed(_) => false,
    };
    let out = map.managed().into_iter().filter(wanted);
    super::dedup_ci(out.map(|m| m.ldap.to_owned()).collect())
}

/// True when the naming DN of `dn` sits directly in one of the configured
/// bases' subtrees (used to refuse references outside them).
pub fn in_bases(maps: Maps<'_>, dn: &str) -> bool {
    Dn::parse(dn)
        .ok()
        .is_some_and(|d| maps.kind_of(&d).is_some())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::mapping::RefEntry;
    use crate::mapping::tests::openldap;
    use serde_json::json;

    /// An entry read as a resource, parsed back into a value to look into.
    fn read(map: &AttrMap, entry: &Entry, ctx: &ReadContext<'_>, p: &Projection) -> Value {
        serde_json::from_str(to_resource(map, entry, ctx, p).unwrap().get()).unwrap()
    }

    /// Entra's create body for a user: its default attribute mapping plus
    /// Contactify's custom extension (shared with the integration tests).
    pub fn entra_user() -> Value {
        serde_json::from_str(include_str!("../../tests/fixtures/entra-user.json")).unwrap()
    }

    /// What a read of `c`'s resources sees, with `refs` and no group list.
    fn read_ctx<'a>(
        c: &'a crate::config::Config,
        refs: &'a Refs,
        base_url: &'a str,
    ) -> ReadContext<'a> {
        ReadContext {
            maps: Maps {
                users: &c.users,
                groups: c.groups.as_ref(),
            },
            base_url,
            refs,
            groups: None,
        }
    }

    /// References that know one user, "The Boss".
    fn boss() -> Refs {
        let mut refs = Refs::default();
        refs.insert(RefEntry {
            id: "11111111-2222-3333-4444-555555555555".into(),
            kind: ResourceKind::User,
            dn: "uid=boss,ou=people,dc=example,dc=com".into(),
            rdn_value: "boss".into(),
            display: Some("The Boss".into()),
        });
        refs
    }

    /// A user entry at `uid=u` holding `attrs` (one value each).
    fn user_with(attrs: &[(&str, &str)]) -> Entry {
        Entry::new(
            crate::ldap::Dn::parse("uid=u,ou=people,dc=example,dc=com").unwrap(),
            attrs
                .iter()
                .map(|(a, v)| ((*a).to_owned(), vec![(*v).to_owned()])),
        )
    }

    #[test]
    fn entra_create_maps_every_attribute() {
        let c = openldap();
        let d = desired(&c.users, &entra_user(), &Refs::default()).unwrap();
        let want = [
            ("uid", "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1"),
            ("scimexternalid", "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"),
            ("displayname", "Test User"),
            ("title", "Engineer"),
            ("mail", "Test_User_11bb11bb@testuser.com"),
            ("givenname", "givenName"),
            ("sn", "familyName"),
            ("cn", "givenName familyName"),
            ("street", "1 Main St"),
            ("l", "Springfield"),
            ("postalcode", "12345"),
            ("scimcountry", "US"),
            ("telephonenumber", "+1 555 0100"),
            ("mobile", "+1 555 0101"),
            ("scimrole", "Admin"),
            ("employeenumber", "701984"),
            ("departmentnumber", "Tour Operations"),
            ("scimordercard", "TRUE"),
            ("scimdelivercardtoheadquarters", "FALSE"),
            ("scimcontactifyuid", "CX-1"),
            ("scimexternalcompanyid", "acme"),
        ];
        for (attr, v) in want {
            assert_eq!(
                d.values.get(attr).map(Vec::as_slice),
                Some(&[v.to_owned()][..]),
                "{attr}: {:?}",
                d.values
            );
        }
        assert_eq!(d.active, Some(true));
    }

    #[test]
    fn unmapped_attributes_are_refused_with_their_path() {
        let c = openldap();
        let cases = [
            (json!({"nickName": "x"}), "nickName is not mapped"),
            (
                json!({"emails": [{"type": "home", "value": "a@b"}]}),
                "emails[type eq \"home\"].value is not mapped",
            ),
            (
                json!({"name": {"middleName": "Q"}}),
                "name.middleName is not mapped",
            ),
            (
                json!({"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"costCenter": "1"}}),
                "enterprise:2.0:User:costCenter is not mapped",
            ),
            (
                json!({"urn:example:bogus:2.0:User": {"a": 1}}),
                "urn:example:bogus:2.0:User is not a schema",
            ),
        ];
        for (extra, needle) in cases {
            let mut body =
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "u"});
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            let e = desired(&c.users, &body, &Refs::default()).unwrap_err();
            assert!(e.to_string().contains(needle), "{needle}: {e}");
            assert!(matches!(
                e,
                Error::BadRequest {
                    scim_type: ScimType::InvalidValue,
                    ..
                }
            ));
        }
    }

    #[test]
    fn schemas_are_checked() {
        let c = openldap();
        let e = desired(&c.users, &json!({"userName": "u"}), &Refs::default()).unwrap_err();
        assert!(
            matches!(
                e,
                Error::BadRequest {
                    scim_type: ScimType::InvalidSyntax,
                    ..
                }
            ),
            "{e}"
        );
        let e = desired(
            &c.users,
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "userName": "u"}),
            &Refs::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("Group"), "{e}");
        let e = desired(
            &c.users,
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "active": "maybe"}),
            &Refs::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("active"), "{e}");
        let e = desired(&c.users, &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "title": ["a", "b"]}), &Refs::default()).unwrap_err();
        assert!(e.to_string().contains("title"), "{e}");
        let e = desired(
            &c.users,
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "emails": [{"type":"work","value":"a"},{"type":"work","value":"b"}]}),
            &Refs::default(),
        );
        assert!(e.is_ok(), "two work emails go to the multi-valued mail");
    }

    #[test]
    fn typeless_values_go_to_the_only_mapping() {
        let c = openldap();
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "u", "emails": [{"value": "x@y"}]});
        let d = desired(&c.users, &body, &Refs::default()).unwrap();
        assert_eq!(d.values["mail"], ["x@y"]);
        // phoneNumbers has two mappings (work, mobile): a typeless one is ambiguous.
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "u", "phoneNumbers": [{"value": "1"}]});
        assert!(desired(&c.users, &body, &Refs::default()).is_err());
    }

    #[test]
    fn sibling_sub_attributes_merge_into_one_element_also_for_a_reference() {
        let text = crate::config::tests::example("openldap.toml").replacen(
            "[users.defaults]",
            "'ims[type eq \"work\"].display' = { attribute = \"seeAlso\", reference = \"User\" }\n\
             'ims[type eq \"work\"].value' = \"description\"\n\n[users.defaults]",
            1,
        );
        let c = crate::config::Config::parse(
            &text,
            &crate::config::tests::Vars(crate::config::tests::SECRETS.to_vec()),
        )
        .unwrap();
        let refs = boss();
        let entry = user_with(&[
            ("seeAlso", "uid=boss,ou=people,dc=example,dc=com"),
            ("description", "n"),
        ]);
        let ctx = read_ctx(&c, &refs, "https://h/scim/v2");
        let r = read(&c.users, &entry, &ctx, &Projection::default());
        // One element, found by its pin (fields are placed in name order, so
        // the reference creates it): the reference's own `type` does not
        // replace the pinned one, so its sibling joins it.
        assert_eq!(
            r["ims"],
            json!([{"type": "work", "display": "11111111-2222-3333-4444-555555555555", "value": "n"}])
        );
    }

    #[test]
    fn manager_reference_resolves() {
        let c = openldap();
        let refs = boss();
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "u",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": {"value": "11111111-2222-3333-4444-555555555555"}}});
        assert_eq!(
            reference_ids(&c.users, &body),
            ["11111111-2222-3333-4444-555555555555"]
        );
        let d = desired(&c.users, &body, &refs).unwrap();
        assert_eq!(
            d.values["manager"],
            ["uid=boss,ou=people,dc=example,dc=com"]
        );
        let body2 = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "u",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"manager": "99999999-2222-3333-4444-555555555555"}});
        let e = desired(&c.users, &body2, &refs).unwrap_err();
        assert!(e.to_string().contains("no User has id \"99999999"), "{e}");

        let entry = user_with(&[
            ("manager", "UID=boss,ou=People,dc=example,dc=com"),
            ("entryUUID", "abc"),
        ]);
        let ctx = read_ctx(&c, &refs, "https://h/scim/v2");
        let r = read(&c.users, &entry, &ctx, &Projection::default());
        let m = &r["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"];
        assert_eq!(m["value"], "11111111-2222-3333-4444-555555555555");
        assert_eq!(
            m["$ref"],
            "https://h/scim/v2/Users/11111111-2222-3333-4444-555555555555"
        );
        assert_eq!(m["displayName"], "The Boss");
    }

    #[test]
    fn entry_reads_back_as_the_resource_it_came_from() {
        let c = openldap();
        let d = desired(&c.users, &entra_user(), &Refs::default()).unwrap();
        let mut attrs: Vec<(String, Vec<String>)> = d.values.into_iter().collect();
        attrs.push((
            "entryUUID".into(),
            vec!["2819c223-7f76-453a-919d-413861904646".into()],
        ));
        attrs.push(("createTimestamp".into(), vec!["20240101000000Z".into()]));
        attrs.push(("modifyTimestamp".into(), vec!["20240102000000Z".into()]));
        attrs.push((
            "entryCSN".into(),
            vec!["20240102000000.000000Z#000000#000#000000".into()],
        ));
        let entry = Entry::new(
            crate::ldap::Dn::parse("uid=x,ou=people,dc=example,dc=com").unwrap(),
            attrs,
        );
        let refs = Refs::default();
        let ctx = read_ctx(&c, &refs, "https://h/scim/v2");
        let r = read(&c.users, &entry, &ctx, &Projection::default());
        let src = entra_user();
        assert_eq!(r["userName"], src["userName"]);
        assert_eq!(r["name"]["givenName"], "givenName");
        assert_eq!(r["name"]["formatted"], "givenName familyName");
        assert_eq!(
            r["emails"],
            json!([{"type": "work", "value": "Test_User_11bb11bb@testuser.com"}])
        );
        assert_eq!(
            r["addresses"],
            json!([{"type": "work", "streetAddress": "1 Main St", "locality": "Springfield", "postalCode": "12345", "country": "US"}])
        );
        assert_eq!(r["phoneNumbers"].as_array().unwrap().len(), 2);
        assert_eq!(r["roles"], json!([{"primary": true, "value": "Admin"}]));
        assert_eq!(r["active"], true);
        let ext = &r["urn:ietf:params:scim:schemas:extension:contactify:2.0:User"];
        assert_eq!(ext["orderCard"], true);
        assert_eq!(ext["deliverCardToHeadquarters"], false);
        assert_eq!(r["meta"]["created"], "2024-01-01T00:00:00Z");
        assert_eq!(r["meta"]["lastModified"], "2024-01-02T00:00:00Z");
        assert_eq!(
            r["meta"]["location"],
            "https://h/scim/v2/Users/2819c223-7f76-453a-919d-413861904646"
        );
        assert_eq!(
            r["meta"]["version"],
            "W/\"20240102000000.000000Z#000000#000#000000\""
        );
        assert!(r["schemas"].as_array().unwrap().len() == 3);
        // The read-back resource is itself a valid write.
        assert!(desired(&c.users, &r, &Refs::default()).is_ok());
        // Projection: only what was asked, plus id and schemas.
        let p = Projection::parse(Some("userName"), None).unwrap();
        let r = read(&c.users, &entry, &ctx, &p);
        let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["id", "schemas", "userName"]);
        assert_eq!(
            attributes_for(&c.users, &p),
            [
                "entryUUID",
                "createTimestamp",
                "modifyTimestamp",
                "entryCSN",
                "uid"
            ]
        );
    }

    #[test]
    fn any_disable_action_reads_inactive() {
        let c = crate::mapping::tests::derived_rdn();
        let refs = Refs::default();
        let ctx = read_ctx(&c, &refs, "");
        let rows: [(&[(&str, &str)], bool); 5] = [
            (&[], true),
            (&[("shadowExpire", "1")], false),
            (&[("pwdAccountLockedTime", "000001010000Z")], false),
            (
                &[
                    ("shadowExpire", "1"),
                    ("pwdAccountLockedTime", "000001010000Z"),
                ],
                false,
            ),
            // Other values (a real expiry date, a policy lock-out) are not
            // the daemon's disable.
            (
                &[
                    ("shadowExpire", "19000"),
                    ("pwdAccountLockedTime", "20240101000000Z"),
                ],
                true,
            ),
        ];
        for (values, active) in rows {
            let entry = Entry::new(
                crate::ldap::Dn::parse("uid=x,ou=people,dc=example,dc=com").unwrap(),
                values
                    .iter()
                    .map(|(a, v)| ((*a).to_owned(), vec![(*v).to_owned()])),
            );
            assert_eq!(
                read(&c.users, &entry, &ctx, &Projection::default())["active"],
                active,
                "{values:?}"
            );
        }
    }

    #[test]
    fn disabled_users_read_inactive() {
        let c = openldap();
        let d = c.users.disable[0].clone();
        let entry = Entry::new(
            crate::ldap::Dn::parse("uid=x,ou=people,dc=example,dc=com").unwrap(),
            [(d.attribute.clone(), vec![d.value.clone()])],
        );
        let refs = Refs::default();
        let ctx = read_ctx(&c, &refs, "");
        assert_eq!(
            read(&c.users, &entry, &ctx, &Projection::default())["active"],
            false
        );
    }
}
