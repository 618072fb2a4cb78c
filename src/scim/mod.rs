//! SCIM 2.0 vocabulary (RFC 7643, RFC 7644), pure: nothing here knows LDAP.

pub mod discovery;
pub mod filter;
pub mod patch;
pub mod path;
#[cfg(test)]
mod proptests;
pub mod query;
pub mod schema;
