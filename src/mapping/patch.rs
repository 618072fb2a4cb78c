//! Writes as plans: PATCH operations, a PUT body or a POST body become the
//! LDAP changes that realise them.
//!
//! All three work the same way: start from the entry's current values (empty
//! for a create), apply the request to a working copy of the mapped
//! attributes, fill default templates, then diff. The diff is value-level for
//! multi-valued attributes (delete exactly the values that went, add exactly
//! the ones that came), so concurrent membership changes from several
//! daemons commute instead of overwriting each other, and a PATCH that
//! changes nothing writes nothing. Every operation of one request lands in one
//! LDAP modify (plus a modrdn before it when the RDN changes).

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde_json::Value;

use crate::error::{Error, ScimType};
use crate::ldap::{Dn, Entry, Mod};
use crate::mapping::as_bool;
use crate::mapping::resource::{Desired, Elements, Values, leaves, to_ldap};
use crate::mapping::{AttrMap, Field, Refs, Template, managed};
use crate::scim::ResourceKind;
use crate::scim::filter::{CompareOp, Filter, Value as Literal};
use crate::scim::patch::{Op, Operation};
use crate::scim::path::AttrPath;
use crate::scim::schema::Mutability;

/// The LDAP changes one write request makes.
#[derive(Debug, Default)]
pub struct Plan {
    /// One modify, in order; empty when nothing changes.
    pub mods: Vec<Mod>,
    /// A new RDN value: the entry is renamed, before the modify.
    pub rename: Option<String>,
    /// Set through the Password Modify extended operation after the write.
    pub password: Option<SecretString>,
    /// What the derived and computed values did, for `explain`.
    pub derivations: Vec<Derivation>,
}

/// Where a derived value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Derived {
    /// `[users.defaults]`: fills an empty attribute, follows its inputs.
    Default,
    /// `[users.computed]`: always the rendering of its inputs.
    Computed,
}

/// What a write did with one derived or computed attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derivation {
    pub attribute: String,
    pub derived: Derived,
    /// The SCIM paths of the template's inputs this request changed.
    pub changed: Vec<String>,
    pub outcome: Outcome,
}

/// One line for `explain`: what happened to the attribute and why.
impl std::fmt::Display for Derivation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.derived {
            Derived::Default => "default",
            Derived::Computed => "computed",
        };
        let a = &self.attribute;
        let because = if self.changed.is_empty() {
            String::new()
        } else {
            format!(" because {} changed", self.changed.join(", "))
        };
        match &self.outcome {
            Outcome::Filled(v) => write!(f, "{kind} {a}: filled with {v:?}: it would be empty"),
            Outcome::Rendered(v) if self.derived == Derived::Computed => {
                write!(f, "{kind} {a}: re-rendered as {v:?}{because}")
            }
            Outcome::Rendered(v) => write!(
                f,
                "{kind} {a}: re-rendered as {v:?}{because}, and it held the old rendering"
            ),
            Outcome::Removed => write!(f, "{kind} {a}: removed{because}: it renders empty"),
            Outcome::ClientValueKept => write!(
                f,
                "{kind} {a}: left alone{because}: it holds a value the template did not render (the client's)"
            ),
            Outcome::ClientSetsIt => {
                write!(f, "{kind} {a}: left alone: this request sets it itself")
            }
        }
    }
}

/// The re-derivation rule's verdict for one attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The attribute was empty and is filled with this rendering.
    Filled(String),
    /// It held the old rendering (or is computed): it gets the new one.
    Rendered(String),
    /// A computed attribute whose template now renders empty.
    Removed,
    /// It holds a value the template did not render: the client's, kept.
    ClientValueKept,
    /// The client sets it in this same request: the client's value wins.
    ClientSetsIt,
}

impl Plan {
    /// True when the request changes nothing in the directory.
    pub fn is_noop(&self) -> bool {
        self.mods.is_empty() && self.rename.is_none() && self.password.is_none()
    }

    /// LDAP attributes this plan changes, for the audit log.
    pub fn changed_attributes(&self) -> Vec<String> {
        let mut v: Vec<String> = self.mods.iter().map(|m| m.attr().to_owned()).collect();
        if self.rename.is_some() {
            v.push("(rdn)".to_owned());
        }
        if self.password.is_some() {
            v.push("(password)".to_owned());
        }
        v.sort();
        v.dedup();
        v
    }
}

/// A new entry: its DN, attributes, and a password to set after the add.
#[derive(Debug)]
pub struct NewEntry {
    pub dn: Dn,
    pub attrs: Vec<(String, Vec<String>)>,
    pub password: Option<SecretString>,
}

fn mutability(detail: String) -> Error {
    Error::bad(ScimType::Mutability, detail)
}

/// The working copy: LDAP attribute (lower-case) → values.
struct Working<'a> {
    map: &'a AttrMap,
    current: Values,
    values: Values,
    password: Option<SecretString>,
}

impl<'a> Working<'a> {
    fn new(map: &'a AttrMap, current: Option<&Entry>) -> Working<'a> {
        let mut cur = Values::new();
        if let Some(e) = current {
            let planned = map
                .managed()
                .into_iter()
                .filter(|m| managed::planned(m.role));
            for a in planned.map(|m| m.ldap) {
                let v = e.values(a);
                if !v.is_empty() {
                    cur.insert(a.to_ascii_lowercase(), v.to_vec());
                }
            }
            // A computed RDN is not read with the entry: its value is the
            // one the entry is named by.
            let rdn = map.rdn.to_ascii_lowercase();
            if map.naming_template().is_some() && !cur.contains_key(&rdn) {
                if let Some(v) = e.dn.rdn_value(&map.rdn) {
                    cur.insert(rdn, vec![v.to_owned()]);
                }
            }
        }
        Working {
            map,
            values: cur.clone(),
            current: cur,
            password: None,
        }
    }

    fn get(&self, attr: &str) -> &[String] {
        self.values
            .get(&attr.to_ascii_lowercase())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    fn set(&mut self, attr: &str, v: Vec<String>) {
        let key = attr.to_ascii_lowercase();
        if v.is_empty() {
            self.values.remove(&key);
        } else {
            self.values.insert(key, v);
        }
    }

    /// `active=false` writes every disable value, `active=true` removes
    /// exactly each (other values of those attributes stay).
    fn set_active(&mut self, active: bool) -> Result<(), Error> {
        let map = self.map;
        if map.disable.is_empty() && !active {
            return Err(Error::invalid_value(
                "active=false cannot be stored: no users.disable strategy is configured",
            ));
        }
        for d in &map.disable {
            let mut v: Vec<String> = self
                .get(&d.attribute)
                .iter()
                .filter(|x| !x.eq_ignore_ascii_case(&d.value))
                .cloned()
                .collect();
            if !active {
                v.push(d.value.clone());
            }
            self.set(&d.attribute, v);
        }
        Ok(())
    }
}

/// Three-valued evaluation of a value filter against one element, where
/// `lookup` gives a sub-attribute's value or `None` when unknown.
fn eval(f: &Filter, lookup: &dyn Fn(&str) -> Option<Value>) -> Option<bool> {
    match f {
        Filter::And(a, b) => match (eval(a, lookup), eval(b, lookup)) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (Some(true), Some(true)) => Some(true),
            _ => None,
        },
        Filter::Or(a, b) => match (eval(a, lookup), eval(b, lookup)) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            _ => None,
        },
        Filter::Not(a) => eval(a, lookup).map(|b| !b),
        Filter::Present(p) => lookup(&p.attr).map(|v| !v.is_null()),
        Filter::Compare { path, op, value } => {
            let actual = lookup(&path.attr)?;
            Some(compare(&actual, *op, value))
        }
        Filter::ValuePath { .. } => None,
    }
}

fn compare(actual: &Value, op: CompareOp, lit: &Literal) -> bool {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.to_lowercase()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let (a, l) = match lit {
        Literal::Null => return matches!(op, CompareOp::Eq) == actual.is_null(),
        Literal::Bool(b) => (as_bool(actual).map(|x| x.to_string()), Some(b.to_string())),
        Literal::String(s) => (
            match actual {
                // `primary eq "True"`: Entra's string booleans compare as booleans.
                Value::Bool(b) => Some(b.to_string()),
                other => text(other),
            },
            Some(s.to_lowercase()),
        ),
        Literal::Number(n) => (text(actual), Some(n.clone())),
    };
    let (Some(a), Some(l)) = (a, l) else {
        return false;
    };
    match op {
        CompareOp::Eq => a == l,
        CompareOp::Ne => a != l,
        CompareOp::Co => a.contains(&l),
        CompareOp::Sw => a.starts_with(&l),
        CompareOp::Ew => a.ends_with(&l),
        CompareOp::Gt => a > l,
        CompareOp::Ge => a >= l,
        CompareOp::Lt => a < l,
        CompareOp::Le => a <= l,
    }
}

/// The fields a PATCH path addresses (RFC 7644 §3.5.2: an attribute, a
/// sub-attribute, or values selected by a filter).
pub(crate) fn covered<'a>(map: &'a AttrMap, path: &AttrPath) -> Vec<&'a Field> {
    let mut fields: Vec<&Field> = map
        .fields_of(path.schema.as_deref(), &path.attr)
        .map(|(_, f)| f)
        .collect();
    if path.schema.is_none() {
        // Unqualified names mean the core schema first (RFC 7644 §3.10).
        let core: Vec<&Field> = fields
            .iter()
            .copied()
            .filter(|f| f.is_core(map.kind))
            .collect();
        if !core.is_empty() {
            fields = core;
        }
    }
    fields
        .into_iter()
        .filter(|f| match &path.sub {
            Some(s) => f
                .sub
                .as_deref()
                .is_some_and(|fs| fs.eq_ignore_ascii_case(s)),
            None => true,
        })
        .filter(|f| match &path.filter {
            None => true,
            Some(flt) => {
                eval(flt, &|name: &str| {
                    f.pinned
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, p)| p.to_json())
                }) != Some(false)
            }
        })
        .collect()
}

/// Whether a filter constrains anything beyond the field's pinned values
/// (then it selects individual values, like `members[value eq "…"]`).
fn selects_values(f: &Filter, field: &Field) -> bool {
    match f {
        Filter::And(a, b) | Filter::Or(a, b) => {
            selects_values(a, field) || selects_values(b, field)
        }
        Filter::Not(a) => selects_values(a, field),
        Filter::Present(p)
        | Filter::Compare { path: p, .. }
        | Filter::ValuePath { path: p, .. } => !field
            .pinned
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case(&p.attr)),
    }
}

fn literal_ids(f: &Filter, out: &mut Vec<String>) {
    match f {
        Filter::And(a, b) | Filter::Or(a, b) => {
            literal_ids(a, out);
            literal_ids(b, out);
        }
        Filter::Not(a) => literal_ids(a, out),
        Filter::Compare {
            path,
            value: Literal::String(s),
            ..
        } if path.attr.eq_ignore_ascii_case("value") => out.push(s.clone()),
        Filter::Present(_) | Filter::Compare { .. } | Filter::ValuePath { .. } => {}
    }
}

/// Ids a PATCH refers to (values and `[value eq "…"]` filters of reference
/// attributes), so the service resolves them all in one search.
pub fn reference_ids(map: &AttrMap, ops: &[Operation]) -> Vec<String> {
    let mut out = Vec::new();
    for op in ops {
        for f in covered(map, &op.path)
            .into_iter()
            .filter(|f| f.reference.is_some())
        {
            if let Some(flt) = &op.path.filter {
                literal_ids(flt, &mut out);
            }
            if let Some(v) = &op.value {
                for leaf in value_leaves(map, f, &op.path, v)
                    .ok()
                    .flatten()
                    .unwrap_or_default()
                {
                    match leaf {
                        Value::String(s) => out.push(s.clone()),
                        Value::Object(o) => out.extend(
                            o.iter()
                                .find(|(k, _)| k.eq_ignore_ascii_case("value"))
                                .and_then(|(_, v)| v.as_str())
                                .map(str::to_owned),
                        ),
                        _ => {}
                    }
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The leaf values an operation's `value` gives `field`, or `None` when the
/// value does not mention the field at all (a complex replace leaves
/// unmentioned sub-attributes alone, RFC 7644 §3.5.2.3).
fn value_leaves<'v>(
    map: &AttrMap,
    field: &Field,
    path: &AttrPath,
    value: &'v Value,
) -> Result<Option<Vec<&'v Value>>, Error> {
    if path.sub.is_some() || field.sub.is_none() {
        let leafs: Vec<&Value> = match value {
            Value::Array(items) => items.iter().filter(|v| !v.is_null()).collect(),
            Value::Null => Vec::new(),
            v => vec![v],
        };
        if field.reference.is_some() {
            // `{"value": id}` and bare ids both name the target.
            return Ok(Some(leafs));
        }
        if let Some(bad) = leafs.iter().find(|v| v.is_object() || v.is_array()) {
            return Err(Error::invalid_value(format!(
                "{} takes simple values, got {bad}",
                field.path_text()
            )));
        }
        return Ok(Some(leafs));
    }
    // The path names the attribute (or filtered values of it); the value holds elements.
    if !field.multi {
        if let Value::Object(o) = value {
            let sub = field.sub.as_deref().unwrap_or("value");
            if !o.keys().any(|k| k.eq_ignore_ascii_case(sub)) {
                return Ok(None);
            }
        }
    }
    let elements = match path.filter {
        Some(_) => Elements::Selected,
        None => Elements::Pinned,
    };
    leaves(map, field, value, elements).map(Some)
}

/// One PATCH operation applied to the working copy.
fn apply(w: &mut Working<'_>, op: &Operation, refs: &Refs) -> Result<(), Error> {
    let map = w.map;
    let path = &op.path;
    let core_path = path
        .schema
        .as_deref()
        .is_none_or(|s| s.eq_ignore_ascii_case(map.kind.core_schema()));
    if core_path && path.sub.is_none() && path.filter.is_none() {
        if let Some(done) = apply_derived(w, op) {
            return done;
        }
    }
    if core_path && path.attr.eq_ignore_ascii_case("meta") {
        return Err(mutability(format!("{path} is read-only")));
    }
    if crate::scim::path::is_schema_urn(&path.attr) && op.op == Op::Remove {
        return remove_extension(w, &path.attr);
    }
    let fields = writable_fields(map, path)?;
    // A value for a whole attribute must be storable in full: an element no
    // mapping takes (a home e-mail where only work is mapped) is refused,
    // never silently dropped.
    if let (Some(v), None, None, Op::Add | Op::Replace) =
        (&op.value, &path.sub, &path.filter, op.op)
    {
        crate::mapping::resource::check_value(map, &fields[0].schema, &fields[0].attr, v)?;
    }
    for f in fields {
        let current = w.get(&f.ldap).to_vec();
        let next = match (op.op, &op.value) {
            (Op::Remove, Some(v)) if !v.is_null() => {
                let gone = value_leaves(map, f, path, v)?.unwrap_or_default();
                remove_values(f, gone, current, refs)
            }
            (Op::Remove, _) => match &path.filter {
                Some(flt) if selects_values(flt, f) => remove_matching(f, flt, current, refs),
                _ => Vec::new(),
            },
            (Op::Add | Op::Replace, v) => {
                let v = v.as_ref().unwrap_or(&Value::Null);
                match add_or_replace(map, f, op, v, current, refs)? {
                    Some(next) => next,
                    None => continue,
                }
            }
        };
        w.set(&f.ldap, next);
    }
    Ok(())
}

/// The core attributes the daemon derives rather than maps (`id`, `meta`,
/// `schemas`, a user's `groups`, `active`, `password`): `Some` with the
/// outcome when `op` names one of them, `None` otherwise.
fn apply_derived(w: &mut Working<'_>, op: &Operation) -> Option<Result<(), Error>> {
    let map = w.map;
    let path = &op.path;
    let attr = path.attr.to_ascii_lowercase();
    Some(match (attr.as_str(), map.kind) {
        ("id" | "meta" | "schemas", _) | ("groups", ResourceKind::User) => {
            Err(mutability(format!("{} is read-only", path.attr)))
        }
        ("active", ResourceKind::User) => match (op.op, &op.value) {
            (Op::Remove, _) => Err(Error::invalid_value(
                "active cannot be removed; replace it with true or false",
            )),
            (_, Some(v)) => match as_bool(v) {
                Some(active) => w.set_active(active),
                None => Err(Error::invalid_value(format!(
                    "active must be true or false, got {v}"
                ))),
            },
            (_, None) => Err(Error::invalid_value("active needs a value")),
        },
        ("password", ResourceKind::User) => match (op.op, &op.value, map.password) {
            (_, _, None) => Err(Error::invalid_value(
                "password changes are disabled (users.password = \"reject\")",
            )),
            (Op::Remove, _, _) => Err(Error::invalid_value("password cannot be removed")),
            (_, Some(Value::String(s)), Some(_)) if !s.is_empty() => {
                w.password = Some(SecretString::from(s.clone()));
                Ok(())
            }
            _ => Err(Error::invalid_value("password must be a non-empty string")),
        },
        _ => return None,
    })
}

/// `remove` of a whole extension: every writable attribute of it.
fn remove_extension(w: &mut Working<'_>, urn: &str) -> Result<(), Error> {
    let map = w.map;
    let fields: Vec<&Field> = map
        .fields
        .iter()
        .filter(|f| f.schema.eq_ignore_ascii_case(urn))
        .collect();
    if fields.is_empty() {
        return Err(Error::bad(
            ScimType::InvalidPath,
            format!(
                "{} is not a schema of {} resources here",
                urn,
                map.kind.name()
            ),
        ));
    }
    for f in fields
        .into_iter()
        .filter(|f| f.mutability != Mutability::ReadOnly)
    {
        w.set(&f.ldap, Vec::new());
    }
    Ok(())
}

/// The fields a path addresses, all writable; a 400 when it addresses none
/// or a read-only one.
fn writable_fields<'a>(map: &'a AttrMap, path: &AttrPath) -> Result<Vec<&'a Field>, Error> {
    let fields = covered(map, path);
    if fields.is_empty() {
        let known = crate::scim::schema::resolve(
            &map.schemas,
            path.schema.as_deref(),
            &path.attr,
            path.sub.as_deref(),
        );
        if known.is_some_and(|(_, d)| d.mutability == Mutability::ReadOnly) {
            return Err(mutability(format!("{path} is read-only")));
        }
        return Err(Error::bad(
            ScimType::InvalidPath,
            format!("{path} is not mapped to an LDAP attribute, so it cannot be changed"),
        ));
    }
    if let Some(f) = fields.iter().find(|f| f.mutability == Mutability::ReadOnly) {
        return Err(mutability(read_only(map, f)));
    }
    Ok(fields)
}

/// Why a field cannot be written, naming its SCIM path.
fn read_only(map: &AttrMap, f: &Field) -> String {
    if map.is_computed(&f.ldap) {
        format!(
            "{} is read-only: its LDAP attribute {} is computed ([{}.computed])",
            f.path_text(),
            f.ldap,
            crate::mapping::section(map.kind)
        )
    } else {
        format!("{} is read-only", f.path_text())
    }
}

/// A POST or PUT may carry a computed attribute only as it is rendered (a
/// PUT echoing what GET showed); any other value is a client writing it.
fn check_computed(
    map: &AttrMap,
    values: &Values,
    sent: &[(String, String, Vec<String>)],
) -> Result<(), Error> {
    for (path, ldap, vals) in sent {
        let now = values
            .get(&ldap.to_ascii_lowercase())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if !vals.is_empty() && !same_values(map, ldap, now, vals) {
            return Err(mutability(format!(
                "{path} is read-only: its LDAP attribute {ldap} is computed ([{}.computed])",
                crate::mapping::section(map.kind)
            )));
        }
    }
    Ok(())
}

/// Entra's older remove form, `remove` with a value: these values go
/// (absent ones are no error).
fn remove_values(f: &Field, gone: Vec<&Value>, current: Vec<String>, refs: &Refs) -> Vec<String> {
    let gone: std::collections::HashSet<String> = gone
        .into_iter()
        .filter_map(|leaf| to_ldap(f, leaf, refs).ok())
        .map(|g| value_key(f, &g))
        .collect();
    current
        .into_iter()
        .filter(|c| !gone.contains(&value_key(f, c)))
        .collect()
}

/// `remove` with a filter that selects values (`members[value eq "…"]`):
/// the values it matches go.
fn remove_matching(f: &Field, flt: &Filter, current: Vec<String>, refs: &Refs) -> Vec<String> {
    let sub = f.sub.clone().unwrap_or_else(|| "value".to_owned());
    current
        .into_iter()
        .filter(|c| {
            let hit = eval(flt, &|name: &str| {
                if let Some((_, p)) = f.pinned.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
                    Some(p.to_json())
                } else if name.eq_ignore_ascii_case(&sub) {
                    Some(Value::String(stored_as_literal(f, c, refs)))
                } else {
                    Some(Value::Null)
                }
            });
            hit != Some(true)
        })
        .collect()
}

/// `add` or `replace`: the field's next values, or `None` when the value
/// does not mention the field (it keeps its values).
fn add_or_replace(
    map: &AttrMap,
    f: &Field,
    op: &Operation,
    v: &Value,
    current: Vec<String>,
    refs: &Refs,
) -> Result<Option<Vec<String>>, Error> {
    let path = &op.path;
    let Some(leafs) = value_leaves(map, f, path, v)? else {
        return Ok(None);
    };
    let mut new: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for leaf in leafs {
        let s = to_ldap(f, leaf, refs)?;
        if !s.is_empty() && seen.insert(value_key(f, &s)) {
            new.push(s);
        }
    }
    if !f.multi && new.len() > 1 {
        return Err(Error::invalid_value(format!(
            "{} takes one value",
            f.path_text()
        )));
    }
    // `emails[type eq "work"].value` names the single-valued
    // sub-attribute of the matched element: adding to it
    // replaces it (RFC 7644 §3.5.2.1), it does not add a second one.
    let sub_of_matched = path.filter.is_some() && path.sub.is_some();
    if op.op != Op::Add || !f.multi || sub_of_matched {
        return Ok(Some(new));
    }
    let mut out = current;
    let mut have: std::collections::HashSet<String> = out.iter().map(|c| value_key(f, c)).collect();
    for n in new {
        if have.insert(value_key(f, &n)) {
            out.push(n);
        }
    }
    Ok(Some(out))
}

/// For value filters on reference attributes the client names ids while the
/// directory stores DNs: present a stored value as the id it stands for.
fn stored_as_literal(f: &Field, stored: &str, refs: &Refs) -> String {
    if f.reference.is_none() {
        return stored.to_owned();
    }
    let r = if f.store_rdn {
        refs.rdn_value(ResourceKind::User, stored)
    } else {
        refs.dn(stored)
    };
    r.map(|r| r.id.clone()).unwrap_or_else(|| stored.to_owned())
}

/// The identity of a value under the attribute's matching: DNs compare by
/// their parsed form, caseIgnore values case-insensitively. Used as a set key
/// so membership changes stay linear in the number of members.
fn value_key(f: &Field, v: &str) -> String {
    if f.reference.is_some() && !f.store_rdn {
        return Dn::parse(v)
            .map(|d| d.key())
            .unwrap_or_else(|_| v.to_lowercase());
    }
    if f.case_exact {
        v.to_owned()
    } else {
        v.to_lowercase()
    }
}

fn same_value(f: &Field, a: &str, b: &str) -> bool {
    value_key(f, a) == value_key(f, b)
}

/// Whether a plan makes a new entry or changes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Planning {
    /// Every value is new: no immutability check, no diff, no rename.
    Create,
    /// Values are diffed against the current entry.
    Update,
}

/// The steps every plan ends with: defaults, the placeholder member, the
/// naming check, immutables, then (for an update) the rename and the diff.
fn finish(mut w: Working<'_>, planning: Planning) -> Result<(Values, Plan), Error> {
    let derivations = derive(&mut w, planning);
    keep_placeholder(&mut w);
    let name = naming_value(&w)?;
    let mut plan = Plan {
        password: w.password.take(),
        derivations,
        ..Plan::default()
    };
    if planning == Planning::Update {
        check_immutables(&w)?;
        plan.rename = renamed(&w, name);
        plan.mods = diff(&w);
    }
    Ok((w.values, plan))
}

/// The derived values, in one step. Computed attributes are the rendering
/// of the values after the request (on create, and on an update that changes
/// one of their inputs; removed when they render empty). Defaults fill an
/// attribute that would otherwise be empty (MUST attributes like `sn` and
/// `cn`), and on an update follow their inputs by [`rederive`].
fn derive(w: &mut Working<'_>, planning: Planning) -> Vec<Derivation> {
    let mut notes = derive_computed(w, planning);
    notes.extend(derive_defaults(w, planning));
    notes
}

/// Computed attributes: the rendering of the values after the request.
fn derive_computed(w: &mut Working<'_>, planning: Planning) -> Vec<Derivation> {
    let map = w.map;
    let mut notes = Vec::new();
    for (attr, t) in &map.computed {
        let changed = changed_inputs(w, t);
        if planning == Planning::Update && changed.is_empty() {
            continue;
        }
        let new = t.render(|i| after(w, i));
        let next: Vec<String> = new.iter().cloned().collect();
        // Exactly as rendered: a case-only change of an input is written too.
        if planning == Planning::Update && w.get(attr) == next.as_slice() {
            continue;
        }
        w.set(attr, next);
        notes.push(Derivation {
            attribute: attr.clone(),
            derived: Derived::Computed,
            changed,
            outcome: new.map_or(Outcome::Removed, Outcome::Rendered),
        });
    }
    notes
}

/// Defaults: fill an empty attribute; on an update, follow the inputs by
/// [`rederive`].
fn derive_defaults(w: &mut Working<'_>, planning: Planning) -> Vec<Derivation> {
    let map = w.map;
    let mut notes = Vec::new();
    for (attr, t) in &map.defaults {
        let changed = changed_inputs(w, t);
        let outcome = if w.get(attr).is_empty() {
            t.render(|i| after(w, i)).map(Outcome::Filled)
        } else if planning == Planning::Update && !changed.is_empty() {
            let key = attr.to_ascii_lowercase();
            let before = w.current.get(&key).map(Vec::as_slice).unwrap_or(&[]);
            rederive(
                matching(map, attr),
                before,
                w.get(attr),
                t.render(|i| before_request(w, i)).as_deref(),
                t.render(|i| after(w, i)).as_deref(),
            )
        } else {
            None
        };
        let Some(outcome) = outcome else { continue };
        // `sn` from `{name.familyName}`: the client changing the input is the
        // client setting the attribute, nothing worth saying.
        let own_input = t
            .inputs()
            .into_iter()
            .filter_map(|i| map.fields.get(i))
            .any(|f| f.ldap.eq_ignore_ascii_case(attr));
        if outcome == Outcome::ClientSetsIt && own_input {
            continue;
        }
        if let Outcome::Filled(v) | Outcome::Rendered(v) = &outcome {
            w.set(attr, vec![v.clone()]);
        }
        notes.push(Derivation {
            attribute: attr.clone(),
            derived: Derived::Default,
            changed,
            outcome,
        });
    }
    notes
}

/// How an attribute's values compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Matching {
    /// caseIgnore: the default for names.
    CaseIgnore,
    CaseExact,
}

/// The matching of a derived attribute: a field's when one maps onto it,
/// caseIgnore otherwise.
fn matching(map: &AttrMap, attr: &str) -> Matching {
    let exact = map
        .fields
        .iter()
        .any(|f| f.ldap.eq_ignore_ascii_case(attr) && f.case_exact);
    if exact {
        Matching::CaseExact
    } else {
        Matching::CaseIgnore
    }
}

/// Two values equal under `m`, whitespace runs collapsed.
fn matches(m: Matching, a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
        match m {
            Matching::CaseIgnore => s.to_lowercase(),
            Matching::CaseExact => s,
        }
    };
    norm(a) == norm(b)
}

fn same_values(map: &AttrMap, attr: &str, a: &[String], b: &[String]) -> bool {
    let m = matching(map, attr);
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| matches(m, x, y))
}

/// The re-derivation rule for one default on an update that changed an
/// input of its template, needing nothing but the entry and the change:
/// `before` and `now` are the attribute's values in the entry and after the
/// client's operations, `old` and `new` the template rendered from each.
/// When the client did not touch the attribute and it holds exactly the old
/// rendering, it was derived, and it gets the new one; otherwise it is the
/// client's and stays. `None`: nothing to write or say (the rendering did
/// not change, or renders empty now — a default is never removed).
pub(crate) fn rederive(
    m: Matching,
    before: &[String],
    now: &[String],
    old: Option<&str>,
    new: Option<&str>,
) -> Option<Outcome> {
    let untouched = before.len() == now.len() && before.iter().zip(now).all(|(a, b)| a == b);
    if !untouched {
        return Some(Outcome::ClientSetsIt);
    }
    let derived = matches!((before, old), ([one], Some(old)) if matches(m, one, old));
    if !derived {
        return Some(Outcome::ClientValueKept);
    }
    let new = new?;
    let held = before.first().map(String::as_str).unwrap_or_default();
    (held != new).then(|| Outcome::Rendered(new.to_owned()))
}

/// A field's first value after the request.
fn after<'w>(w: &'w Working<'_>, field: usize) -> Option<&'w str> {
    let f = w.map.fields.get(field)?;
    w.get(&f.ldap).first().map(String::as_str)
}

/// A field's first value in the entry before the request.
fn before_request<'w>(w: &'w Working<'_>, field: usize) -> Option<&'w str> {
    let f = w.map.fields.get(field)?;
    w.current
        .get(&f.ldap.to_ascii_lowercase())
        .and_then(|v| v.first())
        .map(String::as_str)
}

/// The SCIM paths of a template's inputs whose values the request changed.
fn changed_inputs(w: &Working<'_>, t: &Template) -> Vec<String> {
    t.inputs()
        .into_iter()
        .filter_map(|i| w.map.fields.get(i))
        .filter(|f| {
            let key = f.ldap.to_ascii_lowercase();
            w.current.get(&key).map(Vec::as_slice).unwrap_or(&[]) != w.get(&key)
        })
        .map(Field::path_text)
        .collect()
}

/// groupOfNames needs a member: keep the placeholder exactly when nothing
/// else is left (the stored spelling of it when the group already has it).
fn keep_placeholder(w: &mut Working<'_>) {
    let Some((m, ph)) = w
        .map
        .members
        .as_ref()
        .and_then(|m| m.placeholder.as_ref().map(|ph| (m, ph)))
    else {
        return;
    };
    let real: Vec<String> = w
        .get(&m.attribute)
        .iter()
        .filter(|v| Dn::parse(v).map_or(true, |d| !d.same_as(ph)))
        .cloned()
        .collect();
    let next = if real.is_empty() {
        let kept = w
            .current
            .get(&m.attribute.to_ascii_lowercase())
            .and_then(|c| {
                c.iter()
                    .find(|v| Dn::parse(v).is_ok_and(|d| d.same_as(ph)))
                    .cloned()
            });
        vec![kept.unwrap_or_else(|| ph.to_string())]
    } else {
        real
    };
    w.set(&m.attribute, next);
}

/// The one value of the naming attribute, or a 400 naming its SCIM path.
fn naming_value(w: &Working<'_>) -> Result<String, Error> {
    let Some(naming) = w.map.naming_field() else {
        return computed_name(w);
    };
    match w.get(&naming.ldap) {
        // LDAP matching ignores white space at either end of a value
        // (RFC 4518 §2.6.1), so " alice" would be the same name as "alice"
        // on one server and a second account on another.
        // An entry stored so before this check existed stays updatable.
        [one] if one.trim() != one && !unchanged(w, &naming.ldap, one) => {
            Err(Error::invalid_value(format!(
                "{} must not begin or end with white space (LDAP compares names without it)",
                naming.path_text()
            )))
        }
        [one] => Ok(one.clone()),
        _ => Err(Error::invalid_value(format!(
            "{} is required and takes exactly one value",
            naming.path_text()
        ))),
    }
}

/// The rendering of a computed RDN, or a 400 naming the inputs it came
/// from when it renders empty (`userName "!!!@x.com" gives no uid`).
fn computed_name(w: &Working<'_>) -> Result<String, Error> {
    let map = w.map;
    if let [one] = w.get(&map.rdn) {
        return Ok(one.clone());
    }
    let inputs: Vec<String> = map
        .naming_template()
        .map(Template::inputs)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|i| map.fields.get(i).map(|f| (i, f)))
        .map(|(i, f)| match after(w, i) {
            Some(v) => format!("{} {v:?}", f.path_text()),
            None => format!("an empty {}", f.path_text()),
        })
        .collect();
    let verb = if inputs.len() == 1 { "gives" } else { "give" };
    Err(Error::invalid_value(format!(
        "{} {verb} no {}: nothing of it is left to name the entry by (the {} is computed)",
        inputs.join(" and "),
        map.rdn,
        map.rdn
    )))
}

/// Whether the entry already holds exactly `value` in `attr`.
fn unchanged(w: &Working<'_>, attr: &str, value: &str) -> bool {
    w.current
        .get(&attr.to_ascii_lowercase())
        .is_some_and(|old| old.iter().any(|o| o == value))
}

/// An immutable attribute that has a value keeps exactly that value.
fn check_immutables(w: &Working<'_>) -> Result<(), Error> {
    for f in &w.map.fields {
        if f.mutability != Mutability::Immutable {
            continue;
        }
        let key = f.ldap.to_ascii_lowercase();
        let (old, new) = (w.current.get(&key), w.values.get(&key));
        if let (Some(old), new) = (old, new) {
            let same = new.is_some_and(|n| {
                n.len() == old.len() && n.iter().all(|x| old.iter().any(|y| same_value(f, x, y)))
            });
            if !same {
                return Err(mutability(format!(
                    "{} is immutable and already set",
                    f.path_text()
                )));
            }
        }
    }
    Ok(())
}

/// The new RDN value when the naming attribute changed.
fn renamed(w: &Working<'_>, name: String) -> Option<String> {
    let old_name = w
        .current
        .get(&w.map.rdn.to_ascii_lowercase())
        .and_then(|v| v.first());
    old_name.is_none_or(|o| o != &name).then_some(name)
}

/// The modify that turns the current values into the working ones, in
/// attribute order; the naming attribute is left to the rename.
fn diff(w: &Working<'_>) -> Vec<Mod> {
    let map = w.map;
    let naming = map.rdn.to_ascii_lowercase();
    let keys: std::collections::BTreeSet<&String> =
        w.values.keys().chain(w.current.keys()).collect();
    let mut mods = Vec::new();
    for key in keys {
        if *key == naming {
            continue; // changed by the rename (deleteoldrdn)
        }
        let old = w.current.get(key).map(Vec::as_slice).unwrap_or(&[]);
        let new = w.values.get(key).map(Vec::as_slice).unwrap_or(&[]);
        if old != new {
            diff_one(map, key, old, new, &mut mods);
        }
    }
    mods
}

/// The changes of one attribute: value-level for multi-valued ones, so
/// concurrent changes commute; a replace otherwise.
fn diff_one(map: &AttrMap, key: &str, old: &[String], new: &[String], mods: &mut Vec<Mod>) {
    let name = map.ldap_name(key);
    let multi = map
        .fields
        .iter()
        .find(|f| f.ldap.eq_ignore_ascii_case(key))
        .is_none_or(|f| f.multi)
        || map
            .disable
            .iter()
            .any(|d| d.attribute.eq_ignore_ascii_case(key));
    // Removing every value is a replace with nothing: it needs no
    // equality rule (facsimileTelephoneNumber has none) and cannot miss.
    let single_swap = old.len() == 1
        && new.len() == 1
        && map
            .fields
            .iter()
            .any(|f| f.ldap.eq_ignore_ascii_case(key) && !f.multi);
    // A derived value is one rendering: it replaces whatever was there.
    let derived = map.is_computed(key)
        || map
            .defaults
            .iter()
            .any(|(a, _)| a.eq_ignore_ascii_case(key));
    if !multi || new.is_empty() || single_swap || derived {
        mods.push(Mod::Replace(name, new.to_vec()));
        return;
    }
    let (old_set, new_set): (
        std::collections::HashSet<&String>,
        std::collections::HashSet<&String>,
    ) = (old.iter().collect(), new.iter().collect());
    let del: Vec<String> = old
        .iter()
        .filter(|o| !new_set.contains(o))
        .cloned()
        .collect();
    let add: Vec<String> = new
        .iter()
        .filter(|n| !old_set.contains(n))
        .cloned()
        .collect();
    if !del.is_empty() {
        mods.push(Mod::Delete(name.clone(), del));
    }
    if !add.is_empty() {
        mods.push(Mod::Add(name, add));
    }
}

/// The membership changes of a group PATCH that changes nothing else: member
/// ids to add and ids to remove, each given as `members` with a list of
/// `{"value": id}`, or (remove) as `members[value eq "id"]`. `None` for any
/// other PATCH, including one that removes all members or names one id both
/// ways; such a PATCH is planned against the whole group instead.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberDelta {
    pub add: Vec<String>,
    pub remove: Vec<String>,
}

impl MemberDelta {
    /// Every id the change names, for one batched resolution.
    pub fn ids(&self) -> Vec<String> {
        let mut v: Vec<String> = self.add.iter().chain(&self.remove).cloned().collect();
        v.sort();
        v.dedup();
        v
    }
}

/// The `members.value` reference field of a group map.
fn members_field(map: &AttrMap) -> Option<&Field> {
    map.members.as_ref()?;
    map.fields_of(Some(map.kind.core_schema()), "members")
        .map(|(_, f)| f)
        .find(|f| f.reference.is_some())
}

/// Ids in a value list of `{"value": id}` objects (or one such object).
fn listed_ids(v: &Value) -> Option<Vec<String>> {
    let one = |x: &Value| {
        x.as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("value"))?
            .1
            .as_str()
            .map(str::to_owned)
    };
    match v {
        Value::Array(items) => items.iter().map(one).collect(),
        Value::Object(_) => one(v).map(|id| vec![id]),
        _ => None,
    }
}

pub fn member_delta(map: &AttrMap, ops: &[Operation]) -> Option<MemberDelta> {
    let field = members_field(map)?;
    let mut delta = MemberDelta::default();
    for op in ops {
        let p = &op.path;
        let on_members = p.attr.eq_ignore_ascii_case(&field.attr)
            && p.sub.is_none()
            && p.schema
                .as_deref()
                .is_none_or(|s| s.eq_ignore_ascii_case(&field.schema));
        if !on_members {
            return None;
        }
        match (op.op, p.filter.as_deref(), &op.value) {
            (Op::Add, None, Some(v)) => delta.add.extend(listed_ids(v)?),
            (Op::Remove, None, Some(v)) => delta.remove.extend(listed_ids(v)?),
            (
                Op::Remove,
                Some(Filter::Compare {
                    path,
                    op: CompareOp::Eq,
                    value: Literal::String(id),
                }),
                None,
            ) if path.attr.eq_ignore_ascii_case("value")
                && path.sub.is_none()
                && path.filter.is_none() =>
            {
                delta.remove.push(id.clone())
            }
            _ => return None,
        }
    }
    let both = delta
        .add
        .iter()
        .any(|a| delta.remove.iter().any(|r| r.eq_ignore_ascii_case(a)));
    let nothing = delta.add.is_empty() && delta.remove.is_empty();
    (!both && !nothing).then_some(delta)
}

/// The modify for a [`MemberDelta`], with ids resolved in `refs`: an unknown
/// id to add is a 400 naming it; an unknown id to remove is no member, so
/// nothing to remove. Written without knowing the current members: the
/// directory refuses a value already there or not there, and the caller then
/// plans against the whole group.
pub fn member_mods(map: &AttrMap, delta: &MemberDelta, refs: &Refs) -> Result<Vec<Mod>, Error> {
    let Some(field) = members_field(map) else {
        return Ok(Vec::new());
    };
    let mut add = Vec::new();
    for id in &delta.add {
        let v = to_ldap(field, &Value::String(id.clone()), refs)?;
        if !add.contains(&v) {
            add.push(v);
        }
    }
    let mut remove = Vec::new();
    for id in &delta.remove {
        if let Ok(v) = to_ldap(field, &Value::String(id.clone()), refs) {
            if !remove.contains(&v) {
                remove.push(v);
            }
        }
    }
    let mut mods = Vec::new();
    if !add.is_empty() {
        mods.push(Mod::Add(field.ldap.clone(), add));
    }
    if !remove.is_empty() {
        mods.push(Mod::Delete(field.ldap.clone(), remove));
    }
    Ok(mods)
}

/// PATCH: applies every operation to the current entry, all or nothing.
pub fn plan_patch(
    map: &AttrMap,
    current: &Entry,
    ops: &[Operation],
    refs: &Refs,
) -> Result<Plan, Error> {
    let mut w = Working::new(map, Some(current));
    for op in ops {
        apply(&mut w, op, refs)?;
    }
    finish(w, Planning::Update).map(|(_, plan)| plan)
}

/// PUT: the resource replaces every writable mapped attribute (RFC 7644 §3.5.1).
pub fn plan_replace(map: &AttrMap, current: &Entry, desired: Desired) -> Result<Plan, Error> {
    let mut w = Working::new(map, Some(current));
    for f in &map.fields {
        let key = f.ldap.to_ascii_lowercase();
        let new = desired.values.get(&key).cloned().unwrap_or_default();
        match f.mutability {
            Mutability::ReadOnly => {}
            // An immutable attribute left out of a PUT keeps its value.
            Mutability::Immutable if new.is_empty() => {}
            Mutability::ReadWrite | Mutability::WriteOnly | Mutability::Immutable => {
                w.set(&f.ldap, new)
            }
        }
    }
    if let Some(a) = desired.active {
        w.set_active(a)?;
    }
    if desired.password.is_some() && map.password.is_none() {
        return Err(Error::invalid_value(
            "password changes are disabled (users.password = \"reject\")",
        ));
    }
    w.password = desired.password;
    // Defaults the PUT does not map follow its values by the re-derivation
    // rule, like a PATCH's.
    let (values, plan) = finish(w, Planning::Update)?;
    check_computed(map, &values, &desired.computed)?;
    Ok(plan)
}

/// POST: the entry to add.
pub fn plan_create(map: &AttrMap, desired: Desired) -> Result<NewEntry, Error> {
    let mut w = Working::new(map, None);
    for (k, v) in desired.values {
        w.set(&k, v);
    }
    if desired.active == Some(false) {
        w.set_active(false)?;
    }
    if desired.password.is_some() && map.password.is_none() {
        return Err(Error::invalid_value(
            "password changes are disabled (users.password = \"reject\")",
        ));
    }
    w.password = desired.password;
    let (values, plan) = finish(w, Planning::Create)?;
    check_computed(map, &values, &desired.computed)?;
    let name = values
        .get(&map.rdn.to_ascii_lowercase())
        .and_then(|v| v.first())
        .cloned()
        .unwrap_or_default();
    let mut attrs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    attrs.insert("objectClass".to_owned(), map.object_classes.clone());
    for (k, v) in values {
        attrs.insert(map.ldap_name(&k), v);
    }
    Ok(NewEntry {
        dn: map.dn_for(&name),
        attrs: attrs.into_iter().collect(),
        password: plan.password,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::mapping::RefEntry;
    use crate::mapping::resource::desired;
    use crate::mapping::tests::{derived_rdn, openldap};
    use crate::scim::patch::parse;
    use serde_json::json;

    const U1: &str = "11111111-1111-1111-1111-111111111111";
    const U2: &str = "22222222-2222-2222-2222-222222222222";
    const U3: &str = "33333333-3333-3333-3333-333333333333";

    fn refs() -> Refs {
        let mut r = Refs::default();
        for (id, uid) in [(U1, "one"), (U2, "two"), (U3, "three")] {
            r.insert(RefEntry {
                id: id.into(),
                kind: ResourceKind::User,
                dn: format!("uid={uid},ou=people,dc=example,dc=com"),
                rdn_value: uid.into(),
                display: None,
            });
        }
        r
    }

    fn user() -> Entry {
        Entry::new(
            crate::ldap::Dn::parse("uid=alice,ou=people,dc=example,dc=com").unwrap(),
            [
                ("uid", vec!["alice"]),
                ("givenName", vec!["Alice"]),
                ("sn", vec!["Smith"]),
                ("cn", vec!["Alice Smith"]),
                ("mail", vec!["alice@example.com"]),
                ("title", vec!["Engineer"]),
                ("scimOrderCard", vec!["TRUE"]),
            ]
            .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect())),
        )
    }

    /// A write reads into its working copy exactly the planned attributes of
    /// the map's managed list: an entry carrying every managed attribute
    /// leaves the rest (id, timestamps, memberOf, token) out.
    #[test]
    fn the_working_copy_holds_the_planned_attributes() {
        let c = openldap();
        for map in [Some(&c.users), c.groups.as_ref()].into_iter().flatten() {
            let managed = map.managed();
            let entry = Entry::new(
                Dn::parse("cn=x,dc=example,dc=com").unwrap(),
                managed
                    .iter()
                    .map(|m| (m.ldap.to_owned(), vec!["v".to_owned()])),
            );
            let w = Working::new(map, Some(&entry));
            let mut want: Vec<String> = managed
                .iter()
                .filter(|m| managed::planned(m.role))
                .map(|m| m.ldap.to_ascii_lowercase())
                .collect();
            want.sort();
            want.dedup();
            let got: Vec<String> = w.current.keys().cloned().collect();
            assert_eq!(got, want);
            assert!(!got.contains(&map.id_attribute.to_ascii_lowercase()));
        }
    }

    fn patch(ops: Value) -> Result<Plan, Error> {
        let c = openldap();
        let ops = parse(&json!({"schemas": [crate::scim::patch::PATCH_OP], "Operations": ops}))?;
        plan_patch(&c.users, &user(), &ops, &refs())
    }

    fn mods(ops: Value) -> Vec<Mod> {
        patch(ops).unwrap().mods
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    /// A user of [`derived_rdn`]: named by the login its userName gives.
    fn derived_user() -> Entry {
        Entry::new(
            crate::ldap::Dn::parse("uid=alice,ou=people,dc=example,dc=com").unwrap(),
            [
                ("scimUserName", vec!["Alice@Contoso.com"]),
                ("givenName", vec!["Alice"]),
                ("sn", vec!["Smith"]),
                ("cn", vec!["Alice Smith"]),
            ]
            .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect())),
        )
    }

    fn derived_patch(ops: Value) -> Result<Plan, Error> {
        let c = derived_rdn();
        let ops = parse(&json!({"schemas": [crate::scim::patch::PATCH_OP], "Operations": ops}))?;
        plan_patch(&c.users, &derived_user(), &ops, &refs())
    }

    #[test]
    fn a_computed_rdn_names_a_new_entry() {
        let c = derived_rdn();
        let body = json!({"schemas": [crate::scim::schema::CORE_USER], "userName": "Alice.Smith@Contoso.com", "name": {"familyName": "Smith"}});
        let new = plan_create(&c.users, desired(&c.users, &body, &refs()).unwrap()).unwrap();
        assert_eq!(
            new.dn.to_string(),
            "uid=alice.smith,ou=people,dc=example,dc=com"
        );
        let attr = |a: &str| {
            new.attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(a))
                .map(|(_, v)| v.clone())
        };
        // userName is stored verbatim; the login and home follow from it.
        assert_eq!(attr("scimUserName"), Some(s(&["Alice.Smith@Contoso.com"])));
        assert_eq!(attr("uid"), Some(s(&["alice.smith"])));
        assert_eq!(attr("homeDirectory"), Some(s(&["/home/alice.smith"])));
        // Nothing safe left to name the entry by: a 400 naming the input.
        for bad in ["!!!@contoso.com", "@contoso.com"] {
            let body = json!({"schemas": [crate::scim::schema::CORE_USER], "userName": bad, "name": {"familyName": "X"}});
            let err =
                plan_create(&c.users, desired(&c.users, &body, &refs()).unwrap()).unwrap_err();
            let (status, detail) = (err.status(), err.to_string());
            assert_eq!(status, axum::http::StatusCode::BAD_REQUEST, "{bad}");
            assert!(
                detail.contains(&format!("userName {bad:?} gives no uid")),
                "{bad}: {detail}"
            );
        }
    }

    #[test]
    fn a_user_name_change_renames_in_every_form_entra_sends() {
        let forms = [
            json!([{"op": "Replace", "path": "userName", "value": "Bob@Contoso.com"}]),
            json!([{"op": "replace", "value": {"userName": "Bob@Contoso.com"}}]),
            json!([{"op": "Add", "path": "userName", "value": "Bob@Contoso.com"}]),
            json!([{"op": "Replace", "path": "userName", "value": "Bob@Contoso.com"},
                   {"op": "Replace", "path": "title", "value": "Boss"}]),
        ];
        for ops in forms {
            let plan = derived_patch(ops.clone()).unwrap();
            assert_eq!(plan.rename.as_deref(), Some("bob"), "{ops}");
            assert!(
                plan.mods.contains(&Mod::Replace(
                    "scimUserName".into(),
                    s(&["Bob@Contoso.com"])
                )),
                "{ops}: {:?}",
                plan.mods
            );
            assert!(
                plan.mods
                    .contains(&Mod::Replace("homeDirectory".into(), s(&["/home/bob"]))),
                "{ops}: {:?}",
                plan.mods
            );
            // The RDN changes by the rename only.
            assert!(
                plan.mods
                    .iter()
                    .all(|m| !m.attr().eq_ignore_ascii_case("uid"))
            );
            assert!(
                plan.derivations.iter().any(|d| d.to_string()
                    == "computed uid: re-rendered as \"bob\" because userName changed"),
                "{:?}",
                plan.derivations
            );
        }
    }

    #[test]
    fn a_computed_rdn_stays_when_its_rendering_does() {
        // Another domain or another case: the same login, no rename, the
        // new userName stored as sent.
        for name in ["alice@fabrikam.com", "ALICE@Contoso.com"] {
            let plan = derived_patch(json!([{"op": "Replace", "path": "userName", "value": name}]))
                .unwrap();
            assert_eq!(plan.rename, None, "{name}");
            assert!(
                plan.mods
                    .contains(&Mod::Replace("scimUserName".into(), s(&[name]))),
                "{name}: {:?}",
                plan.mods
            );
        }
        // Not an input: nothing derived, no rename.
        let plan =
            derived_patch(json!([{"op": "Replace", "path": "title", "value": "Boss"}])).unwrap();
        assert_eq!(plan.rename, None);
        assert_eq!(plan.mods, [Mod::Replace("title".into(), s(&["Boss"]))]);
        // A userName that leaves nothing to name the entry by is refused.
        let err =
            derived_patch(json!([{"op": "Replace", "path": "userName", "value": "***@x.com"}]))
                .unwrap_err();
        assert!(
            err.to_string()
                .contains("userName \"***@x.com\" gives no uid"),
            "{err}"
        );
    }

    #[test]
    fn disable_writes_every_action_and_enable_removes_exactly_each() {
        let off =
            derived_patch(json!([{"op": "Replace", "path": "active", "value": false}])).unwrap();
        assert_eq!(
            off.mods,
            [
                Mod::Add("pwdAccountLockedTime".into(), s(&["000001010000Z"])),
                Mod::Add("shadowExpire".into(), s(&["1"])),
            ]
        );
        let c = derived_rdn();
        let mut locked = derived_user();
        locked
            .attrs
            .insert("pwdaccountlockedtime".into(), s(&["000001010000Z"]));
        locked.attrs.insert("shadowexpire".into(), s(&["1"]));
        let on = parse(&json!({"schemas": [crate::scim::patch::PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": "True"}]})).unwrap();
        assert_eq!(
            plan_patch(&c.users, &locked, &on, &refs()).unwrap().mods,
            [
                Mod::Replace("pwdAccountLockedTime".into(), vec![]),
                Mod::Replace("shadowExpire".into(), vec![]),
            ]
        );
        // Half disabled (one action landed): enabling removes that one; a
        // value some other tool set stays.
        let mut half = derived_user();
        half.attrs.insert("shadowexpire".into(), s(&["1"]));
        half.attrs
            .insert("pwdaccountlockedtime".into(), s(&["20240101000000Z"]));
        assert_eq!(
            plan_patch(&c.users, &half, &on, &refs()).unwrap().mods,
            [Mod::Replace("shadowExpire".into(), vec![])]
        );
        // Disabling it again adds only what is missing.
        let off = parse(&json!({"schemas": [crate::scim::patch::PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": false}]})).unwrap();
        assert_eq!(
            plan_patch(&c.users, &half, &off, &refs()).unwrap().mods,
            [Mod::Add(
                "pwdAccountLockedTime".into(),
                s(&["000001010000Z"])
            )]
        );
    }

    #[test]
    fn a_put_with_a_new_user_name_renames() {
        let c = derived_rdn();
        let body = json!({"schemas": [crate::scim::schema::CORE_USER], "userName": "carol.jones@contoso.com", "name": {"givenName": "Alice", "familyName": "Smith", "formatted": "Alice Smith"}});
        let plan = plan_replace(
            &c.users,
            &derived_user(),
            desired(&c.users, &body, &refs()).unwrap(),
        )
        .unwrap();
        assert_eq!(plan.rename.as_deref(), Some("carol.jones"));
        assert!(plan.mods.contains(&Mod::Replace(
            "homeDirectory".into(),
            s(&["/home/carol.jones"])
        )));
        // The same userName back: nothing to rename.
        let body = json!({"schemas": [crate::scim::schema::CORE_USER], "userName": "Alice@Contoso.com", "name": {"givenName": "Alice", "familyName": "Smith", "formatted": "Alice Smith"}});
        let plan = plan_replace(
            &c.users,
            &derived_user(),
            desired(&c.users, &body, &refs()).unwrap(),
        )
        .unwrap();
        assert_eq!(plan.rename, None);
    }

    #[test]
    fn add_to_a_filtered_sub_attribute_replaces_it() {
        // The user has a work e-mail; Add to emails[type eq "work"].value sets it.
        assert_eq!(
            mods(
                json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "new@example.com"}])
            ),
            [
                Mod::Delete("mail".into(), s(&["alice@example.com"])),
                Mod::Add("mail".into(), s(&["new@example.com"]))
            ]
        );
        // Adding the value it already has changes nothing.
        assert!(
            mods(
                json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "alice@example.com"}])
            )
            .is_empty()
        );
    }

    #[test]
    fn entra_user_patch_forms() {
        assert_eq!(
            mods(json!([{"op": "Replace", "path": "title", "value": "Boss"}])),
            [Mod::Replace("title".into(), s(&["Boss"]))]
        );
        assert_eq!(
            mods(
                json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@example.com"}])
            ),
            [
                Mod::Delete("mail".into(), s(&["alice@example.com"])),
                Mod::Add("mail".into(), s(&["new@example.com"]))
            ]
        );
        assert_eq!(
            mods(
                json!([{"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 5"}])
            ),
            [Mod::Add("mobile".into(), s(&["+1 5"]))]
        );
        assert_eq!(
            mods(
                json!([{"op": "Add", "path": "addresses[type eq \"work\"].postalCode", "value": "12345"}])
            ),
            [Mod::Add("postalCode".into(), s(&["12345"]))]
        );
        assert_eq!(
            mods(
                json!([{"op": "Add", "path": "roles[primary eq \"True\"].value", "value": "Admin"}])
            ),
            [Mod::Add("scimRole".into(), s(&["Admin"]))]
        );
        assert_eq!(
            mods(
                json!([{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales"}])
            ),
            [Mod::Replace("departmentNumber".into(), s(&["Sales"]))]
        );
        // No path, dotted and URN keys.
        let m = mods(
            json!([{"op": "Replace", "value": {"displayName": "Al", "name.givenName": "Ally",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "7"}}]),
        );
        assert!(
            m.contains(&Mod::Add("displayName".into(), s(&["Al"])))
                || m.contains(&Mod::Replace("displayName".into(), s(&["Al"]))),
            "{m:?}"
        );
        assert!(
            m.contains(&Mod::Replace("givenName".into(), s(&["Ally"]))),
            "{m:?}"
        );
        assert!(
            m.contains(&Mod::Replace("employeeNumber".into(), s(&["7"]))),
            "{m:?}"
        );
        // Complex replace leaves unmentioned sub-attributes alone (cn held
        // the rendering of its default, so it follows the given name).
        assert_eq!(
            mods(json!([{"op": "replace", "path": "name", "value": {"givenName": "Al"}}])),
            [
                Mod::Replace("cn".into(), s(&["Al Smith"])),
                Mod::Replace("givenName".into(), s(&["Al"]))
            ]
        );
        // Removing what is absent is not an error and writes nothing.
        assert!(
            patch(json!([{"op": "remove", "path": "phoneNumbers[type eq \"mobile\"].value"}]))
                .unwrap()
                .is_noop()
        );
        // Replacing with the current value writes nothing.
        assert!(
            patch(json!([{"op": "replace", "path": "title", "value": "Engineer"}]))
                .unwrap()
                .is_noop()
        );
        // Remove a whole attribute.
        assert_eq!(
            mods(json!([{"op": "remove", "path": "title"}])),
            [Mod::Replace("title".into(), vec![])]
        );
    }

    #[test]
    fn whole_attribute_values_must_be_storable() {
        let e = patch(
            json!([{"op": "add", "path": "emails", "value": [{"type": "home", "value": "h@x"}]}]),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("emails[type eq \"home\"].value is not mapped"),
            "{e}"
        );
        let e = patch(json!([{"op": "replace", "path": "emails", "value": [{"type": "work", "value": "w@x", "nickname": "n"}]}])).unwrap_err();
        assert!(e.to_string().contains("nickname"), "{e}");
        assert_eq!(
            mods(
                json!([{"op": "replace", "path": "emails", "value": [{"type": "work", "value": "w@x", "primary": true, "display": "W"}]}])
            ),
            [
                Mod::Delete("mail".into(), s(&["alice@example.com"])),
                Mod::Add("mail".into(), s(&["w@x"]))
            ]
        );
    }

    #[test]
    fn remove_a_whole_extension() {
        let m = mods(
            json!([{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}]),
        );
        assert!(m.is_empty(), "nothing of it was set: {m:?}");
        let e = patch(json!([{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:contactify:2.0:User"}])).unwrap_err();
        assert!(
            e.to_string().contains("immutable"),
            "orderCard is set and immutable: {e}"
        );
        // schemas inside an extension value is not an attribute.
        let m = mods(
            json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "value": {"schemas": ["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"], "department": "D"}}]),
        );
        assert_eq!(m, [Mod::Replace("departmentNumber".into(), s(&["D"]))]);
    }

    #[test]
    fn active_and_disable() {
        for v in [json!(false), json!("False"), json!("FALSE")] {
            assert_eq!(
                mods(json!([{"op": "Replace", "path": "active", "value": v}])),
                [Mod::Add(
                    "pwdAccountLockedTime".into(),
                    s(&["000001010000Z"])
                )]
            );
        }
        assert!(
            patch(json!([{"op": "Replace", "path": "active", "value": "True"}]))
                .unwrap()
                .is_noop()
        );
        let c = openldap();
        let mut locked = user();
        locked
            .attrs
            .insert("pwdaccountlockedtime".into(), s(&["000001010000Z"]));
        let ops = parse(&json!({"schemas": [crate::scim::patch::PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": true}]})).unwrap();
        assert_eq!(
            plan_patch(&c.users, &locked, &ops, &refs()).unwrap().mods,
            [Mod::Replace("pwdAccountLockedTime".into(), vec![])]
        );
        // A lock-out by the password policy (another value) is not lifted by provisioning.
        let mut policy = user();
        policy
            .attrs
            .insert("pwdaccountlockedtime".into(), s(&["20240101000000Z"]));
        assert!(
            plan_patch(&c.users, &policy, &ops, &refs())
                .unwrap()
                .is_noop()
        );
        assert!(patch(json!([{"op": "Replace", "path": "active", "value": "maybe"}])).is_err());
    }

    #[test]
    fn rename_is_a_modrdn_not_a_modify() {
        let p = patch(json!([{"op": "Replace", "path": "userName", "value": "alice2"}])).unwrap();
        assert_eq!(p.rename.as_deref(), Some("alice2"));
        assert!(p.mods.is_empty());
        let e = patch(json!([{"op": "remove", "path": "userName"}])).unwrap_err();
        assert!(e.to_string().contains("userName is required"), "{e}");
    }

    #[test]
    fn read_only_and_immutable() {
        for path in ["id", "meta", "meta.created", "groups", "schemas"] {
            let e = patch(json!([{"op": "replace", "path": path, "value": "x"}])).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::BadRequest {
                        scim_type: ScimType::Mutability,
                        ..
                    }
                ),
                "{path}: {e}"
            );
        }
        let e = patch(json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:contactify:2.0:User:orderCard", "value": false}])).unwrap_err();
        assert!(e.to_string().contains("immutable"), "{e}");
        // The same value again is fine.
        assert!(patch(json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:contactify:2.0:User:orderCard", "value": "True"}])).unwrap().is_noop());
        let e = patch(json!([{"op": "replace", "path": "nickName", "value": "x"}])).unwrap_err();
        assert!(
            matches!(
                e,
                Error::BadRequest {
                    scim_type: ScimType::InvalidPath,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn manager_forms() {
        for v in [json!(U1), json!({"value": U1})] {
            assert_eq!(
                mods(
                    json!([{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": v}])
                ),
                [Mod::Replace(
                    "manager".into(),
                    s(&["uid=one,ou=people,dc=example,dc=com"])
                )]
            );
        }
        let e = patch(json!([{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "44444444-4444-4444-4444-444444444444"}])).unwrap_err();
        assert!(e.to_string().contains("no User has id"), "{e}");
        assert!(patch(json!([{"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}])).unwrap().is_noop());
        let ops = parse(&json!({"schemas": [crate::scim::patch::PATCH_OP], "Operations": [{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": {"value": U2}}]})).unwrap();
        assert_eq!(reference_ids(&openldap().users, &ops), [U2]);
    }

    fn group() -> Entry {
        Entry::new(
            crate::ldap::Dn::parse("cn=Sales,ou=groups,dc=example,dc=com").unwrap(),
            [
                ("cn".to_owned(), s(&["Sales"])),
                (
                    "member".to_owned(),
                    s(&[
                        "uid=one,ou=people,dc=example,dc=com",
                        "uid=two,ou=people,dc=example,dc=com",
                    ]),
                ),
            ],
        )
    }

    fn gpatch(ops: Value) -> Result<Plan, Error> {
        let c = openldap();
        let ops = parse(&json!({"schemas": [crate::scim::patch::PATCH_OP], "Operations": ops}))?;
        plan_patch(c.groups.as_ref().unwrap(), &group(), &ops, &refs())
    }

    fn delta(ops: Value) -> Option<MemberDelta> {
        let c = openldap();
        let ops =
            parse(&json!({"schemas": [crate::scim::patch::PATCH_OP], "Operations": ops})).unwrap();
        member_delta(c.groups.as_ref().unwrap(), &ops)
    }

    #[test]
    fn membership_only_patches_are_recognised() {
        let d = |add: &[&str], remove: &[&str]| {
            Some(MemberDelta {
                add: s(add),
                remove: s(remove),
            })
        };
        // Entra's forms: Add with a list, Remove with a list or a value filter.
        assert_eq!(
            delta(
                json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": U1}, {"value": U2}]}])
            ),
            d(&[U1, U2], &[])
        );
        assert_eq!(
            delta(json!([{"op": "Remove", "path": "members", "value": [{"value": U1}]}])),
            d(&[], &[U1])
        );
        assert_eq!(
            delta(json!([{"op": "remove", "path": format!("members[value eq \"{U2}\"]")}])),
            d(&[], &[U2])
        );
        assert_eq!(
            delta(json!([
                {"op": "add", "path": "members", "value": [{"value": U3}]},
                {"op": "remove", "path": "members", "value": [{"value": U1}]}
            ])),
            d(&[U3], &[U1])
        );
        // Path-less add of members only.
        assert_eq!(
            delta(json!([{"op": "add", "value": {"members": [{"value": U1}]}}])),
            d(&[U1], &[])
        );
        // Everything else is planned against the whole group.
        for ops in [
            json!([{"op": "replace", "path": "members", "value": [{"value": U1}]}]),
            json!([{"op": "remove", "path": "members"}]),
            json!([{"op": "add", "path": "members", "value": [{"value": U1}]}, {"op": "remove", "path": "members", "value": [{"value": U1}]}]),
            json!([{"op": "remove", "path": "members", "value": [{"value": "AAAAAAAA-0000-0000-0000-000000000000"}]}, {"op": "add", "path": "members", "value": [{"value": "aaaaaaaa-0000-0000-0000-000000000000"}]}]),
            json!([{"op": "add", "path": "members", "value": [{"value": U1}]}, {"op": "replace", "path": "displayName", "value": "x"}]),
            json!([{"op": "remove", "path": "members[display eq \"x\"]"}]),
            json!([{"op": "remove", "path": format!("members[value eq \"{U1}\" or value eq \"{U2}\"]")}]),
            json!([{"op": "add", "path": "members", "value": ["not an object"]}]),
            json!([{"op": "add", "path": "members", "value": []}]),
        ] {
            assert_eq!(delta(ops.clone()), None, "{ops}");
        }
    }

    #[test]
    fn membership_only_modify() {
        let c = openldap();
        let g = c.groups.as_ref().unwrap();
        let unknown = "99999999-9999-9999-9999-999999999999";
        let m = member_mods(
            g,
            &MemberDelta {
                add: s(&[U1, U1, U2]),
                remove: s(&[U3, unknown]),
            },
            &refs(),
        )
        .unwrap();
        assert_eq!(
            m,
            [
                Mod::Add(
                    "member".into(),
                    s(&[
                        "uid=one,ou=people,dc=example,dc=com",
                        "uid=two,ou=people,dc=example,dc=com"
                    ])
                ),
                Mod::Delete(
                    "member".into(),
                    s(&["uid=three,ou=people,dc=example,dc=com"])
                )
            ]
        );
        // An unknown id to add is refused by name, as in a full plan.
        let e = member_mods(
            g,
            &MemberDelta {
                add: s(&[unknown]),
                remove: vec![],
            },
            &refs(),
        )
        .unwrap_err();
        assert_eq!(e.status().as_u16(), 400);
        assert!(e.to_string().contains(unknown), "{e}");
        // Users have no members.
        assert_eq!(
            member_delta(
                &c.users,
                &parse(&json!({"schemas": [crate::scim::patch::PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": U1}]}]})).unwrap()
            ),
            None
        );
    }

    #[test]
    // Longer than a screen: one row per membership PATCH form Entra sends.
    fn entra_membership_forms() {
        let p = gpatch(json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": U3}, {"value": U1}]}])).unwrap();
        assert_eq!(
            p.mods,
            [Mod::Add(
                "member".into(),
                s(&["uid=three,ou=people,dc=example,dc=com"])
            )]
        );
        let p = gpatch(
            json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": U1}]}]),
        )
        .unwrap();
        assert_eq!(
            p.mods,
            [Mod::Delete(
                "member".into(),
                s(&["uid=one,ou=people,dc=example,dc=com"])
            )]
        );
        let p = gpatch(json!([{"op": "remove", "path": format!("members[value eq \"{U2}\"]")}]))
            .unwrap();
        assert_eq!(
            p.mods,
            [Mod::Delete(
                "member".into(),
                s(&["uid=two,ou=people,dc=example,dc=com"])
            )]
        );
        // Absent member removal: nothing to do.
        assert!(
            gpatch(json!([{"op": "remove", "path": format!("members[value eq \"{U3}\"]")}]))
                .unwrap()
                .is_noop()
        );
        // Unknown id on add: refused before anything is written.
        let e = gpatch(json!([{"op": "Add", "path": "members", "value": [{"value": "99999999-9999-9999-9999-999999999999"}]}])).unwrap_err();
        assert!(
            e.to_string()
                .contains("99999999-9999-9999-9999-999999999999"),
            "{e}"
        );
        // Replace the whole list.
        let p = gpatch(json!([{"op": "replace", "path": "members", "value": [{"value": U3}]}]))
            .unwrap();
        assert_eq!(
            p.mods,
            [
                Mod::Delete(
                    "member".into(),
                    s(&[
                        "uid=one,ou=people,dc=example,dc=com",
                        "uid=two,ou=people,dc=example,dc=com"
                    ])
                ),
                Mod::Add(
                    "member".into(),
                    s(&["uid=three,ou=people,dc=example,dc=com"])
                )
            ]
        );
        // No-path form with members.
        let p = gpatch(json!([{"op": "add", "value": {"members": [{"value": U3}]}}])).unwrap();
        assert_eq!(
            p.mods,
            [Mod::Add(
                "member".into(),
                s(&["uid=three,ou=people,dc=example,dc=com"])
            )]
        );
        // Removing every member leaves the placeholder.
        let p = gpatch(json!([{"op": "remove", "path": "members"}])).unwrap();
        assert_eq!(
            p.mods,
            [
                Mod::Delete(
                    "member".into(),
                    s(&[
                        "uid=one,ou=people,dc=example,dc=com",
                        "uid=two,ou=people,dc=example,dc=com"
                    ])
                ),
                Mod::Add(
                    "member".into(),
                    s(&["cn=empty-group-placeholder,dc=example,dc=com"])
                )
            ]
        );
        // Rename.
        let p = gpatch(json!([{"op": "Replace", "path": "displayName", "value": "Sales EMEA"}]))
            .unwrap();
        assert_eq!(p.rename.as_deref(), Some("Sales EMEA"));
        // Several operations: one modify.
        let p = gpatch(json!([
            {"op": "Add", "path": "members", "value": [{"value": U3}]},
            {"op": "Remove", "path": "members", "value": [{"value": U1}]}
        ]))
        .unwrap();
        assert_eq!(p.mods.len(), 2);
    }

    #[test]
    fn names_with_white_space_at_either_end_are_refused() {
        let c = openldap();
        for name in [" bob", "bob ", "\tbob", " "] {
            let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name});
            let d = desired(&c.users, &body, &Refs::default()).unwrap();
            let e = plan_create(&c.users, d).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::BadRequest {
                        scim_type: ScimType::InvalidValue,
                        ..
                    }
                ),
                "{name:?}: {e:?}"
            );
            assert!(e.to_string().contains("userName"), "{e}");
        }
        // An entry already stored with such a name stays updatable; renaming
        // an entry to one is refused.
        let mut spaced = user();
        spaced.attrs.insert("uid".into(), s(&[" alice"]));
        let retitle = parse(&json!({"schemas": [crate::scim::patch::PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "Chief"}]})).unwrap();
        assert!(plan_patch(&c.users, &spaced, &retitle, &refs()).is_ok());
        let rename = parse(&json!({"schemas": [crate::scim::patch::PATCH_OP], "Operations": [{"op": "replace", "path": "userName", "value": "alice "}]})).unwrap();
        assert!(plan_patch(&c.users, &user(), &rename, &refs()).is_err());
        let body =
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bob b"});
        let d = desired(&c.users, &body, &Refs::default()).unwrap();
        assert!(
            plan_create(&c.users, d).is_ok(),
            "inner spaces are part of the name"
        );
    }

    #[test]
    fn create_fills_defaults_and_object_classes() {
        let c = openldap();
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bob", "active": false,
            "name": {"givenName": "Bob"}});
        let d = desired(&c.users, &body, &Refs::default()).unwrap();
        let n = plan_create(&c.users, d).unwrap();
        assert_eq!(n.dn.to_string(), "uid=bob,ou=people,dc=example,dc=com");
        let get = |a: &str| {
            n.attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(a))
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("sn"), Some(s(&["bob"])));
        assert_eq!(get("cn"), Some(s(&["Bob"])));
        assert_eq!(get("pwdAccountLockedTime"), Some(s(&["000001010000Z"])));
        assert!(
            get("objectClass")
                .unwrap()
                .contains(&"inetOrgPerson".to_owned())
        );
        // A DN-hostile userName stays one RDN under the base.
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a,ou=admins+cn=x\\"});
        let n = plan_create(
            &c.users,
            desired(&c.users, &body, &Refs::default()).unwrap(),
        )
        .unwrap();
        assert_eq!(n.dn.rdn_value("uid"), Some("a,ou=admins+cn=x\\"));
        assert!(n.dn.parent().same_as(&c.users.base));
    }

    #[test]
    fn put_replaces_and_clears() {
        let c = openldap();
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "alice", "name": {"givenName": "Alice", "familyName": "Smith"}, "title": "CTO"});
        let d = desired(&c.users, &body, &Refs::default()).unwrap();
        let p = plan_replace(&c.users, &user(), d).unwrap();
        assert!(
            p.mods.contains(&Mod::Replace("title".into(), s(&["CTO"]))),
            "{:?}",
            p.mods
        );
        assert!(
            p.mods.contains(&Mod::Replace("mail".into(), vec![])),
            "{:?}",
            p.mods
        );
        // cn came from the default template before and is recomputed the same: no change.
        assert!(!p.mods.iter().any(|m| m.attr() == "cn"), "{:?}", p.mods);
        // Immutable kept when omitted.
        assert!(!p.mods.iter().any(|m| m.attr() == "scimOrderCard"));
        assert!(p.rename.is_none());
    }

    /// Alice's entry with `cn` as given.
    fn user_with_cn(cn: &str) -> Entry {
        let mut e = user();
        e.attrs.insert("cn".to_owned(), vec![cn.to_owned()]);
        e
    }

    /// Case, stored cn, operations, cn written, the rule's verdict.
    type Row<'a> = (
        &'a str,
        &'a str,
        &'a Value,
        Option<&'a str>,
        Option<Outcome>,
    );

    /// The re-derivation rule, through whole plans: what a request writes to
    /// `cn` (a default of givenName and familyName, and the target of
    /// name.formatted) for each kind of stored value and change.
    #[test]
    fn defaults_follow_their_inputs_unless_the_client_set_them() {
        let c = openldap();
        let surname = json!([{"op": "Replace", "path": "name.familyName", "value": "Jones"}]);
        let pathless = json!([{"op": "Replace", "value": {"name.familyName": "Jones"}}]);
        let title = json!([{"op": "Replace", "path": "title", "value": "Boss"}]);
        let both = json!([{"op": "Replace", "path": "name.familyName", "value": "Jones"},
            {"op": "Replace", "path": "name.formatted", "value": "Ally J"}]);
        let case_only = json!([{"op": "Replace", "path": "name.familyName", "value": "smith"}]);
        #[rustfmt::skip]
        let table: [Row<'_>; 7] = [
            ("derived, re-rendered", "Alice Smith", &surname, Some("Alice Jones"), Some(Outcome::Rendered("Alice Jones".into()))),
            ("derived, matched caseIgnore and collapsed", "alice   SMITH", &pathless, Some("Alice Jones"), Some(Outcome::Rendered("Alice Jones".into()))),
            ("derived, case-only change re-rendered", "Alice Smith", &case_only, Some("Alice smith"), Some(Outcome::Rendered("Alice smith".into()))),
            ("client-set, kept", "Dr. Alice Smith", &surname, None, Some(Outcome::ClientValueKept)),
            ("unrelated change, nothing", "Alice Smith", &title, None, None),
            ("client sets it now, client wins", "Alice Smith", &both, Some("Ally J"), Some(Outcome::ClientSetsIt)),
            ("client-set, path-less form, kept", "Dr. Alice Smith", &pathless, None, Some(Outcome::ClientValueKept)),
        ];
        for (case, cn, ops, written, outcome) in table {
            let ops = parse(&json!({"schemas": [crate::scim::patch::PATCH_OP], "Operations": ops}))
                .unwrap();
            let plan = plan_patch(&c.users, &user_with_cn(cn), &ops, &refs()).unwrap();
            let cn_mods: Vec<&Mod> = plan.mods.iter().filter(|m| m.attr() == "cn").collect();
            match written {
                Some(v) => assert_eq!(cn_mods, [&Mod::Replace("cn".into(), s(&[v]))], "{case}"),
                None => assert!(cn_mods.is_empty(), "{case}: {:?}", plan.mods),
            }
            let note = plan.derivations.iter().find(|d| d.attribute == "cn");
            assert_eq!(note.map(|d| d.outcome.clone()), outcome, "{case}");
            if let Some(d) = note {
                assert_eq!(d.derived, Derived::Default, "{case}");
                assert!(
                    d.changed.contains(&"name.familyName".to_owned()),
                    "{case}: {d:?}"
                );
            }
        }
    }

    #[test]
    fn the_rule_alone() {
        let m = Matching::CaseIgnore;
        let one = |v: &str| vec![v.to_owned()];
        // Held the old rendering, untouched: the new one.
        assert_eq!(
            rederive(m, &one("A B"), &one("A B"), Some("a  b"), Some("A C")),
            Some(Outcome::Rendered("A C".into()))
        );
        // Case-exact attributes compare exactly.
        assert_eq!(
            rederive(
                Matching::CaseExact,
                &one("a b"),
                &one("a b"),
                Some("A B"),
                Some("A C")
            ),
            Some(Outcome::ClientValueKept)
        );
        // Renders empty now: a default is never removed.
        assert_eq!(
            rederive(m, &one("A B"), &one("A B"), Some("A B"), None),
            None
        );
        // Same rendering: nothing to write.
        assert_eq!(
            rederive(m, &one("A B"), &one("A B"), Some("A B"), Some("A B")),
            None
        );
        // Two values are no rendering.
        let two = vec!["A B".to_owned(), "x".to_owned()];
        assert_eq!(
            rederive(m, &two, &two, Some("A B"), Some("A C")),
            Some(Outcome::ClientValueKept)
        );
        // Changed by the request.
        assert_eq!(
            rederive(m, &one("A B"), &one("Z"), Some("A B"), Some("A C")),
            Some(Outcome::ClientSetsIt)
        );
    }

    #[test]
    fn put_rederives_like_patch() {
        let c = openldap();
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "alice",
            "name": {"givenName": "Alice", "familyName": "Jones"}, "urn:ietf:params:scim:schemas:extension:contactify:2.0:User": {"orderCard": true}});
        let d = desired(&c.users, &body, &refs()).unwrap();
        let p = plan_replace(&c.users, &user(), d).unwrap();
        assert!(
            p.mods
                .contains(&Mod::Replace("cn".into(), s(&["Alice Jones"]))),
            "{:?}",
            p.mods
        );
        // The client's own formatted name stays through a PUT.
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "alice",
            "name": {"givenName": "Alice", "familyName": "Jones", "formatted": "Dr. Alice Smith"}});
        let d = desired(&c.users, &body, &refs()).unwrap();
        let p = plan_replace(&c.users, &user_with_cn("Dr. Alice Smith"), d).unwrap();
        assert!(!p.mods.iter().any(|m| m.attr() == "cn"), "{:?}", p.mods);
    }

    fn with_computed() -> crate::config::Config {
        let text = crate::config::tests::example("openldap.toml").replace(
            "[users.defaults]",
            "[users.computed]\ndescription = \"{name.givenName|ascii} {name.familyName|ascii}\"\n\n[users.defaults]",
        ).replace("\"name.formatted\" = \"cn\"", "\"name.formatted\" = \"cn\"\nnickName = \"description\"");
        crate::config::Config::parse(
            &text,
            &crate::config::tests::Vars(crate::config::tests::SECRETS.to_vec()),
        )
        .unwrap()
    }

    #[test]
    fn computed_attributes_are_rendered_followed_and_never_written() {
        let c = with_computed();
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "jose",
            "name": {"givenName": "José", "familyName": "Müller"}});
        let n = plan_create(&c.users, desired(&c.users, &body, &refs()).unwrap()).unwrap();
        let description = n
            .attrs
            .iter()
            .find(|(k, _)| k == "description")
            .map(|(_, v)| v.clone());
        assert_eq!(description, Some(s(&["Jose Muller"])));
        // Re-rendered when an input changes; untouched otherwise.
        let mut entry = user();
        entry
            .attrs
            .insert("description".into(), s(&["Alice Smith"]));
        let ops = parse(
            &json!({"schemas": [crate::scim::patch::PATCH_OP], "Operations":
            [{"op": "Replace", "path": "name.familyName", "value": "Jöns"}]}),
        )
        .unwrap();
        let p = plan_patch(&c.users, &entry, &ops, &refs()).unwrap();
        assert!(
            p.mods
                .contains(&Mod::Replace("description".into(), s(&["Alice Jons"]))),
            "{:?}",
            p.mods
        );
        let ops = parse(
            &json!({"schemas": [crate::scim::patch::PATCH_OP], "Operations":
            [{"op": "Replace", "path": "title", "value": "Boss"}]}),
        )
        .unwrap();
        let p = plan_patch(&c.users, &entry, &ops, &refs()).unwrap();
        assert_eq!(p.mods, [Mod::Replace("title".into(), s(&["Boss"]))]);
        // Removed when it renders empty.
        let ops = parse(&json!({"schemas": [crate::scim::patch::PATCH_OP], "Operations":
            [{"op": "Remove", "path": "name.familyName"}, {"op": "Remove", "path": "name.givenName"}]})).unwrap();
        let p = plan_patch(&c.users, &entry, &ops, &refs()).unwrap();
        assert!(
            p.mods.contains(&Mod::Replace("description".into(), vec![])),
            "{:?}",
            p.mods
        );
        // Written by the client: 400 mutability naming the SCIM attribute.
        let ops = parse(
            &json!({"schemas": [crate::scim::patch::PATCH_OP], "Operations":
            [{"op": "Replace", "path": "nickName", "value": "x"}]}),
        )
        .unwrap();
        let e = plan_patch(&c.users, &entry, &ops, &refs()).unwrap_err();
        refused_as_mutability(&e, "nickName");
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "jose",
            "nickName": "mine", "name": {"givenName": "José", "familyName": "Müller"}});
        let e = plan_create(&c.users, desired(&c.users, &body, &refs()).unwrap()).unwrap_err();
        refused_as_mutability(&e, "nickName");
        // Sent exactly as rendered (a PUT echoing a GET): accepted.
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "jose",
            "nickName": "Jose Muller", "name": {"givenName": "José", "familyName": "Müller"}});
        assert!(plan_create(&c.users, desired(&c.users, &body, &refs()).unwrap()).is_ok());
    }

    /// A refusal with scimType mutability that names `attr`.
    fn refused_as_mutability(e: &Error, attr: &str) {
        assert!(
            matches!(
                e,
                Error::BadRequest {
                    scim_type: ScimType::Mutability,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains(attr), "{e}");
    }
}
