//! The configuration file as written: raw TOML structures.
//!
//! Everything here is `deny_unknown_fields`, so a typo is an error rather than
//! a silently ignored key. No value is interpreted here; `config::mod`
//! validates these structs into a [`super::Config`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    /// HTTP front end.
    #[serde(default)]
    pub server: Server,
    /// Bearer tokens that SCIM clients present.
    #[serde(default)]
    pub auth: Auth,
    /// The directory connection.
    #[serde(default)]
    pub ldap: Ldap,
    /// How SCIM Users map onto LDAP entries.
    pub users: Option<Resource>,
    /// How SCIM Groups map onto LDAP entries.
    pub groups: Option<Resource>,
    /// Custom SCIM schema extensions referred to by attribute-map keys, by URN.
    #[serde(default)]
    pub extensions: BTreeMap<String, Extension>,
}

/// `[server]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// Address to listen on, e.g. `127.0.0.1:8080`.
    pub listen: Option<String>,
    /// Path prefix of the SCIM API, e.g. `/scim/v2`.
    pub base_path: Option<String>,
    /// Serve /ServiceProviderConfig, /ResourceTypes and /Schemas without a token.
    pub public_discovery: Option<bool>,
    /// Serve /metrics without a token (for a scraper on a trusted network).
    pub public_metrics: Option<bool>,
    /// Public URL of the SCIM base, for `meta.location` behind a proxy (e.g. `https://scim.example.com/scim/v2`).
    pub public_url: Option<String>,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: Option<usize>,
    /// Largest page a list request may ask for.
    pub max_page_size: Option<usize>,
    /// Page size when the client gives no `count`.
    pub default_page_size: Option<usize>,
    /// Most entries one list request may read from the directory where it
    /// cannot fetch the page by offset (no VLV); 0 allows none.
    pub max_list_entries: Option<usize>,
    /// `text` or `json`.
    pub log_format: Option<String>,
    /// Most requests handled at once; past it clients get 429.
    pub max_concurrent_requests: Option<usize>,
    /// Worker threads answering requests; 0 or absent means one per CPU.
    pub threads: Option<usize>,
    /// Seconds a request may take before it is answered 503.
    pub request_timeout_seconds: Option<u64>,
    /// PEM certificate chain for HTTPS (reloaded on SIGHUP).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS (reloaded on SIGHUP).
    pub tls_key: Option<PathBuf>,
    /// PEM CA certificates: when set, clients must present a certificate they issued (mTLS).
    pub tls_client_ca: Option<PathBuf>,
    /// Serve plain HTTP on a non-loopback address (only behind a TLS-terminating proxy).
    pub plain_http: Option<bool>,
}

/// `[auth]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// A single token inline (named `default`).
    pub token: Option<String>,
    /// A single token read from a file (named `default`).
    pub token_file: Option<PathBuf>,
    /// Several named tokens, e.g. an old and a new one during rotation.
    #[serde(default)]
    pub tokens: Vec<Token>,
}

/// One `[[auth.tokens]]` entry; exactly one of value/file/env/credential.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Token {
    /// Name shown in audit logs (never the token itself).
    pub name: String,
    /// The token inline.
    pub value: Option<String>,
    /// A file holding the token.
    pub file: Option<PathBuf>,
    /// An environment variable holding the token.
    pub env: Option<String>,
    /// A systemd credential name (`LoadCredential=NAME:...`).
    pub credential: Option<String>,
}

/// A string or a list of strings.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// `[ldap]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ldap {
    /// `ldap://` or `ldaps://` URL, or a list tried in order for failover.
    pub url: Option<OneOrMany>,
    /// DN to bind as.
    pub bind_dn: Option<String>,
    /// Bind password inline.
    pub bind_password: Option<String>,
    /// Bind password from a file.
    pub bind_password_file: Option<PathBuf>,
    /// Bind password from a systemd credential.
    pub bind_password_credential: Option<String>,
    /// Bound connections kept open; operations are multiplexed on them.
    pub pool_size: Option<usize>,
    /// Seconds one LDAP operation may take.
    pub timeout_seconds: Option<u64>,
    /// Seconds between checks of an earlier `url` that failed; once it answers
    /// a bind again, connections return to it.
    pub failback_seconds: Option<u64>,
    /// Upgrade `ldap://` connections with StartTLS.
    pub starttls: Option<bool>,
    /// PEM file of CA certificates to trust for the directory.
    pub ca_file: Option<PathBuf>,
    /// Skip certificate verification (logged loudly; never in production).
    pub insecure_skip_verify: Option<bool>,
    /// `auto` (default): list pages by offset (VLV) where the server offers
    /// it; `off`: never, every list reads its matches through.
    pub vlv: Option<String>,
}

/// `[users]` or `[groups]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    /// Where entries of this type live (searches are confined to it).
    pub base: Option<String>,
    /// LDAP attribute that names entries (`uid`, `cn`).
    pub rdn: Option<String>,
    /// Object classes written on create.
    pub object_classes: Option<Vec<String>>,
    /// Attribute used as the SCIM `id` (`entryUUID` or `nsUniqueId`).
    pub id_attribute: Option<String>,
    /// Attribute whose value changes on every modify, used for `meta.version`.
    pub version_attribute: Option<String>,
    /// Writable attribute the daemon sets to a fresh value on every write, so
    /// `If-Match` is a compare-and-swap where the server lacks the Assertion control.
    pub version_token: Option<String>,
    /// SCIM path → LDAP attribute.
    #[serde(default)]
    pub attributes: BTreeMap<String, Mapping>,
    /// LDAP attribute → template (or list of templates, first non-empty wins)
    /// for values the client may not send.
    #[serde(default)]
    pub defaults: BTreeMap<String, OneOrMany>,
    /// LDAP attribute → template (or list of templates) for values that are
    /// always derived: rendered on create, rendered again whenever an input
    /// changes, removed when they render empty, and never written by a client.
    #[serde(default)]
    pub computed: BTreeMap<String, OneOrMany>,
    /// LDAP attribute → how its number is allocated on create (`uidNumber`,
    /// `gidNumber`); never changed afterwards.
    #[serde(default)]
    pub allocate: BTreeMap<String, Allocate>,
    /// What `active=false` does (users only): one action or a list.
    pub disable: Option<Disables>,
    /// How `password` is written (users only).
    pub password: Option<String>,
    /// Attribute the server maintains with the groups an entry belongs to (users only).
    pub member_of: Option<String>,
    /// Membership model (groups only).
    pub members: Option<Members>,
    /// What happens to attributes a client sends that no mapping stores:
    /// `"reject"` (400, the default) or `"ignore"` (left out, logged, counted).
    pub unmapped: Option<String>,
}

/// One `[users.allocate]` entry: `uidNumber = { strategy = "...", ... }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allocate {
    /// `deterministic`, `counter`, `server` or `same`.
    pub strategy: String,
    /// deterministic: the template (or templates, first non-empty wins) the number is derived from.
    pub from: Option<OneOrMany>,
    /// deterministic, counter, server: `[min, max]`, both included.
    pub range: Option<Vec<i64>>,
    /// counter: the DN of the entry holding the next number.
    pub counter: Option<String>,
    /// counter: the attribute of the counter entry (default: the allocated attribute).
    pub counter_attribute: Option<String>,
    /// server: the value the directory's allocator replaces (389-ds DNA: `-1`).
    pub magic: Option<String>,
    /// same: the other allocated attribute whose number this one takes.
    #[serde(rename = "as")]
    pub same_as: Option<String>,
}

/// One attribute mapping: a bare LDAP attribute name or a table.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Mapping {
    Attribute(String),
    Detailed(MappingTable),
}

/// The table form of a mapping.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingTable {
    /// LDAP attribute.
    pub attribute: String,
    /// SCIM type for custom extension attributes (`string`, `boolean`, `integer`, `decimal`, `dateTime`, `reference`, `binary`).
    #[serde(rename = "type")]
    pub ty: Option<String>,
    /// The value is the `id` of another resource stored as its DN (`User` or `Group`).
    pub reference: Option<String>,
    /// `readWrite`, `immutable`, `readOnly` or `writeOnly`.
    pub mutability: Option<String>,
    /// Several values (custom extension attributes).
    pub multi_valued: Option<bool>,
    /// Values compare case-sensitively (custom extension attributes).
    pub case_exact: Option<bool>,
    /// Required on create (custom extension attributes).
    pub required: Option<bool>,
    /// `always`, `default`, `request` or `never`.
    pub returned: Option<String>,
    /// Text for /Schemas.
    pub description: Option<String>,
}

/// `disable = { attribute = "...", value = "..." }` or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Disables {
    One(Disable),
    Many(Vec<Disable>),
}

/// `disable = { attribute = "...", value = "..." }`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disable {
    /// Attribute written on `active=false`.
    pub attribute: String,
    /// Value written on `active=false` and removed on `active=true`.
    pub value: String,
}

/// `[groups.members]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Members {
    /// `member`, `uniqueMember` or `memberUid`.
    pub attribute: String,
    /// DN written when a group would otherwise have no member (groupOfNames needs one).
    pub placeholder: Option<String>,
    /// Who removes a deleted entry from its groups: `server` (refint) or `daemon`.
    pub referential_integrity: Option<String>,
}

/// `[extensions."urn:..."]`
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    /// Short name for /Schemas.
    pub name: Option<String>,
    /// Description for /Schemas.
    pub description: Option<String>,
    /// Whether resources must carry the extension.
    pub required: Option<bool>,
}
