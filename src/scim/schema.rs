//! SCIM 2.0 schema vocabulary and the standard schema definitions.
//!
//! This module owns:
//!
//! * the attribute characteristic vocabulary of RFC 7643 §2.2–§2.3 and §7
//!   (`type`, `mutability`, `returned`, `uniqueness`) as small enums with
//!   their exact RFC spellings;
//! * [`AttrDef`] / [`Schema`], the in-memory form of an RFC 7643 §7 schema
//!   resource, plus their JSON renderings for the `/Schemas` endpoint;
//! * the standard definitions: the core User and Group schemas (RFC 7643
//!   §4.1, §4.2) and the enterprise User extension (§4.3), reproduced from
//!   the normative representations in RFC 7643 §8.7.1, and the common
//!   attributes `id`/`externalId`/`meta` (§3.1) which §8.7.1 does not list;
//! * the discovery documents of RFC 7643 §5 (`ServiceProviderConfig`) and
//!   §6 (`ResourceType`);
//! * case-insensitive attribute resolution ([`resolve`]), because RFC 7643
//!   §2.1 makes attribute names and schema URIs case-insensitive.
//!
//! It is deliberately free of LDAP knowledge: the mapping layer decides what
//! a deployment actually supports and uses [`Schema::retain`] to publish
//! only that subset, so clients never discover attributes the bridge would
//! silently drop.

use serde_json::{Map, Value, json};

/// Core User schema URI (RFC 7643 §8.7.1).
pub const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Core Group schema URI (RFC 7643 §8.7.1).
pub const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Enterprise User extension schema URI (RFC 7643 §4.3, §8.7.1).
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// Schema of schema resources themselves (RFC 7643 §7).
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
/// Schema of the service provider configuration document (RFC 7643 §5).
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
/// Schema of resource type documents (RFC 7643 §6).
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";

/// Advertised bulk limits when bulk is enabled. `Capabilities` carries only
/// an on/off flag, so the limits live here; whoever implements `/Bulk` must
/// enforce exactly these numbers (RFC 7644 §3.7.4) or clients will be lied to.
pub const BULK_MAX_OPERATIONS: u32 = 1000;
/// See [`BULK_MAX_OPERATIONS`]; bytes (1 MiB).
pub const BULK_MAX_PAYLOAD_SIZE: u32 = 1_048_576;

/// Attribute data type (RFC 7643 §2.3, `type` in §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    const ALL: [AttrType; 8] = [
        AttrType::String,
        AttrType::Boolean,
        AttrType::Decimal,
        AttrType::Integer,
        AttrType::DateTime,
        AttrType::Binary,
        AttrType::Reference,
        AttrType::Complex,
    ];

    /// The RFC 7643 §7 spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }

    /// Case-insensitive inverse of [`AttrType::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }
}

/// Attribute mutability (RFC 7643 §2.2, `mutability` in §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

impl Mutability {
    const ALL: [Mutability; 4] = [
        Mutability::ReadOnly,
        Mutability::ReadWrite,
        Mutability::Immutable,
        Mutability::WriteOnly,
    ];

    /// The RFC 7643 §7 spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }

    /// Case-insensitive inverse of [`Mutability::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }
}

/// When an attribute is returned (RFC 7643 §2.2, `returned` in §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

impl Returned {
    const ALL: [Returned; 4] = [
        Returned::Always,
        Returned::Never,
        Returned::Default,
        Returned::Request,
    ];

    /// The RFC 7643 §7 spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }

    /// Case-insensitive inverse of [`Returned::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }
}

/// Uniqueness scope (RFC 7643 §2.2, `uniqueness` in §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uniqueness {
    None,
    Server,
    Global,
}

impl Uniqueness {
    const ALL: [Uniqueness; 3] = [Uniqueness::None, Uniqueness::Server, Uniqueness::Global];

    /// The RFC 7643 §7 spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }

    /// Case-insensitive inverse of [`Uniqueness::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s))
    }
}

/// One attribute definition (RFC 7643 §7 "attributes" / "subAttributes").
#[derive(Debug, Clone, PartialEq)]
pub struct AttrDef {
    pub name: String,
    pub ty: AttrType,
    pub multi_valued: bool,
    pub description: String,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    pub uniqueness: Uniqueness,
    pub canonical_values: Vec<String>,
    pub reference_types: Vec<String>,
    pub sub_attributes: Vec<AttrDef>,
}

impl AttrDef {
    /// A definition with the RFC 7643 §2.2 defaults: single-valued, not
    /// required, caseExact false, readWrite, returned default, uniqueness
    /// none. Starting from the defaults keeps the §8.7.1 tables below short
    /// enough to audit line by line against the RFC.
    pub fn new(name: &str, ty: AttrType, description: &str) -> Self {
        AttrDef {
            name: name.to_owned(),
            ty,
            multi_valued: false,
            description: description.to_owned(),
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: Vec::new(),
            reference_types: Vec::new(),
            sub_attributes: Vec::new(),
        }
    }

    /// Shorthand for a `string` attribute with defaults.
    pub fn string(name: &str, description: &str) -> Self {
        Self::new(name, AttrType::String, description)
    }

    /// Shorthand for a `complex` attribute with the given sub-attributes.
    pub fn complex(name: &str, description: &str, subs: Vec<AttrDef>) -> Self {
        let mut a = Self::new(name, AttrType::Complex, description);
        a.sub_attributes = subs;
        a
    }

    /// Shorthand for a `reference` attribute with the given referenceTypes.
    pub fn reference(name: &str, description: &str, types: &[&str]) -> Self {
        let mut a = Self::new(name, AttrType::Reference, description);
        a.reference_types = types.iter().map(|s| (*s).to_owned()).collect();
        a
    }

    pub fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    pub fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }

    pub fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }

    pub fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }

    pub fn uniqueness(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }

    pub fn canonical(mut self, values: &[&str]) -> Self {
        self.canonical_values = values.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// Apply a mutability to this attribute and all its sub-attributes.
    /// RFC 7643 §8.7.1 marks e.g. `groups` and every one of its
    /// sub-attributes readOnly; doing it in one place avoids a sub-attribute
    /// accidentally staying writable.
    pub fn mutability_deep(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self.sub_attributes = self
            .sub_attributes
            .into_iter()
            .map(|s| s.mutability_deep(m))
            .collect();
        self
    }

    /// Sub-attribute by name, case-insensitively (RFC 7643 §2.1).
    pub fn sub(&self, name: &str) -> Option<&AttrDef> {
        self.sub_attributes
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
    }

    /// RFC 7643 §7 attribute representation. `subAttributes` appears only
    /// for complex attributes; `canonicalValues`/`referenceTypes` only when
    /// non-empty, matching the §8.7.1 documents (which omit them otherwise).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), Value::from(self.name.as_str()));
        m.insert("type".into(), Value::from(self.ty.as_str()));
        m.insert("multiValued".into(), Value::from(self.multi_valued));
        m.insert("description".into(), Value::from(self.description.as_str()));
        m.insert("required".into(), Value::from(self.required));
        m.insert("caseExact".into(), Value::from(self.case_exact));
        m.insert("mutability".into(), Value::from(self.mutability.as_str()));
        m.insert("returned".into(), Value::from(self.returned.as_str()));
        m.insert("uniqueness".into(), Value::from(self.uniqueness.as_str()));
        if !self.canonical_values.is_empty() {
            m.insert(
                "canonicalValues".into(),
                Value::from(self.canonical_values.clone()),
            );
        }
        if !self.reference_types.is_empty() {
            m.insert(
                "referenceTypes".into(),
                Value::from(self.reference_types.clone()),
            );
        }
        if self.ty == AttrType::Complex {
            m.insert(
                "subAttributes".into(),
                Value::Array(self.sub_attributes.iter().map(AttrDef::to_json).collect()),
            );
        }
        Value::Object(m)
    }
}

/// A schema resource (RFC 7643 §7).
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub id: String,
    pub name: String,
    pub description: String,
    pub attributes: Vec<AttrDef>,
}

impl Schema {
    /// Top-level attribute by name, case-insensitively (RFC 7643 §2.1).
    pub fn attr(&self, name: &str) -> Option<&AttrDef> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

    /// RFC 7643 §7 representation with "schemas":["urn:ietf:params:scim:schemas:core:2.0:Schema"], id, name, description, attributes, and meta {resourceType:"Schema", location: <location>}
    pub fn to_json(&self, location: &str) -> Value {
        json!({
            "schemas": [SCHEMA_SCHEMA],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": self.attributes.iter().map(AttrDef::to_json).collect::<Vec<_>>(),
            "meta": {
                "resourceType": "Schema",
                "location": location,
            },
        })
    }

    /// Keep only the attributes (and sub-attributes) for which `keep(top_name, Option<sub_name>)` returns true; a complex attribute is kept when any of its sub-attributes is kept, with only those sub-attributes. Used to publish only what a deployment maps.
    ///
    /// For a complex attribute that has sub-attributes, only the
    /// `keep(top, Some(sub))` answers count; `keep(top, None)` is not asked.
    /// Otherwise a closure answering "is anything under `name` mapped?" for
    /// `None` would re-publish every sub-attribute of a partially mapped
    /// complex attribute. Simple attributes (and sub-attribute-less complex
    /// ones) are decided by `keep(top, None)`.
    pub fn retain(&self, keep: &dyn Fn(&str, Option<&str>) -> bool) -> Schema {
        let attributes = self
            .attributes
            .iter()
            .filter_map(|a| {
                if a.ty == AttrType::Complex && !a.sub_attributes.is_empty() {
                    let subs: Vec<AttrDef> = a
                        .sub_attributes
                        .iter()
                        .filter(|s| keep(&a.name, Some(&s.name)))
                        .cloned()
                        .collect();
                    if subs.is_empty() {
                        None
                    } else {
                        let mut kept = a.clone();
                        kept.sub_attributes = subs;
                        Some(kept)
                    }
                } else if keep(&a.name, None) {
                    Some(a.clone())
                } else {
                    None
                }
            })
            .collect();
        Schema {
            id: self.id.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            attributes,
        }
    }
}

/// Resolve (schema urn?, attr, sub?) against the given schemas, case-insensitively: returns the schema id it belongs to and the AttrDef (the sub-attribute's def when sub is given).
///
/// With `schema == None` the schemas are searched in slice order and the
/// first match wins; callers pass the core schema first so that an
/// unqualified name means the core attribute (RFC 7644 §3.10 lets clients
/// omit the URN for core attributes). Common attributes (`id`,
/// `externalId`, `meta`) are not part of any [`Schema`] and never resolve
/// here; callers handle them via [`common_attributes`].
pub fn resolve<'a>(
    schemas: &'a [Schema],
    schema: Option<&str>,
    attr: &str,
    sub: Option<&str>,
) -> Option<(&'a str, &'a AttrDef)> {
    let lookup = |s: &'a Schema| -> Option<(&'a str, &'a AttrDef)> {
        let top = s.attr(attr)?;
        let def = match sub {
            Some(sub) => top.sub(sub)?,
            None => top,
        };
        Some((s.id.as_str(), def))
    };
    match schema {
        Some(urn) => schemas
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
            .and_then(lookup),
        None => schemas.iter().find_map(lookup),
    }
}

/// A split attribute path: `(schema urn?, attr, sub?)`, the argument shape
/// of [`resolve`].
pub type AttrPath<'a> = (Option<&'a str>, &'a str, Option<&'a str>);

/// Split an attribute path (RFC 7644 §3.10 `attrPath`) into
/// `(schema urn?, attr, sub?)`, ready for [`resolve`].
///
/// The URN prefix is cut at the *last* `:` before the dot split, because
/// schema URNs themselves contain dots ("…:2.0:User"); splitting on `.`
/// first would tear the URN apart. Only paths starting with `urn:` are
/// treated as qualified, so a plain `name.givenName` stays unqualified.
/// Returns `None` for an empty attribute or sub-attribute component.
pub fn split_path(path: &str) -> Option<AttrPath<'_>> {
    let is_urn = path
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    let (urn, rest) = match path.rsplit_once(':') {
        Some((urn, rest)) if is_urn => (Some(urn), rest),
        _ => (None, path),
    };
    let (attr, sub) = match rest.split_once('.') {
        Some((a, s)) => (a, Some(s)),
        None => (rest, None),
    };
    if attr.is_empty() || sub.is_some_and(str::is_empty) {
        return None;
    }
    Some((urn, attr, sub))
}

// ---------------------------------------------------------------------------
// Standard definitions (RFC 7643 §8.7.1)
// ---------------------------------------------------------------------------

// §8.7.1 repeats these descriptions for every multi-valued complex attribute.
const DISPLAY_DESC: &str =
    "A human-readable name, primarily used for display purposes.  READ-ONLY.";

fn display_sub() -> AttrDef {
    // §8.7.1 says "READ-ONLY" in the text yet declares mutability readWrite;
    // we follow the declared characteristic, as the RFC document does.
    AttrDef::string("display", DISPLAY_DESC)
}

fn type_sub(description: &str, canonical: &[&str]) -> AttrDef {
    AttrDef::string("type", description).canonical(canonical)
}

fn primary_sub(description: &str) -> AttrDef {
    AttrDef::new("primary", AttrType::Boolean, description)
}

fn generic_primary_sub() -> AttrDef {
    primary_sub(
        "A Boolean value indicating the 'primary' or preferred attribute value for this attribute.  The primary attribute value 'true' MUST appear no more than once.",
    )
}

fn name_attr() -> AttrDef {
    AttrDef::complex(
        "name",
        "The components of the user's real name.  Providers MAY return just the full name as a single string in the formatted sub-attribute, or they MAY return just the individual component attributes using the other sub-attributes, or they MAY return both.  If both variants are returned, they SHOULD be describing the same name, with the formatted name indicating how the component attributes should be combined.",
        vec![
            AttrDef::string(
                "formatted",
                "The full name, including all middle names, titles, and suffixes as appropriate, formatted for display (e.g., 'Ms. Barbara J Jensen, III').",
            ),
            AttrDef::string(
                "familyName",
                "The family name of the User, or last name in most Western languages (e.g., 'Jensen' given the full name 'Ms. Barbara J Jensen, III').",
            ),
            AttrDef::string(
                "givenName",
                "The given name of the User, or first name in most Western languages (e.g., 'Barbara' given the full name 'Ms. Barbara J Jensen, III').",
            ),
            AttrDef::string(
                "middleName",
                "The middle name(s) of the User (e.g., 'Jane' given the full name 'Ms. Barbara J Jensen, III').",
            ),
            AttrDef::string(
                "honorificPrefix",
                "The honorific prefix(es) of the User, or title in most Western languages (e.g., 'Ms.' given the full name 'Ms. Barbara J Jensen, III').",
            ),
            AttrDef::string(
                "honorificSuffix",
                "The honorific suffix(es) of the User, or suffix in most Western languages (e.g., 'III' given the full name 'Ms. Barbara J Jensen, III').",
            ),
        ],
    )
}

fn emails_attr() -> AttrDef {
    AttrDef::complex(
        "emails",
        "Email addresses for the user.  The value SHOULD be canonicalized by the service provider, e.g., 'bjensen@example.com' instead of 'bjensen@EXAMPLE.COM'.  Canonical type values of 'work', 'home', and 'other'.",
        vec![
            AttrDef::string(
                "value",
                "Email addresses for the user.  The value SHOULD be canonicalized by the service provider, e.g., 'bjensen@example.com' instead of 'bjensen@EXAMPLE.COM'.  Canonical type values of 'work', 'home', and 'other'.",
            ),
            display_sub(),
            type_sub(
                "A label indicating the attribute's function, e.g., 'work' or 'home'.",
                &["work", "home", "other"],
            ),
            primary_sub(
                "A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g., the preferred mailing address or primary email address.  The primary attribute value 'true' MUST appear no more than once.",
            ),
        ],
    )
    .multi()
}

fn phone_numbers_attr() -> AttrDef {
    AttrDef::complex(
        "phoneNumbers",
        "Phone numbers for the User.  The value SHOULD be canonicalized by the service provider according to the format specified in RFC 3966, e.g., 'tel:+1-201-555-0123'.  Canonical type values of 'work', 'home', 'mobile', 'fax', 'pager', and 'other'.",
        vec![
            AttrDef::string("value", "Phone number of the User."),
            display_sub(),
            type_sub(
                "A label indicating the attribute's function, e.g., 'work', 'home', 'mobile'.",
                &["work", "home", "mobile", "fax", "pager", "other"],
            ),
            primary_sub(
                "A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g., the preferred phone number or primary phone number.  The primary attribute value 'true' MUST appear no more than once.",
            ),
        ],
    )
    .multi()
}

fn ims_attr() -> AttrDef {
    AttrDef::complex(
        "ims",
        "Instant messaging addresses for the User.",
        vec![
            AttrDef::string("value", "Instant messaging address for the User."),
            display_sub(),
            type_sub(
                "A label indicating the attribute's function, e.g., 'aim', 'gtalk', 'xmpp'.",
                &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
            ),
            primary_sub(
                "A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g., the preferred messenger or primary messenger.  The primary attribute value 'true' MUST appear no more than once.",
            ),
        ],
    )
    .multi()
}

fn photos_attr() -> AttrDef {
    AttrDef::complex(
        "photos",
        "URLs of photos of the User.",
        vec![
            AttrDef::reference("value", "URL of a photo of the User.", &["external"]),
            display_sub(),
            type_sub(
                "A label indicating the attribute's function, i.e., 'photo' or 'thumbnail'.",
                &["photo", "thumbnail"],
            ),
            primary_sub(
                "A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g., the preferred photo or thumbnail.  The primary attribute value 'true' MUST appear no more than once.",
            ),
        ],
    )
    .multi()
}

fn addresses_attr() -> AttrDef {
    AttrDef::complex(
        "addresses",
        "A physical mailing address for this User.  Canonical type values of 'work', 'home', and 'other'.  This attribute is a complex type with the following sub-attributes.",
        vec![
            AttrDef::string(
                "formatted",
                "The full mailing address, formatted for display or use with a mailing label.  This attribute MAY contain newlines.",
            ),
            AttrDef::string(
                "streetAddress",
                "The full street address component, which may include house number, street name, P.O. box, and multi-line extended street address information.  This attribute MAY contain newlines.",
            ),
            AttrDef::string("locality", "The city or locality component."),
            AttrDef::string("region", "The state or region component."),
            AttrDef::string("postalCode", "The zip code or postal code component."),
            AttrDef::string("country", "The country name component."),
            type_sub(
                "A label indicating the attribute's function, e.g., 'work' or 'home'.",
                &["work", "home", "other"],
            ),
            // §8.7.1 omits "primary" for addresses, but §2.4 defines it for
            // every multi-valued attribute and the §8.2 full User example
            // sends `"primary": true` inside an address; without it, that
            // RFC example would fail validation against our own schema.
            primary_sub(
                "A Boolean value indicating the 'primary' or preferred attribute value for this attribute, e.g., the preferred mailing address or primary email address.  The primary attribute value 'true' MUST appear no more than once.",
            ),
        ],
    )
    .multi()
}

fn groups_attr() -> AttrDef {
    AttrDef::complex(
        "groups",
        "A list of groups to which the user belongs, either through direct membership, through nested groups, or dynamically calculated.",
        vec![
            AttrDef::string("value", "The identifier of the User's group."),
            // referenceTypes ["User","Group"] is what §8.7.1 literally says
            // (a Group-only list would be more logical); kept verbatim so the
            // published schema matches the RFC document.
            AttrDef::reference(
                "$ref",
                "The URI of the corresponding 'Group' resource to which the user belongs.",
                &["User", "Group"],
            ),
            display_sub(),
            type_sub(
                "A label indicating the attribute's function, e.g., 'direct' or 'indirect'.",
                &["direct", "indirect"],
            ),
        ],
    )
    .multi()
    // Membership is owned by Group.members (RFC 7643 §4.1.2); the whole
    // attribute, sub-attributes included, is readOnly.
    .mutability_deep(Mutability::ReadOnly)
}

fn value_display_type_primary(name: &str, description: &str, value_desc: &str) -> AttrDef {
    AttrDef::complex(
        name,
        description,
        vec![
            AttrDef::string("value", value_desc),
            display_sub(),
            AttrDef::string("type", "A label indicating the attribute's function."),
            generic_primary_sub(),
        ],
    )
    .multi()
}

fn x509_attr() -> AttrDef {
    AttrDef::complex(
        "x509Certificates",
        "A list of certificates issued to the User.",
        vec![
            AttrDef::new(
                "value",
                AttrType::Binary,
                "The value of an X.509 certificate.",
            ),
            display_sub(),
            AttrDef::string("type", "A label indicating the attribute's function."),
            generic_primary_sub(),
        ],
    )
    .multi()
}

/// RFC 7643 §8.7.1 core User schema, complete. Common attributes are not
/// included (see [`common_attributes`]).
pub fn core_user() -> Schema {
    let s = AttrDef::string;
    Schema {
        id: CORE_USER.to_owned(),
        name: "User".to_owned(),
        description: "User Account".to_owned(),
        attributes: vec![
            s(
                "userName",
                "Unique identifier for the User, typically used by the user to directly authenticate to the service provider.  Each User MUST include a non-empty userName value.  This identifier MUST be unique across the service provider's entire set of Users.  REQUIRED.",
            )
            .required()
            .uniqueness(Uniqueness::Server),
            name_attr(),
            s(
                "displayName",
                "The name of the User, suitable for display to end-users.  The name SHOULD be the full name of the User being described, if known.",
            ),
            s(
                "nickName",
                "The casual way to address the user in real life, e.g., 'Bob' or 'Bobby' instead of 'Robert'.  This attribute SHOULD NOT be used to represent a User's username (e.g., 'bjensen' or 'mpepperidge').",
            ),
            AttrDef::reference(
                "profileUrl",
                "A fully qualified URL pointing to a page representing the User's online profile.",
                &["external"],
            ),
            s("title", "The user's title, such as \"Vice President.\""),
            s(
                "userType",
                "Used to identify the relationship between the organization and the user.  Typical values used might be 'Contractor', 'Employee', 'Intern', 'Temp', 'External', and 'Unknown', but any value may be used.",
            ),
            s(
                "preferredLanguage",
                "Indicates the User's preferred written or spoken language.  Generally used for selecting a localized user interface; e.g., 'en_US' specifies the language English and country US.",
            ),
            s(
                "locale",
                "Used to indicate the User's default location for purposes of localizing items such as currency, date time format, or numerical representations.",
            ),
            s(
                "timezone",
                "The User's time zone in the 'Olson' time zone database format, e.g., 'America/Los_Angeles'.",
            ),
            AttrDef::new(
                "active",
                AttrType::Boolean,
                "A Boolean value indicating the User's administrative status.",
            ),
            // writeOnly + returned never: a password must never leak back out
            // (RFC 7643 §4.1.1, §7).
            s(
                "password",
                "The User's cleartext password.  This attribute is intended to be used as a means to specify an initial password when creating a new User or to reset an existing User's password.",
            )
            .mutability(Mutability::WriteOnly)
            .returned(Returned::Never),
            emails_attr(),
            phone_numbers_attr(),
            ims_attr(),
            photos_attr(),
            addresses_attr(),
            groups_attr(),
            value_display_type_primary(
                "entitlements",
                "A list of entitlements for the User that represent a thing the User has.",
                "The value of an entitlement.",
            ),
            value_display_type_primary(
                "roles",
                "A list of roles for the User that collectively represent who the User is, e.g., 'Student', 'Faculty'.",
                "The value of a role.",
            ),
            x509_attr(),
        ],
    }
}

/// Common attributes of every resource (RFC 7643 §3.1). §8.7.1 does not
/// list them, so they live outside the schemas; callers resolve
/// `id`/`externalId`/`meta` themselves before consulting [`resolve`].
pub fn common_attributes() -> Vec<AttrDef> {
    vec![
        // §3.1: issued by the service provider, unique, "returned always",
        // compared case-sensitively (ids are opaque).
        AttrDef::string(
            "id",
            "A unique identifier for a SCIM resource as defined by the service provider.",
        )
        .case_exact()
        .mutability(Mutability::ReadOnly)
        .returned(Returned::Always)
        .uniqueness(Uniqueness::Server),
        // §3.1: set by the provisioning client, opaque to the provider, so
        // caseExact as well.
        AttrDef::string(
            "externalId",
            "A String that is an identifier for the resource as defined by the provisioning client.",
        )
        .case_exact(),
        AttrDef::complex(
            "meta",
            "A complex attribute containing resource metadata.",
            vec![
                AttrDef::string(
                    "resourceType",
                    "The name of the resource type of the resource.",
                )
                .case_exact(),
                AttrDef::new(
                    "created",
                    AttrType::DateTime,
                    "The \"DateTime\" that the resource was added to the service provider.",
                ),
                AttrDef::new(
                    "lastModified",
                    AttrType::DateTime,
                    "The most recent DateTime that the details of this resource were updated at the service provider.",
                ),
                AttrDef::reference(
                    "location",
                    "The URI of the resource being returned.",
                    &["uri"],
                )
                .case_exact(),
                // An entity tag is an opaque validator (RFC 7232); any case
                // folding would make distinct versions compare equal.
                AttrDef::string("version", "The version of the resource being returned.")
                    .case_exact(),
            ],
        )
        .mutability_deep(Mutability::ReadOnly),
    ]
}

/// RFC 7643 §8.7.1 core Group schema.
pub fn core_group() -> Schema {
    let member_sub = |a: AttrDef| a.mutability(Mutability::Immutable);
    Schema {
        id: CORE_GROUP.to_owned(),
        name: "Group".to_owned(),
        description: "Group".to_owned(),
        attributes: vec![
            // §8.7.1 declares required false but its own description and
            // §4.2 say "REQUIRED"; an LDAP group needs a naming value anyway,
            // so we enforce and advertise required true.
            AttrDef::string(
                "displayName",
                "A human-readable name for the Group.  REQUIRED.",
            )
            .required(),
            AttrDef::complex(
                "members",
                "A list of members of the Group.",
                vec![
                    member_sub(AttrDef::string(
                        "value",
                        "Identifier of the member of this Group.",
                    )),
                    member_sub(AttrDef::reference(
                        "$ref",
                        "The URI corresponding to a SCIM resource that is a member of this Group.",
                        &["User", "Group"],
                    )),
                    member_sub(
                        AttrDef::string(
                            "type",
                            "A label indicating the type of resource, e.g., 'User' or 'Group'.",
                        )
                        .canonical(&["User", "Group"]),
                    ),
                    // Not in §8.7.1, but §8.4 examples return it. readOnly
                    // because the bridge derives it from the member's LDAP
                    // entry; it cannot store a client-supplied label.
                    AttrDef::string(
                        "display",
                        "A human-readable name, primarily used for display purposes.  READ-ONLY.",
                    )
                    .mutability(Mutability::ReadOnly),
                ],
            )
            .multi(),
        ],
    }
}

/// RFC 7643 §4.3 / §8.7.1 enterprise User extension.
pub fn enterprise_user() -> Schema {
    let s = AttrDef::string;
    Schema {
        id: ENTERPRISE_USER.to_owned(),
        name: "EnterpriseUser".to_owned(),
        description: "Enterprise User".to_owned(),
        attributes: vec![
            s(
                "employeeNumber",
                "Numeric or alphanumeric identifier assigned to a person, typically based on order of hire or association with an organization.",
            ),
            s("costCenter", "Identifies the name of a cost center."),
            s("organization", "Identifies the name of an organization."),
            s("division", "Identifies the name of a division."),
            s("department", "Identifies the name of a department."),
            // §8.7.1 descriptions say "REQUIRED." for value/$ref while the
            // declared characteristic is required false; we keep false, as
            // the document does, since a manager-less user is normal.
            AttrDef::complex(
                "manager",
                "The User's manager.  A complex type that optionally allows service providers to represent organizational hierarchy by referencing the 'id' attribute of another User.",
                vec![
                    s(
                        "value",
                        "The id of the SCIM resource representing the User's manager.  REQUIRED.",
                    ),
                    AttrDef::reference(
                        "$ref",
                        "The URI of the SCIM resource representing the User's manager.  REQUIRED.",
                        &["User"],
                    ),
                    s(
                        "displayName",
                        "The displayName of the User's manager.  OPTIONAL and READ-ONLY.",
                    )
                    .mutability(Mutability::ReadOnly),
                ],
            ),
        ],
    }
}

/// The three standard schemas in resolution order: core User, enterprise
/// User, core Group. Core comes first so unqualified names resolve to core
/// attributes (see [`resolve`]).
pub fn standard_schemas() -> Vec<Schema> {
    vec![core_user(), enterprise_user(), core_group()]
}

// ---------------------------------------------------------------------------
// Discovery documents (RFC 7643 §5, §6)
// ---------------------------------------------------------------------------

/// Service provider configuration document (RFC 7643 §5) — parameters decide the supported flags:
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    pub patch: bool,
    pub bulk: bool,
    pub filter_max_results: u32,
    pub change_password: bool,
    pub sort: bool,
    pub etag: bool,
    pub documentation_uri: Option<String>,
}

/// RFC 7643 §5 `ServiceProviderConfig` document.
///
/// Filtering is always advertised as supported: the bridge's read path is
/// built on translating SCIM filters to LDAP filters, so there is no
/// configuration in which it is absent. Bulk limits are
/// [`BULK_MAX_OPERATIONS`]/[`BULK_MAX_PAYLOAD_SIZE`] when enabled and 0
/// otherwise (the §5 sub-attributes are REQUIRED even when unsupported).
pub fn service_provider_config(caps: &Capabilities, location: &str) -> Value {
    let (max_ops, max_payload) = if caps.bulk {
        (BULK_MAX_OPERATIONS, BULK_MAX_PAYLOAD_SIZE)
    } else {
        (0, 0)
    };
    let mut doc = json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "patch": { "supported": caps.patch },
        "bulk": {
            "supported": caps.bulk,
            "maxOperations": max_ops,
            "maxPayloadSize": max_payload,
        },
        "filter": { "supported": true, "maxResults": caps.filter_max_results },
        "changePassword": { "supported": caps.change_password },
        "sort": { "supported": caps.sort },
        "etag": { "supported": caps.etag },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication scheme using the OAuth Bearer Token Standard",
            "specUri": "http://www.rfc-editor.org/info/rfc6750",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": location,
        },
    });
    // documentationUri is OPTIONAL (§5); emitting null would be a type error
    // for strict clients, so it is omitted when unset.
    if let (Some(uri), Value::Object(m)) = (&caps.documentation_uri, &mut doc) {
        m.insert("documentationUri".into(), Value::from(uri.as_str()));
    }
    doc
}

/// ResourceType document (RFC 7643 §6)
///
/// `id` equals `name`, as in every §8.6 example. `description` is OPTIONAL
/// and not a parameter, so it is filled in with the §8.6 wording only for
/// the two standard schemas. `schemaExtensions` is omitted when empty, like
/// the §8.6 Group example.
pub fn resource_type(
    name: &str,
    endpoint: &str,
    schema: &str,
    extensions: &[(String, bool)], /* (urn, required) */
    location: &str,
) -> Value {
    let mut m = Map::new();
    m.insert("schemas".into(), json!([RESOURCE_TYPE_SCHEMA]));
    m.insert("id".into(), Value::from(name));
    m.insert("name".into(), Value::from(name));
    m.insert("endpoint".into(), Value::from(endpoint));
    let description = if schema.eq_ignore_ascii_case(CORE_USER) {
        Some("User Account")
    } else if schema.eq_ignore_ascii_case(CORE_GROUP) {
        Some("Group")
    } else {
        None
    };
    if let Some(d) = description {
        m.insert("description".into(), Value::from(d));
    }
    m.insert("schema".into(), Value::from(schema));
    if !extensions.is_empty() {
        let exts: Vec<Value> = extensions
            .iter()
            .map(|(urn, required)| json!({ "schema": urn, "required": required }))
            .collect();
        m.insert("schemaExtensions".into(), Value::Array(exts));
    }
    m.insert(
        "meta".into(),
        json!({ "resourceType": "ResourceType", "location": location }),
    );
    Value::Object(m)
}

#[cfg(test)]
// Tests may panic on a missing definition: that is the failure report.
#[allow(clippy::panic)]
mod tests {
    use super::*;
    use AttrType as T;
    use Mutability as M;
    use Returned as R;
    use Uniqueness as U;

    /// One row of RFC 7643 §8.7.1 expectations.
    struct Row {
        schema: &'static str,
        attr: &'static str,
        sub: Option<&'static str>,
        ty: AttrType,
        multi: bool,
        required: bool,
        case_exact: bool,
        mutability: Mutability,
        returned: Returned,
        uniqueness: Uniqueness,
        canonical: &'static [&'static str],
        refs: &'static [&'static str],
    }

    #[allow(clippy::too_many_arguments)]
    const fn row(
        schema: &'static str,
        attr: &'static str,
        sub: Option<&'static str>,
        ty: AttrType,
        multi: bool,
        required: bool,
        case_exact: bool,
        mutability: Mutability,
        returned: Returned,
        uniqueness: Uniqueness,
        canonical: &'static [&'static str],
        refs: &'static [&'static str],
    ) -> Row {
        Row {
            schema,
            attr,
            sub,
            ty,
            multi,
            required,
            case_exact,
            mutability,
            returned,
            uniqueness,
            canonical,
            refs,
        }
    }

    const CU: &str = CORE_USER;
    const CG: &str = CORE_GROUP;
    const EU: &str = ENTERPRISE_USER;
    const NO: &[&str] = &[];

    #[rustfmt::skip]
    const RFC_ROWS: &[Row] = &[
        row(CU, "userName", None, T::String, false, true, false, M::ReadWrite, R::Default, U::Server, NO, NO),
        row(CU, "name", None, T::Complex, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "name", Some("formatted"), T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "name", Some("familyName"), T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "name", Some("givenName"), T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "name", Some("middleName"), T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "name", Some("honorificPrefix"), T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "name", Some("honorificSuffix"), T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "displayName", None, T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "nickName", None, T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "profileUrl", None, T::Reference, false, false, false, M::ReadWrite, R::Default, U::None, NO, &["external"]),
        row(CU, "title", None, T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "userType", None, T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "preferredLanguage", None, T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "locale", None, T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "timezone", None, T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "active", None, T::Boolean, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "password", None, T::String, false, false, false, M::WriteOnly, R::Never, U::None, NO, NO),
        row(CU, "emails", None, T::Complex, true, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "emails", Some("value"), T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "emails", Some("display"), T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "emails", Some("type"), T::String, false, false, false, M::ReadWrite, R::Default, U::None, &["work", "home", "other"], NO),
        row(CU, "emails", Some("primary"), T::Boolean, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "phoneNumbers", None, T::Complex, true, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "phoneNumbers", Some("value"), T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "phoneNumbers", Some("type"), T::String, false, false, false, M::ReadWrite, R::Default, U::None, &["work", "home", "mobile", "fax", "pager", "other"], NO),
        row(CU, "ims", None, T::Complex, true, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "ims", Some("type"), T::String, false, false, false, M::ReadWrite, R::Default, U::None, &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"], NO),
        row(CU, "photos", None, T::Complex, true, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "photos", Some("value"), T::Reference, false, false, false, M::ReadWrite, R::Default, U::None, NO, &["external"]),
        row(CU, "photos", Some("type"), T::String, false, false, false, M::ReadWrite, R::Default, U::None, &["photo", "thumbnail"], NO),
        row(CU, "addresses", None, T::Complex, true, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "addresses", Some("formatted"), T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "addresses", Some("streetAddress"), T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "addresses", Some("locality"), T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "addresses", Some("region"), T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "addresses", Some("postalCode"), T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "addresses", Some("country"), T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "addresses", Some("type"), T::String, false, false, false, M::ReadWrite, R::Default, U::None, &["work", "home", "other"], NO),
        row(CU, "addresses", Some("primary"), T::Boolean, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "groups", None, T::Complex, true, false, false, M::ReadOnly, R::Default, U::None, NO, NO),
        row(CU, "groups", Some("value"), T::String, false, false, false, M::ReadOnly, R::Default, U::None, NO, NO),
        row(CU, "groups", Some("$ref"), T::Reference, false, false, false, M::ReadOnly, R::Default, U::None, NO, &["User", "Group"]),
        row(CU, "groups", Some("display"), T::String, false, false, false, M::ReadOnly, R::Default, U::None, NO, NO),
        row(CU, "groups", Some("type"), T::String, false, false, false, M::ReadOnly, R::Default, U::None, &["direct", "indirect"], NO),
        row(CU, "entitlements", None, T::Complex, true, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "entitlements", Some("type"), T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "roles", None, T::Complex, true, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "roles", Some("primary"), T::Boolean, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "x509Certificates", None, T::Complex, true, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CU, "x509Certificates", Some("value"), T::Binary, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CG, "displayName", None, T::String, false, true, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CG, "members", None, T::Complex, true, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(CG, "members", Some("value"), T::String, false, false, false, M::Immutable, R::Default, U::None, NO, NO),
        row(CG, "members", Some("$ref"), T::Reference, false, false, false, M::Immutable, R::Default, U::None, NO, &["User", "Group"]),
        row(CG, "members", Some("type"), T::String, false, false, false, M::Immutable, R::Default, U::None, &["User", "Group"], NO),
        row(CG, "members", Some("display"), T::String, false, false, false, M::ReadOnly, R::Default, U::None, NO, NO),
        row(EU, "employeeNumber", None, T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(EU, "costCenter", None, T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(EU, "organization", None, T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(EU, "division", None, T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(EU, "department", None, T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(EU, "manager", None, T::Complex, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(EU, "manager", Some("value"), T::String, false, false, false, M::ReadWrite, R::Default, U::None, NO, NO),
        row(EU, "manager", Some("$ref"), T::Reference, false, false, false, M::ReadWrite, R::Default, U::None, NO, &["User"]),
        row(EU, "manager", Some("displayName"), T::String, false, false, false, M::ReadOnly, R::Default, U::None, NO, NO),
    ];

    #[test]
    fn rfc_8_7_1_characteristics() {
        let schemas = standard_schemas();
        for r in RFC_ROWS {
            let ctx = format!("{}:{}.{:?}", r.schema, r.attr, r.sub);
            let Some((id, d)) = resolve(&schemas, Some(r.schema), r.attr, r.sub) else {
                panic!("{ctx} not found");
            };
            assert_eq!(id, r.schema, "{ctx}");
            assert_eq!(d.ty, r.ty, "{ctx} type");
            assert_eq!(d.multi_valued, r.multi, "{ctx} multiValued");
            assert_eq!(d.required, r.required, "{ctx} required");
            assert_eq!(d.case_exact, r.case_exact, "{ctx} caseExact");
            assert_eq!(d.mutability, r.mutability, "{ctx} mutability");
            assert_eq!(d.returned, r.returned, "{ctx} returned");
            assert_eq!(d.uniqueness, r.uniqueness, "{ctx} uniqueness");
            assert_eq!(d.canonical_values, r.canonical, "{ctx} canonicalValues");
            assert_eq!(d.reference_types, r.refs, "{ctx} referenceTypes");
        }
        assert!(RFC_ROWS.len() >= 25);
    }

    #[test]
    // Longer than a screen: the RFC 7643 attribute lists written out to compare against.
    fn attribute_lists_are_complete_and_ordered() {
        let names = |s: &Schema| {
            s.attributes
                .iter()
                .map(|a| a.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(&core_user()),
            [
                "userName",
                "name",
                "displayName",
                "nickName",
                "profileUrl",
                "title",
                "userType",
                "preferredLanguage",
                "locale",
                "timezone",
                "active",
                "password",
                "emails",
                "phoneNumbers",
                "ims",
                "photos",
                "addresses",
                "groups",
                "entitlements",
                "roles",
                "x509Certificates",
            ]
        );
        assert_eq!(names(&core_group()), ["displayName", "members"]);
        assert_eq!(
            names(&enterprise_user()),
            [
                "employeeNumber",
                "costCenter",
                "organization",
                "division",
                "department",
                "manager"
            ]
        );
        let subs = |s: &Schema, a: &str| {
            s.attr(a)
                .map(|d| {
                    d.sub_attributes
                        .iter()
                        .map(|x| x.name.clone())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        };
        let u = core_user();
        assert_eq!(
            subs(&u, "name"),
            [
                "formatted",
                "familyName",
                "givenName",
                "middleName",
                "honorificPrefix",
                "honorificSuffix"
            ]
        );
        for mv in [
            "emails",
            "phoneNumbers",
            "ims",
            "photos",
            "entitlements",
            "roles",
            "x509Certificates",
        ] {
            assert_eq!(
                subs(&u, mv),
                ["value", "display", "type", "primary"],
                "{mv}"
            );
        }
        assert_eq!(subs(&u, "groups"), ["value", "$ref", "display", "type"]);
        assert_eq!(
            subs(&u, "addresses"),
            [
                "formatted",
                "streetAddress",
                "locality",
                "region",
                "postalCode",
                "country",
                "type",
                "primary"
            ]
        );
        assert_eq!(
            subs(&core_group(), "members"),
            ["value", "$ref", "type", "display"]
        );
        assert_eq!(
            subs(&enterprise_user(), "manager"),
            ["value", "$ref", "displayName"]
        );
        // Only complex attributes carry sub-attributes.
        for s in standard_schemas() {
            for a in &s.attributes {
                assert_eq!(
                    a.ty == T::Complex,
                    !a.sub_attributes.is_empty(),
                    "{}",
                    a.name
                );
                for sub in &a.sub_attributes {
                    assert!(sub.sub_attributes.is_empty(), "{}.{}", a.name, sub.name);
                }
            }
        }
    }

    #[test]
    fn common_attribute_characteristics() {
        let c = common_attributes();
        let find = |n: &str| c.iter().find(|a| a.name == n);
        let id = find("id");
        assert!(id.is_some_and(|a| a.case_exact
            && a.mutability == M::ReadOnly
            && a.returned == R::Always
            && a.uniqueness == U::Server));
        let ext = find("externalId");
        assert!(ext.is_some_and(|a| a.case_exact && a.mutability == M::ReadWrite));
        let Some(meta) = find("meta") else {
            panic!("meta missing");
        };
        assert_eq!(meta.ty, T::Complex);
        assert_eq!(meta.mutability, M::ReadOnly);
        let sub_ty = |n: &str| meta.sub(n).map(|s| (s.ty, s.mutability));
        assert_eq!(sub_ty("resourceType"), Some((T::String, M::ReadOnly)));
        assert_eq!(sub_ty("created"), Some((T::DateTime, M::ReadOnly)));
        assert_eq!(sub_ty("lastModified"), Some((T::DateTime, M::ReadOnly)));
        assert_eq!(sub_ty("location"), Some((T::Reference, M::ReadOnly)));
        assert_eq!(sub_ty("version"), Some((T::String, M::ReadOnly)));
        assert_eq!(
            meta.sub("location").map(|s| s.reference_types.clone()),
            Some(vec!["uri".to_owned()])
        );
        // Common attributes are not in the schemas.
        for n in ["id", "externalId", "meta"] {
            assert!(resolve(&standard_schemas(), None, n, None).is_none(), "{n}");
        }
    }

    #[test]
    fn enum_spellings_round_trip() {
        for (t, s) in [
            (T::String, "string"),
            (T::Boolean, "boolean"),
            (T::Decimal, "decimal"),
            (T::Integer, "integer"),
            (T::DateTime, "dateTime"),
            (T::Binary, "binary"),
            (T::Reference, "reference"),
            (T::Complex, "complex"),
        ] {
            assert_eq!(t.as_str(), s);
            assert_eq!(AttrType::parse(s), Some(t));
            assert_eq!(AttrType::parse(&s.to_uppercase()), Some(t));
        }
        for (m, s) in [
            (M::ReadOnly, "readOnly"),
            (M::ReadWrite, "readWrite"),
            (M::Immutable, "immutable"),
            (M::WriteOnly, "writeOnly"),
        ] {
            assert_eq!(m.as_str(), s);
            assert_eq!(Mutability::parse(&s.to_lowercase()), Some(m));
        }
        for (r, s) in [
            (R::Always, "always"),
            (R::Never, "never"),
            (R::Default, "default"),
            (R::Request, "request"),
        ] {
            assert_eq!(r.as_str(), s);
            assert_eq!(Returned::parse(&s.to_uppercase()), Some(r));
        }
        for (u, s) in [
            (U::None, "none"),
            (U::Server, "server"),
            (U::Global, "global"),
        ] {
            assert_eq!(u.as_str(), s);
            assert_eq!(Uniqueness::parse(s), Some(u));
        }
        assert_eq!(AttrType::parse("date"), None);
        assert_eq!(Mutability::parse("read_write"), None);
        assert_eq!(Returned::parse(""), None);
        assert_eq!(Uniqueness::parse("local"), None);
    }

    #[test]
    fn resolve_cases() {
        let schemas = standard_schemas();
        // (schema, attr, sub) -> Some((schema id, def name, def type)) or None
        type Found = (&'static str, &'static str, AttrType);
        #[rustfmt::skip]
        let cases: &[(AttrPath, Option<Found>)] = &[
            ((None, "userName", None), Some((CU, "userName", T::String))),
            ((None, "USERNAME", None), Some((CU, "userName", T::String))),
            ((None, "name", Some("GIVENNAME")), Some((CU, "givenName", T::String))),
            ((None, "emails", Some("value")), Some((CU, "value", T::String))),
            ((None, "Emails", Some("Type")), Some((CU, "type", T::String))),
            // Unqualified displayName: core User comes first and wins.
            ((None, "displayName", None), Some((CU, "displayName", T::String))),
            ((Some(CG), "displayName", None), Some((CG, "displayName", T::String))),
            ((None, "members", Some("value")), Some((CG, "value", T::String))),
            ((None, "employeeNumber", None), Some((EU, "employeeNumber", T::String))),
            ((None, "manager", Some("$ref")), Some((EU, "$ref", T::Reference))),
            ((Some(EU), "manager", Some("displayname")), Some((EU, "displayName", T::String))),
            ((Some("URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER"), "DEPARTMENT", None), Some((EU, "department", T::String))),
            ((Some(CU), "x509certificates", Some("VALUE")), Some((CU, "value", T::Binary))),
            // Wrong schema for the attribute.
            ((Some(CU), "employeeNumber", None), None),
            ((Some(EU), "userName", None), None),
            // Unknown schema / attribute / sub-attribute.
            ((Some("urn:example:nope"), "userName", None), None),
            ((None, "nope", None), None),
            ((None, "name", Some("nope")), None),
            // Sub-attribute of a simple attribute.
            ((None, "userName", Some("value")), None),
            // Common attributes are the caller's business.
            ((None, "id", None), None),
        ];
        for ((schema, attr, sub), want) in cases {
            let got =
                resolve(&schemas, *schema, attr, *sub).map(|(id, d)| (id, d.name.as_str(), d.ty));
            assert_eq!(got, *want, "{schema:?} {attr} {sub:?}");
        }
        // Order matters when unqualified: with Group first, Group wins.
        let reordered = vec![core_group(), core_user()];
        assert_eq!(
            resolve(&reordered, None, "displayName", None).map(|(id, _)| id),
            Some(CG)
        );
    }

    #[test]
    fn split_path_cases() {
        #[rustfmt::skip]
        let cases: &[(&str, Option<AttrPath>)] = &[
            ("userName", Some((None, "userName", None))),
            ("name.givenName", Some((None, "name", Some("givenName")))),
            ("urn:ietf:params:scim:schemas:core:2.0:User:userName", Some((Some(CU), "userName", None))),
            ("urn:ietf:params:scim:schemas:core:2.0:User:name.familyName", Some((Some(CU), "name", Some("familyName")))),
            ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", Some((Some(EU), "manager", Some("value")))),
            ("URN:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", Some((Some("URN:ietf:params:scim:schemas:extension:enterprise:2.0:User"), "department", None))),
            ("", None),
            ("name.", None),
            ("urn:ietf:params:scim:schemas:core:2.0:User:", None),
        ];
        for (path, want) in cases {
            assert_eq!(split_path(path), *want, "{path}");
        }
        // split_path feeds resolve directly.
        let schemas = standard_schemas();
        let p = split_path(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
        );
        let got = p.and_then(|(s, a, sub)| resolve(&schemas, s, a, sub));
        assert_eq!(
            got.map(|(id, d)| (id, d.mutability)),
            Some((EU, M::ReadOnly))
        );
    }

    #[test]
    fn retain_behaviour() {
        let user = core_user();
        let keep = |top: &str, sub: Option<&str>| match (top, sub) {
            ("userName", None) | ("active", None) => true,
            ("name", Some("givenName" | "familyName")) => true,
            ("emails", Some("value")) => true,
            // Answering true for the bare complex name must not drag in all
            // of name's sub-attributes.
            ("name", None) | ("groups", None) => true,
            _ => false,
        };
        let r = user.retain(&keep);
        assert_eq!(r.id, CU);
        assert_eq!(r.name, "User");
        let names: Vec<&str> = r.attributes.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["userName", "name", "active", "emails"]);
        let subs = |a: &str| {
            r.attr(a)
                .map(|d| {
                    d.sub_attributes
                        .iter()
                        .map(|s| s.name.clone())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        };
        assert_eq!(subs("name"), ["familyName", "givenName"]);
        assert_eq!(subs("emails"), ["value"]);
        // The kept complex attribute keeps its own characteristics.
        assert!(
            r.attr("emails")
                .is_some_and(|e| e.multi_valued && e.ty == T::Complex)
        );
        // Groups: no sub kept, so dropped even though keep("groups", None).
        assert!(r.attr("groups").is_none());

        // Keep-all is identity; keep-none empties.
        assert_eq!(user.retain(&|_, _| true), user);
        assert!(user.retain(&|_, _| false).attributes.is_empty());

        // Callers typically use the closure with a case-insensitive mapping.
        let ent = enterprise_user().retain(&|t, s| {
            t.eq_ignore_ascii_case("manager") && s.is_some_and(|s| s.eq_ignore_ascii_case("value"))
                || t.eq_ignore_ascii_case("department")
        });
        assert_eq!(ent.attributes.len(), 2);
        assert_eq!(ent.attr("manager").map(|m| m.sub_attributes.len()), Some(1));
    }

    #[test]
    fn complex_attribute_json_shape() {
        let user = core_user();
        let Some(emails) = user.attr("emails") else {
            panic!("emails missing");
        };
        let j = emails.to_json();
        assert_eq!(j["name"], "emails");
        assert_eq!(j["type"], "complex");
        assert_eq!(j["multiValued"], true);
        assert_eq!(j["required"], false);
        assert_eq!(j["mutability"], "readWrite");
        assert_eq!(j["returned"], "default");
        assert_eq!(j["uniqueness"], "none");
        assert!(j.get("canonicalValues").is_none());
        assert!(j.get("referenceTypes").is_none());
        let subs = j["subAttributes"].as_array().cloned().unwrap_or_default();
        assert_eq!(subs.len(), 4);
        let ty = &subs[2];
        assert_eq!(ty["name"], "type");
        assert_eq!(ty["canonicalValues"], json!(["work", "home", "other"]));
        // Simple attributes never carry subAttributes.
        assert!(subs.iter().all(|s| s.get("subAttributes").is_none()));

        let Some(groups) = user.attr("groups") else {
            panic!("groups missing");
        };
        let gj = groups.to_json();
        assert_eq!(gj["mutability"], "readOnly");
        assert_eq!(gj["subAttributes"][1]["name"], "$ref");
        assert_eq!(gj["subAttributes"][1]["type"], "reference");
        assert_eq!(
            gj["subAttributes"][1]["referenceTypes"],
            json!(["User", "Group"])
        );

        let pw = user
            .attr("password")
            .map(AttrDef::to_json)
            .unwrap_or_default();
        assert_eq!(pw["mutability"], "writeOnly");
        assert_eq!(pw["returned"], "never");
        assert!(pw.get("subAttributes").is_none());
        let keys: Vec<&str> = pw
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "caseExact",
                "description",
                "multiValued",
                "mutability",
                "name",
                "required",
                "returned",
                "type",
                "uniqueness"
            ]
        );
    }

    #[test]
    fn schema_json_shape() {
        let loc = "https://example.com/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group";
        let j = core_group().to_json(loc);
        assert_eq!(j["schemas"], json!([SCHEMA_SCHEMA]));
        assert_eq!(j["id"], CG);
        assert_eq!(j["name"], "Group");
        assert_eq!(j["description"], "Group");
        assert_eq!(
            j["meta"],
            json!({"resourceType": "Schema", "location": loc})
        );
        assert_eq!(j["attributes"].as_array().map(Vec::len), Some(2));
        assert_eq!(j["attributes"][0]["required"], true);
        assert_eq!(
            j["attributes"][1]["subAttributes"][1]["referenceTypes"],
            json!(["User", "Group"])
        );
        let ej = enterprise_user().to_json("x");
        assert_eq!(ej["name"], "EnterpriseUser");
        assert_eq!(ej["description"], "Enterprise User");
        assert_eq!(core_user().to_json("x")["description"], "User Account");
    }

    #[test]
    fn service_provider_config_flags() {
        let all_off = Capabilities {
            patch: false,
            bulk: false,
            filter_max_results: 50,
            change_password: false,
            sort: false,
            etag: false,
            documentation_uri: None,
        };
        let loc = "https://example.com/v2/ServiceProviderConfig";
        let j = service_provider_config(&all_off, loc);
        assert_eq!(j["schemas"], json!([SERVICE_PROVIDER_CONFIG_SCHEMA]));
        assert_eq!(j["patch"], json!({"supported": false}));
        assert_eq!(
            j["bulk"],
            json!({"supported": false, "maxOperations": 0, "maxPayloadSize": 0})
        );
        assert_eq!(j["filter"], json!({"supported": true, "maxResults": 50}));
        assert_eq!(j["changePassword"], json!({"supported": false}));
        assert_eq!(j["sort"], json!({"supported": false}));
        assert_eq!(j["etag"], json!({"supported": false}));
        assert!(j.get("documentationUri").is_none());
        assert_eq!(
            j["meta"],
            json!({"resourceType": "ServiceProviderConfig", "location": loc})
        );
        assert_eq!(
            j["authenticationSchemes"],
            json!([{
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "Authentication scheme using the OAuth Bearer Token Standard",
                "specUri": "http://www.rfc-editor.org/info/rfc6750",
                "primary": true
            }])
        );

        let all_on = Capabilities {
            patch: true,
            bulk: true,
            filter_max_results: 200,
            change_password: true,
            sort: true,
            etag: true,
            documentation_uri: Some("https://example.com/help".to_owned()),
        };
        let j = service_provider_config(&all_on, loc);
        for k in ["patch", "bulk", "changePassword", "sort", "etag", "filter"] {
            assert_eq!(j[k]["supported"], true, "{k}");
        }
        assert_eq!(j["bulk"]["maxOperations"], BULK_MAX_OPERATIONS);
        assert_eq!(j["bulk"]["maxPayloadSize"], BULK_MAX_PAYLOAD_SIZE);
        assert_eq!(j["filter"]["maxResults"], 200);
        assert_eq!(j["documentationUri"], "https://example.com/help");
    }

    #[test]
    fn resource_type_documents() {
        let loc = "https://example.com/v2/ResourceTypes/User";
        let j = resource_type(
            "User",
            "/Users",
            CU,
            &[(EU.to_owned(), true), ("urn:example:ext".to_owned(), false)],
            loc,
        );
        assert_eq!(
            j,
            json!({
                "schemas": [RESOURCE_TYPE_SCHEMA],
                "id": "User",
                "name": "User",
                "endpoint": "/Users",
                "description": "User Account",
                "schema": CU,
                "schemaExtensions": [
                    {"schema": EU, "required": true},
                    {"schema": "urn:example:ext", "required": false}
                ],
                "meta": {"resourceType": "ResourceType", "location": loc}
            })
        );
        let g = resource_type("Group", "/Groups", CG, &[], "/v2/ResourceTypes/Group");
        assert!(g.get("schemaExtensions").is_none());
        assert_eq!(g["description"], "Group");
        assert_eq!(g["schema"], CG);
        let custom = resource_type("Device", "/Devices", "urn:example:Device", &[], "l");
        assert!(custom.get("description").is_none());
        assert_eq!(custom["id"], "Device");
    }

    #[test]
    fn sub_lookup_is_case_insensitive() {
        let user = core_user();
        let name = user.attr("NAME");
        assert!(name.and_then(|n| n.sub("familyname")).is_some());
        assert!(name.and_then(|n| n.sub("nickName")).is_none());
        assert!(user.attr("PhoneNumbers").is_some());
        assert!(user.attr("phone").is_none());
    }
}
