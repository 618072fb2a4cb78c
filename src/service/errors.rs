//! Directory failures rendered for the client: the LDAP result code decides
//! the SCIM status, and the server's message is searched for the attribute at
//! fault so the detail names both its SCIM and its LDAP name.

use crate::directory::{DirError, rc};
use crate::error::Error;
use crate::ldap::Dn;
use crate::mapping::AttrMap;
use crate::scim::ResourceKind;

/// No resource of `kind` has this id.
pub(super) fn not_found(kind: ResourceKind, id: &str) -> Error {
    Error::NotFound(format!("{} {id} not found", kind.name()))
}

/// A write refused with noSuchObject although its entry is there. 389-ds
/// answers so when it cannot lock the entry (or, for an add, the parent) in
/// time under concurrent writes ("Retry count exceeded" in its error log):
/// retryable, for the daemon after the server-busy pause and for the client.
pub(super) fn busy(what: &str, dn: &Dn, text: &str) -> Error {
    Error::Unavailable(format!(
        "{what}: the directory could not change {dn} just now ({text})"
    ))
}

/// The If-Match version is no longer the resource's.
pub(super) fn changed_since(what: &str) -> Error {
    Error::PreconditionFailed(format!(
        "{what}: the resource changed since the version given in If-Match"
    ))
}

/// Renders a directory failure for the client, naming the SCIM and LDAP
/// attribute at fault where the server's message names one.
pub fn dir_error(map: &AttrMap, e: DirError, what: &str) -> Error {
    match e {
        DirError::Result {
            rc: rc::ENTRY_ALREADY_EXISTS,
            ..
        } => Error::Conflict(entry_exists(map, what)),
        DirError::Result {
            rc: rc::NO_SUCH_OBJECT,
            text,
        } => Error::NotFound(format!(
            "{what}: the entry no longer exists{}",
            if text.is_empty() {
                String::new()
            } else {
                format!(" ({text})")
            }
        )),
        DirError::Result {
            rc: rc::ASSERTION_FAILED,
            ..
        } => changed_since(what),
        DirError::Result {
            rc: rc::INSUFFICIENT_ACCESS,
            text,
        } => Error::Forbidden(format!(
            "{what}: the directory refused the bind DN this operation ({text})"
        )),
        DirError::Result {
            rc:
                rc::OBJECT_CLASS_VIOLATION
                | rc::CONSTRAINT_VIOLATION
                | rc::INVALID_ATTRIBUTE_SYNTAX
                | rc::UNDEFINED_ATTRIBUTE_TYPE
                | rc::NAMING_VIOLATION
                | rc::NOT_ALLOWED_ON_RDN
                | rc::INVALID_DN_SYNTAX
                | rc::ATTRIBUTE_OR_VALUE_EXISTS
                | rc::INAPPROPRIATE_MATCHING
                | rc::NO_SUCH_ATTRIBUTE,
            text,
        } => Error::invalid_value(format!(
            "{what}: the directory refused the change: {text}{}",
            hint(map, &text)
        )),
        DirError::Unavailable(s) => Error::Unavailable(s),
        DirError::Result { rc, text } => {
            Error::Internal(format!("{what}: LDAP result {rc}: {text}"))
        }
        DirError::Protocol(s) => Error::Internal(format!("{what}: {s}")),
        DirError::TooMany { limit } => Error::bad(
            crate::error::ScimType::TooMany,
            format!("{what}: more than {limit} entries match; narrow the request with a filter"),
        ),
    }
}

/// The 409 detail of an entryAlreadyExists: the name is another entry's.
pub(super) fn entry_exists(map: &AttrMap, what: &str) -> String {
    format!(
        "{what}: an entry with this {} already exists",
        map.naming_paths().join(", ")
    )
}

/// [`dir_error`] for searches and reads: a value the directory refuses there
/// comes from the request's filter or sort, never from a change.
pub fn search_error(map: &AttrMap, e: DirError, what: &str) -> Error {
    match e {
        DirError::Result {
            rc:
                rc::UNDEFINED_ATTRIBUTE_TYPE
                | rc::INVALID_ATTRIBUTE_SYNTAX
                | rc::INAPPROPRIATE_MATCHING
                | rc::CONSTRAINT_VIOLATION
                | rc::INVALID_DN_SYNTAX,
            text,
        } => Error::invalid_value(format!(
            "{what}: the directory refused the search: {text}{}",
            hint(map, &text)
        )),
        e => dir_error(map, e, what),
    }
}

/// The SCIM and LDAP attribute a server message names, or what to configure
/// for a required LDAP attribute nothing fills.
fn hint(map: &AttrMap, text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .collect();
    for f in &map.fields {
        if words.contains(&f.ldap.to_ascii_lowercase().as_str()) {
            return format!(
                " (SCIM attribute {}, LDAP attribute {})",
                f.path_text(),
                f.ldap
            );
        }
    }
    for w in &words {
        if !w.is_empty()
            && map.defaults.iter().all(|(a, _)| !a.eq_ignore_ascii_case(w))
            && (lower.contains("requires attribute") || lower.contains("missing attribute"))
        {
            let sec = if map.kind == ResourceKind::User {
                "users"
            } else {
                "groups"
            };
            if lower.contains(&format!("'{w}'")) || lower.contains(&format!("\"{w}\"")) {
                return format!(
                    " (LDAP attribute {w} has no value: map a SCIM attribute to it or give it a template in [{sec}.defaults])"
                );
            }
        }
    }
    String::new()
}
