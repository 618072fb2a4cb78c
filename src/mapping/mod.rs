//! The pure core: compiled attribute maps and the translations between SCIM
//! resources and LDAP entries. No async, no I/O, no clock, no environment —
//! everything arrives as an argument, which is what makes it exhaustively
//! testable.
//!
//! - [`compile`] turns a `[users]`/`[groups]` table into an [`AttrMap`].
//! - [`resource`] converts SCIM JSON to LDAP values and entries back to JSON.
//! - [`patch`] turns PATCH operations (or a PUT body) into one modify [`patch::Plan`].
//! - [`filter`] translates a SCIM filter into one LDAP filter.

pub mod filter;
pub mod patch;
pub mod resource;

use std::collections::BTreeMap;

use crate::config::file;
use crate::ldap::Dn;
use crate::scim::path::AttrPath;
use crate::scim::schema::{self, AttrDef, AttrType, Mutability, Returned, Schema};

/// The two SCIM resource types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "Users",
            ResourceKind::Group => "Groups",
        }
    }
    pub fn core_schema(self) -> &'static str {
        match self {
            ResourceKind::User => schema::CORE_USER,
            ResourceKind::Group => schema::CORE_GROUP,
        }
    }
    fn section(self) -> &'static str {
        match self {
            ResourceKind::User => "users",
            ResourceKind::Group => "groups",
        }
    }
    pub fn parse(s: &str) -> Option<ResourceKind> {
        if s.eq_ignore_ascii_case("user") {
            Some(ResourceKind::User)
        } else if s.eq_ignore_ascii_case("group") {
            Some(ResourceKind::Group)
        } else {
            None
        }
    }
}

/// A constant a mapping key's value filter pins, e.g. `type eq "work"`.
#[derive(Debug, Clone, PartialEq)]
pub enum Pinned {
    Str(String),
    Bool(bool),
}

impl Pinned {
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Pinned::Str(s) => serde_json::Value::String(s.clone()),
            Pinned::Bool(b) => serde_json::Value::Bool(*b),
        }
    }
}

/// One compiled `SCIM path → LDAP attribute` mapping.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The config key as written, for messages.
    pub key: String,
    /// Schema URN the attribute belongs to.
    pub schema: String,
    /// Canonical SCIM attribute name (e.g. `emails`).
    pub attr: String,
    /// Sub-attribute values pinned by the key's filter (`[type eq "work"]`).
    pub pinned: Vec<(String, Pinned)>,
    /// Canonical sub-attribute (e.g. `value`).
    pub sub: Option<String>,
    /// LDAP attribute as configured.
    pub ldap: String,
    /// Type of the leaf value.
    pub ty: AttrType,
    /// The SCIM attribute holds several values (then so may the LDAP one).
    pub multi: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub case_exact: bool,
    pub required: bool,
    /// The value is another resource's `id`, stored as its DN.
    pub reference: Option<RefTarget>,
    /// A reference stored as the target's RDN value (`memberUid`) instead of its DN.
    pub store_rdn: bool,
    /// What /Schemas publishes for the top-level attribute.
    pub description: String,
}

impl Field {
    /// True when the SCIM attribute is a core attribute (no URN container).
    pub fn is_core(&self, kind: ResourceKind) -> bool {
        self.schema.eq_ignore_ascii_case(kind.core_schema())
    }

    /// The canonical SCIM path of this field, as a filter/PATCH path string.
    pub fn path_text(&self) -> String {
        let mut s = self.attr.clone();
        if !self.pinned.is_empty() {
            let parts: Vec<String> = self
                .pinned
                .iter()
                .map(|(k, v)| match v {
                    Pinned::Str(s) => format!("{k} eq {}", serde_json::Value::String(s.clone())),
                    Pinned::Bool(b) => format!("{k} eq {b}"),
                })
                .collect();
            s.push('[');
            s.push_str(&parts.join(" and "));
            s.push(']');
        }
        if let Some(sub) = &self.sub {
            s.push('.');
            s.push_str(sub);
        }
        s
    }
}

/// What a reference points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefTarget {
    Kind(ResourceKind),
    /// Users or groups (group members).
    Any,
}

/// How `active=false` is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disable {
    pub attribute: String,
    pub value: String,
}

/// How `password` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordMode {
    /// RFC 3062 Password Modify extended operation after the write; the server hashes.
    Modify,
    /// `userPassword` written in the same operation; the server's storage scheme hashes.
    Attribute,
}

/// Which attribute holds a group's members and what its values are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberValue {
    /// The member's DN (`member`, `uniqueMember`).
    Dn,
    /// The member's RDN value, e.g. its uid (`memberUid`).
    RdnValue,
}

/// `[groups.members]`, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Members {
    pub attribute: String,
    pub value: MemberValue,
    pub placeholder: Option<Dn>,
    /// The daemon removes a deleted entry's DN from groups itself.
    pub daemon_cleans_up: bool,
}

/// A default template: alternatives of text with `{scim.path}` placeholders;
/// the first that renders non-empty wins.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub alternatives: Vec<Vec<TemplatePart>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TemplatePart {
    Text(String),
    /// Index into [`AttrMap::fields`].
    Field(usize),
}

/// A compiled `[users]` or `[groups]` section.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrMap {
    pub kind: ResourceKind,
    pub base: Dn,
    pub rdn: String,
    pub object_classes: Vec<String>,
    pub id_attribute: String,
    pub version_attribute: String,
    /// Writable compare-and-swap token (see `version_token` in the config).
    pub version_token: Option<String>,
    pub fields: Vec<Field>,
    /// Index of the field that maps onto the RDN attribute.
    pub naming: usize,
    /// LDAP attribute → template.
    pub defaults: Vec<(String, Template)>,
    pub disable: Option<Disable>,
    pub password: Option<PasswordMode>,
    pub member_of: Option<String>,
    pub members: Option<Members>,
    /// The schemas this map draws on (core, enterprise, declared extensions).
    pub schemas: Vec<Schema>,
    /// For each field, how many fields (itself included) fill the same
    /// element of its attribute: same schema, attribute and pinned values
    /// (the sub-attributes of a work address). Computed once, used per render.
    pub element_fields: Vec<usize>,
}

/// Operational attributes read with every entry.
pub const CREATED: &str = "createTimestamp";
pub const MODIFIED: &str = "modifyTimestamp";

impl AttrMap {
    /// Fields of a SCIM attribute, matched case-insensitively; `schema` None
    /// means "whichever schema has it".
    pub fn fields_of<'a, 'b>(
        &'a self,
        schema: Option<&'b str>,
        attr: &'b str,
    ) -> impl Iterator<Item = (usize, &'a Field)> + use<'a, 'b> {
        self.fields.iter().enumerate().filter(move |(_, f)| {
            f.attr.eq_ignore_ascii_case(attr)
                && schema.is_none_or(|s| f.schema.eq_ignore_ascii_case(s))
        })
    }

    /// The field that maps onto the RDN attribute.
    pub fn naming_field(&self) -> &Field {
        &self.fields[self.naming]
    }

    /// Every LDAP attribute a full read needs, in a stable order.
    pub fn read_attributes(&self) -> Vec<String> {
        self.with_bookkeeping(self.fields.iter())
    }

    /// The attributes only the server changes (id, timestamps, version,
    /// memberOf, read-only mapped attributes) plus the version token and the
    /// disable attribute (a password policy may set or clear it): what a
    /// write reads back when the rest of the entry is known.
    pub fn generated_attributes(&self) -> Vec<String> {
        // Mapped but read-only: maintained by the server or by someone else.
        self.with_bookkeeping(
            self.fields
                .iter()
                .filter(|f| f.mutability == Mutability::ReadOnly),
        )
    }

    /// The id, timestamps, version, the LDAP attributes of `fields`, the
    /// disable attribute, memberOf and the version token, once each.
    fn with_bookkeeping<'a>(&self, fields: impl Iterator<Item = &'a Field>) -> Vec<String> {
        let mut out: Vec<String> = vec![
            self.id_attribute.clone(),
            CREATED.to_owned(),
            MODIFIED.to_owned(),
            self.version_attribute.clone(),
        ];
        out.extend(fields.map(|f| f.ldap.clone()));
        out.extend(self.disable.as_ref().map(|d| d.attribute.clone()));
        out.extend(self.member_of.clone());
        out.extend(self.version_token.clone());
        dedup_ci(out)
    }

    /// The DN for a new entry named `rdn_value`.
    pub fn dn_for(&self, rdn_value: &str) -> Dn {
        Dn::child(&self.base, &self.rdn, rdn_value)
    }

    /// The URNs of extension schemas this map uses.
    pub fn extension_urns(&self) -> Vec<String> {
        let core = self.kind.core_schema();
        let mut out: Vec<String> = Vec::new();
        for f in &self.fields {
            if !f.schema.eq_ignore_ascii_case(core)
                && !out.iter().any(|u| u.eq_ignore_ascii_case(&f.schema))
            {
                out.push(f.schema.clone());
            }
        }
        out
    }

    /// Checks an `id` has the shape of the id attribute's values, so garbage
    /// never reaches a filter. `entryUUID` is RFC 4530 (8-4-4-4-12 hex);
    /// 389-ds `nsUniqueId` is four groups of eight hex digits.
    pub fn is_valid_id(&self, id: &str) -> bool {
        let groups: Vec<&str> = id.split('-').collect();
        let hex = |g: &&str| !g.is_empty() && g.bytes().all(|b| b.is_ascii_hexdigit());
        if self.id_attribute.eq_ignore_ascii_case("entryUUID") {
            groups.len() == 5
                && groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
                && groups.iter().all(hex)
        } else if self.id_attribute.eq_ignore_ascii_case("nsUniqueId") {
            groups.len() == 4 && groups.iter().all(|g| g.len() == 8) && groups.iter().all(hex)
        } else {
            !id.is_empty() && id.len() <= 256 && id.chars().all(|c| !c.is_control())
        }
    }
}

pub(crate) fn dedup_ci(v: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(v.len());
    for s in v {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(&s)) {
            out.push(s);
        }
    }
    out
}

fn valid_ldap_name(s: &str) -> bool {
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
    let sec = kind.section();
    let start = p.len();
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
    let rdn = raw.rdn.clone().unwrap_or_else(|| match kind {
        ResourceKind::User => "uid".to_owned(),
        ResourceKind::Group => "cn".to_owned(),
    });
    if !valid_ldap_name(&rdn) {
        p.push(format!("{sec}.rdn: {rdn:?} is not an LDAP attribute name"));
    }
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

    let mut schemas = match kind {
        ResourceKind::User => vec![schema::core_user(), schema::enterprise_user()],
        ResourceKind::Group => vec![schema::core_group()],
    };
    let mut fields: Vec<Field> = Vec::new();
    for (key, mapping) in &raw.attributes {
        let at = format!("{sec}.attributes.{:?}", key);
        if let Some(f) = compile_field(kind, key, mapping, &schemas, extensions, &at, p) {
            if let Some(other) = fields.iter().find(|o| o.ldap.eq_ignore_ascii_case(&f.ldap)) {
                p.push(format!("{at}: LDAP attribute {} is already mapped from {:?}; map each LDAP attribute once", f.ldap, other.key));
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
    }
    // Declared custom extensions become schemas built from their mappings.
    for urn in extensions {
        let attrs: Vec<AttrDef> = fields
            .iter()
            .filter(|f| f.schema.eq_ignore_ascii_case(urn))
            .map(|f| AttrDef {
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
            })
            .collect();
        if !attrs.is_empty() {
            schemas.push(Schema {
                id: urn.clone(),
                name: urn.rsplit(':').nth(1).unwrap_or("Extension").to_owned(),
                description: String::new(),
                attributes: attrs,
            });
        }
    }

    let naming = fields
        .iter()
        .position(|f| f.ldap.eq_ignore_ascii_case(&rdn));
    let required_path = match kind {
        ResourceKind::User => "userName",
        ResourceKind::Group => "displayName",
    };
    if !fields
        .iter()
        .any(|f| f.attr == required_path && f.is_core(kind))
    {
        p.push(format!(
            "{sec}.attributes: {required_path} must be mapped (e.g. {required_path} = \"{rdn}\")"
        ));
    }
    if naming.is_none() {
        p.push(format!(
            "{sec}.rdn: the RDN attribute {rdn} must be the target of a mapping (e.g. {required_path} = \"{rdn}\")"
        ));
    } else if let Some(n) = naming {
        if fields[n].multi || fields[n].reference.is_some() {
            p.push(format!(
                "{sec}.rdn: {rdn} must be mapped from a single-valued string attribute"
            ));
        }
    }

    let mut defaults = Vec::new();
    for (attr, texts) in &raw.defaults {
        let at = format!("{sec}.defaults.{attr}");
        if !valid_ldap_name(attr) {
            p.push(format!("{at}: {attr:?} is not an LDAP attribute name"));
        }
        let texts = match texts {
            file::OneOrMany::One(t) => vec![t.clone()],
            file::OneOrMany::Many(v) => v.clone(),
        };
        let mut alternatives = Vec::new();
        for text in &texts {
            match parse_template(text, &fields) {
                Ok(t) => alternatives.push(t),
                Err(e) => p.push(format!("{at}: {e}")),
            }
        }
        defaults.push((attr.clone(), Template { alternatives }));
    }

    let disable = raw.disable.as_ref().map(|d| Disable {
        attribute: d.attribute.clone(),
        value: d.value.clone(),
    });
    if let Some(d) = &disable {
        if kind == ResourceKind::Group {
            p.push(format!("{sec}.disable: only users can be disabled"));
        }
        if !valid_ldap_name(&d.attribute) || d.value.is_empty() {
            p.push(format!(
                "{sec}.disable: needs an LDAP attribute and a non-empty value"
            ));
        }
    }
    let password = match raw.password.as_deref() {
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
    };
    if raw.member_of.is_some() && kind == ResourceKind::Group {
        p.push(format!("{sec}.member_of: only users carry member_of"));
    }
    let members = match (&raw.members, kind) {
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
        (Some(m), ResourceKind::Group) => {
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
            Some(Members {
                attribute: m.attribute.clone(),
                value,
                placeholder,
                daemon_cleans_up,
            })
        }
    };
    if p.len() > start {
        return None;
    }
    if let Some(m) = &members {
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
    }
    let element_fields = fields
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
        .collect();
    Some(AttrMap {
        kind,
        base,
        rdn,
        object_classes,
        id_attribute,
        version_attribute,
        version_token,
        element_fields,
        fields,
        naming: naming.unwrap_or(0),
        defaults,
        disable,
        password,
        member_of: raw.member_of.clone(),
        members,
        schemas,
    })
}

fn compile_field(
    kind: ResourceKind,
    key: &str,
    mapping: &file::Mapping,
    schemas: &[Schema],
    extensions: &[String],
    at: &str,
    p: &mut Vec<String>,
) -> Option<Field> {
    let table = match mapping {
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
    };
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
    let is_extension = extensions
        .iter()
        .any(|u| u.eq_ignore_ascii_case(&schema_urn));
    let (schema_id, attr, sub, leaf): (String, String, Option<String>, AttrDef) = if is_extension {
        if path.sub.is_some() || path.filter.is_some() {
            p.push(format!(
                "{at}: custom extension attributes are simple; drop the sub-attribute or filter"
            ));
            return None;
        }
        let ty = match table.ty.as_deref() {
            None => {
                if reference.is_some() {
                    AttrType::Reference
                } else {
                    AttrType::String
                }
            }
            Some(t) => match AttrType::parse(t) {
                Some(AttrType::Complex) | None => {
                    p.push(format!("{at}: type {t:?} is not one of string, boolean, integer, decimal, dateTime, reference, binary"));
                    AttrType::String
                }
                Some(t) => t,
            },
        };
        let urn = extensions
            .iter()
            .find(|u| u.eq_ignore_ascii_case(&schema_urn))
            .cloned()
            .unwrap_or(schema_urn.clone());
        (
            urn,
            path.attr.clone(),
            None,
            AttrDef {
                name: path.attr.clone(),
                ty,
                multi_valued: table.multi_valued.unwrap_or(false),
                description: table.description.clone().unwrap_or_default(),
                required: table.required.unwrap_or(false),
                case_exact: table.case_exact.unwrap_or(false),
                mutability: mutability.unwrap_or(Mutability::ReadWrite),
                returned: returned.unwrap_or(Returned::Default),
                uniqueness: schema::Uniqueness::None,
                canonical_values: Vec::new(),
                reference_types: Vec::new(),
                sub_attributes: Vec::new(),
            },
        )
    } else {
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
        let common = schema::common_attributes();
        let top: AttrDef = if path.schema.is_none() || schema_urn.eq_ignore_ascii_case(core) {
            if let Some(c) = common
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(&path.attr))
            {
                c.clone()
            } else if let Some((_, d)) =
                schema::resolve(schemas, path.schema.as_deref(), &path.attr, None)
            {
                d.clone()
            } else {
                p.push(format!(
                    "{at}: {} is not an attribute of the {} schema{}",
                    path.attr,
                    kind.name(),
                    if path.schema.is_none() {
                        ""
                    } else {
                        " (or the URN is misspelt)"
                    }
                ));
                return None;
            }
        } else if let Some((_, d)) = schema::resolve(schemas, Some(&schema_urn), &path.attr, None) {
            d.clone()
        } else if schemas
            .iter()
            .any(|s| s.id.eq_ignore_ascii_case(&schema_urn))
        {
            p.push(format!(
                "{at}: {} is not an attribute of {}",
                path.attr, schema_urn
            ));
            return None;
        } else {
            p.push(format!(
                "{at}: schema {schema_urn} is neither a standard schema nor declared; add [extensions.\"{schema_urn}\"]"
            ));
            return None;
        };
        let schema_id = schemas
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(&schema_urn))
            .map(|s| s.id.clone())
            .unwrap_or_else(|| core.to_owned());
        // A complex attribute named without a sub-attribute maps its `value`
        // (enterprise manager, emails): that is the form Entra's UI shows.
        let sub_name = match (&path.sub, top.ty) {
            (Some(s), _) => Some(s.clone()),
            (None, AttrType::Complex) if top.sub("value").is_some() => Some("value".to_owned()),
            (None, AttrType::Complex) => {
                p.push(format!(
                    "{at}: {} is complex; map its sub-attributes (e.g. {}.{})",
                    top.name,
                    top.name,
                    top.sub_attributes
                        .first()
                        .map(|s| s.name.as_str())
                        .unwrap_or("value")
                ));
                return None;
            }
            (None, _) => None,
        };
        let leaf = match &sub_name {
            None => top.clone(),
            Some(s) => match top.sub(s) {
                Some(d) => d.clone(),
                None => {
                    p.push(format!("{at}: {} has no sub-attribute {s}", top.name));
                    return None;
                }
            },
        };
        let mut leaf = leaf;
        leaf.multi_valued = top.multi_valued;
        if let Some(m) = mutability {
            leaf.mutability = m;
        }
        if let Some(r) = returned {
            leaf.returned = r;
        }
        if top.mutability == Mutability::ReadOnly
            && leaf.mutability != Mutability::ReadOnly
            && mutability.is_none()
        {
            leaf.mutability = Mutability::ReadOnly;
        }
        if let Some(d) = &table.description {
            leaf.description = d.clone();
        }
        (
            schema_id,
            top.name.clone(),
            sub_name.map(|s| top.sub(&s).map(|d| d.name.clone()).unwrap_or(s)),
            leaf,
        )
    };
    let mut pinned = Vec::new();
    if let Some(f) = &path.filter {
        if !leaf.multi_valued {
            p.push(format!(
                "{at}: a [filter] only applies to multi-valued attributes"
            ));
        }
        if !collect_pins(f, &mut pinned) {
            p.push(format!("{at}: a mapping filter may only pin sub-attributes with eq joined by and, e.g. [type eq \"work\"]"));
        }
    }
    let reference = reference.or_else(|| {
        // The enterprise manager always points at a user.
        (schema_id.eq_ignore_ascii_case(schema::ENTERPRISE_USER) && attr == "manager")
            .then_some(RefTarget::Kind(ResourceKind::User))
    });
    if p.len() > before {
        return None;
    }
    Some(Field {
        key: key.to_owned(),
        schema: schema_id,
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

fn parse_template(text: &str, fields: &[Field]) -> Result<Vec<TemplatePart>, String> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            parts.push(TemplatePart::Text(rest[..open].to_owned()));
        }
        let after = &rest[open + 1..];
        let close = after
            .find('}')
            .ok_or_else(|| format!("unclosed '{{' in {text:?}"))?;
        let name = after[..close].trim();
        let path = AttrPath::parse(name).map_err(|e| format!("placeholder {{{name}}}: {e}"))?;
        let idx = fields
            .iter()
            .position(|f| {
                f.key.eq_ignore_ascii_case(name)
                    || (f.attr.eq_ignore_ascii_case(&path.attr)
                        && f.sub.as_deref().map(str::to_ascii_lowercase)
                            == path.sub.as_deref().map(str::to_ascii_lowercase)
                        && path.filter.is_none())
            })
            .ok_or_else(|| format!("placeholder {{{name}}} is not a mapped SCIM attribute"))?;
        parts.push(TemplatePart::Field(idx));
        rest = &after[close + 1..];
    }
    if !rest.is_empty() {
        parts.push(TemplatePart::Text(rest.to_owned()));
    }
    Ok(parts)
}

/// All attribute maps of a configuration, by kind, for code that resolves
/// references across users and groups.
#[derive(Debug, Clone, Copy)]
pub struct Maps<'a> {
    pub users: &'a AttrMap,
    pub groups: Option<&'a AttrMap>,
}

impl<'a> Maps<'a> {
    pub fn get(&self, kind: ResourceKind) -> Option<&'a AttrMap> {
        match kind {
            ResourceKind::User => Some(self.users),
            ResourceKind::Group => self.groups,
        }
    }

    /// Which kind a DN belongs to, by base.
    pub fn kind_of(&self, dn: &Dn) -> Option<ResourceKind> {
        if dn.is_within(&self.users.base) {
            Some(ResourceKind::User)
        } else if self.groups.is_some_and(|g| dn.is_within(&g.base)) {
            Some(ResourceKind::Group)
        } else {
            None
        }
    }
}

/// Maps (id → stored value) and (DN key → referenced resource) used when
/// converting references, filled by the service from batched searches.
#[derive(Debug, Clone, Default)]
pub struct Refs {
    /// id → (kind, DN, RDN value).
    pub by_id: BTreeMap<String, RefEntry>,
    /// lower-cased DN → entry.
    pub by_dn: BTreeMap<String, RefEntry>,
    /// (kind, lower-cased RDN value) → entry, for `memberUid` values.
    pub by_rdn: BTreeMap<(ResourceKind, String), RefEntry>,
}

/// One referenced entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefEntry {
    pub id: String,
    pub kind: ResourceKind,
    pub dn: String,
    pub rdn_value: String,
    pub display: Option<String>,
}

impl Refs {
    pub fn insert(&mut self, e: RefEntry) {
        if let Ok(dn) = Dn::parse(&e.dn) {
            self.by_dn.insert(dn.key(), e.clone());
        }
        self.by_rdn
            .insert((e.kind, e.rdn_value.to_lowercase()), e.clone());
        self.by_id.insert(e.id.to_ascii_lowercase(), e);
    }
    pub fn id(&self, id: &str) -> Option<&RefEntry> {
        self.by_id.get(&id.to_ascii_lowercase())
    }
    pub fn dn(&self, dn: &str) -> Option<&RefEntry> {
        Dn::parse(dn).ok().and_then(|d| self.by_dn.get(&d.key()))
    }
    /// Finds a member by its stored `memberUid` value.
    pub fn rdn_value(&self, kind: ResourceKind, v: &str) -> Option<&RefEntry> {
        self.by_rdn.get(&(kind, v.to_lowercase()))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::config::Config;
    use crate::config::tests::{Vars, example};

    pub fn openldap() -> Config {
        Config::parse(
            &example("openldap.toml"),
            &Vars(crate::config::tests::SECRETS.to_vec()),
        )
        .unwrap()
    }

    #[test]
    fn contactify_every_row_is_mapped() {
        let c = openldap();
        let u = &c.users;
        // Contactify's Entra attribute table, SCIM side.
        let rows = [
            "userName",
            "active",
            "title",
            "emails[type eq \"work\"].value",
            "name.givenName",
            "name.familyName",
            "addresses[type eq \"work\"].streetAddress",
            "addresses[type eq \"work\"].locality",
            "addresses[type eq \"work\"].postalCode",
            "phoneNumbers[type eq \"work\"].value",
            "phoneNumbers[type eq \"mobile\"].value",
            "roles[primary eq true].value",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            "urn:ietf:params:scim:schemas:extension:contactify:2.0:User:orderCard",
            "urn:ietf:params:scim:schemas:extension:contactify:2.0:User:uid",
            "urn:ietf:params:scim:schemas:extension:contactify:2.0:User:externalCompanyId",
            "urn:ietf:params:scim:schemas:extension:contactify:2.0:User:deliverCardToHeadquarters",
        ];
        for row in rows {
            if row == "active" {
                assert!(u.disable.is_some());
                continue;
            }
            let path = AttrPath::parse(row).unwrap();
            let found = u.fields.iter().any(|f| {
                f.attr.eq_ignore_ascii_case(&path.attr)
                    && path
                        .schema
                        .as_deref()
                        .is_none_or(|s| s.eq_ignore_ascii_case(&f.schema))
                    && f.sub.as_deref().map(str::to_ascii_lowercase)
                        == path
                            .sub
                            .as_deref()
                            .map(str::to_ascii_lowercase)
                            .or_else(|| f.sub.clone().filter(|_| path.sub.is_none()))
            });
            assert!(found, "Contactify row {row} is not mapped");
        }
        let order = u.fields.iter().find(|f| f.attr == "orderCard").unwrap();
        assert_eq!(order.ty, AttrType::Boolean);
        assert_eq!(order.mutability, Mutability::Immutable);
        let cuid = u.fields.iter().find(|f| f.attr == "uid").unwrap();
        assert!(cuid.case_exact);
        let roles = u.fields.iter().find(|f| f.attr == "roles").unwrap();
        assert_eq!(
            roles.pinned,
            vec![("primary".to_owned(), Pinned::Bool(true))]
        );
        let work = u.fields.iter().find(|f| f.attr == "emails").unwrap();
        assert_eq!(
            work.pinned,
            vec![("type".to_owned(), Pinned::Str("work".into()))]
        );
        assert_eq!(work.sub.as_deref(), Some("value"));
        assert!(work.multi);
        let mgr = u.fields.iter().find(|f| f.attr == "manager").unwrap();
        assert_eq!(mgr.reference, Some(RefTarget::Kind(ResourceKind::User)));
        assert_eq!(mgr.sub.as_deref(), Some("value"));
        assert_eq!(u.naming_field().attr, "userName");
    }

    #[test]
    fn ids_are_checked_for_shape() {
        let c = openldap();
        assert!(c.users.is_valid_id("2819c223-7f76-453a-919d-413861904646"));
        assert!(!c.users.is_valid_id("2819c223-7f76-453a-919d-41386190464"));
        assert!(!c.users.is_valid_id("*)(uid=*"));
        assert!(!c.users.is_valid_id(""));
        let mut m = c.users.clone();
        m.id_attribute = "nsUniqueId".into();
        assert!(m.is_valid_id("a1b2c3d4-e5f60718-293a4b5c-6d7e8f90"));
        assert!(!m.is_valid_id("2819c223-7f76-453a-919d-413861904646"));
    }

    fn compile_one(toml_text: &str) -> (Option<AttrMap>, Vec<String>) {
        let raw: file::Resource = toml::from_str(toml_text).unwrap();
        let mut p = Vec::new();
        let m = compile(
            ResourceKind::User,
            &raw,
            &["urn:example:ext:1.0:User".to_owned()],
            &mut p,
        );
        (m, p)
    }

    #[test]
    fn compile_rejects_bad_mappings_with_the_key_named() {
        let cases = [
            ("id = \"entryUUID\"", "id cannot be mapped"),
            ("active = \"x\"", "users.disable"),
            ("nickNam = \"x\"", "nickNam is not an attribute"),
            ("\"name\" = \"cn\"", "is complex"),
            ("\"name.middle\" = \"x\"", "no sub-attribute middle"),
            ("\"urn:nope:2.0:User:a\" = \"x\"", "declared"),
            (
                "\"emails[type co \\\"w\\\"].value\" = \"x\"",
                "may only pin",
            ),
            (
                "\"name.givenName\" = \"1bad\"",
                "not an LDAP attribute name",
            ),
            (
                "title = { attribute = \"title\", type = \"boolean\" }",
                "fixed by the standard schema",
            ),
            (
                "\"urn:example:ext:1.0:User:n\" = { attribute = \"x\", type = \"float\" }",
                "type \"float\"",
            ),
        ];
        for (line, needle) in cases {
            let text = format!(
                "base = \"ou=p,dc=x\"\nobject_classes = [\"person\"]\n[attributes]\nuserName = \"uid\"\n{line}\n"
            );
            let (m, p) = compile_one(&text);
            assert!(m.is_none(), "{line} should fail");
            assert!(p.iter().any(|x| x.contains(needle)), "{line}: {p:?}");
            assert!(p.iter().all(|x| x.starts_with("users.")), "{p:?}");
        }
    }

    #[test]
    fn compile_checks_rdn_and_duplicates() {
        let (_, p) = compile_one(
            "base = \"ou=p,dc=x\"\nobject_classes = [\"person\"]\n[attributes]\ndisplayName = \"cn\"\n",
        );
        assert!(
            p.iter().any(|x| x.contains("userName must be mapped")),
            "{p:?}"
        );
        assert!(p.iter().any(|x| x.contains("RDN attribute uid")), "{p:?}");
        let (_, p) = compile_one(
            "base = \"ou=p,dc=x\"\nobject_classes = [\"person\"]\n[attributes]\nuserName = \"uid\"\ndisplayName = \"uid\"\n",
        );
        assert!(p.iter().any(|x| x.contains("already mapped")), "{p:?}");
        let (_, p) = compile_one(
            "base = \"ou=p,dc=x\"\nobject_classes = [\"person\"]\n[attributes]\nuserName = \"uid\"\n[defaults]\ncn = \"{nickName}\"\n",
        );
        assert!(
            p.iter().any(|x| x.contains("not a mapped SCIM attribute")),
            "{p:?}"
        );
    }

    #[test]
    fn templates_parse() {
        let c = openldap();
        let (attr, t) = c.users.defaults.iter().find(|(a, _)| a == "cn").unwrap();
        assert_eq!(attr, "cn");
        assert_eq!(t.alternatives.len(), 3);
        assert!(
            t.alternatives[0]
                .iter()
                .any(|p| matches!(p, TemplatePart::Field(_)))
        );
    }
}
