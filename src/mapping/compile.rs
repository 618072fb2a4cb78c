//! `[users]` and `[groups]` tables compiled into an [`AttrMap`], in named
//! steps: the entry's naming and bookkeeping attributes, the mapped fields
//! (each checked against the SCIM schemas), the custom extensions' schemas,
//! the default templates, and the disable, password and membership settings.
//! Every problem is appended to one list, one line each, so a config file
//! is fixed in one pass.

use std::collections::BTreeMap;

use crate::config::file;
use crate::ldap::Dn;
use crate::scim::path::AttrPath;
use crate::scim::schema::{self, AttrDef, AttrType, Mutability, Returned, Schema};

use super::allocate::Allocation;
use super::{
    AttrMap, Disable, Field, MemberValue, Members, Naming, PasswordMode, Pinned, RefTarget,
    Template, section,
};
use crate::scim::ResourceKind;

pub(super) fn valid_ldap_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() => chars.all(|c| c.is_ascii_alphanumeric() || c == '-'),
        Some(c) if c.is_ascii_digit() => s
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())),
        _ => false,
    }
}

/// Attributes a mapping may not name because the daemon derives them.
const RESERVED: &[(&str, &str)] = &[
    ("id", "it is the entry's id_attribute"),
    ("meta", "it comes from operational attributes"),
    ("schemas", "it is derived from the mapped schemas"),
    ("active", "set users.disable instead"),
    ("password", "set users.password instead"),
    (
        "groups",
        "it is read from member_of or the groups' membership attribute",
    ),
    ("members", "set [groups.members] instead"),
];

/// Compiles one resource section; problems are appended to `p`, one line each.
pub fn compile(
    kind: ResourceKind,
    raw: &file::Resource,
    extensions: &[String],
    p: &mut Vec<String>,
) -> Option<AttrMap> {
    let sec = section(kind);
    let start = p.len();
    let base = base(sec, raw, p);
    let rdn = rdn(kind, raw, p);
    let object_classes = object_classes(sec, raw, p);
    let (id_attribute, version_attribute, version_token) = bookkeeping(sec, raw, p);
    let mut schemas = match kind {
        ResourceKind::User => vec![schema::core_user(), schema::enterprise_user()],
        ResourceKind::Group => vec![schema::core_group()],
    };
    let mut fields = fields(kind, raw, &schemas, extensions, p);
    schemas.extend(extension_schemas(extensions, &fields));
    let (defaults, computed) = derived(sec, raw, &mut fields, p);
    let naming = naming(kind, &rdn, &fields, &computed, p);
    let allocate = allocations(sec, raw, &rdn, &defaults, &computed, &mut fields, p);
    let disable = disable(kind, raw, p);
    let password = password(kind, raw, p);
    if raw.member_of.is_some() && kind == ResourceKind::Group {
        p.push(format!("{sec}.member_of: only users carry member_of"));
    }
    let members = members(kind, raw, p);
    let unmapped = super::unmapped::Unmapped::parse(sec, raw.unmapped.as_deref(), p);
    if p.len() > start {
        return None;
    }
    if let Some(m) = &members {
        add_members_field(sec, m, &mut fields, p)?;
    }
    Some(AttrMap {
        kind,
        base,
        rdn,
        object_classes,
        id_attribute,
        version_attribute,
        version_token,
        element_fields: element_fields(&fields),
        fields,
        naming: naming.unwrap_or(Naming::Field(0)),
        defaults,
        computed,
        allocate,
        disable,
        password,
        member_of: raw.member_of.clone(),
        members,
        schemas,
        unmapped,
    })
}

/// `base`: required, a DN, not the root DSE.
fn base(sec: &str, raw: &file::Resource, p: &mut Vec<String>) -> Dn {
    let base = match raw.base.as_deref() {
        None => {
            p.push(format!(
                "{sec}.base: missing; e.g. \"ou=people,dc=example,dc=com\""
            ));
            Dn::root()
        }
        Some(b) => Dn::parse(b).unwrap_or_else(|e| {
            p.push(format!("{sec}.base: {e}"));
            Dn::root()
        }),
    };
    if raw.base.is_some() && base.is_empty() {
        p.push(format!("{sec}.base: must not be the root DSE"));
    }
    base
}

/// `rdn`: an attribute name; `uid` for users and `cn` for groups unless said.
fn rdn(kind: ResourceKind, raw: &file::Resource, p: &mut Vec<String>) -> String {
    let rdn = raw.rdn.clone().unwrap_or_else(|| match kind {
        ResourceKind::User => "uid".to_owned(),
        ResourceKind::Group => "cn".to_owned(),
    });
    if !valid_ldap_name(&rdn) {
        let sec = section(kind);
        p.push(format!("{sec}.rdn: {rdn:?} is not an LDAP attribute name"));
    }
    rdn
}

/// `object_classes`: at least one, each a name.
fn object_classes(sec: &str, raw: &file::Resource, p: &mut Vec<String>) -> Vec<String> {
    let object_classes = raw.object_classes.clone().unwrap_or_default();
    if object_classes.is_empty() {
        p.push(format!("{sec}.object_classes: list the object classes new entries get, e.g. [\"inetOrgPerson\"]"));
    }
    for oc in &object_classes {
        if !valid_ldap_name(oc) {
            p.push(format!(
                "{sec}.object_classes: {oc:?} is not an object class name"
            ));
        }
    }
    object_classes
}

/// `id_attribute`, `version_attribute` and `version_token`, defaulted and checked.
fn bookkeeping(
    sec: &str,
    raw: &file::Resource,
    p: &mut Vec<String>,
) -> (String, String, Option<String>) {
    let id_attribute = raw
        .id_attribute
        .clone()
        .unwrap_or_else(|| "entryUUID".to_owned());
    let version_attribute = raw
        .version_attribute
        .clone()
        .unwrap_or_else(|| "entryCSN".to_owned());
    let version_token = raw.version_token.clone();
    for (key, v) in [
        ("id_attribute", &id_attribute),
        ("version_attribute", &version_attribute),
    ]
    .into_iter()
    .chain(version_token.iter().map(|t| ("version_token", t)))
    {
        if !valid_ldap_name(v) {
            p.push(format!("{sec}.{key}: {v:?} is not an LDAP attribute name"));
        }
    }
    (id_attribute, version_attribute, version_token)
}

/// `attributes`: each mapping compiled; each LDAP attribute and each SCIM
/// path mapped once.
fn fields(
    kind: ResourceKind,
    raw: &file::Resource,
    schemas: &[Schema],
    extensions: &[String],
    p: &mut Vec<String>,
) -> Vec<Field> {
    let sec = section(kind);
    let mut fields: Vec<Field> = Vec::new();
    for (key, mapping) in &raw.attributes {
        let at = format!("{sec}.attributes.{:?}", key);
        let Some(f) = compile_field(kind, key, mapping, schemas, extensions, &at, p) else {
            continue;
        };
        if let Some(other) = fields.iter().find(|o| o.ldap.eq_ignore_ascii_case(&f.ldap)) {
            p.push(format!(
                "{at}: LDAP attribute {} is already mapped from {:?}; map each LDAP attribute once",
                f.ldap, other.key
            ));
            continue;
        }
        if fields.iter().any(|o| {
            o.schema.eq_ignore_ascii_case(&f.schema)
                && o.attr == f.attr
                && o.sub == f.sub
                && o.pinned == f.pinned
        }) {
            p.push(format!("{at}: the same SCIM path is mapped twice"));
            continue;
        }
        fields.push(f);
    }
    fields
}

/// Declared custom extensions become schemas built from their mappings.
fn extension_schemas(extensions: &[String], fields: &[Field]) -> Vec<Schema> {
    let mut out = Vec::new();
    for urn in extensions {
        let attrs: Vec<AttrDef> = fields
            .iter()
            .filter(|f| f.schema.eq_ignore_ascii_case(urn))
            .map(extension_attribute)
            .collect();
        if !attrs.is_empty() {
            out.push(Schema {
                id: urn.clone(),
                name: urn.rsplit(':').nth(1).unwrap_or("Extension").to_owned(),
                description: String::new(),
                attributes: attrs,
            });
        }
    }
    out
}

/// What /Schemas publishes for a custom extension's attribute.
fn extension_attribute(f: &Field) -> AttrDef {
    AttrDef {
        name: f.attr.clone(),
        ty: f.ty,
        multi_valued: f.multi,
        description: f.description.clone(),
        required: f.required,
        case_exact: f.case_exact,
        mutability: f.mutability,
        returned: f.returned,
        uniqueness: schema::Uniqueness::None,
        canonical_values: Vec::new(),
        reference_types: match f.reference {
            Some(RefTarget::Kind(k)) => vec![k.name().to_owned()],
            Some(RefTarget::Any) => vec!["User".to_owned(), "Group".to_owned()],
            None => Vec::new(),
        },
        sub_attributes: Vec::new(),
    }
}

/// Where the RDN comes from: a computed template when there is one for it
/// (rendered from the required name attribute alone, which keeps that
/// attribute unique as the name was), else the field that maps onto it; the
/// required name attribute (`userName`, `displayName`) must be mapped.
fn naming(
    kind: ResourceKind,
    rdn: &str,
    fields: &[Field],
    computed: &[(String, Template)],
    p: &mut Vec<String>,
) -> Option<Naming> {
    let sec = section(kind);
    let required_path = match kind {
        ResourceKind::User => "userName",
        ResourceKind::Group => "displayName",
    };
    let required = fields
        .iter()
        .position(|f| f.attr == required_path && f.is_core(kind) && f.sub.is_none());
    if required.is_none() {
        p.push(format!(
            "{sec}.attributes: {required_path} must be mapped (e.g. {required_path} = \"{rdn}\")"
        ));
    }
    if let Some(i) = computed
        .iter()
        .position(|(a, _)| a.eq_ignore_ascii_case(rdn))
    {
        let inputs = computed[i].1.inputs();
        if required.is_some_and(|r| inputs.iter().ne([&r])) {
            p.push(format!(
                "{sec}.computed.{}: the RDN is rendered from {required_path} alone, e.g. \"{{{required_path} | localpart | login}}\" (one {required_path}, one entry: that keeps it unique)",
                computed[i].0
            ));
        }
        return Some(Naming::Computed(i));
    }
    let naming = fields.iter().position(|f| f.ldap.eq_ignore_ascii_case(rdn));
    match naming {
        None => p.push(format!(
            "{sec}.rdn: the RDN attribute {rdn} must be the target of a mapping (e.g. {required_path} = \"{rdn}\") or computed ([{sec}.computed] {rdn} = \"{{{required_path} | lower}}\")"
        )),
        Some(n) if fields[n].multi || fields[n].reference.is_some() => p.push(format!(
            "{sec}.rdn: {rdn} must be mapped from a single-valued string attribute"
        )),
        Some(_) => {}
    }
    naming.map(Naming::Field)
}

/// `defaults` and `computed`: LDAP attribute → template alternatives, every
/// problem reported under the key (`users.defaults.cn: ...`).
fn templates(
    at_table: &str,
    table: &BTreeMap<String, file::OneOrMany>,
    fields: &[Field],
    p: &mut Vec<String>,
) -> Templates {
    let mut out = Vec::new();
    for (attr, texts) in table {
        let at = format!("{at_table}.{attr}");
        if !valid_ldap_name(attr) {
            p.push(format!("{at}: {attr:?} is not an LDAP attribute name"));
        }
        let texts: Vec<&str> = match texts {
            file::OneOrMany::One(t) => vec![t.as_str()],
            file::OneOrMany::Many(v) => v.iter().map(String::as_str).collect(),
        };
        match Template::parse(texts, |name| placeholder(name, fields)) {
            Ok(t) => out.push((attr.clone(), t)),
            Err(problems) => p.extend(problems.into_iter().map(|e| format!("{at}: {e}"))),
        }
    }
    out
}

/// LDAP attribute → template, in configuration order.
type Templates = Vec<(String, Template)>;

/// `defaults` and `computed`. A field onto a computed attribute is read,
/// never written: it becomes readOnly (published so, refused on write).
fn derived(
    sec: &str,
    raw: &file::Resource,
    fields: &mut [Field],
    p: &mut Vec<String>,
) -> (Templates, Templates) {
    let defaults = templates(&format!("{sec}.defaults"), &raw.defaults, fields, p);
    let computed = templates(&format!("{sec}.computed"), &raw.computed, fields, p);
    computed_conflicts(sec, &defaults, &computed, raw, p);
    for f in fields.iter_mut() {
        if computed
            .iter()
            .any(|(a, _)| a.eq_ignore_ascii_case(&f.ldap))
        {
            f.mutability = Mutability::ReadOnly;
        }
    }
    (defaults, computed)
}

/// A computed attribute is derived only: not also a default, not the
/// membership attribute.
fn computed_conflicts(
    sec: &str,
    defaults: &[(String, Template)],
    computed: &[(String, Template)],
    raw: &file::Resource,
    p: &mut Vec<String>,
) {
    for (attr, _) in computed {
        let at = format!("{sec}.computed.{attr}");
        if defaults.iter().any(|(d, _)| d.eq_ignore_ascii_case(attr)) {
            p.push(format!("{at}: {attr} is also in [{sec}.defaults]; an attribute is either a default or computed"));
        }
        if raw
            .members
            .as_ref()
            .is_some_and(|m| m.attribute.eq_ignore_ascii_case(attr))
        {
            p.push(format!("{at}: {attr} holds the members"));
        }
    }
}

/// `[allocate]`: the allocated attributes; a field onto one shows the number
/// and becomes read-only, since no client writes it.
fn allocations(
    sec: &str,
    raw: &file::Resource,
    rdn: &str,
    defaults: &[(String, Template)],
    computed: &[(String, Template)],
    fields: &mut [Field],
    p: &mut Vec<String>,
) -> Vec<Allocation> {
    let allocate = super::allocate::compile(
        sec,
        &raw.allocate,
        fields,
        placeholder,
        |a| allocated_elsewhere(a, rdn, defaults, computed, raw),
        p,
    );
    for f in fields.iter_mut() {
        if allocate
            .iter()
            .any(|a| a.attribute.eq_ignore_ascii_case(&f.ldap))
        {
            f.mutability = Mutability::ReadOnly;
        }
    }
    allocate
}

/// Why an allocated attribute is already written by something else, if it is.
fn allocated_elsewhere(
    attr: &str,
    rdn: &str,
    defaults: &[(String, Template)],
    computed: &[(String, Template)],
    raw: &file::Resource,
) -> Option<String> {
    let is = |a: &str| a.eq_ignore_ascii_case(attr);
    if is(rdn) {
        Some("is the RDN".to_owned())
    } else if defaults.iter().any(|(a, _)| is(a)) {
        Some("is also in defaults".to_owned())
    } else if computed.iter().any(|(a, _)| is(a)) {
        Some("is also computed".to_owned())
    } else if raw.members.as_ref().is_some_and(|m| is(&m.attribute)) {
        Some("holds the members".to_owned())
    } else {
        None
    }
}

/// The field a placeholder reads: by its configured key or by its path.
fn placeholder(name: &str, fields: &[Field]) -> Result<usize, String> {
    let path = AttrPath::parse(name).map_err(|e| format!("placeholder {{{name}}}: {e}"))?;
    fields
        .iter()
        .position(|f| {
            f.key.eq_ignore_ascii_case(name)
                || (f.attr.eq_ignore_ascii_case(&path.attr)
                    && f.sub.as_deref().map(str::to_ascii_lowercase)
                        == path.sub.as_deref().map(str::to_ascii_lowercase)
                    && path.filter.is_none())
        })
        .ok_or_else(|| format!("placeholder {{{name}}} is not a mapped SCIM attribute"))
}

/// `disable`: users only; one action or a non-empty list of them, each an
/// attribute and a non-empty value, each pair once.
fn disable(kind: ResourceKind, raw: &file::Resource, p: &mut Vec<String>) -> Vec<Disable> {
    let sec = section(kind);
    let raw_list: Vec<&file::Disable> = match &raw.disable {
        None => return Vec::new(),
        Some(file::Disables::One(d)) => vec![d],
        Some(file::Disables::Many(v)) => v.iter().collect(),
    };
    if kind == ResourceKind::Group {
        p.push(format!("{sec}.disable: only users can be disabled"));
    }
    if raw_list.is_empty() {
        p.push(format!(
            "{sec}.disable: an empty list; leave it out, or list {{ attribute = \"...\", value = \"...\" }}"
        ));
    }
    let mut out: Vec<Disable> = Vec::new();
    for d in raw_list {
        if !valid_ldap_name(&d.attribute) || d.value.is_empty() {
            p.push(format!(
                "{sec}.disable: {:?} needs an LDAP attribute and a non-empty value",
                d.attribute
            ));
        }
        let twice = out.iter().any(|o| {
            o.attribute.eq_ignore_ascii_case(&d.attribute) && o.value.eq_ignore_ascii_case(&d.value)
        });
        if twice {
            p.push(format!(
                "{sec}.disable: {} = {:?} is listed twice",
                d.attribute, d.value
            ));
        }
        out.push(Disable {
            attribute: d.attribute.clone(),
            value: d.value.clone(),
        });
    }
    out
}

/// `password`: users only; `modify` unless said otherwise.
fn password(kind: ResourceKind, raw: &file::Resource, p: &mut Vec<String>) -> Option<PasswordMode> {
    let sec = section(kind);
    match raw.password.as_deref() {
        None if kind == ResourceKind::User => Some(PasswordMode::Modify),
        None => None,
        Some(_) if kind == ResourceKind::Group => {
            p.push(format!("{sec}.password: only users have passwords"));
            None
        }
        Some("modify") => Some(PasswordMode::Modify),
        Some("attribute") => Some(PasswordMode::Attribute),
        Some("reject") => None,
        Some(other) => {
            p.push(format!(
                "{sec}.password: {other:?} is not one of \"modify\", \"attribute\", \"reject\""
            ));
            None
        }
    }
}

/// `[groups.members]`: required for groups, refused for users.
fn members(kind: ResourceKind, raw: &file::Resource, p: &mut Vec<String>) -> Option<Members> {
    let sec = section(kind);
    match (&raw.members, kind) {
        (Some(_), ResourceKind::User) => {
            p.push(format!("{sec}.members: only groups have members"));
            None
        }
        (None, ResourceKind::Group) => {
            p.push(format!(
                "{sec}.members: missing; e.g. members = {{ attribute = \"member\" }}"
            ));
            None
        }
        (None, ResourceKind::User) => None,
        (Some(m), ResourceKind::Group) => Some(group_members(sec, m, p)),
    }
}

/// Adds the field that reads and writes a group's members; `None` (with a
/// problem) where an attribute mapping already targets that attribute.
fn add_members_field(
    sec: &str,
    m: &Members,
    fields: &mut Vec<Field>,
    p: &mut Vec<String>,
) -> Option<()> {
    if fields
        .iter()
        .any(|f| f.ldap.eq_ignore_ascii_case(&m.attribute))
    {
        p.push(format!(
            "{sec}.members.attribute: {} is also the target of an attribute mapping",
            m.attribute
        ));
        return None;
    }
    fields.push(members_field(m));
    Some(())
}

/// A group's membership attribute, its placeholder and who cleans up.
fn group_members(sec: &str, m: &file::Members, p: &mut Vec<String>) -> Members {
    let value = if m.attribute.eq_ignore_ascii_case("memberUid") {
        MemberValue::RdnValue
    } else if m.attribute.eq_ignore_ascii_case("member")
        || m.attribute.eq_ignore_ascii_case("uniqueMember")
    {
        MemberValue::Dn
    } else {
        p.push(format!(
            "{sec}.members.attribute: {:?} is not one of member, uniqueMember, memberUid",
            m.attribute
        ));
        MemberValue::Dn
    };
    let placeholder = m.placeholder.as_deref().and_then(|d| {
        Dn::parse(d)
            .map_err(|e| p.push(format!("{sec}.members.placeholder: {e}")))
            .ok()
    });
    if placeholder.is_some() && value == MemberValue::RdnValue {
        p.push(format!(
            "{sec}.members.placeholder: memberUid groups may be empty; drop the placeholder"
        ));
    }
    let daemon_cleans_up = match m.referential_integrity.as_deref().unwrap_or("daemon") {
        "daemon" => true,
        "server" => false,
        other => {
            p.push(format!(
                "{sec}.members.referential_integrity: {other:?} is not one of \"server\", \"daemon\""
            ));
            true
        }
    };
    Members {
        attribute: m.attribute.clone(),
        value,
        placeholder,
        daemon_cleans_up,
    }
}

/// For each field, how many fields fill the same element of its attribute.
fn element_fields(fields: &[Field]) -> Vec<usize> {
    fields
        .iter()
        .map(|f| {
            fields
                .iter()
                .filter(|g| {
                    g.attr.eq_ignore_ascii_case(&f.attr)
                        && g.schema.eq_ignore_ascii_case(&f.schema)
                        && g.pinned == f.pinned
                })
                .count()
        })
        .collect()
}

/// One `attributes` entry: the SCIM path checked against the schemas, the
/// LDAP attribute, and the options a mapping table may set.
fn compile_field(
    kind: ResourceKind,
    key: &str,
    mapping: &file::Mapping,
    schemas: &[Schema],
    extensions: &[String],
    at: &str,
    p: &mut Vec<String>,
) -> Option<Field> {
    let table = mapping_table(mapping);
    let before = p.len();
    if !valid_ldap_name(&table.attribute) {
        p.push(format!(
            "{at}: {:?} is not an LDAP attribute name",
            table.attribute
        ));
    }
    let path = match AttrPath::parse(key) {
        Ok(path) => path,
        Err(e) => {
            p.push(format!("{at}: {e}"));
            return None;
        }
    };
    let core = kind.core_schema();
    let schema_urn = path.schema.clone().unwrap_or_else(|| core.to_owned());
    if let Some((_, why)) = RESERVED
        .iter()
        .find(|(n, _)| path.attr.eq_ignore_ascii_case(n) && schema_urn.eq_ignore_ascii_case(core))
    {
        p.push(format!("{at}: {} cannot be mapped: {why}", path.attr));
        return None;
    }
    let site = Site {
        kind,
        at,
        path: &path,
        schema_urn: &schema_urn,
    };
    let options = Options::read(&table, at, p);
    let target = match extensions
        .iter()
        .find(|u| u.eq_ignore_ascii_case(&schema_urn))
    {
        Some(urn) => extension_target(&site, urn, &table, &options, p)?,
        None => standard_target(&site, schemas, &table, &options, p)?,
    };
    let pinned = pins(&site, &target.leaf, p);
    let reference = options.reference.or_else(|| {
        // The enterprise manager always points at a user.
        (target.schema.eq_ignore_ascii_case(schema::ENTERPRISE_USER) && target.attr == "manager")
            .then_some(RefTarget::Kind(ResourceKind::User))
    });
    if p.len() > before {
        return None;
    }
    let Target {
        schema,
        attr,
        sub,
        leaf,
    } = target;
    Some(Field {
        key: key.to_owned(),
        schema,
        attr,
        pinned,
        sub,
        ldap: table.attribute,
        ty: leaf.ty,
        multi: leaf.multi_valued,
        mutability: leaf.mutability,
        returned: leaf.returned,
        case_exact: leaf.case_exact,
        required: leaf.required,
        reference,
        store_rdn: false,
        description: leaf.description,
    })
}

/// Where a mapping key is compiled, for messages and schema look-ups.
struct Site<'a> {
    kind: ResourceKind,
    /// The key as messages name it: `users.attributes."title"`.
    at: &'a str,
    path: &'a AttrPath,
    /// The key's schema URN, the core schema when it names none.
    schema_urn: &'a str,
}

/// What a mapping key resolves to: the SCIM attribute, sub-attribute and the
/// definition of the leaf value.
struct Target {
    schema: String,
    attr: String,
    sub: Option<String>,
    leaf: AttrDef,
}

/// Options any mapping table may set.
struct Options {
    mutability: Option<Mutability>,
    returned: Option<Returned>,
    reference: Option<RefTarget>,
}

impl Options {
    fn read(table: &file::MappingTable, at: &str, p: &mut Vec<String>) -> Options {
        let mutability = table.mutability.as_deref().map(|m| {
            Mutability::parse(m).unwrap_or_else(|| {
                p.push(format!(
                    "{at}: mutability {m:?} is not one of readWrite, immutable, readOnly, writeOnly"
                ));
                Mutability::ReadWrite
            })
        });
        let returned = table.returned.as_deref().map(|r| {
            Returned::parse(r).unwrap_or_else(|| {
                p.push(format!(
                    "{at}: returned {r:?} is not one of always, default, request, never"
                ));
                Returned::Default
            })
        });
        let reference = table.reference.as_deref().map(|r| match r {
            r if r.eq_ignore_ascii_case("any") => RefTarget::Any,
            r => ResourceKind::parse(r)
                .map(RefTarget::Kind)
                .unwrap_or_else(|| {
                    p.push(format!("{at}: reference {r:?} is not one of User, Group"));
                    RefTarget::Kind(ResourceKind::User)
                }),
        });
        Options {
            mutability,
            returned,
            reference,
        }
    }
}

/// A mapping written as a bare LDAP attribute name, as a table.
fn mapping_table(mapping: &file::Mapping) -> file::MappingTable {
    match mapping {
        file::Mapping::Attribute(a) => file::MappingTable {
            attribute: a.clone(),
            ..Default::default()
        },
        file::Mapping::Detailed(t) => file::MappingTable {
            attribute: t.attribute.clone(),
            ty: t.ty.clone(),
            reference: t.reference.clone(),
            mutability: t.mutability.clone(),
            multi_valued: t.multi_valued,
            case_exact: t.case_exact,
            required: t.required,
            returned: t.returned.clone(),
            description: t.description.clone(),
        },
    }
}

/// A custom extension attribute: simple, described by the mapping table.
fn extension_target(
    site: &Site<'_>,
    urn: &str,
    table: &file::MappingTable,
    options: &Options,
    p: &mut Vec<String>,
) -> Option<Target> {
    let (at, path) = (site.at, site.path);
    if path.sub.is_some() || path.filter.is_some() {
        p.push(format!(
            "{at}: custom extension attributes are simple; drop the sub-attribute or filter"
        ));
        return None;
    }
    let ty = match table.ty.as_deref() {
        None if options.reference.is_some() => AttrType::Reference,
        None => AttrType::String,
        Some(t) => match AttrType::parse(t) {
            Some(AttrType::Complex) | None => {
                p.push(format!("{at}: type {t:?} is not one of string, boolean, integer, decimal, dateTime, reference, binary"));
                AttrType::String
            }
            Some(t) => t,
        },
    };
    Some(Target {
        schema: urn.to_owned(),
        attr: path.attr.clone(),
        sub: None,
        leaf: AttrDef {
            name: path.attr.clone(),
            ty,
            multi_valued: table.multi_valued.unwrap_or(false),
            description: table.description.clone().unwrap_or_default(),
            required: table.required.unwrap_or(false),
            case_exact: table.case_exact.unwrap_or(false),
            mutability: options.mutability.unwrap_or(Mutability::ReadWrite),
            returned: options.returned.unwrap_or(Returned::Default),
            uniqueness: schema::Uniqueness::None,
            canonical_values: Vec::new(),
            reference_types: Vec::new(),
            sub_attributes: Vec::new(),
        },
    })
}

/// An attribute of a standard schema: its definition is fixed; the table
/// may only narrow mutability and returned, and describe it.
fn standard_target(
    site: &Site<'_>,
    schemas: &[Schema],
    table: &file::MappingTable,
    options: &Options,
    p: &mut Vec<String>,
) -> Option<Target> {
    let at = site.at;
    for (name, what) in [
        ("type", &table.ty),
        ("multi_valued", &table.multi_valued.map(|b| b.to_string())),
        ("case_exact", &table.case_exact.map(|b| b.to_string())),
        ("required", &table.required.map(|b| b.to_string())),
    ] {
        if what.is_some() {
            p.push(format!("{at}: {name} is fixed by the standard schema; only custom extension attributes declare it"));
        }
    }
    let top = standard_attribute(site, schemas, p)?;
    let schema_id = schemas
        .iter()
        .find(|s| s.id.eq_ignore_ascii_case(site.schema_urn))
        .map(|s| s.id.clone())
        .unwrap_or_else(|| site.kind.core_schema().to_owned());
    let sub_name = sub_attribute(site, &top, p)?;
    let mut leaf = match &sub_name {
        None => top.clone(),
        Some(s) => match top.sub(s) {
            Some(d) => d.clone(),
            None => {
                p.push(format!("{at}: {} has no sub-attribute {s}", top.name));
                return None;
            }
        },
    };
    leaf.multi_valued = top.multi_valued;
    if let Some(m) = options.mutability {
        leaf.mutability = m;
    }
    if let Some(r) = options.returned {
        leaf.returned = r;
    }
    if top.mutability == Mutability::ReadOnly
        && leaf.mutability != Mutability::ReadOnly
        && options.mutability.is_none()
    {
        leaf.mutability = Mutability::ReadOnly;
    }
    if let Some(d) = &table.description {
        leaf.description = d.clone();
    }
    Some(Target {
        schema: schema_id,
        attr: top.name.clone(),
        sub: sub_name.map(|s| top.sub(&s).map(|d| d.name.clone()).unwrap_or(s)),
        leaf,
    })
}

/// The top-level definition a standard key names, or a message saying why
/// there is none (unknown attribute, misspelt or undeclared URN).
fn standard_attribute(site: &Site<'_>, schemas: &[Schema], p: &mut Vec<String>) -> Option<AttrDef> {
    let (at, path, urn) = (site.at, site.path, site.schema_urn);
    if path.schema.is_none() || urn.eq_ignore_ascii_case(site.kind.core_schema()) {
        let common = schema::common_attributes();
        if let Some(c) = common
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(&path.attr))
        {
            return Some(c.clone());
        }
        if let Some((_, d)) = schema::resolve(schemas, path.schema.as_deref(), &path.attr, None) {
            return Some(d.clone());
        }
        p.push(format!(
            "{at}: {} is not an attribute of the {} schema{}",
            path.attr,
            site.kind.name(),
            if path.schema.is_none() {
                ""
            } else {
                " (or the URN is misspelt)"
            }
        ));
        return None;
    }
    if let Some((_, d)) = schema::resolve(schemas, Some(urn), &path.attr, None) {
        return Some(d.clone());
    }
    if schemas.iter().any(|s| s.id.eq_ignore_ascii_case(urn)) {
        p.push(format!(
            "{at}: {} is not an attribute of {}",
            path.attr, urn
        ));
    } else {
        p.push(format!(
            "{at}: schema {urn} is neither a standard schema nor declared; add [extensions.\"{urn}\"]"
        ));
    }
    None
}

/// The sub-attribute a key names: `Some(None)` for a simple attribute. A
/// complex attribute named without a sub-attribute maps its `value`
/// (enterprise manager, emails): that is the form Entra's UI shows.
fn sub_attribute(site: &Site<'_>, top: &AttrDef, p: &mut Vec<String>) -> Option<Option<String>> {
    match (&site.path.sub, top.ty) {
        (Some(s), _) => Some(Some(s.clone())),
        (None, AttrType::Complex) if top.sub("value").is_some() => Some(Some("value".to_owned())),
        (None, AttrType::Complex) => {
            p.push(format!(
                "{}: {} is complex; map its sub-attributes (e.g. {}.{})",
                site.at,
                top.name,
                top.name,
                top.sub_attributes
                    .first()
                    .map(|s| s.name.as_str())
                    .unwrap_or("value")
            ));
            None
        }
        (None, _) => Some(None),
    }
}

/// The values a key's `[filter]` pins, e.g. `emails[type eq "work"]`.
fn pins(site: &Site<'_>, leaf: &AttrDef, p: &mut Vec<String>) -> Vec<(String, Pinned)> {
    let at = site.at;
    let mut pinned = Vec::new();
    if let Some(f) = &site.path.filter {
        if !leaf.multi_valued {
            p.push(format!(
                "{at}: a [filter] only applies to multi-valued attributes"
            ));
        }
        if !collect_pins(f, &mut pinned) {
            p.push(format!("{at}: a mapping filter may only pin sub-attributes with eq joined by and, e.g. [type eq \"work\"]"));
        }
    }
    pinned
}

/// The synthetic `members` field of a group map: member ids stored as DNs (or
/// RDN values) in the membership attribute.
fn members_field(m: &Members) -> Field {
    Field {
        key: "members".to_owned(),
        schema: schema::CORE_GROUP.to_owned(),
        attr: "members".to_owned(),
        pinned: Vec::new(),
        sub: Some("value".to_owned()),
        ldap: m.attribute.clone(),
        ty: AttrType::String,
        multi: true,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        case_exact: false,
        required: false,
        reference: Some(match m.value {
            MemberValue::Dn => RefTarget::Any,
            MemberValue::RdnValue => RefTarget::Kind(ResourceKind::User),
        }),
        store_rdn: m.value == MemberValue::RdnValue,
        description: "A list of members of the Group.".to_owned(),
    }
}

fn collect_pins(f: &crate::scim::filter::Filter, out: &mut Vec<(String, Pinned)>) -> bool {
    use crate::scim::filter::{CompareOp, Filter, Value};
    match f {
        Filter::And(a, b) => collect_pins(a, out) && collect_pins(b, out),
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.sub.is_none() && path.filter.is_none() && path.schema.is_none() => {
            let v = match value {
                Value::String(s) if s.eq_ignore_ascii_case("true") => Pinned::Bool(true),
                Value::String(s) if s.eq_ignore_ascii_case("false") => Pinned::Bool(false),
                Value::String(s) => Pinned::Str(s.clone()),
                Value::Bool(b) => Pinned::Bool(*b),
                Value::Null | Value::Number(_) => return false,
            };
            out.push((path.attr.clone(), v));
            true
        }
        _ => false,
    }
}
