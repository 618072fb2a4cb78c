//! SCIM filters (RFC 7644 §3.4.2.2) translated into one LDAP filter
//! (RFC 4515), so every query is answered by the directory's indexes and never
//! by listing a subtree.
//!
//! Value filters on mapped multi-valued attributes are evaluated partly here:
//! `emails[type eq "work" and value co "@x"]` becomes a condition on the LDAP
//! attribute that stores work e-mails, because the `type` is fixed by the
//! mapping. Comparisons the mapping already decides become the absolute
//! true/false filters, which then simplify away.

use crate::error::{Error, ScimType};
use crate::ldap::{self, Filter as L};
use crate::mapping::as_bool;
use crate::mapping::{AttrMap, CREATED, Field, MODIFIED, Pinned, Refs};
use crate::scim::ResourceKind;
use crate::scim::filter::{CompareOp, Filter, Value};
use crate::scim::path::AttrPath;
use crate::scim::schema::AttrType;

fn invalid(detail: String) -> Error {
    Error::bad(ScimType::InvalidFilter, detail)
}

/// Translates a filter for `map`; ids on reference attributes are looked up in `refs`.
pub fn to_ldap(map: &AttrMap, f: &Filter, refs: &Refs) -> Result<L, Error> {
    translate(map, f, refs, Unmapped::Refused)
}

/// Like [`to_ldap`], but an attribute this resource type does not map matches
/// nothing instead of being an error: for `POST /.search` across types, where
/// `userName eq "x" or displayName eq "y"` must find users and groups alike.
pub fn to_ldap_lenient(map: &AttrMap, f: &Filter, refs: &Refs) -> Result<L, Error> {
    translate(map, f, refs, Unmapped::MatchesNothing)
}

/// What an attribute this resource type does not map means in a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unmapped {
    /// A 400 naming the attribute: a query of one resource type.
    Refused,
    /// A condition that matches nothing: `POST /.search` across types.
    MatchesNothing,
}

fn translate(map: &AttrMap, f: &Filter, refs: &Refs, unmapped: Unmapped) -> Result<L, Error> {
    Ok(match f {
        Filter::And(a, b) => L::and(vec![
            translate(map, a, refs, unmapped)?,
            translate(map, b, refs, unmapped)?,
        ]),
        Filter::Or(a, b) => L::or(vec![
            translate(map, a, refs, unmapped)?,
            translate(map, b, refs, unmapped)?,
        ]),
        Filter::Not(a) => not(translate(map, a, refs, unmapped)?),
        Filter::Present(p) => attr_expr(map, p, None, refs, None, unmapped)?,
        Filter::Compare { path, op, value } => {
            attr_expr(map, path, Some((*op, value)), refs, None, unmapped)?
        }
        Filter::ValuePath { path, filter } => {
            let fields = fields_for(map, path, unmapped)?;
            let mut parts = Vec::new();
            // Each mapping (e.g. work e-mail, home e-mail) is one possible element.
            let mut seen: Vec<&Vec<(String, Pinned)>> = Vec::new();
            for f in &fields {
                if seen.contains(&&f.pinned) {
                    continue;
                }
                seen.push(&f.pinned);
                let group: Vec<&Field> = fields
                    .iter()
                    .copied()
                    .filter(|g| g.pinned == f.pinned)
                    .collect();
                let cond = inner(map, filter, &group, refs, unmapped)?;
                // The element must exist: a condition decided by the mapping alone
                // (or one that a missing value could satisfy) needs its presence.
                let exists = L::or(group.iter().map(|g| L::Present(g.ldap.clone())).collect());
                parts.push(if cond == L::everything() {
                    exists
                } else if cond.is_nothing() || !has_not(&cond) {
                    cond
                } else {
                    L::and(vec![exists, cond])
                });
            }
            L::or(parts)
        }
    })
}

fn has_not(f: &L) -> bool {
    match f {
        L::Not(_) => true,
        L::And(v) | L::Or(v) => v.iter().any(has_not),
        L::Equal(..)
        | L::Substring(..)
        | L::GreaterOrEqual(..)
        | L::LessOrEqual(..)
        | L::Present(_) => false,
    }
}

fn not(f: L) -> L {
    if f.is_nothing() {
        L::everything()
    } else if f == L::everything() {
        L::nothing()
    } else {
        L::Not(Box::new(f))
    }
}

/// The filter inside `attr[...]`, for one element group.
fn inner(
    map: &AttrMap,
    f: &Filter,
    group: &[&Field],
    refs: &Refs,
    unmapped: Unmapped,
) -> Result<L, Error> {
    Ok(match f {
        Filter::And(a, b) => L::and(vec![
            inner(map, a, group, refs, unmapped)?,
            inner(map, b, group, refs, unmapped)?,
        ]),
        Filter::Or(a, b) => L::or(vec![
            inner(map, a, group, refs, unmapped)?,
            inner(map, b, group, refs, unmapped)?,
        ]),
        Filter::Not(a) => not(inner(map, a, group, refs, unmapped)?),
        Filter::ValuePath { .. } => {
            return Err(invalid("value filters cannot be nested".to_owned()));
        }
        Filter::Present(p) | Filter::Compare { path: p, .. } => {
            let cmp = match f {
                Filter::Compare { op, value, .. } => Some((*op, value)),
                _ => None,
            };
            attr_expr(
                map,
                &AttrPath::simple(&group[0].attr),
                cmp,
                refs,
                Some((group, &p.attr)),
                unmapped,
            )?
        }
    })
}

fn fields_for<'a>(
    map: &'a AttrMap,
    path: &AttrPath,
    unmapped: Unmapped,
) -> Result<Vec<&'a Field>, Error> {
    let mut fields: Vec<&Field> = map
        .fields_of(path.schema.as_deref(), &path.attr)
        .map(|(_, f)| f)
        .collect();
    if path.schema.is_none() && fields.iter().any(|f| f.is_core(map.kind)) {
        fields.retain(|f| f.is_core(map.kind));
    }
    if fields.is_empty() && unmapped == Unmapped::Refused {
        return Err(invalid(format!(
            "{path} is not a mapped attribute, so it cannot be filtered on"
        )));
    }
    Ok(fields)
}

/// The core attributes the daemon derives, which no field maps.
fn special(map: &AttrMap, path: &AttrPath) -> Option<Special> {
    match (
        path.attr.to_ascii_lowercase().as_str(),
        path.sub.as_deref().map(str::to_ascii_lowercase).as_deref(),
    ) {
        ("id", None) => Some(Special::Id),
        ("meta", Some("created")) => Some(Special::Time(CREATED)),
        ("meta", Some("lastmodified")) => Some(Special::Time(MODIFIED)),
        ("meta", Some("resourcetype")) => Some(Special::ResourceType),
        ("active", None) if map.kind == ResourceKind::User => Some(Special::Active),
        ("schemas", None) => Some(Special::Schemas),
        _ => None,
    }
}

/// One `attrPath op value` (or `attrPath pr`). `within` is set inside a value
/// filter: the element's fields and the sub-attribute named.
fn attr_expr(
    map: &AttrMap,
    path: &AttrPath,
    cmp: Option<(CompareOp, &Value)>,
    refs: &Refs,
    within: Option<(&[&Field], &str)>,
    unmapped: Unmapped,
) -> Result<L, Error> {
    let core = path
        .schema
        .as_deref()
        .is_none_or(|s| s.eq_ignore_ascii_case(map.kind.core_schema()));
    if within.is_none() && core {
        if let Some(s) = special(map, path) {
            return special_expr(map, s, path, cmp);
        }
    }
    let (fields, sub) = candidates(map, path, refs, within, unmapped)?;
    let mut parts = Vec::new();
    let mut decided = false;
    for f in fields {
        // A sub-attribute the mapping pins (`type`): decided here.
        if let Some(s) = &sub {
            if let Some((_, pin)) = f.pinned.iter().find(|(k, _)| k.eq_ignore_ascii_case(s)) {
                decided = true;
                let holds = match cmp {
                    None => true,
                    Some((op, v)) => pinned_holds(pin, op, v),
                };
                if holds {
                    // Inside a value filter the element's existence is added by
                    // the caller; on its own, `emails.type eq "work"` means "has one".
                    parts.push(if within.is_some() {
                        L::everything()
                    } else {
                        L::Present(f.ldap.clone())
                    });
                }
                continue;
            }
        }
        let matches_sub = match (&sub, &f.sub) {
            (None, _) => true,
            (Some(s), Some(fs)) => s.eq_ignore_ascii_case(fs),
            (Some(_), None) => false,
        };
        if !matches_sub {
            continue;
        }
        parts.push(match cmp {
            None => L::Present(f.ldap.clone()),
            Some((op, v)) => compare(f, op, v, refs)?,
        });
    }
    if parts.is_empty() && !decided && unmapped == Unmapped::MatchesNothing {
        return Ok(L::nothing());
    }
    if parts.is_empty() && !decided {
        return Err(invalid(format!(
            "{path}{} is not a mapped attribute, so it cannot be filtered on",
            sub.filter(|_| within.is_some())
                .map(|s| format!(".{s}"))
                .unwrap_or_default()
        )));
    }
    Ok(L::or(parts))
}

/// The fields an expression may compare, and the sub-attribute it names:
/// inside a value filter the element's fields; on its own the fields the path
/// maps to, narrowed by a value filter in the path itself.
fn candidates<'m>(
    map: &'m AttrMap,
    path: &AttrPath,
    refs: &Refs,
    within: Option<(&[&'m Field], &str)>,
    unmapped: Unmapped,
) -> Result<(Vec<&'m Field>, Option<String>), Error> {
    Ok(match within {
        Some((group, sub)) => (group.to_vec(), Some(sub.to_owned())),
        None => {
            let fields = fields_for(map, path, unmapped)?;
            let fields = match &path.filter {
                // `emails[type eq "work"].value eq "x"`: a non-standard but common spelling.
                Some(flt) => {
                    let mut out = Vec::new();
                    for f in fields {
                        let cond = inner(map, flt, &[f], refs, unmapped)?;
                        if !cond.is_nothing() {
                            out.push(f);
                        }
                    }
                    out
                }
                None => fields,
            };
            (fields, path.sub.clone())
        }
    })
}

fn pinned_holds(pin: &Pinned, op: CompareOp, v: &Value) -> bool {
    let actual = match pin {
        Pinned::Str(s) => s.to_lowercase(),
        Pinned::Bool(b) => b.to_string(),
    };
    let lit = match v {
        Value::String(s) => match pin {
            Pinned::Bool(_) => as_bool(&serde_json::Value::String(s.clone()))
                .map(|b| b.to_string())
                .unwrap_or_else(|| s.to_lowercase()),
            Pinned::Str(_) => s.to_lowercase(),
        },
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.clone(),
        Value::Null => return op == CompareOp::Ne,
    };
    match op {
        CompareOp::Eq => actual == lit,
        CompareOp::Ne => actual != lit,
        CompareOp::Co => actual.contains(&lit),
        CompareOp::Sw => actual.starts_with(&lit),
        CompareOp::Ew => actual.ends_with(&lit),
        CompareOp::Gt => actual > lit,
        CompareOp::Ge => actual >= lit,
        CompareOp::Lt => actual < lit,
        CompareOp::Le => actual <= lit,
    }
}

enum Special {
    Id,
    Time(&'static str),
    ResourceType,
    Active,
    Schemas,
}

/// A comparison on an attribute the daemon derives rather than maps (see
/// [`special`]); without one (`pr`), whether the entry has it.
fn special_expr(
    map: &AttrMap,
    s: Special,
    path: &AttrPath,
    cmp: Option<(CompareOp, &Value)>,
) -> Result<L, Error> {
    let Some((op, v)) = cmp else {
        return Ok(match s {
            Special::Id | Special::ResourceType | Special::Active | Special::Schemas => {
                L::everything()
            }
            Special::Time(attr) => L::Present(attr.to_owned()),
        });
    };
    match s {
        Special::Id => id_expr(map, op, v, path),
        Special::Time(attr) => time_expr(attr, op, v, path),
        Special::ResourceType | Special::Schemas => kind_expr(map, &s, op, v, path),
        Special::Active => active_expr(map, op, v, path),
    }
}

/// `eq` keeps a filter, `ne` negates it; the other operators are refused.
fn eq_or_ne(op: CompareOp, f: L, path: &AttrPath) -> Result<L, Error> {
    match op {
        CompareOp::Eq => Ok(f),
        CompareOp::Ne => Ok(not(f)),
        _ => Err(invalid(format!("{path} supports eq and ne"))),
    }
}

/// `id eq "…"`: the id attribute's value.
fn id_expr(map: &AttrMap, op: CompareOp, v: &Value, path: &AttrPath) -> Result<L, Error> {
    let Value::String(id) = v else {
        return Err(invalid(format!("{path} compares with a string")));
    };
    // An id that cannot exist matches nothing (and never reaches LDAP).
    let f = if map.is_valid_id(id) {
        L::Equal(map.id_attribute.clone(), id.clone())
    } else {
        L::nothing()
    };
    eq_or_ne(op, f, path)
}

/// `meta.created` / `meta.lastModified`: an operational timestamp, ordered.
fn time_expr(attr: &str, op: CompareOp, v: &Value, path: &AttrPath) -> Result<L, Error> {
    let Value::String(t) = v else {
        return Err(invalid(format!("{path} compares with a dateTime string")));
    };
    let g = ldap::rfc3339_to_generalized(t).ok_or_else(|| {
        invalid(format!(
            "{path}: {t:?} is not a UTC dateTime like 2024-01-31T12:00:00Z"
        ))
    })?;
    ordered(attr, op, g, path)
}

/// `meta.resourceType` and `schemas`: the same for every entry of the map,
/// so they match everything or nothing.
fn kind_expr(
    map: &AttrMap,
    s: &Special,
    op: CompareOp,
    v: &Value,
    path: &AttrPath,
) -> Result<L, Error> {
    let Value::String(t) = v else {
        return Err(invalid(format!("{path} compares with a string")));
    };
    let hit = match s {
        Special::ResourceType => t.eq_ignore_ascii_case(map.kind.name()),
        _ => {
            t.eq_ignore_ascii_case(map.kind.core_schema())
                || map.schemas.iter().any(|x| x.id.eq_ignore_ascii_case(t))
        }
    };
    eq_or_ne(op, if hit { L::everything() } else { L::nothing() }, path)
}

/// `active`: a user is inactive when any disable attribute holds its value.
fn active_expr(map: &AttrMap, op: CompareOp, v: &Value, path: &AttrPath) -> Result<L, Error> {
    let b = match v {
        Value::Bool(b) => *b,
        Value::String(t) => as_bool(&serde_json::Value::String(t.clone()))
            .ok_or_else(|| invalid(format!("{path} compares with true or false")))?,
        _ => return Err(invalid(format!("{path} compares with true or false"))),
    };
    let mut each: Vec<L> = map
        .disable
        .iter()
        .map(|d| L::Equal(d.attribute.clone(), d.value.clone()))
        .collect();
    let disabled = match each.len() {
        1 => each.remove(0),
        _ => L::Or(each), // none: matches nothing
    };
    let want_active = match op {
        CompareOp::Eq => b,
        CompareOp::Ne => !b,
        _ => return Err(invalid(format!("{path} supports eq and ne"))),
    };
    Ok(if want_active { not(disabled) } else { disabled })
}

fn ordered(attr: &str, op: CompareOp, v: String, path: &AttrPath) -> Result<L, Error> {
    let a = attr.to_owned();
    Ok(match op {
        CompareOp::Eq => L::Equal(a, v),
        CompareOp::Ne => L::Not(Box::new(L::Equal(a, v))),
        CompareOp::Ge => L::GreaterOrEqual(a, v),
        CompareOp::Le => L::LessOrEqual(a, v),
        // LDAP has only >= and <=; strictness comes from excluding equality.
        CompareOp::Gt => L::and(vec![
            L::GreaterOrEqual(a.clone(), v.clone()),
            L::Not(Box::new(L::Equal(a, v))),
        ]),
        CompareOp::Lt => L::and(vec![
            L::LessOrEqual(a.clone(), v.clone()),
            L::Not(Box::new(L::Equal(a, v))),
        ]),
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
            return Err(invalid(format!(
                "{path}: {op} does not apply to dateTime values"
            )));
        }
    })
}

/// A reference (`manager`, a member) compared by the id of what it points
/// at: stored as a DN or an RDN value, so only eq and ne apply.
fn compare_reference(f: &Field, op: CompareOp, v: &Value, refs: &Refs) -> Result<L, Error> {
    let path = f.path_text();
    let a = f.ldap.clone();
    let Value::String(id) = v else {
        return Err(invalid(format!("{path} compares with an id string")));
    };
    let stored = refs.id(id).map(|r| {
        if f.store_rdn {
            r.rdn_value.clone()
        } else {
            r.dn.clone()
        }
    });
    let eq = stored.map(|s| L::Equal(a, s)).unwrap_or_else(L::nothing);
    match op {
        CompareOp::Eq => Ok(eq),
        CompareOp::Ne => Ok(not(eq)),
        _ => Err(invalid(format!("{path} supports eq and ne"))),
    }
}

fn compare(f: &Field, op: CompareOp, v: &Value, refs: &Refs) -> Result<L, Error> {
    let path = f.path_text();
    let a = f.ldap.clone();
    if f.reference.is_some() {
        return compare_reference(f, op, v, refs);
    }
    let text = match (f.ty, v) {
        (_, Value::Null) => {
            // `attr eq null` means "has no value" (RFC 7644 §3.4.2.2 treats null as absent).
            return match op {
                CompareOp::Eq => Ok(not(L::Present(a))),
                CompareOp::Ne => Ok(L::Present(a)),
                _ => Err(invalid(format!("{path}: {op} cannot compare with null"))),
            };
        }
        (AttrType::Boolean, v) => {
            let b = match v {
                Value::Bool(b) => *b,
                Value::String(s) => as_bool(&serde_json::Value::String(s.clone()))
                    .ok_or_else(|| invalid(format!("{path} compares with true or false")))?,
                _ => return Err(invalid(format!("{path} compares with true or false"))),
            };
            let eq = L::Equal(a, if b { "TRUE" } else { "FALSE" }.to_owned());
            return match op {
                CompareOp::Eq => Ok(eq),
                CompareOp::Ne => Ok(not(eq)),
                _ => Err(invalid(format!("{path}: {op} does not apply to booleans"))),
            };
        }
        (AttrType::DateTime, Value::String(s)) => {
            let g = ldap::rfc3339_to_generalized(s)
                .ok_or_else(|| invalid(format!("{path}: {s:?} is not a UTC dateTime")))?;
            return ordered(&f.ldap, op, g, &AttrPath::simple(&f.attr));
        }
        (_, Value::String(s)) => s.clone(),
        (_, Value::Number(n)) => n.clone(),
        (_, Value::Bool(b)) => b.to_string(),
    };
    if text.contains('\0') {
        return Err(invalid(format!(
            "{path}: the value contains a NUL character"
        )));
    }
    // Every value contains, starts and ends with "": an empty substring is
    // presence (and `(a=**)` is not a valid LDAP filter).
    if text.is_empty() && matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
        return Ok(L::Present(a));
    }
    Ok(match op {
        CompareOp::Eq => L::Equal(a, text),
        CompareOp::Ne => L::Not(Box::new(L::Equal(a, text))),
        CompareOp::Co => L::Substring(a, None, vec![text], None),
        CompareOp::Sw => L::Substring(a, Some(text), Vec::new(), None),
        CompareOp::Ew => L::Substring(a, None, Vec::new(), Some(text)),
        CompareOp::Ge => L::GreaterOrEqual(a, text),
        CompareOp::Le => L::LessOrEqual(a, text),
        CompareOp::Gt => L::and(vec![
            L::GreaterOrEqual(a.clone(), text.clone()),
            L::Not(Box::new(L::Equal(a, text))),
        ]),
        CompareOp::Lt => L::and(vec![
            L::LessOrEqual(a.clone(), text.clone()),
            L::Not(Box::new(L::Equal(a, text))),
        ]),
    })
}

/// The mapped attributes a filter compares with gt/ge/lt/le, as (SCIM path,
/// LDAP attribute): those need an ORDERING rule on the server.
pub fn ordering_attributes(map: &AttrMap, f: &Filter) -> Vec<(String, String)> {
    compared_attributes(map, f, |op| {
        matches!(
            op,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        )
    })
}

/// The mapped attributes a filter compares with eq/ne, as (SCIM path, LDAP
/// attribute): those need an EQUALITY rule on the server.
pub fn equality_attributes(map: &AttrMap, f: &Filter) -> Vec<(String, String)> {
    compared_attributes(map, f, |op| matches!(op, CompareOp::Eq | CompareOp::Ne))
}

/// The mapped (non-reference) attributes the filter compares with an
/// operator `which` accepts, as (SCIM path, LDAP attribute).
fn compared_attributes(
    map: &AttrMap,
    f: &Filter,
    which: fn(&CompareOp) -> bool,
) -> Vec<(String, String)> {
    fn walk(
        map: &AttrMap,
        f: &Filter,
        parent: Option<&AttrPath>,
        which: fn(&CompareOp) -> bool,
        out: &mut Vec<(String, String)>,
    ) {
        match f {
            Filter::And(a, b) | Filter::Or(a, b) => {
                walk(map, a, parent, which, out);
                walk(map, b, parent, which, out);
            }
            Filter::Not(a) => walk(map, a, parent, which, out),
            Filter::ValuePath { path, filter } => walk(map, filter, Some(path), which, out),
            Filter::Present(_) => {}
            Filter::Compare { path, op, .. } => {
                if !which(op) {
                    return;
                }
                let (attr, schema, sub) = match parent {
                    Some(p) => (
                        p.attr.as_str(),
                        p.schema.as_deref(),
                        Some(path.attr.as_str()),
                    ),
                    None => (
                        path.attr.as_str(),
                        path.schema.as_deref(),
                        path.sub.as_deref(),
                    ),
                };
                for (_, field) in map.fields_of(schema, attr) {
                    let sub_ok = match (sub, &field.sub) {
                        (None, _) => true,
                        (Some(s), Some(fs)) => s.eq_ignore_ascii_case(fs),
                        (Some(_), None) => false,
                    };
                    if sub_ok && field.reference.is_none() {
                        out.push((field.path_text(), field.ldap.clone()));
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(map, f, None, which, &mut out);
    out
}

/// Ids the filter compares reference attributes with (`members.value eq
/// "…"`, `manager.value eq "…"`), to resolve before translating.
pub fn reference_ids(map: &AttrMap, f: &Filter) -> Vec<String> {
    fn walk(map: &AttrMap, f: &Filter, parent: Option<&AttrPath>, out: &mut Vec<String>) {
        match f {
            Filter::And(a, b) | Filter::Or(a, b) => {
                walk(map, a, parent, out);
                walk(map, b, parent, out);
            }
            Filter::Not(a) => walk(map, a, parent, out),
            Filter::ValuePath { path, filter } => walk(map, filter, Some(path), out),
            Filter::Present(_) => {}
            Filter::Compare {
                path,
                value: Value::String(s),
                ..
            } => {
                let attr = parent.map(|p| p.attr.as_str()).unwrap_or(&path.attr);
                if map
                    .fields_of(None, attr)
                    .any(|(_, f)| f.reference.is_some())
                {
                    out.push(s.clone());
                }
            }
            Filter::Compare { .. } => {}
        }
    }
    let mut out = Vec::new();
    walk(map, f, None, &mut out);
    out.retain(|id| map.is_valid_id(id));
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::mapping::RefEntry;
    use crate::mapping::tests::openldap;

    fn t(filter: &str) -> Result<String, Error> {
        let c = openldap();
        let mut refs = Refs::default();
        refs.insert(RefEntry {
            id: "11111111-1111-1111-1111-111111111111".into(),
            kind: ResourceKind::User,
            dn: "uid=one,ou=people,dc=example,dc=com".into(),
            rdn_value: "one".into(),
            display: None,
        });
        let (map, f) = match filter.strip_prefix("G:") {
            Some(rest) => (c.groups.clone().unwrap(), rest),
            None => (c.users.clone(), filter),
        };
        to_ldap(&map, &Filter::parse(f).unwrap(), &refs).map(|l| l.to_string())
    }

    #[test]
    // Longer than a screen: a table of filter → LDAP rows, one line each.
    fn translations() {
        let cases = [
            (
                "userName eq \"alice@contoso.com\"",
                "(uid=alice@contoso.com)",
            ),
            ("USERNAME EQ \"a\"", "(uid=a)"),
            ("externalId eq \"x\"", "(scimExternalId=x)"),
            (
                "id eq \"2819c223-7f76-453a-919d-413861904646\"",
                "(entryUUID=2819c223-7f76-453a-919d-413861904646)",
            ),
            ("id eq \"not-a-uuid\"", "(|)"),
            ("displayName eq \"Sales\"", "(displayName=Sales)"),
            ("emails.value eq \"a@b\"", "(mail=a@b)"),
            ("emails eq \"a@b\"", "(mail=a@b)"),
            (
                "userName eq \"a\" and externalId eq \"b\"",
                "(&(uid=a)(scimExternalId=b))",
            ),
            (
                "userName eq \"a\" or userName eq \"b\"",
                "(|(uid=a)(uid=b))",
            ),
            ("userName ne \"a\"", "(!(uid=a))"),
            ("title co \"eng\"", "(title=*eng*)"),
            ("title sw \"eng\"", "(title=eng*)"),
            ("title ew \"eng\"", "(title=*eng)"),
            ("title pr", "(title=*)"),
            ("title co \"\"", "(title=*)"),
            ("title sw \"\"", "(title=*)"),
            ("title gt \"b\"", "(&(title>=b)(!(title=b)))"),
            ("title ge \"b\"", "(title>=b)"),
            ("title lt \"b\"", "(&(title<=b)(!(title=b)))"),
            ("title le \"b\"", "(title<=b)"),
            ("not (title pr)", "(!(title=*))"),
            ("userName eq \"*)(uid=*\"", "(uid=\\2a\\29\\28uid=\\2a)"),
            ("userName eq \"a\\\\b\"", "(uid=a\\5cb)"),
            (
                "meta.lastModified gt \"2011-05-13T04:42:34Z\"",
                "(&(modifyTimestamp>=20110513044234Z)(!(modifyTimestamp=20110513044234Z)))",
            ),
            (
                "meta.created ge \"2011-05-13T04:42:34Z\"",
                "(createTimestamp>=20110513044234Z)",
            ),
            ("active eq true", "(!(pwdAccountLockedTime=000001010000Z))"),
            (
                "active eq \"False\"",
                "(pwdAccountLockedTime=000001010000Z)",
            ),
            (
                "emails[type eq \"work\" and value co \"@example.com\"]",
                "(mail=*@example.com*)",
            ),
            ("emails[type eq \"home\"]", "(|)"),
            ("emails[type eq \"work\"]", "(mail=*)"),
            ("emails.type eq \"work\"", "(mail=*)"),
            (
                "phoneNumbers[type eq \"mobile\" or type eq \"work\"]",
                "(|(mobile=*)(telephoneNumber=*))",
            ),
            (
                "addresses[type eq \"work\" and postalCode eq \"1\"]",
                "(postalCode=1)",
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq \"Sales\"",
                "(departmentNumber=Sales)",
            ),
            (
                "urn:ietf:params:scim:schemas:extension:contactify:2.0:User:orderCard eq true",
                "(scimOrderCard=TRUE)",
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"11111111-1111-1111-1111-111111111111\"",
                "(manager=uid=one,ou=people,dc=example,dc=com)",
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq \"99999999-1111-1111-1111-111111111111\"",
                "(|)",
            ),
            ("title eq null", "(!(title=*))"),
            ("meta.resourceType eq \"User\"", "(objectClass=*)"),
            (
                "userName eq \"a\" and meta.resourceType eq \"Group\"",
                "(|)",
            ),
            ("G:displayName eq \"Sales\"", "(cn=Sales)"),
            (
                "G:members[value eq \"11111111-1111-1111-1111-111111111111\"]",
                "(member=uid=one,ou=people,dc=example,dc=com)",
            ),
            (
                "G:members.value eq \"11111111-1111-1111-1111-111111111111\"",
                "(member=uid=one,ou=people,dc=example,dc=com)",
            ),
        ];
        for (scim, want) in cases {
            assert_eq!(
                t(scim).unwrap_or_else(|e| panic!("{scim}: {e}")),
                want,
                "{scim}"
            );
        }
    }

    /// userName stored apart from a computed RDN is filtered through its
    /// own attribute; `active` with several disable actions reads inactive
    /// when any holds its value.
    #[test]
    fn derived_rdn_filters() {
        let c = crate::mapping::tests::derived_rdn();
        let refs = Refs::default();
        let t = |f: &str| {
            to_ldap(&c.users, &Filter::parse(f).unwrap(), &refs)
                .unwrap()
                .to_string()
        };
        let rows = [
            (
                "userName eq \"Alice@Contoso.com\"",
                "(scimUserName=Alice@Contoso.com)",
            ),
            ("userName sw \"alice\"", "(scimUserName=alice*)"),
            ("userName co \"@contoso\"", "(scimUserName=*@contoso*)"),
            ("userName pr", "(scimUserName=*)"),
            (
                "active eq false",
                "(|(pwdAccountLockedTime=000001010000Z)(shadowExpire=1))",
            ),
            (
                "active eq true",
                "(!(|(pwdAccountLockedTime=000001010000Z)(shadowExpire=1)))",
            ),
            (
                "active ne true",
                "(|(pwdAccountLockedTime=000001010000Z)(shadowExpire=1))",
            ),
        ];
        for (scim, ldap) in rows {
            assert_eq!(t(scim), ldap, "{scim}");
        }
    }

    #[test]
    fn rejections() {
        for (scim, needle) in [
            ("nickName eq \"a\"", "nickName is not a mapped attribute"),
            ("meta.created gt \"yesterday\"", "not a UTC dateTime"),
            (
                "urn:ietf:params:scim:schemas:extension:contactify:2.0:User:orderCard gt \"true\"",
                "does not apply to booleans",
            ),
            ("active co \"t\"", "compares with true or false"),
            ("active gt \"true\"", "supports eq and ne"),
            ("name.middleName eq \"x\"", "not a mapped attribute"),
        ] {
            match t(scim) {
                Err(Error::BadRequest {
                    scim_type: ScimType::InvalidFilter,
                    detail,
                }) => assert!(detail.contains(needle), "{scim}: {detail}"),
                other => panic!("{scim}: {other:?}"),
            }
        }
    }

    #[test]
    fn reference_ids_are_collected() {
        let c = openldap();
        let f = Filter::parse(
            "members[value eq \"11111111-1111-1111-1111-111111111111\"] or displayName eq \"x\"",
        )
        .unwrap();
        assert_eq!(
            reference_ids(c.groups.as_ref().unwrap(), &f),
            ["11111111-1111-1111-1111-111111111111"]
        );
    }
}
