//! The pure core: compiled attribute maps and the translations between SCIM
//! resources and LDAP entries. No async, no I/O, no clock, no environment —
//! everything arrives as an argument, which is what makes it exhaustively
//! testable.
//!
//! - [`compile`] turns a `[users]`/`[groups]` table into an [`AttrMap`].
//! - [`resource`] converts SCIM JSON to LDAP values and entries back to JSON.
//! - [`patch`] turns PATCH operations (or a PUT body) into one modify [`patch::Plan`].
//! - [`filter`] translates a SCIM filter into one LDAP filter.
//! - [`sort`] names the LDAP attribute a `sortBy` path sorts by.
//! - [`unmapped`] leaves out what no mapping stores, where the config says so.
//! - [`allocate`] compiles `[users.allocate]` and decides numbers (pure).
//! - [`managed`] is the one list of LDAP attributes a map manages.
//! - [`discovery`] publishes /Schemas and /ResourceTypes reduced to what is mapped.

pub mod allocate;
mod compile;
pub mod discovery;
pub mod filter;
pub mod managed;
pub mod patch;
pub mod resource;
pub mod sort;
pub mod template;
pub mod unmapped;

/// Kept so callers outside `mapping` and `scim` still compile; import
/// [`crate::scim::ResourceKind`] instead.
use crate::scim::ResourceKind;
use crate::scim::json::Json;
pub use compile::compile;
pub use template::Template;

use std::collections::BTreeMap;

use crate::ldap::Dn;
use crate::scim::schema::{AttrType, Mutability, Returned, Schema};

/// A constant a mapping key's value filter pins, e.g. `type eq "work"`.
#[derive(Debug, Clone, PartialEq)]
pub enum Pinned {
    Str(String),
    Bool(bool),
}

impl Pinned {
    pub fn json(&self) -> Json<'_> {
        match self {
            Pinned::Str(s) => Json::str(s),
            Pinned::Bool(b) => Json::Bool(*b),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Pinned::Str(s) => serde_json::Value::String(s.clone()),
            Pinned::Bool(b) => serde_json::Value::Bool(*b),
        }
    }

    /// Whether a value (its text, or what it says as a boolean) is this pin:
    /// texts compare ignoring case.
    pub fn matches(&self, text: Option<&str>, flag: Option<bool>) -> bool {
        match self {
            Pinned::Str(s) => text.is_some_and(|x| x.eq_ignore_ascii_case(s)),
            Pinned::Bool(b) => flag == Some(*b),
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

/// Where an entry's RDN value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// A mapped field (by index): the client names the entry.
    Field(usize),
    /// A computed template (by index into [`AttrMap::computed`]): the entry
    /// is named by its rendering and renamed when that changes.
    Computed(usize),
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
    /// Where the RDN value comes from.
    pub naming: Naming,
    /// LDAP attribute → template: fills the attribute when it is empty and
    /// follows its inputs while it still holds their rendering.
    pub defaults: Vec<(String, Template)>,
    /// LDAP attribute → template: always derived, never written by a client.
    pub computed: Vec<(String, Template)>,
    /// LDAP attribute → how its number is allocated on create; never
    /// written afterwards.
    pub allocate: Vec<allocate::Allocation>,
    /// What `active=false` writes: every value (empty: `active=false` is
    /// refused).
    pub disable: Vec<Disable>,
    pub password: Option<PasswordMode>,
    pub member_of: Option<String>,
    pub members: Option<Members>,
    /// The schemas this map draws on (core, enterprise, declared extensions).
    pub schemas: Vec<Schema>,
    /// For each field, how many fields (itself included) fill the same
    /// element of its attribute: same schema, attribute and pinned values
    /// (the sub-attributes of a work address). Computed once, used per render.
    pub element_fields: Vec<usize>,
    /// What happens to attributes no field stores.
    pub unmapped: unmapped::Unmapped,
}

/// Operational attributes read with every entry.
pub const CREATED: &str = "createTimestamp";
pub const MODIFIED: &str = "modifyTimestamp";

impl AttrMap {
    /// Whether an LDAP attribute is the target of a `computed` template.
    pub fn is_computed(&self, ldap: &str) -> bool {
        self.computed
            .iter()
            .any(|(a, _)| a.eq_ignore_ascii_case(ldap))
    }

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

    /// The field that maps onto the RDN attribute, when the client names
    /// the entry.
    pub fn naming_field(&self) -> Option<&Field> {
        match self.naming {
            Naming::Field(i) => self.fields.get(i),
            Naming::Computed(_) => None,
        }
    }

    /// The template the RDN is rendered from, when it is computed.
    pub fn naming_template(&self) -> Option<&Template> {
        match self.naming {
            Naming::Field(_) => None,
            Naming::Computed(i) => self.computed.get(i).map(|(_, t)| t),
        }
    }

    /// The SCIM attributes an entry's name comes from, for messages:
    /// the naming field's path, or the inputs of the RDN template.
    pub fn naming_paths(&self) -> Vec<String> {
        match (self.naming_field(), self.naming_template()) {
            (Some(f), _) => vec![f.path_text()],
            (None, Some(t)) => t
                .inputs()
                .into_iter()
                .filter_map(|i| self.fields.get(i))
                .map(Field::path_text)
                .collect(),
            (None, None) => vec![self.rdn.clone()],
        }
    }

    /// The 409 detail when an entry named `rdn_value` already exists.
    /// `value` gives a mapped LDAP attribute's value in the entry that was
    /// to have the name. A computed name says which values gave it, since
    /// two different `userName`s may give one login: `userName
    /// "alice@fabrikam.com" gives uid "alice", which another user already
    /// has`.
    pub fn name_taken<'v>(
        &self,
        rdn_value: &str,
        value: impl Fn(&str) -> Option<&'v str>,
    ) -> String {
        let Some(t) = self.naming_template() else {
            return format!(
                "an entry with this {} already exists",
                self.naming_paths().join(", ")
            );
        };
        let inputs: Vec<String> = t
            .inputs()
            .into_iter()
            .filter_map(|i| self.fields.get(i))
            .map(|f| match value(&f.ldap) {
                Some(v) => format!("{} {v:?}", f.path_text()),
                None => format!("an empty {}", f.path_text()),
            })
            .collect();
        let verb = if inputs.len() == 1 { "gives" } else { "give" };
        format!(
            "{} {verb} {} {rdn_value:?}, which another {} already has",
            inputs.join(" and "),
            self.rdn,
            self.kind.name().to_ascii_lowercase()
        )
    }

    /// Every LDAP attribute a full read needs, in a stable order.
    pub fn read_attributes(&self) -> Vec<String> {
        self.read_list(|_| true)
    }

    /// The attributes only the server changes (id, timestamps, version,
    /// memberOf, read-only mapped attributes) plus the version token and the
    /// disable attribute (a password policy may set or clear it): what a
    /// write reads back when the rest of the entry is known.
    pub fn generated_attributes(&self) -> Vec<String> {
        // Mapped but read-only: maintained by the server or by someone else.
        self.read_list(|f| f.mutability == Mutability::ReadOnly)
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

/// Reads a boolean the way Entra sends it: a JSON boolean or the strings
/// "True"/"False" in any case.
pub fn as_bool(v: &serde_json::Value) -> Option<bool> {
    match v {
        serde_json::Value::Bool(b) => Some(*b),
        serde_json::Value::String(s) => crate::scim::json::bool_text(s),
        _ => None,
    }
}

/// The config section of a resource type: `users` or `groups`.
pub fn section(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "users",
        ResourceKind::Group => "groups",
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
    use crate::config::file;
    use crate::config::tests::{Vars, example};
    use crate::scim::path::AttrPath;

    #[test]
    fn booleans_in_entra_spelling() {
        for (v, b) in [
            (serde_json::json!(true), Some(true)),
            (serde_json::json!("True"), Some(true)),
            (serde_json::json!("FALSE"), Some(false)),
            (serde_json::json!("yes"), None),
            (serde_json::json!(1), None),
        ] {
            assert_eq!(as_bool(&v), b, "{v}");
        }
    }

    /// The OpenLDAP example with the login computed from userName, which is
    /// kept verbatim in scimUserName, a home directory that follows it, and
    /// two disable actions (LDAP binds and NSS clients).
    pub fn derived_rdn() -> Config {
        let text = example("openldap.toml").replacen(
            "disable = { attribute = \"pwdAccountLockedTime\", value = \"000001010000Z\" }",
            "disable = [{ attribute = \"pwdAccountLockedTime\", value = \"000001010000Z\" }, { attribute = \"shadowExpire\", value = \"1\" }]",
            1,
        );
        assert!(text.contains("shadowExpire"));
        let text = text.replacen("userName = \"uid\"", "userName = \"scimUserName\"", 1);
        let text = text.replacen(
            "[users.defaults]",
            "[users.computed]\nuid = \"{userName | localpart | login}\"\nhomeDirectory = \"/home/{userName | localpart | login}\"\n\n[users.defaults]",
            1,
        );
        assert!(text.contains("homeDirectory"));
        Config::parse(&text, &Vars(crate::config::tests::SECRETS.to_vec())).unwrap()
    }

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
                assert!(!u.disable.is_empty());
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
        assert_eq!(u.naming_field().unwrap().attr, "userName");
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
            p.iter().any(|x| x.starts_with("users.defaults.cn: ")
                && x.contains("not a mapped SCIM attribute")),
            "{p:?}"
        );
        let (_, p) = compile_one(
            "base = \"ou=p,dc=x\"\nobject_classes = [\"person\"]\n[attributes]\nuserName = \"uid\"\n[computed]\ngecos = \"{userName | shout}\"\n",
        );
        assert!(
            p.iter()
                .any(|x| x.starts_with("users.computed.gecos: ") && x.contains("shout")),
            "{p:?}"
        );
        let (_, p) = compile_one(
            "base = \"ou=p,dc=x\"\nobject_classes = [\"person\"]\n[attributes]\nuserName = \"uid\"\n[defaults]\ncn = \"{userName}\"\n[computed]\ncn = \"{userName}\"\n",
        );
        assert!(
            p.iter().any(|x| x.starts_with("users.computed.cn: ")
                && x.contains("either a default or computed")),
            "{p:?}"
        );
    }

    const DERIVED: &str = "base = \"ou=p,dc=x\"\nobject_classes = [\"person\"]\n[attributes]\nuserName = \"scimUserName\"\ndisplayName = \"displayName\"\n[computed]\n";

    #[test]
    fn a_computed_rdn_is_rendered_from_the_name_alone() {
        let (m, p) = compile_one(&format!(
            "{DERIVED}uid = \"{{userName | localpart | login}}\"\n"
        ));
        assert!(p.is_empty(), "{p:?}");
        let m = m.unwrap();
        assert_eq!(m.naming, Naming::Computed(0));
        assert!(m.naming_field().is_none());
        assert!(m.naming_template().is_some());
        assert_eq!(m.naming_paths(), ["userName"]);
        // Fallbacks are fine as long as every one reads userName alone.
        let (_, p) = compile_one(&format!(
            "{DERIVED}uid = [\"{{userName | localpart | login}}\", \"{{userName | login}}\"]\n"
        ));
        assert!(p.is_empty(), "{p:?}");
        // Another input would let two users share one userName.
        for tpl in [
            "{displayName | login}",
            "{userName | login}{displayName}",
            "fixed",
        ] {
            let (m, p) = compile_one(&format!("{DERIVED}uid = \"{tpl}\"\n"));
            assert!(m.is_none(), "{tpl}");
            assert!(
                p.iter().any(|x| x.starts_with("users.computed.uid: ")
                    && x.contains("rendered from userName alone")),
                "{tpl}: {p:?}"
            );
        }
        // Neither mapped nor computed: the message offers both.
        let (_, p) = compile_one(&format!("{DERIVED}gecos = \"{{userName}}\"\n"));
        assert!(
            p.iter()
                .any(|x| x.starts_with("users.rdn: ") && x.contains("[users.computed] uid")),
            "{p:?}"
        );
    }

    #[test]
    fn disable_is_one_action_or_a_list() {
        assert_eq!(openldap().users.disable.len(), 1);
        let list = derived_rdn().users.disable;
        assert_eq!(
            list,
            [
                Disable {
                    attribute: "pwdAccountLockedTime".into(),
                    value: "000001010000Z".into()
                },
                Disable {
                    attribute: "shadowExpire".into(),
                    value: "1".into()
                }
            ]
        );
        let rows = [
            ("disable = []", "users.disable: an empty list"),
            (
                "disable = [{ attribute = \"1x\", value = \"1\" }]",
                "\"1x\" needs an LDAP attribute and a non-empty value",
            ),
            (
                "disable = [{ attribute = \"shadowExpire\", value = \"\" }]",
                "needs an LDAP attribute and a non-empty value",
            ),
            (
                "disable = [{ attribute = \"a\", value = \"1\" }, { attribute = \"A\", value = \"1\" }]",
                "A = \"1\" is listed twice",
            ),
        ];
        for (line, needle) in rows {
            let (m, p) = compile_one(&format!(
                "base = \"ou=p,dc=x\"\nobject_classes = [\"person\"]\n{line}\n[attributes]\nuserName = \"uid\"\n"
            ));
            assert!(m.is_none(), "{line}");
            assert!(p.iter().any(|x| x.contains(needle)), "{line}: {p:?}");
        }
    }

    #[test]
    fn a_taken_name_says_where_it_came_from() {
        let (m, _) = compile_one(&format!(
            "{DERIVED}uid = \"{{userName | localpart | login}}\"\n"
        ));
        let m = m.unwrap();
        let value = |a: &str| {
            a.eq_ignore_ascii_case("scimUserName")
                .then_some("alice@fabrikam.com")
        };
        assert_eq!(
            m.name_taken("alice", value),
            "userName \"alice@fabrikam.com\" gives uid \"alice\", which another user already has"
        );
        // A mapped name keeps the plain message.
        let c = openldap();
        assert_eq!(
            c.users.name_taken("alice", |_| None),
            "an entry with this userName already exists"
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
                .parts
                .iter()
                .any(|p| matches!(p, template::Part::Value { .. }))
        );
    }
}
