//! The only code that talks to LDAP.
//!
//! [`Directory`] is what the service needs from a directory; [`pool::LdapPool`]
//! implements it over pooled, bound, multiplexed ldap3 connections with
//! PostRead, Assertion, paged-results, sort and VLV controls where the server
//! offers them (read from the rootDSE, never assumed per vendor); [`DryRun`] runs
//! reads for real and records writes, for `scim2ldap explain`.

pub mod dryrun;
pub mod pool;
pub mod subschema;
pub mod vlv;

use std::future::Future;

use secrecy::SecretString;

pub use dryrun::DryRun;

use crate::ldap::{Entry, Filter, Mod};

/// Search scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Base,
    One,
    Subtree,
}

/// One search request.
#[derive(Debug, Clone)]
pub struct Search {
    pub base: String,
    pub scope: Scope,
    pub filter: Filter,
    pub attrs: Vec<String>,
}

/// A window of a search's results: `total` counts every match, `entries`
/// holds those from `skip` on, at most `take` of them.
#[derive(Debug, Clone, Default)]
pub struct Window {
    pub total: usize,
    pub entries: Vec<Entry>,
}

/// Which matches of a list search to return, and how to find them.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Matches to pass over (SCIM `startIndex - 1`).
    pub skip: usize,
    /// Matches to return after them (SCIM `count`); 0 asks for the total only.
    pub take: usize,
    /// The order the client asked for (`sortBy`).
    pub sort: Option<Sort>,
    /// The order to fetch the page by offset in (VLV): the client's, or a
    /// default one (the naming attribute) where the client gave none. None:
    /// the server cannot order this search, so it is never fetched by offset.
    pub offset_order: Option<Sort>,
    /// Most matches the search may read where the page cannot be fetched by
    /// offset; past it the search stops with [`DirError::TooMany`].
    pub max_read: usize,
}

/// Server-side sort request (RFC 2891): one sort key.
#[derive(Debug, Clone)]
pub struct Sort {
    pub attribute: String,
    /// The ordering rule the key names (RFC 2891 §1.1), where the attribute
    /// has none of its own and the server will not fall back on its syntax.
    pub rule: Option<String>,
    pub reverse: bool,
}

impl std::fmt::Display for Sort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.reverse {
            f.write_str("-")?;
        }
        f.write_str(&self.attribute)?;
        match &self.rule {
            Some(r) => write!(f, ":{r}"),
            None => Ok(()),
        }
    }
}

/// How a server orders an attribute that has no ORDERING rule of its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SortRules {
    /// By the attribute's syntax (389-ds), or the schema is unknown: sort
    /// keys name the attribute alone.
    #[default]
    Syntax,
    /// Only by a rule (OpenLDAP's sssvlv): attributes without one of their
    /// own are sorted by the rule named here (lower-case attribute → rule);
    /// any other attribute cannot be sorted.
    Named(std::collections::BTreeMap<String, String>),
}

/// A failed directory operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirError {
    /// The server answered with a non-success result code.
    #[error("LDAP result {rc}: {text}")]
    Result { rc: u32, text: String },
    /// No connection could be made or kept, or the operation timed out.
    #[error("{0}")]
    Unavailable(String),
    /// An answer the daemon cannot use.
    #[error("{0}")]
    Protocol(String),
    /// A list search would read more than `limit` entries: the server could
    /// not fetch the page by offset, and counting every match was cut short.
    #[error("more than {limit} entries match")]
    TooMany { limit: usize },
}

/// LDAP result codes the service acts on (RFC 4511 Appendix A).
pub mod rc {
    pub const NO_SUCH_ATTRIBUTE: u32 = 16;
    pub const INAPPROPRIATE_MATCHING: u32 = 18;
    pub const UNDEFINED_ATTRIBUTE_TYPE: u32 = 17;
    pub const CONSTRAINT_VIOLATION: u32 = 19;
    pub const ATTRIBUTE_OR_VALUE_EXISTS: u32 = 20;
    pub const INVALID_ATTRIBUTE_SYNTAX: u32 = 21;
    pub const NO_SUCH_OBJECT: u32 = 32;
    pub const INVALID_DN_SYNTAX: u32 = 34;
    pub const INSUFFICIENT_ACCESS: u32 = 50;
    pub const BUSY: u32 = 51;
    pub const UNAVAILABLE: u32 = 52;
    pub const UNWILLING_TO_PERFORM: u32 = 53;
    pub const NAMING_VIOLATION: u32 = 64;
    pub const OBJECT_CLASS_VIOLATION: u32 = 65;
    pub const NOT_ALLOWED_ON_NON_LEAF: u32 = 66;
    pub const NOT_ALLOWED_ON_RDN: u32 = 67;
    pub const ENTRY_ALREADY_EXISTS: u32 = 68;
    pub const OTHER: u32 = 80;
    pub const ASSERTION_FAILED: u32 = 122;
    pub const SORT_CONTROL_MISSING: u32 = 60;
}

/// What the server supports, from its rootDSE.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub vendor: String,
    pub post_read: bool,
    pub assertion: bool,
    pub paged_results: bool,
    pub server_side_sort: bool,
    /// Virtual List View: a sorted page by offset with the server's count.
    pub vlv: bool,
    pub password_modify: bool,
    pub permissive_modify: bool,
    pub starttls: bool,
    pub naming_contexts: Vec<String>,
    /// Attribute types (lower-case) with an ORDERING rule; `None` when the
    /// subschema could not be read.
    pub ordered_attributes: Option<std::collections::BTreeSet<String>>,
    /// Attribute types (lower-case) without an EQUALITY rule: values cannot
    /// be added to or deleted from them one by one, only replaced.
    pub unmatchable_attributes: std::collections::BTreeSet<String>,
    /// How attributes without an ORDERING rule are sorted.
    pub sort_rules: SortRules,
}

/// OIDs read from `supportedControl` / `supportedExtension`.
pub mod oid {
    pub const POST_READ: &str = "1.3.6.1.1.13.2";
    pub const ASSERTION: &str = "1.3.6.1.1.12";
    pub const PAGED_RESULTS: &str = "1.2.840.113556.1.4.319";
    pub const SERVER_SIDE_SORT: &str = "1.2.840.113556.1.4.473";
    pub const VLV: &str = super::vlv::REQUEST_OID;
    pub const PASSWORD_MODIFY: &str = "1.3.6.1.4.1.4203.1.11.1";
    pub const PERMISSIVE_MODIFY: &str = "1.2.840.113556.1.4.1413";
    pub const STARTTLS: &str = "1.3.6.1.4.1.1466.20037";
}

impl Capabilities {
    /// Reads the capabilities out of a rootDSE entry.
    pub fn from_root_dse(e: &Entry) -> Capabilities {
        let has = |attr: &str, oid: &str| e.values(attr).iter().any(|v| v == oid);
        let control = |oid| has("supportedControl", oid);
        let ext = |oid| has("supportedExtension", oid);
        Capabilities {
            vendor: e
                .first("vendorName")
                .map(|v| {
                    format!("{v} {}", e.first("vendorVersion").unwrap_or_default())
                        .trim()
                        .to_owned()
                })
                .unwrap_or_else(|| {
                    if e.values("objectClass")
                        .iter()
                        .any(|o| o.eq_ignore_ascii_case("OpenLDAProotDSE"))
                    {
                        "OpenLDAP".to_owned()
                    } else {
                        "unknown".to_owned()
                    }
                }),
            post_read: control(oid::POST_READ),
            assertion: control(oid::ASSERTION),
            paged_results: control(oid::PAGED_RESULTS),
            server_side_sort: control(oid::SERVER_SIDE_SORT),
            vlv: control(oid::VLV) && control(oid::SERVER_SIDE_SORT),
            password_modify: ext(oid::PASSWORD_MODIFY),
            permissive_modify: control(oid::PERMISSIVE_MODIFY),
            starttls: ext(oid::STARTTLS),
            naming_contexts: e.values("namingContexts").to_vec(),
            ordered_attributes: None,
            unmatchable_attributes: Default::default(),
            sort_rules: SortRules::Syntax,
        }
    }

    /// One line per capability, for `check-config` and the start-up log.
    pub fn describe(&self) -> Vec<String> {
        let yes = |b: bool| if b { "yes" } else { "no" };
        vec![
            format!("server: {}", self.vendor),
            format!("naming contexts: {}", self.naming_contexts.join(", ")),
            format!(
                "PostRead control (writes answered without a re-read): {}",
                yes(self.post_read)
            ),
            format!(
                "Assertion control (If-Match enforced atomically): {}",
                yes(self.assertion)
            ),
            format!(
                "Simple Paged Results (large lists streamed): {}",
                yes(self.paged_results)
            ),
            format!(
                "Server-side sort (sortBy): {}",
                match (self.server_side_sort, &self.sort_rules) {
                    (false, _) => "no",
                    (true, SortRules::Syntax) => "yes",
                    (true, SortRules::Named(_)) =>
                        "yes (ordering rules named where attributes have none)",
                }
            ),
            format!(
                "Virtual List View (pages fetched by offset, counted by the server): {}",
                yes(self.vlv)
            ),
            format!(
                "Password Modify extended operation: {}",
                yes(self.password_modify)
            ),
            format!("StartTLS: {}", yes(self.starttls)),
        ]
    }

    /// The sort key for `attribute` (RFC 2891), or None when the server
    /// cannot sort on it: no server-side sorting at all, or (where the server
    /// sorts only by a rule) neither an ORDERING rule nor one its syntax allows.
    pub fn sort(&self, attribute: &str, reverse: bool) -> Option<Sort> {
        if !self.server_side_sort {
            return None;
        }
        let lower = attribute.to_ascii_lowercase();
        let own = self
            .ordered_attributes
            .as_ref()
            .is_some_and(|o| o.contains(&lower));
        let rule = match &self.sort_rules {
            SortRules::Named(rules) if !own => Some(rules.get(&lower)?.clone()),
            _ => None,
        };
        Some(Sort {
            attribute: attribute.to_owned(),
            rule,
            reverse,
        })
    }
}

/// A precondition checked atomically with a write (`If-Match`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Precondition {
    /// Attribute holding the version.
    pub attribute: String,
    /// The version the client saw.
    pub value: String,
}

/// What the service needs from a directory.
pub trait Directory: Send + Sync + 'static {
    /// The server's capabilities (read once at start-up).
    fn capabilities(&self) -> &Capabilities;

    /// All entries matching a search (for bounded result sets).
    fn search(&self, s: Search) -> impl Future<Output = Result<Vec<Entry>, DirError>> + Send;

    /// Counts every match and returns the window `page` names: by offset
    /// (VLV) where the server can, reading only the window; otherwise
    /// streaming through paged results, reading at most `page.max_read`.
    fn search_window(
        &self,
        s: Search,
        page: Page,
    ) -> impl Future<Output = Result<Window, DirError>> + Send;

    /// Adds an entry; returns it as stored (PostRead) when `read` is non-empty.
    fn add(
        &self,
        dn: &str,
        attrs: Vec<(String, Vec<String>)>,
        read: &[String],
    ) -> impl Future<Output = Result<Option<Entry>, DirError>> + Send;

    /// Applies all `mods` in one modify; returns the entry after it (PostRead).
    fn modify(
        &self,
        dn: &str,
        mods: Vec<Mod>,
        read: &[String],
        pre: Option<&Precondition>,
    ) -> impl Future<Output = Result<Option<Entry>, DirError>> + Send;

    /// Renames an entry in place (modrdn, deleting the old RDN value).
    fn rename(
        &self,
        dn: &str,
        new_rdn: &str,
        read: &[String],
        pre: Option<&Precondition>,
    ) -> impl Future<Output = Result<Option<Entry>, DirError>> + Send;

    /// Deletes an entry.
    fn delete(
        &self,
        dn: &str,
        pre: Option<&Precondition>,
    ) -> impl Future<Output = Result<(), DirError>> + Send;

    /// Sets a password with the Password Modify extended operation (RFC 3062).
    fn set_password(
        &self,
        dn: &str,
        password: &SecretString,
    ) -> impl Future<Output = Result<(), DirError>> + Send;

    /// True when a bound connection answers.
    fn ready(&self) -> impl Future<Output = bool> + Send;

    /// Why a write is what it is (a derived value re-rendered or left
    /// alone), for `explain`: only the dry run records it.
    fn explain(&self, _why: String) {}

    /// Whether writes are only recorded (the dry run of `explain`): what
    /// the server would fill in on a write is then not there.
    fn records_only(&self) -> bool {
        false
    }
}

/// A shared directory is a directory (the pool is shared by the service and
/// the metrics gauges).
impl<T: Directory> Directory for std::sync::Arc<T> {
    fn capabilities(&self) -> &Capabilities {
        (**self).capabilities()
    }
    fn search(&self, s: Search) -> impl Future<Output = Result<Vec<Entry>, DirError>> + Send {
        (**self).search(s)
    }
    fn search_window(
        &self,
        s: Search,
        page: Page,
    ) -> impl Future<Output = Result<Window, DirError>> + Send {
        (**self).search_window(s, page)
    }
    fn add(
        &self,
        dn: &str,
        attrs: Vec<(String, Vec<String>)>,
        read: &[String],
    ) -> impl Future<Output = Result<Option<Entry>, DirError>> + Send {
        (**self).add(dn, attrs, read)
    }
    fn modify(
        &self,
        dn: &str,
        mods: Vec<Mod>,
        read: &[String],
        pre: Option<&Precondition>,
    ) -> impl Future<Output = Result<Option<Entry>, DirError>> + Send {
        (**self).modify(dn, mods, read, pre)
    }
    fn rename(
        &self,
        dn: &str,
        new_rdn: &str,
        read: &[String],
        pre: Option<&Precondition>,
    ) -> impl Future<Output = Result<Option<Entry>, DirError>> + Send {
        (**self).rename(dn, new_rdn, read, pre)
    }
    fn delete(
        &self,
        dn: &str,
        pre: Option<&Precondition>,
    ) -> impl Future<Output = Result<(), DirError>> + Send {
        (**self).delete(dn, pre)
    }
    fn set_password(
        &self,
        dn: &str,
        password: &SecretString,
    ) -> impl Future<Output = Result<(), DirError>> + Send {
        (**self).set_password(dn, password)
    }
    fn ready(&self) -> impl Future<Output = bool> + Send {
        (**self).ready()
    }
    fn explain(&self, why: String) {
        (**self).explain(why)
    }
    fn records_only(&self) -> bool {
        (**self).records_only()
    }
}

#[cfg(test)]
mod tests {
    use super::{Capabilities, SortRules};

    #[test]
    fn sort_keys_name_a_rule_only_where_the_server_needs_one() {
        let mut caps = Capabilities {
            server_side_sort: true,
            ordered_attributes: Some(["modifytimestamp".to_owned()].into()),
            ..Capabilities::default()
        };
        let key = |c: &Capabilities, a: &str, reverse| c.sort(a, reverse).map(|s| s.to_string());
        assert_eq!(key(&caps, "uid", false).as_deref(), Some("uid"));
        caps.sort_rules =
            SortRules::Named([("uid".to_owned(), "caseIgnoreOrderingMatch".to_owned())].into());
        assert_eq!(
            key(&caps, "UID", false).as_deref(),
            Some("UID:caseIgnoreOrderingMatch")
        );
        assert_eq!(
            key(&caps, "modifyTimestamp", true).as_deref(),
            Some("-modifyTimestamp")
        );
        assert_eq!(key(&caps, "seeAlso", false), None);
        caps.server_side_sort = false;
        assert_eq!(key(&caps, "modifyTimestamp", false), None);
    }
}
